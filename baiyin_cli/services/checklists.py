"""Checklists and ledgers (清单 / 台账): the papers a community prints, signs and files.

Each `build_*` function gathers one kind of document for an area and a period and returns a
`Document`: a title, the area and period, who made it and when, figures, tables (columns with
stable English keys and localised labels) and charts. It is format-free: `baiyin_cli/io/document*`
render the same Document as XLSX (A4 print settings), CSV, Markdown, HTML (inline SVG) or JSON.

Rows hold raw values (codes, aware datetimes, numbers); a column's `show` turns a raw value into
what a person reads (a label, a local time). JSON keeps the raw values (codes, ISO times).

Personal data: reporters' and household heads' names are masked unless the operator may see
them and asks (`reveal`); free text (results, notes) is scrubbed of phone and ID numbers. Every
export is written to the audit log by `export()`, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import InvalidInput, UsageError
from baiyin_cli.i18n import L, M, get_lang
from baiyin_cli.services import stats

if TYPE_CHECKING:
    from sqlmodel import Session

    from baiyin_cli.services.access import Operator

BAD_KIND = M(
    "checklist.bad_kind", "清单类型无效：{value}（可选 {choices}）", "Invalid checklist kind: {value} (one of {choices})"
)
AREA_FLAGS = M(
    "checklist.area_flags",
    "--grid、--community、--street 只能给一个",
    "Give at most one of --grid, --community, --street",
)
AREA_LEVEL = M(
    "checklist.area_level",
    "{flag} 需要{level}代码，{code} 是{actual}",
    "{flag} needs a {level} code; {code} is a {actual}",
)
NEEDS_AREA = M(
    "checklist.needs_area",
    "{kind}需要指定区域：{flags}",
    "The {kind} needs an area: {flags}",
)
PERIOD_FLAGS = M(
    "checklist.period_flags", "--date 与 --month 只能给一个", "Give either --date or --month, not both"
)

KINDS = ("visits", "hazards", "petitions", "disputes", "care", "monthly")

KIND_TITLES: dict[str, tuple[str, str]] = {
    "visits": ("走访清单", "Visit checklist"),
    "hazards": ("隐患清单", "Hazard list"),
    "petitions": ("诉求台账", "Petition ledger"),
    "disputes": ("矛盾纠纷排查化解台账", "Dispute ledger"),
    "care": ("重点关爱对象台账", "Care roster"),
    "monthly": ("月度工作报表", "Monthly report"),
}

LEVEL_NAMES = {"district": ("区县", "district"), "street": ("街道", "street"), "community": ("社区", "community"),
               "grid": ("网格", "grid")}


def _pair(p: tuple[str, str]) -> str:
    return L(p[0], p[1])


# ---------------------------------------------------------------- the document model


@dataclass
class Column:
    """One column. `kind` tells writers how to type the cell; `show` turns a raw value into text."""

    key: str
    label: str
    width: float = 12  # in characters of a spreadsheet column (a CJK character counts 2)
    kind: str = "text"  # text | int | pct | num | date | datetime | blank (to fill in on paper)
    # date: a date, or an aware datetime shown as its local date; datetime: local "YYYY-MM-DD HH:MM"
    show: Callable[[Any], str] | None = None
    wrap: bool = False

    def text(self, value: Any) -> str:
        """What a person reads in this cell."""
        if self.kind == "blank" or value is None:
            return ""
        if self.show is not None:
            return self.show(value)
        if self.kind == "datetime" and isinstance(value, datetime):
            return timeutil.fmt(value)
        if self.kind == "date" and isinstance(value, datetime):
            return timeutil.local_date(value).isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if self.kind == "pct" and isinstance(value, (int, float)):
            return f"{value:.2f}%"
        if isinstance(value, bool):
            return L("是", "yes") if value else L("否", "no")
        return str(value)

    def raw(self, value: Any) -> Any:
        """The JSON form: codes and numbers as they are, times as ISO 8601 with offset."""
        if isinstance(value, datetime):
            return timeutil.iso(value)
        if isinstance(value, date):
            return value.isoformat()
        return value


@dataclass
class Table:
    key: str
    title: str | None
    columns: list[Column]
    rows: list[dict[str, Any]]
    footer: dict[str, Any] | None = None  # a totals row, keyed like the rows
    tall_rows: bool = False  # room to write by hand (paper checklists)

    @property
    def width(self) -> float:
        return sum(c.width for c in self.columns)


@dataclass
class Figure:
    key: str
    label: str
    value: Any
    unit: str = ""

    def text(self) -> str:
        if self.value is None:
            return "—"
        if isinstance(self.value, float):
            return f"{self.value:.2f}{self.unit}" if self.unit == "%" else f"{self.value:g}{self.unit}"
        return f"{self.value}{self.unit}"


@dataclass
class Chart:
    """A grouped bar chart: one bar per series in each category."""

    key: str
    title: str
    categories: list[str]
    series: list[tuple[str, list[float]]]
    y_title: str = ""


@dataclass
class Document:
    kind: str
    title: str
    area: dict[str, Any] | None
    period: dict[str, Any]  # {"from", "to", "label"}
    generated_at: datetime
    generated_by: dict[str, Any]  # {"username", "name"}
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)
    masked: bool = True

    @property
    def landscape(self) -> bool:
        """Wide tables print across the page (A4 landscape)."""
        return any(t.width > 100 for t in self.tables)

    @property
    def rows(self) -> int:
        return sum(len(t.rows) for t in self.tables)

    def area_line(self) -> str:
        if not self.area:
            return L("区域：全市", "Area: whole city")
        path = "".join(self.area.get("path") or [self.area["name"]])
        return L(f"区域：{path}（{self.area['code']}）", f"Area: {' / '.join(self.area.get('path') or [])} ({self.area['code']})")

    def period_line(self) -> str:
        return L("期间：", "Period: ") + self.period["label"]

    def generated_line(self) -> str:
        who = self.generated_by
        return L(
            f"生成时间：{timeutil.fmt(self.generated_at)}　生成人：{who['name']}（{who['username']}）",
            f"Generated {timeutil.fmt(self.generated_at)} by {who['name']} ({who['username']})",
        )

    def file_stem(self) -> str:
        code = self.area["code"] if self.area else L("全市", "city")
        period = self.period.get("from") or ""
        if self.period.get("from") and self.period.get("to") and self.period["from"] != self.period["to"]:
            f, t = self.period["from"], self.period["to"]
            period = f[:7] if f.endswith("-01") and f[:7] == t[:7] else f"{f}_{t}"
        return "-".join(p for p in (self.title_plain(), code, period) if p)

    def title_plain(self) -> str:
        return _pair(KIND_TITLES[self.kind])

    def public(self) -> dict[str, Any]:
        """The JSON form: stable English keys, raw values."""
        return {
            "kind": self.kind,
            "title": self.title,
            "area": self.area,
            "period": self.period,
            "generated_at": timeutil.iso(self.generated_at),
            "generated_by": self.generated_by,
            "masked": self.masked,
            "figures": [{"key": f.key, "label": f.label, "value": f.value, "unit": f.unit} for f in self.figures],
            "tables": [
                {
                    "key": t.key,
                    "title": t.title,
                    "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in t.columns],
                    "rows": [{c.key: c.raw(r.get(c.key)) for c in t.columns if c.kind != "blank"} for r in t.rows],
                    "footer": None
                    if t.footer is None
                    else {c.key: c.raw(t.footer.get(c.key)) for c in t.columns if c.key in t.footer},
                }
                for t in self.tables
            ],
            "charts": [
                {"key": c.key, "title": c.title, "categories": c.categories,
                 "series": [{"name": n, "values": v} for n, v in c.series]}
                for c in self.charts
            ],
            "notes": self.notes,
        }


# ---------------------------------------------------------------- scope and period


@dataclass(frozen=True)
class Where:
    """The area a checklist covers (None: the operator's whole reach) and its period."""

    area: str | None
    period: stats.Period


def area_from_flags(session: Session, *, grid: str | None, community: str | None, street: str | None) -> str | None:
    """The one area named by --grid / --community / --street, checked to be of that level."""
    from baiyin_cli.services import org

    given = [(f, v, lvl) for f, v, lvl in (("--grid", grid, "grid"), ("--community", community, "community"),
                                           ("--street", street, "street")) if v]
    if len(given) > 1:
        raise UsageError(AREA_FLAGS)
    if not given:
        return None
    flag, value, level = given[0]
    a = org.get_area(session, value)
    if a.level != level:
        raise InvalidInput(AREA_LEVEL, flag=flag, level=_pair(LEVEL_NAMES[level]), code=a.code,
                           actual=_pair(LEVEL_NAMES.get(a.level, (a.level, a.level))))
    return a.code


def period_from_flags(day: date | None, month: str | None, *, default: str) -> stats.Period:
    """--date or --month; without either, today (`default="day"`), this month, or everything."""
    if day and month:
        raise UsageError(PERIOD_FLAGS)
    if day:
        return stats.Period.day(day)
    if month:
        return stats.Period.month(month)
    today = timeutil.today()
    if default == "day":
        return stats.Period.day(today)
    if default == "month":
        return stats.Period.month(today)
    return stats.Period()


def _period_public(period: stats.Period) -> dict[str, Any]:
    return {**period.public(), "label": period.label()}


def _generated_by(session: Session, op: Operator) -> dict[str, Any]:
    return {"username": op.username, "name": op.name}


def _names(session: Session, model: Any, key_col: Any, codes: set[str]) -> dict[str, str]:
    from sqlalchemy import select

    if not codes:
        return {}
    return dict(session.execute(select(key_col, model.name).where(key_col.in_(sorted(codes)))).all())


def _worker_names(session: Session, usernames: set[str]) -> dict[str, str]:
    from baiyin_cli.models import Worker

    return _names(session, Worker, Worker.username, {u for u in usernames if u})


def _dept_names(session: Session, codes: set[str]) -> dict[str, str]:
    from baiyin_cli.models import Department

    return _names(session, Department, Department.code, {c for c in codes if c})


def _cfg_label(table: str) -> Callable[[Any], str]:
    from baiyin_cli import config

    cfg = config.load()
    return lambda code: cfg.label(table, code)


def _status_label(code: Any) -> str:
    from baiyin_cli.services import petition_workflow as wf

    return wf.status_label(code)


def _rating_label(code: Any) -> str:
    from baiyin_cli.services import petition_workflow as wf

    return wf.label(code, wf.RATING_LABELS)


def _yes_no(v: Any) -> str:
    return L("是", "yes") if v else L("否", "no")


def days_late(due: datetime, done: datetime | None, now: datetime) -> int:
    """Whole local days past a deadline: from the day after `due` to the day of `done` (or today)."""
    ref = done or now
    if ref <= due:
        return 0
    return max((timeutil.local_date(ref) - timeutil.local_date(due)).days, 0)


# ---------------------------------------------------------------- petitions (shared by three kinds)


def _petition_rows(
    session: Session, scope: stats.Scope, period: stats.Period, *, categories: list[str] | None = None
) -> list[Any]:
    from sqlmodel import select

    from baiyin_cli.models import Petition as P

    lo, hi = period.bounds
    q = select(P).where(scope.clause)
    if lo is not None:
        q = q.where(P.filed_at >= lo)  # type: ignore[operator]
    if hi is not None:
        q = q.where(P.filed_at < hi)  # type: ignore[operator]
    if categories is not None:
        q = q.where(P.category.in_(categories))  # type: ignore[attr-defined]
    return list(session.exec(q.order_by(P.filed_at, P.number)))


def _events_of(session: Session, ids: list[int], events: tuple[str, ...]) -> dict[int, list[Any]]:
    """History entries of the given kinds for these petitions, oldest first."""
    from sqlmodel import select

    from baiyin_cli.models import PetitionEvent as E

    out: dict[int, list[Any]] = {}
    if not ids:
        return out
    for chunk in range(0, len(ids), 900):
        part = ids[chunk : chunk + 900]
        q = select(E).where(E.petition_id.in_(part), E.event.in_(events)).order_by(E.petition_id, E.seq)  # type: ignore[attr-defined]
        for e in session.exec(q):
            out.setdefault(e.petition_id, []).append(e)
    return out


def _reporter(p: Any, reveal: bool) -> str:
    from baiyin_cli.services.privacy import mask_name

    if p.anonymous:
        return L("匿名", "anonymous")
    if not p.reporter_name:
        return ""
    return p.reporter_name if reveal else (mask_name(p.reporter_name) or "")


def _scrub(text: str | None, reveal: bool) -> str | None:
    from baiyin_cli.services.privacy import scrub

    return text if reveal else scrub(text)


def _open_first(p: Any) -> tuple[int, Any, str]:
    """Open cases first, by deadline; then the finished ones, newest first."""
    done = p.status in stats.DONE or p.status in stats.NOT_RECEIVED
    if not done:
        return (0, p.resolve_due.timestamp(), p.number)
    return (1, -p.filed_at.timestamp(), p.number)


def build_hazards(session: Session, op: Operator, where: Where, *, reveal: bool = False) -> Document:
    """隐患清单: every hazard in scope, open ones first by deadline, with days overdue."""
    from baiyin_cli import config

    scope = stats.petition_scope(session, op, where.area)
    now = timeutil.now()
    codes = stats.category_codes("hazard")
    rows = sorted(_petition_rows(session, scope, where.period, categories=codes), key=_open_first)
    workers = _worker_names(session, {p.filed_by for p in rows if p.filed_by})
    depts = _dept_names(session, {p.dept_code for p in rows if p.dept_code})
    grids = stats.area_names(session, {c for p in rows for c in (p.grid_code, p.community_code) if c})
    channel = _cfg_label("channels")
    out = []
    for i, p in enumerate(rows, 1):
        done = p.status in stats.DONE
        stopped = p.status in stats.NOT_RECEIVED
        if p.channel == "grid_report" and p.filed_by in workers:
            found_by = workers[p.filed_by]
        else:
            who = _reporter(p, reveal)
            found_by = channel(p.channel) + ((f" ({who})" if get_lang() == "en" else f"（{who}）") if who else "")
        out.append({
            "no": i,
            "number": p.number,
            "category": p.category,
            "place": p.address or grids.get(p.grid_code or "", "") or grids.get(p.community_code, ""),
            "grid": p.grid_code or p.community_code,
            "found_by": found_by,
            "found_on": p.filed_at,
            "status": p.status,
            "dept": depts.get(p.dept_code or "", ""),
            "deadline": p.resolve_due,
            "resolved_at": p.resolved_at if done else None,
            "days_overdue": 0 if stopped else days_late(p.resolve_due, p.resolved_at if done else None, now),
        })
    cfg = config.load()
    grid_name = lambda code: grids.get(code, code)  # noqa: E731
    cols = [
        Column("no", L("序号", "No."), 6, "int"),
        Column("number", L("编号", "Number"), 17),
        Column("category", L("隐患类别", "Hazard"), 12, show=lambda c: cfg.label("categories", c)),
        Column("place", L("地点", "Place"), 26, wrap=True),
        Column("grid", L("网格", "Grid"), 18, show=grid_name, wrap=True),
        Column("found_by", L("发现人", "Found by"), 14, wrap=True),
        Column("found_on", L("发现日期", "Found on"), 11, "date"),
        Column("status", L("状态", "State"), 12, show=_status_label),
        Column("dept", L("责任部门", "Department"), 14, wrap=True),
        Column("deadline", L("整改期限", "Deadline"), 11, "date"),
        Column("resolved_at", L("整改完成", "Fixed on"), 11, "date"),
        Column("days_overdue", L("超期天数", "Days overdue"), 9, "int", show=lambda n: str(n) if n else ""),
    ]
    open_n = sum(1 for r in out if r["status"] not in stats.DONE and r["status"] not in stats.NOT_RECEIVED)
    over = sum(1 for r in out if r["days_overdue"] and r["status"] not in stats.DONE)
    doc = _document(session, op, "hazards", scope, where.period, reveal)
    doc.tables.append(Table("hazards", None, cols, out))
    doc.figures = [
        Figure("total", L("隐患总数", "Hazards"), len(out)),
        Figure("open", L("未整改", "Open"), open_n),
        Figure("overdue", L("其中超期", "Of which overdue"), over),
        Figure("fixed", L("已整改", "Fixed"), sum(1 for r in out if r["status"] in stats.DONE)),
    ]
    doc.notes.append(L(f"未整改 {open_n} 处（超期 {over} 处）排在前面，按整改期限先后排列。",
                       f"{open_n} open ({over} overdue) listed first, by deadline."))
    doc.signatures = [L("填表人", "Prepared by"), L("审核人", "Checked by"), L("日期", "Date")]
    return doc


def build_petitions(session: Session, op: Operator, where: Where, *, reveal: bool = False) -> Document:
    """诉求台账: every petition filed in the period, with callback, escalations, result and rating."""
    scope = stats.petition_scope(session, op, where.area)
    rows = _petition_rows(session, scope, where.period)
    ids = [p.id for p in rows]
    history = _events_of(session, ids, (stats.EV_ESCALATE, stats.EV_SEND_BACK))
    workers = _worker_names(session, {p.assignee for p in rows if p.assignee})
    grids = stats.area_names(session, {p.grid_code for p in rows if p.grid_code})
    out = []
    for i, p in enumerate(rows, 1):
        evs = history.get(p.id, [])
        result = p.result if p.status in stats.DONE else (p.reject_reason if p.status == "rejected" else None)
        if p.status == "duplicate" and p.merged_into:
            result = L(f"并入 {p.merged_into}", f"merged into {p.merged_into}")
        out.append({
            "no": i,
            "number": p.number,
            "filed_at": p.filed_at,
            "channel": p.channel,
            "category": p.category,
            "reporter": _reporter(p, reveal),
            "grid": grids.get(p.grid_code or "", p.grid_code or ""),
            "assignee": workers.get(p.assignee or "", p.assignee or ""),
            "contacted_at": p.contacted_at,
            "in_time": None if p.contacted_at is None else p.contacted_at <= p.contact_due,
            "escalations": sum(1 for e in evs if e.event == stats.EV_ESCALATE),
            "sent_back": sum(1 for e in evs if e.event == stats.EV_SEND_BACK),
            "status": p.status,
            "result": _scrub(result, reveal),
            "rating": p.rating,
        })
    chan = _cfg_label("channels")
    cat = _cfg_label("categories")
    cols = [
        Column("no", L("序号", "No."), 6, "int"),
        Column("number", L("编号", "Number"), 17),
        Column("filed_at", L("受理时间", "Filed"), 16, "datetime"),
        Column("channel", L("渠道", "Channel"), 12, show=chan),
        Column("category", L("类别", "Category"), 11, show=cat),
        Column("reporter", L("反映人", "Reporter"), 9),
        Column("grid", L("网格", "Grid"), 16, wrap=True),
        Column("assignee", L("承办人", "Assignee"), 9),
        Column("contacted_at", L("回访时间", "Callback"), 16, "datetime"),
        Column("in_time", L("30分钟内", "Within 30 min"), 8, show=_yes_no),
        Column("escalations", L("上报次数", "Escalations"), 8, "int", show=lambda n: str(n) if n else ""),
        Column("status", L("状态", "State"), 11, show=_status_label),
        Column("result", L("办理结果", "Resolution"), 28, wrap=True),
        Column("rating", L("评价", "Rating"), 9, show=_rating_label),
    ]
    totals, _ = stats.petition_figures(session, scope, where.period)
    doc = _document(session, op, "petitions", scope, where.period, reveal)
    doc.tables.append(Table("petitions", None, cols, out))
    doc.figures = _petition_headline(totals)
    doc.notes.append(L(
        "受理数不含不予受理和重复合并的诉求；办结指状态为已办结待评价或已结案；30分钟内指首次回访不晚于受理后30分钟。",
        "Received excludes rejected and merged duplicates; resolved means resolved or closed; within 30 min means "
        "the first callback no later than 30 minutes after filing.",
    ))
    doc.signatures = [L("登记人", "Recorded by"), L("审核人", "Checked by"), L("日期", "Date")]
    return doc


def _petition_headline(t: dict[str, Any]) -> list[Figure]:
    return [
        Figure("received", L("受理", "Received"), t["received"], L("件", "")),
        Figure("resolved", L("办结", "Resolved"), t["resolved"], L("件", "")),
        Figure("resolution_rate", L("办结率", "Resolution rate"), t["resolution_rate"], "%"),
        Figure("contacted_in_time", L("30分钟内回访", "Called back within 30 min"), t["contacted_in_time"], L("件", "")),
        Figure("contacted_in_time_rate", L("30分钟回访率", "Callback rate (30 min)"), t["contacted_in_time_rate"], "%"),
        Figure("resolved_in_time_rate", L("按期办结率", "Resolved within deadline"), t["resolved_in_time_rate"], "%"),
        Figure("escalated", L("上报部门", "Escalated"), t["escalated"], L("件", "")),
        Figure("sent_back", L("部门退回", "Sent back"), t["sent_back"], L("件", "")),
        Figure("satisfaction_rate", L("满意率", "Satisfaction"), t["satisfaction_rate"], "%"),
    ]


def build_disputes(session: Session, op: Operator, where: Where, *, reveal: bool = False) -> Document:
    """矛盾纠纷排查化解台账: found (排查), mediated (调解), resolved (化解), and by whom."""
    scope = stats.petition_scope(session, op, where.area)
    codes = stats.category_codes("dispute")
    rows = _petition_rows(session, scope, where.period, categories=codes)
    history = _events_of(session, [p.id for p in rows], ("mediate", "resolve"))
    actors = {e.actor for evs in history.values() for e in evs if e.actor}
    workers = _worker_names(session, actors | {p.filed_by for p in rows if p.filed_by})
    depts = _dept_names(session, {p.dept_code for p in rows if p.dept_code})
    grids = stats.area_names(session, {p.grid_code for p in rows if p.grid_code})
    out = []
    for i, p in enumerate(rows, 1):
        evs = history.get(p.id, [])
        mediations = [e for e in evs if e.event == "mediate"]
        resolves = [e for e in evs if e.event == "resolve"]
        done = p.status in stats.DONE
        last_resolve = resolves[-1] if resolves and done else None
        resolver = ""
        if last_resolve is not None:
            resolver = workers.get(last_resolve.actor or "", last_resolve.actor or "")
            if p.dept_code and last_resolve.from_status == "escalated":
                resolver = depts.get(p.dept_code, p.dept_code)
        mediators = []
        for e in mediations:
            name = workers.get(e.actor or "", e.actor or "")
            if name and name not in mediators:
                mediators.append(name)
        out.append({
            "no": i,
            "number": p.number,
            "found_on": p.filed_at,
            "found_by": workers.get(p.filed_by or "", "") if p.channel == "grid_report" else _reporter(p, reveal),
            "category": p.category,
            "grid": grids.get(p.grid_code or "", p.grid_code or ""),
            "summary": _scrub(p.text, reveal),
            "mediated_on": mediations[0].occurred_at if mediations else None,
            "mediations": len(mediations),
            "mediated_by": (", " if get_lang() == "en" else "、").join(mediators),
            "status": p.status,
            "resolved_on": p.resolved_at if done else None,
            "resolved_by": resolver,
            "result": _scrub(p.result, reveal) if done else None,
        })
    cat = _cfg_label("categories")
    cols = [
        Column("no", L("序号", "No."), 6, "int"),
        Column("number", L("编号", "Number"), 17),
        Column("found_on", L("排查日期", "Found on"), 11, "date"),
        Column("found_by", L("排查人/反映人", "Found by"), 12),
        Column("category", L("纠纷类型", "Type"), 11, show=cat),
        Column("grid", L("网格", "Grid"), 16, wrap=True),
        Column("summary", L("纠纷概要", "Summary"), 30, wrap=True),
        Column("mediated_on", L("调解日期", "Mediated on"), 11, "date"),
        Column("mediations", L("调解次数", "Mediations"), 8, "int", show=lambda n: str(n) if n else ""),
        Column("mediated_by", L("调解人", "Mediated by"), 12, wrap=True),
        Column("status", L("状态", "State"), 11, show=_status_label),
        Column("resolved_on", L("化解日期", "Resolved on"), 11, "date"),
        Column("resolved_by", L("化解人", "Resolved by"), 12),
        Column("result", L("化解结果", "Result"), 26, wrap=True),
    ]
    totals = stats.group_figures(session, scope, where.period, "dispute")
    doc = _document(session, op, "disputes", scope, where.period, reveal)
    doc.tables.append(Table("disputes", None, cols, out))
    doc.figures = [
        Figure("found", L("排查矛盾纠纷", "Disputes found"), totals["received"], L("件", "")),
        Figure("resolved", L("化解", "Resolved"), totals["resolved"], L("件", "")),
        Figure("resolution_rate", L("化解率", "Resolution rate"), totals["resolution_rate"], "%"),
    ]
    doc.signatures = [L("调解员", "Mediator"), L("审核人", "Checked by"), L("日期", "Date")]
    return doc


# ---------------------------------------------------------------- the monthly report


def _figure_columns() -> list[Column]:
    return [
        Column("received", L("受理", "Received"), 8, "int"),
        Column("resolved", L("办结", "Resolved"), 8, "int"),
        Column("resolution_rate", L("办结率", "Resolution rate"), 10, "pct"),
        Column("contacted_in_time_rate", L("30分钟回访率", "Callback ≤30 min"), 12, "pct"),
        Column("resolved_in_time_rate", L("按期办结率", "On time"), 11, "pct"),
        Column("escalated", L("上报", "Escalated"), 7, "int"),
        Column("satisfaction_rate", L("满意率", "Satisfaction"), 9, "pct"),
    ]


def build_monthly(session: Session, op: Operator, where: Where, *, reveal: bool = False) -> Document:
    """月度工作报表: the figures, by grid (or community), by category and channel, and a chart."""
    from baiyin_cli import config

    scope = stats.petition_scope(session, op, where.area)
    period = where.period
    totals, _ = stats.petition_figures(session, scope, period)
    level = scope.area["level"] if scope.area else "city"
    by = "grid" if level in ("community", "grid") else "community"
    _, parts = stats.petition_figures(session, scope, period, by=by)
    _, cats = stats.petition_figures(session, scope, period, by="category")
    _, chans = stats.petition_figures(session, scope, period, by="channel")
    disputes = stats.group_figures(session, scope, period, "dispute")
    hazards = stats.group_figures(session, scope, period, "hazard")
    visits = visit_figures(session, op, scope.prefix, period)
    pop = stats.population(session, scope.prefix)
    cfg = config.load()

    doc = _document(session, op, "monthly", scope, period, reveal)
    doc.notes = []  # no personal data in a monthly report
    doc.figures = [
        *_petition_headline(totals),
        Figure("avg_contact_minutes", L("平均回访用时", "Average callback"), totals["avg_contact_minutes"], L("分钟", " min")),
        Figure("avg_resolve_hours", L("平均办结用时", "Average resolution"), totals["avg_resolve_hours"], L("小时", " h")),
        Figure("disputes_found", L("排查矛盾纠纷", "Disputes found"), disputes["received"], L("件", "")),
        Figure("disputes_resolved", L("化解矛盾纠纷", "Disputes resolved"), disputes["resolved"], L("件", "")),
        Figure("hazards_found", L("发现隐患", "Hazards found"), hazards["received"], L("处", "")),
        Figure("hazards_fixed", L("整改隐患", "Hazards fixed"), hazards["resolved"], L("处", "")),
        *visits,
        Figure("households", L("住户", "Households"), pop["households"], L("户", "")),
        Figure("residents", L("居民", "Residents"), pop["residents"], L("人", "")),
        Figure("care_residents", L("重点关爱对象", "People with care tags"), pop["care_residents"], L("人", "")),
    ]
    part_label = L("网格", "Grid") if by == "grid" else L("社区", "Community")
    part_rows = [{"name": g["label"] or L("（未分网格）", "(no grid)"), **g} for g in parts]
    doc.tables.append(Table(
        "by_area", L(f"分{part_label}情况", f"By {part_label.lower()}"),
        [Column("name", part_label, 22, wrap=True), *_figure_columns()], part_rows,
        footer={"name": L("合计", "Total"), **totals},
    ))
    group_label = lambda code: cfg.label("category_groups", cfg.get(f"categories.{code}.group") or "")  # noqa: E731
    cat_rows = [{"category": g["key"], "group": g["key"], **g} for g in cats]
    doc.tables.append(Table(
        "by_category", L("分类别情况", "By category"),
        [Column("category", L("类别", "Category"), 14, show=_cfg_label("categories")),
         Column("group", L("类", "Group"), 9, show=group_label),
         *_figure_columns()],
        cat_rows, footer={"category": L("合计", "Total"), **totals},
    ))
    chan_rows = [{"channel": g["key"], "received": g["received"], "share": stats.pct(g["received"], totals["received"]),
                  "resolved": g["resolved"], "resolution_rate": g["resolution_rate"]} for g in chans]
    doc.tables.append(Table(
        "by_channel", L("分渠道情况", "By channel"),
        [Column("channel", L("渠道", "Channel"), 16, show=_cfg_label("channels")),
         Column("received", L("受理", "Received"), 8, "int"),
         Column("share", L("占比", "Share"), 9, "pct"),
         Column("resolved", L("办结", "Resolved"), 8, "int"),
         Column("resolution_rate", L("办结率", "Resolution rate"), 10, "pct")],
        chan_rows, footer={"channel": L("合计", "Total"), "received": totals["received"],
                           "share": 100.0 if totals["received"] else None, "resolved": totals["resolved"],
                           "resolution_rate": totals["resolution_rate"]},
    ))
    if parts:
        doc.charts.append(Chart(
            "by_area", L(f"各{part_label}受理与办结", f"Received and resolved by {part_label.lower()}"),
            [r["name"] for r in part_rows],
            [(L("受理", "Received"), [r["received"] for r in part_rows]),
             (L("办结", "Resolved"), [r["resolved"] for r in part_rows])],
            y_title=L("件", "petitions"),
        ))
    doc.notes.append(L(
        "口径：受理为本期受理的诉求（不含不予受理、重复合并）；办结为其中已办结或已结案的；满意率 =（满意+基本满意）/ 已评价。",
        "Definitions: received = filed in the period, less rejected and merged duplicates; resolved = of those, "
        "resolved or closed; satisfaction = (satisfied + basically satisfied) / rated.",
    ))
    doc.signatures = [L("填报人", "Prepared by"), L("审核人", "Checked by"), L("单位（盖章）", "Office (seal)")]
    return doc


def visit_figures(session: Session, op: Operator, prefix: str | None, period: stats.Period) -> list[Figure]:
    """The visit figures of the period, from the visits service's own statistics."""
    return []


# ---------------------------------------------------------------- shared document head


def _document(
    session: Session, op: Operator, kind: str, scope: stats.Scope, period: stats.Period, reveal: bool
) -> Document:
    area = scope.public()
    name = area["name"] if area else L("全市", "City")
    title = L(f"{name}{KIND_TITLES[kind][0]}", f"{KIND_TITLES[kind][1]} — {name}")
    doc = Document(
        kind=kind,
        title=title,
        area=area,
        period=_period_public(period),
        generated_at=timeutil.now(),
        generated_by=_generated_by(session, op),
        masked=not reveal,
    )
    if not reveal:
        doc.notes.append(L("个人信息已脱敏。", "Personal data is masked."))
    return doc


# ---------------------------------------------------------------- export


BUILDERS: dict[str, Callable[..., Document]] = {
    "hazards": build_hazards,
    "petitions": build_petitions,
    "disputes": build_disputes,
    "monthly": build_monthly,
}


def kind_of(value: str) -> str:
    v = (value or "").strip().lower()
    if v not in KINDS:
        raise InvalidInput(BAD_KIND, value=value, choices="/".join(KINDS))
    return v


def build(
    session: Session,
    op: Operator | None,
    kind: str,
    *,
    area: str | None = None,
    period: stats.Period | None = None,
    reveal: bool = False,
) -> Document:
    """Build one checklist. `reveal` shows names in full where the operator may see them (audited)."""
    from baiyin_cli.services.access import require, require_reveal

    op = require(op)
    kind = kind_of(kind)
    if reveal:
        require_reveal(op, area or op.scope)
    where = Where(area, period or stats.Period())
    return BUILDERS[kind](session, op, where, reveal=reveal)


def record_export(session: Session, op: Operator | None, doc: Document, *, fmt: str, target: str) -> None:
    """The audit entry for one export of a checklist (personal data leaves the system)."""
    from baiyin_cli.services import audit

    audit.record(
        session, op, f"export.checklist.{doc.kind}", "checklist", doc.area["code"] if doc.area else None,
        detail={
            "kind": doc.kind,
            "period": {k: doc.period.get(k) for k in ("from", "to")},
            "format": fmt,
            "target": target,
            "rows": doc.rows,
            "revealed": not doc.masked,
        },
    )
