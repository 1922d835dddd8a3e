"""Statistics: the figures a street office reports, each defined once, here.

Every figure can be checked by hand against the petition ledger (`grid checklist export
petitions`) of the same area and period. The definitions (README repeats them):

period      `--from`/`--to` are calendar dates in the configured time zone, both inclusive. A
            petition belongs to the period of its filing time `filed_at` (when the resident raised
            it, which `--at` may set earlier than the moment it was typed in).
受理 received  petitions filed in the period, less 不予受理 (`rejected`) and 重复 (`duplicate`: merged
            into another petition, which is the one counted).
办结 resolved  received petitions whose state, when the report is made, is `resolved` (办结, awaiting
            the evaluation) or `closed` (结案). A petition reopened by an 不满意 rating is not 办结
            until it is resolved again.
办结率        办结 / 受理.
30-minute callback  received petitions whose first callback `contacted_at` is at or before their
            `contact_due` (filing time + `petition.contact_minutes`, fixed at filing); % of 受理.
resolved within deadline  办结 petitions with `resolved_at` at or before `resolve_due`; % of 办结.
escalated / sent back  received petitions with at least one `escalate` / `send_back` event.
satisfaction  (满意 + 基本满意) / evaluations: every rating recorded (`rate` in the history) on a
            received petition, the 不满意 ones that reopened a case included, so a reopened and
            re-rated case counts each time the resident was asked (群众来评).
average callback  mean of `contacted_at - filed_at` (minutes) over received petitions called back.
average resolution  mean of `resolved_at - filed_at` (hours) over 办结 petitions.
open now / overdue now  received petitions not 办结; of those, the ones whose state runs the clock
            and whose `resolve_due` has passed (the workflow's rule).

Aggregates run in SQL (GROUP BY over indexed columns), the same on SQLite and PostgreSQL. Local
day and month boundaries are computed here in Python from the configured zone and passed to SQL
as UTC instants, so a petition filed at 23:30 on the last day of a month in Baiyin lands in that
month on both backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import InvalidInput
from baiyin_cli.i18n import M

if TYPE_CHECKING:
    from sqlmodel import Session

    from baiyin_cli.services.access import Operator

BAD_PERIOD = M(
    "stats.bad_period",
    "起始日期 {start} 晚于结束日期 {end}",
    "The start date {start} is after the end date {end}",
)
BAD_BY = M(
    "stats.bad_by",
    "分组方式无效：{value}（可选 {choices}）",
    "Invalid grouping: {value} (one of {choices})",
)
BAD_MONTH = M("stats.bad_month", "月份格式无效：{value}（应为 YYYY-MM）", "Invalid month: {value} (expected YYYY-MM)")

GROUPINGS = ("community", "grid", "category", "channel", "month")

# Rating codes (GUIDE §1): 满意 / 基本满意 / 不满意.
SATISFIED = "satisfied"
BASICALLY_SATISFIED = "basically_satisfied"
UNSATISFIED = "unsatisfied"


# ---------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """Local calendar dates, both inclusive; None means unbounded on that side."""

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise InvalidInput(BAD_PERIOD, start=self.start.isoformat(), end=self.end.isoformat())

    @classmethod
    def day(cls, d: date) -> Period:
        return cls(d, d)

    @classmethod
    def month(cls, value: str | date) -> Period:
        first = parse_month(value) if isinstance(value, str) else value.replace(day=1)
        return cls(first, next_month(first) - timedelta(days=1))

    @property
    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """UTC [start, end) of the local days."""
        lo = timeutil.day_bounds(self.start)[0] if self.start else None
        hi = timeutil.day_bounds(self.end)[1] if self.end else None
        return lo, hi

    def public(self) -> dict[str, Any]:
        return {"from": self.start.isoformat() if self.start else None, "to": self.end.isoformat() if self.end else None}

    def label(self) -> str:
        from baiyin_cli.i18n import L

        if self.start and self.end:
            if self.start == self.end:
                return self.start.isoformat()
            if self.start.day == 1 and next_month(self.start) - timedelta(days=1) == self.end:
                return L(f"{self.start.year}年{self.start.month}月", self.start.strftime("%B %Y"))
            return f"{self.start.isoformat()} ~ {self.end.isoformat()}"
        if self.start:
            return L(f"{self.start.isoformat()} 起", f"since {self.start.isoformat()}")
        if self.end:
            return L(f"截至 {self.end.isoformat()}", f"up to {self.end.isoformat()}")
        return L("全部", "all time")


def parse_month(value: str) -> date:
    try:
        y, m = value.strip().split("-")
        return date(int(y), int(m), 1)
    except (ValueError, TypeError):
        raise InvalidInput(BAD_MONTH, value=value) from None


def next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def month_starts(start: date, end: date) -> list[date]:
    """First days of the local months from `start`'s month to `end`'s month."""
    out = []
    m = start.replace(day=1)
    while m <= end:
        out.append(m)
        m = next_month(m)
    return out


def month_bucket(column, starts: list[date]):  # type: ignore[no-untyped-def]
    """SQL mapping a UTC timestamp column to its local month 'YYYY-MM', one CASE branch per month.

    The boundaries are local midnights turned into UTC here, so bucketing does not depend on the
    database's own time zone functions (SQLite has none for Asia/Shanghai).
    """
    from sqlalchemy import and_, case, literal

    if not starts:
        return literal(None)
    whens = []
    for m in starts:
        lo = timeutil.day_bounds(m)[0]
        hi = timeutil.day_bounds(next_month(m))[0]
        whens.append((and_(column >= lo, column < hi), m.strftime("%Y-%m")))
    return case(*whens, else_=None)


def minutes_between(session: Session, earlier, later):  # type: ignore[no-untyped-def]
    """SQL for `later - earlier` in minutes (a float), on SQLite and PostgreSQL."""
    from sqlalchemy import func

    name = session.get_bind().dialect.name
    if name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 1440.0
    return func.extract("epoch", later - earlier) / 60.0


# ---------------------------------------------------------------- scope


def area_clause(prefix: str | None, *, community, grid):  # type: ignore[no-untyped-def]
    """Petitions inside the area `prefix`: by community code, or by grid code for a grid."""
    from baiyin_cli.models.org import LEVEL_CODE_LENGTH, AreaLevel
    from baiyin_cli.services.access import scope_clause

    if prefix and len(prefix) > LEVEL_CODE_LENGTH[AreaLevel.community]:
        return scope_clause(grid, prefix)
    return scope_clause(community, prefix)


@dataclass(frozen=True)
class Scope:
    """What a report covers: the operator's reach narrowed to an area (None: the whole city)."""

    prefix: str | None
    area: dict[str, Any] | None
    clause: Any  # SQL over the petition table

    def public(self) -> dict[str, Any] | None:
        return self.area


