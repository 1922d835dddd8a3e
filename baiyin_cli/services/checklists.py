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
ONE_DAY = M(
    "checklist.one_day", "走访清单是某一天的：请用 --date 指定日期", "A visit checklist is for one day: give --date"
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
    none: str = ""  # what an empty value reads as (e.g. "never" for a last visit)
    align: str | None = None  # left | center | right; default: numbers right, times centred, text left
    nowrap: bool = False  # codes (petition numbers, household codes) stay on one line

    @property
    def alignment(self) -> str:
        if self.align:
            return self.align
        if self.kind in ("int", "num", "pct"):
            return "right"
        if self.kind in ("date", "datetime", "blank"):
            return "center"
        return "left"

    def text(self, value: Any) -> str:
        """What a person reads in this cell."""
        if self.kind == "blank":
            return ""
        if value is None:
            return self.none
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
    y_title: str = ""  # the value axis (a unit: 件)
    x_title: str = ""  # the category axis (what a bar group is: 网格)


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
        names = list(self.area.get("path") or [self.area["name"]])
        return L(f"区域：{stats.full_name(names)}（{self.area['code']}）", f"Area: {' / '.join(names)} ({self.area['code']})")

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


def _ratings_text(codes: Any) -> str:
    """Every evaluation in order: 不满意→满意 for a case reopened and rated again."""
    return "→".join(_rating_label(c) for c in codes if c)


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


def events_of(session: Session, ids: list[int], events: tuple[str, ...]) -> dict[int, list[Any]]:
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


def department_in_charge(p: Any, history: list[Any]) -> str | None:
    """The department that holds the case (escalated to it) or resolved it; None when the grid
    has it (never escalated, or sent back). `history`: the petition's escalate/send_back/resolve
    entries, oldest first."""
    if not p.dept_code:
        return None
    if p.status == "escalated":
        return p.dept_code
    if p.status in stats.DONE:
        resolves = [e for e in history if e.event == "resolve"]
        if resolves and resolves[-1].from_status == "escalated":
            return p.dept_code
    return None


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


def _called_in_time(p: Any, now: datetime) -> bool | None:
    """Yes / no for the 30-minute callback; blank while the 30 minutes still run, or for a case
    not received (rejected, merged)."""
    if p.status in stats.NOT_RECEIVED:
        return None
    if p.contacted_at is not None:
        return p.contacted_at <= p.contact_due
    return False if now > p.contact_due else None


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
    history = events_of(session, [p.id for p in rows], (stats.EV_ESCALATE, stats.EV_SEND_BACK, "resolve"))
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
            "dept": depts.get(department_in_charge(p, history.get(p.id, [])) or "", ""),
            "deadline": p.resolve_due,
            "resolved_at": p.resolved_at if done else None,
            "days_overdue": 0 if stopped else days_late(p.resolve_due, p.resolved_at if done else None, now),
        })
    cfg = config.load()
    grid_name = lambda code: grids.get(code, code)  # noqa: E731
    cols = [
        Column("no", L("序号", "No."), 6, "int", align="center"),
        Column("number", L("编号", "Number"), 17, nowrap=True),
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
    now = timeutil.now()
    ids = [p.id for p in rows]
    history = events_of(session, ids, (stats.EV_ESCALATE, stats.EV_SEND_BACK, stats.EV_RATE))
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
            "in_time": _called_in_time(p, now),
            "escalations": sum(1 for e in evs if e.event == stats.EV_ESCALATE),
            "sent_back": sum(1 for e in evs if e.event == stats.EV_SEND_BACK),
            "status": p.status,
            "resolve_due": p.resolve_due,
            "resolved_at": p.resolved_at if p.status in stats.DONE else None,
            "result": _scrub(result, reveal),
            "ratings": [(e.data or {}).get("rating") for e in evs if e.event == stats.EV_RATE],
        })
    chan = _cfg_label("channels")
    cat = _cfg_label("categories")
    cols = [
        Column("no", L("序号", "No."), 6, "int", align="center"),
        Column("number", L("编号", "Number"), 17, nowrap=True),
        Column("filed_at", L("受理时间", "Filed"), 16, "datetime"),
        Column("channel", L("渠道", "Channel"), 12, show=chan),
        Column("category", L("类别", "Category"), 11, show=cat),
        Column("reporter", L("反映人", "Reporter"), 9),
        Column("grid", L("网格", "Grid"), 16, wrap=True),
        Column("assignee", L("承办人", "Assignee"), 9),
        Column("contacted_at", L("回访时间", "Callback"), 16, "datetime"),
        Column("in_time", L("30分钟内", "Within 30 min"), 8, show=_yes_no, align="center"),
        Column("escalations", L("上报次数", "Escalations"), 8, "int", show=lambda n: str(n) if n else ""),
        Column("sent_back", L("退回次数", "Sent back"), 8, "int", show=lambda n: str(n) if n else ""),
        Column("status", L("状态", "State"), 11, show=_status_label),
        Column("resolve_due", L("办结期限", "Deadline"), 11, "date"),
        Column("resolved_at", L("办结时间", "Resolved"), 16, "datetime"),
        Column("result", L("办理结果", "Resolution"), 24, wrap=True),
        Column("ratings", L("评价", "Rating"), 10, show=_ratings_text, wrap=True),
    ]
    totals, _ = stats.petition_figures(session, scope, where.period)
    doc = _document(session, op, "petitions", scope, where.period, reveal)
    doc.tables.append(Table("petitions", None, cols, out))
    doc.figures = _petition_headline(totals)
    doc.notes.append(L(
        "受理数不含不予受理和重复合并的诉求；办结指状态为已办结待评价或已结案；30分钟内指首次回访不晚于受理后30分钟；"
        "按期办结指办结时间不晚于办结期限；评价列出每一次评价，满意率 =（满意+基本满意）/ 评价次数。",
        "Received excludes rejected and merged duplicates; resolved means resolved or closed; within 30 min means "
        "the first callback no later than 30 minutes after filing; resolved within deadline means resolved no later "
        "than the deadline; the rating column lists every evaluation, and "
        "satisfaction = (satisfied + basically satisfied) / evaluations.",
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
    history = events_of(session, [p.id for p in rows], ("mediate", "resolve", stats.EV_ESCALATE, stats.EV_SEND_BACK))
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
            dept = department_in_charge(p, evs)
            if dept:
                resolver = depts.get(dept, dept)
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
        Column("no", L("序号", "No."), 6, "int", align="center"),
        Column("number", L("编号", "Number"), 17, nowrap=True),
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


# ---------------------------------------------------------------- visits and the care roster


def _grids_of(session: Session, op: Operator, area: str | None) -> list[tuple[str, str]]:
    """(code, name) of the grids inside `area` (narrowed to what the operator may read)."""
    from sqlmodel import select

    from baiyin_cli.models import Area
    from baiyin_cli.services.access import read_scope, scope_clause

    prefix = read_scope(op, area)
    q = select(Area.code, Area.name).where(Area.level == "grid", scope_clause(Area.code, prefix)).order_by(Area.code)
    return [(c, n) for c, n in session.exec(q)]


def _heads(session: Session, codes: list[str], reveal: bool) -> dict[str, str]:
    """The head of each household (by household code), masked unless `reveal`."""
    from sqlmodel import select

    from baiyin_cli.models import Household, Resident
    from baiyin_cli.models.registry import HEAD_RELATION
    from baiyin_cli.services.privacy import mask_name

    out: dict[str, str] = {}
    for start in range(0, len(codes), 900):
        part = codes[start : start + 900]
        q = (
            select(Household.code, Resident.name)
            .join(Resident, Resident.household_id == Household.id)  # type: ignore[arg-type]
            .where(Household.code.in_(part), Resident.relation == HEAD_RELATION, Resident.archived_at.is_(None))  # type: ignore[attr-defined, union-attr]
        )
        for code, name in session.exec(q):
            out[code] = name if reveal else (mask_name(name) or "")
    return out


def _care_labels(tags: list[str]) -> str:
    from baiyin_cli.services.registry import care_label

    return ("、" if get_lang() != "en" else ", ").join(care_label(t) for t in tags)


def _last_visit_text(v: Any) -> str:
    who = v.get("worker_name") or v.get("worker") or ""
    return f"{v['day']} {who}".strip()


def _visit_status_text(row: dict[str, Any]) -> str:
    from baiyin_cli.services import visits

    label = visits.status_label(row["status"])
    if row["status"] == "overdue" and row.get("days_overdue"):
        return L(f"{label} {row['days_overdue']} 天", f"{label} {row['days_overdue']} d")
    return label


def _area_scope(session: Session, op: Operator, area: str | None) -> stats.Scope:
    from baiyin_cli.services.access import read_scope

    prefix = read_scope(op, area)
    return stats.Scope(prefix, stats.area_info(session, prefix), None)


def build_visits(session: Session, op: Operator, where: Where, *, reveal: bool = False) -> Document:
    """走访清单: the households due (or overdue) on a day, one table per grid, with columns to fill in."""
    from baiyin_cli.services import visits

    if where.period.start is None or where.period.start != where.period.end:
        raise InvalidInput(ONE_DAY)
    day = where.period.start
    scope = _area_scope(session, op, where.area)
    grids = _grids_of(session, op, scope.prefix)
    queues = [(code, name, visits.due_queue(session, op, grid=code, on=day)) for code, name in grids]
    heads = _heads(session, [i["household"] for _c, _n, q in queues for i in q["items"]], reveal)
    cols = [
        Column("no", L("序号", "No."), 5, "int", align="center"),
        Column("household", L("户编号", "Household"), 16, nowrap=True),
        Column("address", L("地址", "Address"), 26, wrap=True),
        Column("care", L("关爱对象类别", "Care tags"), 16, show=_care_labels, wrap=True),
        Column("head", L("户主", "Head"), 8),
        Column("last_visit", L("上次走访", "Last visit"), 17, show=_last_visit_text, wrap=True,
               none=L("从未走访", "never")),
        Column("status", L("应访情况", "Due"), 11),
        Column("visited", L("已走访（√）", "Visited (✓)"), 8, "blank"),
        Column("found", L("走访情况 / 发现问题", "Findings"), 28, "blank"),
        Column("signature", L("住户签字", "Resident's signature"), 12, "blank"),
    ]
    doc = _document(session, op, "visits", scope, where.period, reveal)
    due = overdue = 0
    several = len(queues) > 1
    for code, name, q in queues:
        if several and not q["items"]:
            continue
        rows = []
        for i, item in enumerate(q["items"], 1):
            rows.append({
                "no": i,
                "household": item["household"],
                "address": item["address"],
                "care": item["care"],
                "head": heads.get(item["household"], ""),
                "last_visit": item["last_visit"],
                "status": _visit_status_text(item),
                "due_on": item["due"],
            })
        due += q["due"]
        overdue += q["overdue"]
        doc.tables.append(Table(code, f"{name}（{code}）" if several else None, cols, rows, tall_rows=True))
    if not doc.tables:
        doc.tables.append(Table("visits", None, cols, [], tall_rows=True))
    if len(grids) == 1:
        q = queues[0][2]
        if q["worker"]:
            worker = _worker_names(session, {q["worker"]}).get(q["worker"], q["worker"])
            doc.notes.insert(0, L(f"网格：{grids[0][1]}　网格员：{worker}", f"Grid: {grids[0][1]}  Grid worker: {worker}"))
    doc.figures = [
        Figure("due", L("今日应访", "Due today"), due + overdue, L("户", "")),
        Figure("overdue", L("其中逾期", "Of which overdue"), overdue, L("户", "")),
    ]
    doc.signatures = [L("网格员签名", "Grid worker"), L("社区审核", "Checked by"), L("日期", "Date")]
    return doc


def build_care(session: Session, op: Operator, where: Where, *, reveal: bool = False) -> Document:
    """重点关爱对象台账: every person (or household) with a care tag, their last visit and next due."""
    from sqlmodel import select

    from baiyin_cli.models import Household, HouseholdCare, Resident, ResidentCare
    from baiyin_cli.services import registry, visits
    from baiyin_cli.services.access import scope_clause

    day = where.period.end or timeutil.today()
    scope = _area_scope(session, op, where.area)
    grids = _grids_of(session, op, scope.prefix)
    schedule: dict[str, dict[str, Any]] = {}
    for code, _name in grids:
        q = visits.due_queue(session, op, grid=code, on=day, include_early=True, care_only=True)
        for item in q["items"]:
            schedule[item["household"]] = item
    grid_names = dict(grids)
    live_h = Household.archived_at.is_(None)  # type: ignore[union-attr]
    people = session.exec(
        select(Resident, Household.code, Household.grid_code)
        .join(Household, Household.id == Resident.household_id)  # type: ignore[arg-type]
        .where(scope_clause(Household.grid_code, scope.prefix), live_h, Resident.archived_at.is_(None),  # type: ignore[union-attr]
               Resident.id.in_(select(ResidentCare.resident_id)))  # type: ignore[union-attr]
        .order_by(Household.grid_code, Household.code, Resident.id)
    ).all()
    rtags: dict[int, list[str]] = {}
    ids = [r.id for r, _c, _g in people]
    for start in range(0, len(ids), 900):
        for rid, tag in session.exec(select(ResidentCare.resident_id, ResidentCare.tag).where(
                ResidentCare.resident_id.in_(ids[start : start + 900]))):  # type: ignore[attr-defined]
            rtags.setdefault(rid, []).append(tag)
    htags: dict[str, tuple[str, list[str]]] = {}
    for hcode, grid_code, tag in session.exec(
        select(Household.code, Household.grid_code, HouseholdCare.tag)
        .join(HouseholdCare, HouseholdCare.household_id == Household.id)  # type: ignore[arg-type]
        .where(scope_clause(Household.grid_code, scope.prefix), live_h)
        .order_by(Household.code, HouseholdCare.tag)
    ):
        htags.setdefault(hcode, (grid_code, []))[1].append(tag)
    heads = _heads(session, sorted(htags), reveal)

    rows: list[dict[str, Any]] = []

    def add(name: str, sex: str | None, age: int | None, tags: list[str], hcode: str, grid_code: str,
            order: int) -> None:
        sched = schedule.get(hcode) or {}
        rows.append({
            "_order": (grid_code, hcode, order),
            "name": name, "sex": sex, "age": age, "care": sorted(tags, key=_care_rank), "household": hcode,
            "address": sched.get("address", ""), "grid": grid_code, "interval_days": sched.get("interval_days"),
            "last_visit": sched.get("last_visit"), "next_due": sched.get("due"),
            "status": _visit_status_text(sched) if sched else "",
        })

    for r, hcode, grid_code in people:
        pub = registry.resident_public(r, reveal=reveal, mask_names=not reveal)
        add(pub["name"], pub["sex"], pub["age"], rtags.get(r.id, []), hcode, grid_code, r.id)
    for hcode, (grid_code, tags) in htags.items():
        add(L(f"{heads.get(hcode, '')}（户）", f"{heads.get(hcode, '')} (household)"), None, None, tags, hcode, grid_code,
            -1)
    rows.sort(key=lambda x: x.pop("_order"))
    for i, row in enumerate(rows, 1):
        row["no"] = i
    cols = [
        Column("no", L("序号", "No."), 5, "int", align="center"),
        Column("name", L("姓名", "Name"), 10),
        Column("sex", L("性别", "Sex"), 5, show=registry.sex_label, align="center"),
        Column("age", L("年龄", "Age"), 5, "int", align="center"),
        Column("care", L("关爱对象类别", "Care tags"), 18, show=_care_labels, wrap=True),
        Column("household", L("户编号", "Household"), 16, nowrap=True),
        Column("address", L("地址", "Address"), 24, wrap=True),
        Column("grid", L("网格", "Grid"), 16, show=lambda c: grid_names.get(c, c), wrap=True),
        Column("interval_days", L("走访周期（天）", "Every (days)"), 8, "int"),
        Column("last_visit", L("上次走访", "Last visit"), 17, show=_last_visit_text, wrap=True,
               none=L("从未走访", "never")),
        Column("next_due", L("下次应访", "Next due"), 11, "date"),
        Column("status", L("状态", "State"), 10),
    ]
    period = stats.Period.day(day)
    doc = _document(session, op, "care", scope, period, reveal)
    doc.period["label"] = L(f"截至 {day.isoformat()}", f"as of {day.isoformat()}")
    doc.tables.append(Table("care", None, cols, rows))
    overdue = sum(1 for s in schedule.values() if s["status"] == "overdue")
    doc.figures = [
        Figure("people", L("重点关爱对象", "People"), len(people), L("人", "")),
        Figure("households", L("关爱户", "Households"), len(schedule), L("户", "")),
        Figure("overdue", L("逾期未访", "Overdue"), overdue, L("户", "")),
    ]
    doc.signatures = [L("网格员", "Grid worker"), L("社区审核", "Checked by"), L("日期", "Date")]
    return doc


def _care_rank(tag: str) -> tuple[int, str]:
    """Tags in the order config lists them (the most vulnerable first)."""
    from baiyin_cli import config

    order = list((config.load().get("care_tags") or {}).keys())
    return (order.index(tag) if tag in order else len(order), tag)


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
         Column("group", L("大类", "Group"), 9, show=group_label),
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
            x_title=part_label,
        ))
    doc.notes.append(L(
        "口径：受理为本期受理的诉求（不含不予受理、重复合并）；办结为其中已办结或已结案的；满意率 =（满意+基本满意）/ 评价次数。",
        "Definitions: received = filed in the period, less rejected and merged duplicates; resolved = of those, "
        "resolved or closed; satisfaction = (satisfied + basically satisfied) / evaluations.",
    ))
    doc.signatures = [L("填报人", "Prepared by"), L("审核人", "Checked by"), L("单位（盖章）", "Office (seal)")]
    return doc


def visit_figures(session: Session, op: Operator, prefix: str | None, period: stats.Period) -> list[Figure]:
    """The visit figures of the period, from the visits service's own statistics."""
    v = stats.visit_totals(session, op, prefix, period)
    if v is None:
        return []
    t = v["totals"]
    return [
        Figure("visits", L("走访", "Visits"), t["visits"], L("次", "")),
        Figure("visit_hours", L("走访时长", "Time walked"), stats.round_half_up(t["minutes"] / 60, 1), L("小时", " h")),
        Figure("household_visits", L("入户走访", "Household visits"), t["household_visits"], L("户次", "")),
        Figure("met_rate", L("每日一小时达标率", "Daily hour met"), t["met_rate"], "%"),
        Figure("care_coverage", L("关爱对象按期走访率", "Care households visited on time"), t["coverage"], "%"),
        Figure("findings", L("走访发现问题", "Findings"), t["findings"], L("件", "")),
    ]


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
    "visits": build_visits,
    "care": build_care,
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