def petition_scope(session: Session, op: Operator | None, area: str | None = None) -> Scope:
    """The petitions `op` may count, inside `area` if given (refused if wholly outside their reach)."""
    from sqlalchemy import and_

    from baiyin_cli.models import Petition
    from baiyin_cli.services import org
    from baiyin_cli.services.access import petition_scope_clause, read_scope, require

    op = require(op)
    if area:
        area = org.get_area(session, area).code
    reach = petition_scope_clause(
        op, community=Petition.community_code, grid=Petition.grid_code, assignee=Petition.assignee, dept=Petition.dept_code
    )
    if op.role == "department":
        prefix = area
    else:
        prefix = read_scope(op, area)
    clause = and_(reach, area_clause(prefix, community=Petition.community_code, grid=Petition.grid_code))
    return Scope(prefix, area_info(session, prefix), clause)


def area_info(session: Session, code: str | None) -> dict[str, Any] | None:
    """{code, name, level, path, full_name} of an area (path: the names from the district down), or None
    for the city."""
    if not code:
        return None
    from sqlmodel import select

    from baiyin_cli.models import Area

    codes = [code[:n] for n in (6, 9, 12, 15) if n <= len(code)]
    rows = {a.code: a for a in session.exec(select(Area).where(Area.code.in_(codes)))}  # type: ignore[attr-defined]
    a = rows.get(code)
    if a is None:
        from baiyin_cli.services import org

        a = org.get_area(session, code)
    path = [rows[c].name for c in codes if c in rows]
    return {"code": a.code, "name": a.name, "level": a.level, "path": path, "full_name": full_name(path)}


def full_name(path: list[str]) -> str:
    """白银区 人民路街道 新华社区 新华社区第一网格 -> 白银区人民路街道新华社区第一网格 (a name the next repeats is dropped)."""
    return "".join(n for i, n in enumerate(path) if not (i + 1 < len(path) and path[i + 1].startswith(n)))


def area_names(session: Session, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    from sqlmodel import select

    from baiyin_cli.models import Area

    return dict(session.exec(select(Area.code, Area.name).where(Area.code.in_(sorted(codes)))).all())  # type: ignore[attr-defined]


# ---------------------------------------------------------------- petition figures


def _workflow():  # type: ignore[no-untyped-def]
    from baiyin_cli.services import petition_workflow

    return petition_workflow


# Which workflow states count how (the definitions above). The states themselves, and which
# of them run the clock, are the workflow's (services/petition_workflow.py).
NOT_RECEIVED = ("rejected", "duplicate")  # 不予受理, merged into another: not 受理
DONE = ("resolved", "closed")  # 办结
EV_ESCALATE = "escalate"
EV_SEND_BACK = "send_back"
EV_RATE = "rate"


def _state_sets() -> dict[str, tuple[str, ...]]:
    """The workflow's states, grouped as the figures need them."""
    wf = _workflow()
    return {"not_received": NOT_RECEIVED, "done": DONE, "clock": tuple(sorted(wf.RUNNING))}


def pct(part: int | None, whole: int | None) -> float | None:
    """A percentage with two decimals, None when there is nothing to divide by."""
    if not whole:
        return None
    return round_half_up(100.0 * (part or 0) / whole, 2)


def _num(v: Any) -> int:
    return int(v or 0)


def round_half_up(v: float, digits: int = 1) -> float:
    """Round as people do on paper (2.25 -> 2.3), after dropping floating-point noise below 1e-6
    (SQLite's julianday arithmetic is not exact)."""
    from decimal import ROUND_HALF_UP, Decimal

    return float(Decimal(repr(round(float(v), 6))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _avg(v: Any, digits: int = 1) -> float | None:
    return None if v is None else round_half_up(float(v), digits)


def _aggregates(session: Session):  # type: ignore[no-untyped-def]
    """The labelled SQL aggregates behind every petition figure (over petition rows)."""
    from sqlalchemy import and_, case, func, not_, select

    from baiyin_cli.models import Petition as P
    from baiyin_cli.models import PetitionEvent as E

    sets = _state_sets()
    received = not_(P.status.in_(sets["not_received"]))  # type: ignore[attr-defined]
    done = and_(received, P.status.in_(sets["done"]))  # type: ignore[attr-defined]
    now = timeutil.now()

    def n(cond):  # type: ignore[no-untyped-def]
        return func.sum(case((cond, 1), else_=0))

    def had(event: str):  # type: ignore[no-untyped-def]
        return P.id.in_(select(E.petition_id).where(E.event == event))  # type: ignore[union-attr]

    contact_min = minutes_between(session, P.filed_at, P.contacted_at)
    resolve_min = minutes_between(session, P.filed_at, P.resolved_at)
    return [
        func.count().label("filed"),
        n(P.status == "rejected").label("rejected"),
        n(P.status == "duplicate").label("duplicate"),
        n(received).label("received"),
        n(done).label("resolved"),
        n(and_(received, P.contacted_at.is_not(None))).label("contacted"),  # type: ignore[union-attr]
        n(and_(received, P.contacted_at <= P.contact_due)).label("contacted_in_time"),  # type: ignore[operator]
        n(and_(done, P.resolved_at <= P.resolve_due)).label("resolved_in_time"),  # type: ignore[operator]
        n(and_(received, had(EV_ESCALATE))).label("escalated"),
        n(and_(received, had(EV_SEND_BACK))).label("sent_back"),
        n(and_(received, not_(P.status.in_(sets["done"])), P.status.in_(sets["clock"]), P.resolve_due < now)).label(  # type: ignore[attr-defined]
            "overdue"
        ),
        # Sums, not averages: group rows then add up to the totals exactly (average = sum / count).
        func.sum(case((and_(received, P.contacted_at.is_not(None)), contact_min), else_=None)).label(  # type: ignore[union-attr]
            "sum_contact_minutes"
        ),
        func.sum(case((done, resolve_min), else_=None)).label("sum_resolve_minutes"),
    ]


def figures_of(row: Any, ratings: dict[str, int] | None = None) -> dict[str, Any]:
    """The figures (counts, rates, averages) from one aggregate row and its ratings {code: count}."""
    m = row._mapping if hasattr(row, "_mapping") else row
    ratings = ratings or {}
    contacted = _num(m["contacted"])
    sum_contact, sum_resolve = m["sum_contact_minutes"], m["sum_resolve_minutes"]
    received = _num(m["received"])
    resolved = _num(m["resolved"])
    rated = sum(ratings.values())
    good = ratings.get(SATISFIED, 0) + ratings.get(BASICALLY_SATISFIED, 0)
    return {
        "filed": _num(m["filed"]),
        "rejected": _num(m["rejected"]),
        "duplicate": _num(m["duplicate"]),
        "received": received,
        "resolved": resolved,
        "resolution_rate": pct(resolved, received),
        "open": received - resolved,
        "overdue": _num(m["overdue"]),
        "contacted": contacted,
        "contacted_in_time": _num(m["contacted_in_time"]),
        "contacted_in_time_rate": pct(_num(m["contacted_in_time"]), received),
        "resolved_in_time": _num(m["resolved_in_time"]),
        "resolved_in_time_rate": pct(_num(m["resolved_in_time"]), resolved),
        "escalated": _num(m["escalated"]),
        "sent_back": _num(m["sent_back"]),
        "rated": rated,
        "satisfied": ratings.get(SATISFIED, 0),
        "basically_satisfied": ratings.get(BASICALLY_SATISFIED, 0),
        "unsatisfied": ratings.get(UNSATISFIED, 0),
        "satisfaction_rate": pct(good, rated),
        "avg_contact_minutes": _avg(float(sum_contact) / contacted) if contacted and sum_contact is not None else None,
        "avg_resolve_hours": round_half_up(float(sum_resolve) / resolved / 60.0, 1)
        if resolved and sum_resolve is not None else None,
    }


EMPTY_ROW = {
    k: None
    for k in (
        "filed rejected duplicate received resolved contacted contacted_in_time resolved_in_time escalated sent_back "
        "overdue sum_contact_minutes sum_resolve_minutes"
    ).split()
}


def category_codes(group: str) -> list[str]:
    """The category codes of a category group (hazard, dispute, ...), from config."""
    from baiyin_cli import config

    cats = config.load().data.get("categories", {})
    return sorted(code for code, c in cats.items() if isinstance(c, dict) and c.get("group") == group)


def petition_figures(
    session: Session, scope: Scope, period: Period, *, where: Any = None, by: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(totals, groups): the figures over the scope and period, and per group if `by` is given.

    One aggregate query for the totals and one GROUP BY query for the groups.
    """
    from sqlalchemy import literal_column, select

    from baiyin_cli.models import Petition as P

    if by is not None and by not in GROUPINGS:
        raise InvalidInput(BAD_BY, value=by, choices="|".join(GROUPINGS))
    lo, hi = period.bounds
    conds = [scope.clause]
    if lo is not None:
        conds.append(P.filed_at >= lo)  # type: ignore[operator]
    if hi is not None:
        conds.append(P.filed_at < hi)  # type: ignore[operator]
    if where is not None:
        conds.append(where)
    aggs = _aggregates(session)
    if by is None:
        total_row = session.execute(select(*aggs).select_from(P).where(*conds)).one()
        return figures_of(total_row, _ratings(session, conds).get(None)), []

    if by == "month":
        start, end = period.start, period.end
        if start is None or end is None:
            from sqlalchemy import func

            first, last = session.execute(select(func.min(P.filed_at), func.max(P.filed_at)).where(*conds)).one()
            if first is None:
                return figures_of(EMPTY_ROW), []
            start = start or timeutil.local_date(first)
            end = end or timeutil.local_date(last)
        key = month_bucket(P.filed_at, month_starts(start, end))
    else:
        key = {"community": P.community_code, "grid": P.grid_code, "category": P.category, "channel": P.channel}[by]
    # GROUP BY the label, not the expression: on PostgreSQL the month CASE carries bound
    # parameters, and the SELECT and GROUP BY copies would get different placeholders.
    q = select(key.label("bucket"), *aggs).select_from(P).where(*conds).group_by(literal_column("bucket"))
    rows = session.execute(q.order_by(literal_column("bucket"))).all()
    ratings = _ratings(session, conds, key)
    # The totals are the groups added up: every group key is a column of the row (or a month the
    # period covers), so each petition is in exactly one group.
    totals = figures_of(_add_up(rows), _add_up_ratings(ratings))
    labels = _group_labels(session, by, {r.bucket for r in rows if r.bucket})
    groups = [
        {"key": r.bucket, "label": labels.get(r.bucket, r.bucket) if r.bucket else None,
         **figures_of(r, ratings.get(r.bucket))}
        for r in rows
    ]
    if by in ("category", "channel"):  # in the order config lists them, as people know them
        from baiyin_cli import config

        order = list((config.load().get("categories" if by == "category" else "channels") or {}).keys())
        groups.sort(key=lambda g: (order.index(g["key"]) if g["key"] in order else len(order), g["key"] or ""))
    return totals, groups


def _add_up(rows: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = dict(EMPTY_ROW)
    for r in rows:
        m = r._mapping
        for k in EMPTY_ROW:
            v = m[k]
            if v is not None:
                out[k] = (out[k] or 0) + v
    return out


def _add_up_ratings(ratings: dict[Any, dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for counts in ratings.values():
        for k, v in counts.items():
            out[k] = out.get(k, 0) + v
    return out


def _ratings(session: Session, conds: list[Any], key: Any = None) -> dict[Any, dict[str, int]]:
    """Evaluations (`rate` entries of the history) of received petitions, {bucket: {rating: count}}
    (bucket None without `key`). The rating is read from the entry's JSON details, which
    SQLAlchemy turns into json_extract on SQLite and ->> on PostgreSQL."""
    from sqlalchemy import func, literal_column, not_, null, select

    from baiyin_cli.models import Petition as P
    from baiyin_cli.models import PetitionEvent as E

    rating = E.data["rating"].as_string()  # type: ignore[index]
    bucket = (key if key is not None else null()).label("bucket")
    q = (
        select(bucket, rating.label("evaluation"), func.count())
        .select_from(E)
        .join(P, P.id == E.petition_id)  # type: ignore[arg-type]
        .where(*conds, E.event == EV_RATE, not_(P.status.in_(NOT_RECEIVED)))  # type: ignore[attr-defined]
        # Labels no table column has: PostgreSQL reads a GROUP BY name as a column first.
        .group_by(literal_column("bucket"), literal_column("evaluation"))
    )
    out: dict[Any, dict[str, int]] = {}
    for b, r, n in session.execute(q):
        if r:
            out.setdefault(b, {})[r] = out.get(b, {}).get(r, 0) + int(n)
    return out


def _group_labels(session: Session, by: str, keys: set[str]) -> dict[str, str]:
    from baiyin_cli import config

    cfg = config.load()
    if by in ("community", "grid"):
        return area_names(session, keys)
    if by == "category":
        return {k: cfg.label("categories", k) for k in keys}
    if by == "channel":
        return {k: cfg.label("channels", k) for k in keys}
    return {k: k for k in keys}


def petition_stats(
    session: Session,
    op: Operator | None,
    *,
    by: str | None = None,
    period: Period | None = None,
    area: str | None = None,
) -> dict[str, Any]:
    """`grid stats petitions`: totals and, with `by`, one row per community/grid/category/channel/month."""
    period = period or Period()
    scope = petition_scope(session, op, area)
    totals, groups = petition_figures(session, scope, period, by=by)
    return {
        "area": scope.public(),
        **period.public(),
        "generated_at": timeutil.iso(timeutil.now()),
        "by": by,
        "total": totals,
        "groups": groups,
    }


# ---------------------------------------------------------------- hazards and disputes


def group_figures(session: Session, scope: Scope, period: Period, group: str) -> dict[str, Any]:
    """Found (received) and resolved (办结) petitions of a category group: 排查 / 化解 for disputes."""
    from baiyin_cli.models import Petition as P

    codes = category_codes(group)
    if not codes:
        return figures_of(EMPTY_ROW)
    totals, _ = petition_figures(session, scope, period, where=P.category.in_(codes))  # type: ignore[attr-defined]
    return totals


# ---------------------------------------------------------------- the queue now


def queue_now(session: Session, scope: Scope) -> dict[str, Any]:
    """Open petitions in scope as they stand now, by state, with overdue callbacks and deadlines."""
    from sqlalchemy import and_, case, func, not_, select

    from baiyin_cli.models import Petition as P

    sets = _state_sets()
    wf = _workflow()
    now = timeutil.now()
    open_ = and_(not_(P.status.in_(sets["not_received"] + sets["done"])))  # type: ignore[attr-defined]
    rows = session.execute(
        select(
            P.status,
            func.count(),
            func.sum(case((and_(P.status.in_(sets["clock"]), P.resolve_due < now), 1), else_=0)),  # type: ignore[attr-defined]
            func.sum(case((and_(P.contacted_at.is_(None), P.contact_due < now), 1), else_=0)),  # type: ignore[union-attr]
            func.sum(case((P.contacted_at.is_(None), 1), else_=0)),  # type: ignore[union-attr]
        )
        .where(scope.clause, open_)
        .group_by(P.status)
    ).all()
    by_state = {r[0]: _num(r[1]) for r in rows}
    ordered = {s: by_state[s] for s in wf.STATES if s in by_state}
    return {
        "open": sum(by_state.values()),
        "by_status": ordered,
        "overdue": sum(_num(r[2]) for r in rows),
        "callback_overdue": sum(_num(r[3]) for r in rows),
        "awaiting_callback": sum(_num(r[4]) for r in rows),
    }


# ---------------------------------------------------------------- the population base


def population(session: Session, prefix: str | None) -> dict[str, Any]:
    """Grids, active grid workers, households, residents and people/households with care tags in an area."""
    from sqlalchemy import func, select, union

    from baiyin_cli.models import Area, Household, HouseholdCare, Resident, ResidentCare, Worker
    from baiyin_cli.services.access import scope_clause

    hh_in = and_scope = scope_clause(Household.grid_code, prefix)
    live_hh = Household.archived_at.is_(None)  # type: ignore[union-attr]
    live_res = Resident.archived_at.is_(None)  # type: ignore[union-attr]
    grids = session.execute(
        select(func.count()).select_from(Area).where(Area.level == "grid", scope_clause(Area.code, prefix))
    ).scalar_one()
    workers = session.execute(
        select(func.count())
        .select_from(Worker)
        .where(Worker.role == "grid_worker", Worker.active, scope_clause(Worker.area_code, prefix))
    ).scalar_one()
    households = session.execute(
        select(func.count()).select_from(Household).where(hh_in, live_hh)
    ).scalar_one()
    residents = session.execute(
        select(func.count())
        .select_from(Resident)
        .join(Household, Household.id == Resident.household_id)
        .where(and_scope, live_hh, live_res)
    ).scalar_one()
    cared_people = session.execute(
        select(func.count(func.distinct(ResidentCare.resident_id)))
        .select_from(ResidentCare)
        .join(Resident, Resident.id == ResidentCare.resident_id)
        .join(Household, Household.id == Resident.household_id)
        .where(and_scope, live_hh, live_res)
    ).scalar_one()
    # Households with a care tag of their own or of an active member (as visit schedules count them).
    own = (
        select(HouseholdCare.household_id)
        .join(Household, Household.id == HouseholdCare.household_id)
        .where(and_scope, live_hh)
    )
    of_members = (
        select(Resident.household_id)
        .join(ResidentCare, ResidentCare.resident_id == Resident.id)
        .join(Household, Household.id == Resident.household_id)
        .where(and_scope, live_hh, live_res)
    )
    cared_households = session.execute(
        select(func.count()).select_from(union(own, of_members).subquery())
    ).scalar_one()
    return {
        "grids": _num(grids),
        "grid_workers": _num(workers),
        "households": _num(households),
        "residents": _num(residents),
        "care_residents": _num(cared_people),
        "care_households": _num(cared_households),
    }


# ---------------------------------------------------------------- the dashboard


def overview(
    session: Session, op: Operator | None, *, area: str | None = None, period: Period | None = None
) -> dict[str, Any]:
    """`grid stats overview`: population, petition figures, the queue now, visits, hazards, disputes."""
    from baiyin_cli.models import Petition as P

    period = period or Period()
    scope = petition_scope(session, op, area)
    totals, by_cat = petition_figures(session, scope, period, by="category")
    hazards = group_figures(session, scope, period, "hazard")
    codes = category_codes("hazard")
    hazard_scope = Scope(scope.prefix, scope.area, scope.clause & P.category.in_(codes)) if codes else None  # type: ignore[attr-defined]
    top = sorted(by_cat, key=lambda g: (-g["received"], g["key"]))[:5]
    return {
        "area": scope.public(),
        **period.public(),
        "generated_at": timeutil.iso(timeutil.now()),
        "population": population(session, scope.prefix),
        "petitions": totals,
        "queue": queue_now(session, scope),
        "visits": visit_totals(session, op, scope.prefix, period),
        "hazards": hazards,
        "hazards_open_now": queue_now(session, hazard_scope)["open"] if hazard_scope else 0,
        "disputes": group_figures(session, scope, period, "dispute"),
        "top_categories": [
            {"key": g["key"], "label": g["label"], "received": g["received"], "resolution_rate": g["resolution_rate"]}
            for g in top
            if g["received"]
        ],
    }


def visit_totals(session: Session, op: Operator | None, prefix: str | None, period: Period) -> dict[str, Any] | None:
    """The rounds over the same area and period, from the visits service (services/visits.visit_stats:
    the one definition of the daily hour, household visits and care coverage). An open-ended period
    counts the 30 days up to its end, as `grid stats visits` does. None for operators who may not
    read the registry (department users)."""
    from baiyin_cli.services import visits
    from baiyin_cli.services.access import PERSONAL_READERS

    if op is None or op.role not in PERSONAL_READERS:
        return None
    end = period.end
    start = period.start
    if start is not None and end is None:
        end = max(start, timeutil.today())
    r = visits.visit_stats(session, op, area=prefix, start=start, end=end, daily=False)
    return {"from": r["from"], "to": r["to"], "totals": r["totals"]}
