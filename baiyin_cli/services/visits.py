"""Grid workers' rounds (走访): the visit log, care schedules, findings, the daily hour.

Every grid worker walks their grid at least an hour a day with four duties: 入户走访 (household
visits), 情报收集 (information gathering), 化解纠纷 (dispute mediation), 便民服务 (services).

The rules, each in one place below:

log      A visit belongs to an active grid worker (the operator, unless a secretary or admin
         enters a paper record for one of their workers) and to that worker's grid. It starts at
         `at` (default: now minus its minutes, i.e. it just ended), lasts 1..visits.max_minutes
         minutes and must be over by now. A household visit names a household of the worker's
         grid that is not archived. Each finding is filed as a petition (channel grid_report,
         linked to the visit and household) through services/petitions.py, in the same
         transaction: the visit and its petitions are stored together or not at all. A mediation
         visit may name the dispute petition it worked on; that petition's history records it.
void     Visits are never edited or deleted: a mistake is voided with a reason (audited).
         Petitions filed from a voided visit stay: the hazard was still reported.
schedule A household's visit interval is the shortest of visits.default_interval_days and the
         interval_days of its care tags (its own ∪ its active residents'). From the local day of
         its last non-voided visit (or, never visited, the day it was registered) the window is:
           earliest = last + ceil(interval × visits.earliest_ratio)   (a first visit is never early)
           due      = last + interval
           overdue  = from the day after `due`
         Any kind of visit to the household counts, by any worker. Overdue is computed at query
         time from the records, for any date.
hour     A visit's minutes count on the local day it started, whole (23:30 for 90 minutes is 90
         minutes of that day). A worker met the rule on a day when those minutes reach
         visits.daily_minutes; days without any visit count as not met.
coverage The care households (any care tag) of an area, active at the end of the period, whose
         last visit is within their interval at that moment (not overdue), as a percentage.

Statistics read the day ledger `visit_day` (models/visit.py), which this module keeps in step
with the visit records: every write refreshes the (worker, day) rows it touched.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import Conflict, InvalidInput, NotFound, NotPermitted, UsageError, only_one
from baiyin_cli.i18n import L, M, get_lang
from baiyin_cli.services import audit, validate
from baiyin_cli.services.access import Operator, read_scope, require, require_area, require_role, scope_clause

if TYPE_CHECKING:
    from sqlmodel import Session

    from baiyin_cli.models import Household, Visit, Worker

KINDS: dict[str, tuple[str, str]] = {
    "household": ("入户走访", "household visit"),
    "info_gathering": ("情报收集", "information gathering"),
    "mediation": ("化解纠纷", "dispute mediation"),
    "service": ("便民服务", "service"),
}
STATUSES: dict[str, tuple[str, str]] = {
    "overdue": ("逾期", "overdue"),
    "due": ("应走访", "due"),
    "early": ("未到期", "not yet"),
}
FINDING_CHANNEL = "grid_report"
DEFAULT_STATS_DAYS = 30
# A clock a few minutes fast on a phone is not "the future".
CLOCK_SLACK = timedelta(minutes=5)

BAD_KIND = M(
    "visit.bad_kind", "走访类型无效：{value}（可选：{choices}）", "Invalid visit kind: {value} (one of: {choices})"
)
NEEDS_HOUSEHOLD = M(
    "visit.needs_household", "入户走访需要 --household（住户编号）", "A household visit needs --household (the household code)"
)
NEEDS_WORKER = M(
    "visit.needs_worker",
    "{username} 不是网格员：请用 --worker 指明是哪位网格员的走访",
    "{username} is not a grid worker: name the worker with --worker",
)
NOT_GRID_WORKER = M(
    "visit.not_grid_worker", "{username} 不是在岗的网格员", "{username} is not an active grid worker"
)
WORKER_NO_GRID = M("visit.worker_no_grid", "网格员 {username} 没有所属网格", "Grid worker {username} has no grid")
OWN_ROUNDS_ONLY = M(
    "visit.own_rounds_only",
    "网格员只能登记、作废自己的走访（{username} 不是 {worker}）",
    "A grid worker logs and voids only their own visits ({username} is not {worker})",
)
BAD_MINUTES = M(
    "visit.bad_minutes",
    "走访时长无效：{value} 分钟（应为 1 至 {max} 分钟）",
    "Invalid duration: {value} minutes (1 to {max})",
)
IN_FUTURE = M("visit.in_future", "走访开始时间 {value} 在将来", "The visit starts in the future ({value})")
ENDS_IN_FUTURE = M(
    "visit.ends_in_future",
    "走访 {start} 开始、{minutes} 分钟，结束时间 {end} 在将来：请登记已完成的走访",
    "A visit from {start} for {minutes} minutes ends at {end}, in the future: log visits once they are over",
)
HOUSEHOLD_ELSEWHERE = M(
    "visit.household_elsewhere",
    "住户 {code} 不在网格员 {worker} 的网格 {grid} 内",
    "Household {code} is not in grid {grid} of worker {worker}",
)
HOUSEHOLD_ARCHIVED = M(
    "visit.household_archived", "住户 {code} 已注销，不能登记走访", "Household {code} is archived; no visits can be logged"
)
FINDING_CATEGORY = M(
    "visit.finding_category",
    "每个 --finding 需要一个 --category（{findings} 个发现，{categories} 个类别）",
    "Each --finding needs its --category (findings: {findings}, categories: {categories})",
)
PETITION_ONLY_MEDIATION = M(
    "visit.petition_only_mediation",
    "只有化解纠纷（mediation）走访可以关联诉求 --petition",
    "Only a mediation visit names a petition (--petition)",
)
PETITION_NOT_DISPUTE = M(
    "visit.petition_not_dispute",
    "诉求 {number} 是“{category}”，不是矛盾纠纷",
    "Petition {number} is '{category}', not a dispute",
)
VISIT_NOT_FOUND = M("visit.not_found", "找不到走访记录 #{id}", "No visit #{id}")
ALREADY_VOIDED = M(
    "visit.already_voided", "走访记录 #{id} 已于 {at} 作废", "Visit #{id} was already voided at {at}"
)
VOID_BEFORE_VISIT = M(
    "visit.void_before_visit",
    "作废时间 {at} 早于走访 #{id} 的开始时间 {start}",
    "Voided at {at}, before visit #{id} started ({start})",
)
NEEDS_WORKER_OR_GRID = M(
    "visit.needs_worker_or_grid",
    "请用 --worker 或 --grid 指明查看哪个网格的走访计划",
    "Name a grid worker (--worker) or a grid (--grid)",
)
NOT_A_GRID = M("visit.not_a_grid", "{code} 不是网格（是{level}）", "{code} is not a grid (it is a {level})")
BAD_PERIOD = M("visit.bad_period", "起始日期 {start} 晚于结束日期 {end}", "The start date {start} is after the end date {end}")
WORKER_AND_AREA = M(
    "visit.worker_and_area", "{options} 只能给一个", "Give only one of {options}"
)

LEDGER_DIFFERS = M(
    "visit.ledger_differs",
    "走访日台账有 {n} 个人日与走访记录不一致（{days}）；用 grid visit ledger --rebuild 按记录重建",
    "{n} worker-days of the day ledger differ from the visit records ({days}); "
    "grid visit ledger --rebuild rebuilds them from the records",
)


# ---------------------------------------------------------------- labels and config


def _pick(pair: tuple[str, str]) -> str:
    return pair[1] if get_lang() == "en" else pair[0]


def kind_label(code: str | None) -> str:
    return _pick(KINDS[code]) if code in KINDS else (code or "")


def status_label(code: str | None) -> str:
    return _pick(STATUSES[code]) if code in STATUSES else (code or "")


def kind_of(value: str | None) -> str:
    """A visit kind by its code or its Chinese or English name (入户走访, household visit)."""
    from baiyin_cli.services import choices

    return choices.pick(KINDS, value, BAD_KIND)


def settings() -> dict[str, Any]:
    """The visit rules' numbers from config: intervals per care tag and the daily target."""
    from baiyin_cli import config

    cfg = config.load()
    tags = {}
    for code, entry in (cfg.get("care_tags") or {}).items():
        if isinstance(entry, dict) and isinstance(entry.get("interval_days"), int) and entry["interval_days"] > 0:
            tags[code] = int(entry["interval_days"])
    return {
        "default_interval_days": int(cfg.get("visits.default_interval_days", 90)),
        "earliest_ratio": float(cfg.get("visits.earliest_ratio", 0.5)),
        "daily_minutes": int(cfg.get("visits.daily_minutes", 60)),
        "max_minutes": int(cfg.get("visits.max_minutes", 960)),
        "intervals": tags,
    }


def interval_for(tags: Iterable[str], conf: dict[str, Any]) -> tuple[int, str | None]:
    """(interval in days, the care tag that sets it or None for the default): the shortest wins."""
    best, which = conf["default_interval_days"], None
    for tag in sorted(tags):
        days = conf["intervals"].get(tag)
        if days is not None and days <= best and (days < best or which is None):
            best, which = days, tag
    return best, which


def window(on: date, last: date | None, registered: date, interval: int, ratio: float) -> dict[str, Any]:
    """The visit window of one household on day `on` (see the module docstring)."""
    base = last if last is not None else registered
    earliest = base if last is None else base + timedelta(days=math.ceil(interval * ratio))
    due = base + timedelta(days=interval)
    if on < earliest:
        status = "early"
    elif on <= due:
        status = "due"
    else:
        status = "overdue"
    return {
        "status": status,
        "earliest": earliest.isoformat(),
        "due": due.isoformat(),
        "overdue": (due + timedelta(days=1)).isoformat(),
        "days_left": (due - on).days if status != "overdue" else 0,
        "days_overdue": (on - due).days if status == "overdue" else 0,
        "elapsed": round((on - base).days / interval, 3),
    }


def _pct(part: int, whole: int) -> float | None:
    """A percentage with two decimals (None when there is nothing to divide by), as services/stats.py."""
    if not whole:
        return None
    return round(100.0 * part / whole, 2)


# ---------------------------------------------------------------- who, where


def _grid_worker(session: Session, username: str, *, lock: bool = False) -> Worker:
    """An active grid worker with a grid; with `lock`, their row is locked (PostgreSQL) so that
    two terminals writing the same worker's day ledger queue instead of racing."""
    from sqlmodel import select

    from baiyin_cli.models import Worker

    validate.not_blank(username, "用户名", "Username")
    q = select(Worker).where(Worker.username == (username or "").strip())
    if lock:
        q = q.with_for_update()
    w = session.exec(q).first()
    if w is None:
        from baiyin_cli.services.org import WORKER_NOT_FOUND

        raise NotFound(WORKER_NOT_FOUND, username=username)
    if w.role != "grid_worker" or not w.active:
        raise InvalidInput(NOT_GRID_WORKER, username=w.username)
    if not w.area_code:
        raise InvalidInput(WORKER_NO_GRID, username=w.username)
    return w


def _writer_for(session: Session, op: Operator | None, worker: str | None) -> tuple[Operator, Worker]:
    """The operator and the worker whose rounds they write: a grid worker writes their own;
    a secretary those of their community's workers, an admin anyone's (paper records)."""
    op = require_role(op, "grid_worker", "secretary", "admin")
    if not worker:
        if op.role != "grid_worker":
            raise UsageError(NEEDS_WORKER, username=op.username)
        worker = op.username
    w = _grid_worker(session, worker, lock=True)
    if op.role == "grid_worker" and w.username != op.username:
        raise NotPermitted(OWN_ROUNDS_ONLY, username=op.username, worker=w.username)
    require_area(op, w.area_code)
    return op, w


def _household(session: Session, code: str) -> Household:
    from baiyin_cli.services.registry import get_household

    return get_household(session, code)


# ---------------------------------------------------------------- the day ledger


def _local_day(dt: datetime) -> date:
    return timeutil.local_date(dt)


def refresh_days(session: Session, keys: Iterable[tuple[str, date]]) -> int:
    """Rebuild the `visit_day` rows of these (worker, local day) pairs from the visit records.

    Recomputed, never incremented: the ledger always says what the records say. For each
    worker, every day between the earliest and latest day asked for is rebuilt (a superset is
    harmless). Returns the number of ledger rows written.

    Concurrency: the workers' rows are locked first (in name order, so two writers never wait
    on each other crosswise), which queues the refreshes of one worker's days. Each writer
    has inserted or voided its own visits before it gets here, and on PostgreSQL (READ
    COMMITTED) the statement that reads the records after the lock sees everything the
    previous holder committed: whoever refreshes last writes the sums of every visit. SQLite
    needs no lock: a writing transaction holds the database from its first statement
    (BEGIN IMMEDIATE, store.py).
    """
    from sqlalchemy import delete, insert, select

    from baiyin_cli.models import VisitDay, Worker

    by_worker: dict[str, set[date]] = defaultdict(set)
    for worker, day in keys:
        by_worker[worker].add(day)
    names = sorted(by_worker)
    if session.get_bind().dialect.name != "sqlite":
        for i in range(0, len(names), 1000):
            session.execute(
                select(Worker.username)
                .where(Worker.username.in_(names[i : i + 1000]))  # type: ignore[attr-defined]
                .order_by(Worker.username)
                .with_for_update()
            ).all()
    written = 0
    for worker, days in sorted(by_worker.items()):
        first, last = min(days), max(days)
        out = _day_sums(session, worker, first, last)
        session.execute(
            delete(VisitDay).where(VisitDay.worker == worker, VisitDay.day >= first, VisitDay.day <= last)  # type: ignore[arg-type]
        )
        if out:
            session.connection().execute(insert(VisitDay.__table__), out)  # type: ignore[attr-defined]
            written += len(out)
    return written


def _day_sums(session: Session, worker: str, first: date, last: date) -> list[dict[str, Any]]:
    """The ledger rows of one worker's local days `first`..`last`, computed from the visit records."""
    from sqlalchemy import func, select

    from baiyin_cli.models import Petition, Visit

    lo, hi = timeutil.day_bounds(first)[0], timeutil.day_bounds(last)[1]
    findings = func.count(Petition.id)
    rows = session.execute(
        select(Visit.id, Visit.started_at, Visit.minutes, Visit.kind, Visit.household_id, Visit.grid_code, findings)
        .outerjoin(Petition, Petition.visit_id == Visit.id)  # type: ignore[arg-type]
        .where(
            Visit.worker == worker,
            Visit.started_at >= lo,
            Visit.started_at < hi,
            Visit.voided_at.is_(None),  # type: ignore[union-attr]
        )
        .group_by(Visit.id)
        .order_by(Visit.started_at, Visit.id)
    ).all()
    acc: dict[date, dict[str, Any]] = {}
    for _id, started, minutes, kind, household_id, grid_code, n_findings in rows:
        day = _local_day(started)
        d = acc.get(day)
        if d is None:
            d = acc[day] = {
                "worker": worker, "day": day, "grid_code": grid_code, "minutes": 0, "visits": 0,
                "kind_household": 0, "kind_info_gathering": 0, "kind_mediation": 0, "kind_service": 0,
                "households": set(), "findings": 0,
            }
        d["grid_code"] = grid_code
        d["minutes"] += int(minutes)
        d["visits"] += 1
        d[f"kind_{kind}"] = d.get(f"kind_{kind}", 0) + 1
        if household_id is not None:
            d["households"].add(household_id)
        d["findings"] += int(n_findings or 0)
    out = []
    for d in acc.values():
        d["households"] = len(d["households"])
        out.append({k: d[k] for k in _LEDGER_COLUMNS})
    return out


def check_ledger(session: Session, op: Operator | None, *, rebuild: bool = False) -> dict[str, Any]:
    """Recompute the whole day ledger from the visit records and compare it with what is stored.

    Every write keeps the ledger in step (refresh_days), so this finds nothing unless the
    records were written past the services, or the configured time zone changed (a visit's
    local day is taken in the zone of its time). With `rebuild`, the worker-days that differ
    are rebuilt from the records (audited). Admin only: it reads every worker's rounds.
    """
    from sqlalchemy import func, select

    from baiyin_cli.models import Visit, VisitDay

    op = require_role(op, "admin")
    spans: dict[str, tuple[date, date]] = {}

    def extend(worker: str, lo: date, hi: date) -> None:
        a, b = spans.get(worker, (lo, hi))
        spans[worker] = (min(a, lo), max(b, hi))

    visits = 0
    for worker, n, first, last in session.execute(
        select(Visit.worker, func.count(), func.min(Visit.started_at), func.max(Visit.started_at))
        .where(Visit.voided_at.is_(None))  # type: ignore[union-attr]
        .group_by(Visit.worker)
    ):
        visits += int(n)
        extend(worker, _local_day(timeutil.ensure_utc(first)), _local_day(timeutil.ensure_utc(last)))
    for worker, first, last in session.execute(
        select(VisitDay.worker, func.min(VisitDay.day), func.max(VisitDay.day)).group_by(VisitDay.worker)
    ):
        extend(worker, first, last)
    # One worker at a time: a city's ledger is ~1 M rows, too many to hold at once.
    differ: list[dict[str, Any]] = []
    worker_days = 0
    for worker, (first, last) in sorted(spans.items()):
        expect = {r["day"]: r for r in _day_sums(session, worker, first, last)}
        worker_days += len(expect)
        mine = {
            row["day"]: {k: row[k] for k in _LEDGER_COLUMNS}
            for row in session.execute(select(VisitDay.__table__).where(VisitDay.worker == worker)).mappings()  # type: ignore[attr-defined]
        }
        for day in sorted(set(expect) | set(mine)):
            if expect.get(day) != mine.get(day):
                differ.append({"worker": worker, "day": day, "ledger": mine.get(day), "records": expect.get(day)})
    if rebuild and differ:
        refresh_days(session, [(d["worker"], d["day"]) for d in differ])
        audit.record(session, op, "visit.ledger_rebuild", "visit_day", "*", after={"worker_days": len(differ)})

    def plain(r: dict[str, Any] | None) -> dict[str, Any] | None:
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in r.items() if k not in ("worker", "day")} if r else None

    return {
        "visits": visits,
        "worker_days": worker_days,
        "differ": len(differ),
        "rebuilt": bool(rebuild and differ),
        "examples": [
            {"worker": d["worker"], "day": d["day"].isoformat(), "ledger": plain(d["ledger"]), "records": plain(d["records"])}
            for d in differ[:20]
        ],
    }


_LEDGER_COLUMNS = (
    "worker", "day", "grid_code", "minutes", "visits", "kind_household", "kind_info_gathering",
    "kind_mediation", "kind_service", "households", "findings",
)


def insert_bulk(
    session: Session,
    rows: Sequence[dict[str, Any]],
    *,
    batch: int = 20_000,
    returning: bool = False,
    refresh: bool = True,
) -> list[int]:
    """Insert many visit records at once (demo, benchmarks, importers) and refresh the ledger.

    `rows` are dicts of Visit columns (started_at aware UTC; recorded_at defaults to now).
    No validation here: callers that take data from people validate first. Returns the new
    ids in the order of `rows` when `returning`. With `refresh=False` the caller refreshes the
    ledger itself (`refresh_days(session, day_keys(rows))`), e.g. after filing findings.
    """
    from sqlalchemy import insert

    from baiyin_cli.models import Visit

    now = timeutil.now()
    ids: list[int] = []
    buf: list[dict[str, Any]] = []

    # Core on the table, not the ORM bulk path (which here fell back to one statement per few rows):
    # one executemany per batch, or insertmanyvalues batches when the ids are wanted.
    table = Visit.__table__  # type: ignore[attr-defined]
    conn = session.connection()

    def flush() -> None:
        if not buf:
            return
        if returning:
            stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            ids.extend(r[0] for r in conn.execute(stmt, buf))
        else:
            conn.execute(insert(table), buf)
        buf.clear()

    for r in rows:
        buf.append({"household_id": None, "note": None, "petition_id": None, "recorded_by": None, "voided_at": None,
                    "voided_by": None, "void_reason": None, "recorded_at": now, **r})
        if len(buf) >= batch:
            flush()
    flush()
    if refresh:
        refresh_days(session, day_keys(rows))
    return ids


def day_keys(rows: Iterable[dict[str, Any]]) -> set[tuple[str, date]]:
    """The (worker, local day) ledger keys of these visit rows."""
    return {(r["worker"], _local_day(r["started_at"])) for r in rows}


# ---------------------------------------------------------------- public shape


def get_visit(session: Session, visit_id: int | str) -> Visit:
    from baiyin_cli.models import Visit

    validate.not_blank(visit_id, "走访记录编号", "Visit number")
    vid = validate.record_id(visit_id)
    v = session.get(Visit, vid) if vid is not None else None
    if v is None:
        raise NotFound(VISIT_NOT_FOUND, id=str(visit_id).strip().lstrip("#"))
    return v


def visit_public(
    v: Visit,
    *,
    household: str | None = None,
    petition: str | None = None,
    findings: list[dict[str, Any]] | None = None,
    reveal: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A visit as --json shows it. Notes have ID/phone numbers masked unless reveal."""
    from baiyin_cli.services.privacy import scrub

    return {
        "id": v.id,
        "worker": v.worker,
        "grid": v.grid_code,
        "household": household,
        "kind": v.kind,
        "started_at": timeutil.iso(v.started_at),
        "ended_at": timeutil.iso(v.started_at + timedelta(minutes=v.minutes)),
        "minutes": v.minutes,
        "day": _local_day(v.started_at).isoformat(),
        "note": v.note if reveal else scrub(v.note),
        "petition": petition,
        "findings": findings or [],
        "recorded_at": timeutil.iso(v.recorded_at),
        "recorded_by": v.recorded_by,
        "voided": v.voided_at is not None,
        "voided_at": timeutil.iso(v.voided_at),
        "voided_by": v.voided_by,
        "void_reason": v.void_reason,
        **extra,
    }


def _links(session: Session, visits: Sequence[Visit]) -> tuple[dict[int, str], dict[int, str], dict[int, list[dict[str, Any]]]]:
    """For these visits: household codes, mediation petition numbers, findings (petitions filed from them)."""
    from sqlmodel import col, select

    from baiyin_cli.models import Household, Petition

    hids = {v.household_id for v in visits if v.household_id is not None}
    pids = {v.petition_id for v in visits if v.petition_id is not None}
    vids = [v.id for v in visits]
    codes = dict(session.exec(select(Household.id, Household.code).where(col(Household.id).in_(hids))).all()) if hids else {}
    numbers = dict(session.exec(select(Petition.id, Petition.number).where(col(Petition.id).in_(pids))).all()) if pids else {}
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if vids:
        for vid, number, category, status in session.exec(
            select(Petition.visit_id, Petition.number, Petition.category, Petition.status)
            .where(col(Petition.visit_id).in_(vids))
            .order_by(Petition.id)
        ):
            found[vid].append({"number": number, "category": category, "status": status})
    return codes, numbers, found


def _public_many(session: Session, visits: Sequence[Visit], *, reveal: bool = False) -> list[dict[str, Any]]:
    codes, numbers, found = _links(session, visits)
    return [
        visit_public(
            v,
            household=codes.get(v.household_id) if v.household_id else None,  # type: ignore[arg-type]
            petition=numbers.get(v.petition_id) if v.petition_id else None,  # type: ignore[arg-type]
            findings=found.get(v.id, []),  # type: ignore[arg-type]
            reveal=reveal,
        )
        for v in visits
    ]


# ---------------------------------------------------------------- log and void


def log_visit(
    session: Session,
    op: Operator | None,
    *,
    kind: str,
    minutes: int,
    household: str | None = None,
    note: str | None = None,
    findings: Sequence[tuple[str, str]] = (),
    petition: str | None = None,
    worker: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Log one visit (see the module docstring); `at` is when it started. Returns the public
    visit with "findings": the petitions filed from it ({number, category, status})."""
    from baiyin_cli import config
    from baiyin_cli.models import Visit
    from baiyin_cli.services import petitions as petition_svc

    kind = kind_of(kind)
    conf = settings()
    try:
        mins = int(minutes)
    except (TypeError, ValueError):
        raise InvalidInput(BAD_MINUTES, value=minutes, max=conf["max_minutes"]) from None
    if not 1 <= mins <= conf["max_minutes"]:
        raise InvalidInput(BAD_MINUTES, value=mins, max=conf["max_minutes"])
    op, w = _writer_for(session, op, worker)
    grid_code: str = w.area_code  # type: ignore[assignment]

    now = timeutil.now()
    start = timeutil.ensure_utc(at) if at is not None else now - timedelta(minutes=mins)
    end = start + timedelta(minutes=mins)
    if start > now + CLOCK_SLACK:
        raise InvalidInput(IN_FUTURE, value=timeutil.fmt(start))
    if end > now + CLOCK_SLACK:
        raise InvalidInput(ENDS_IN_FUTURE, start=timeutil.fmt(start), minutes=mins, end=timeutil.fmt(end))

    h = None
    if household:
        h = _household(session, household)
        if h.archived_at is not None:
            raise InvalidInput(HOUSEHOLD_ARCHIVED, code=h.code)
        if h.grid_code != grid_code:
            raise InvalidInput(HOUSEHOLD_ELSEWHERE, code=h.code, worker=w.username, grid=grid_code)
    elif kind == "household":
        raise InvalidInput(NEEDS_HOUSEHOLD)
    note_v = validate.text(note, "note", required=False, max_len=2000)

    dispute = None
    if petition:
        if kind != "mediation":
            raise InvalidInput(PETITION_ONLY_MEDIATION)
        dispute = petition_svc.get_petition(session, petition)
        group = (config.load().get(f"categories.{dispute.category}") or {}).get("group")
        if group != "dispute":
            raise InvalidInput(
                PETITION_NOT_DISPUTE, number=dispute.number,
                category=config.load().label("categories", dispute.category),
            )
    # Checked here, before anything is written, under the name the user gave it: the petition
    # filed from a finding would call an empty one "内容" (its text), which the user never typed.
    finding_label = L("发现的问题（--finding）", "Finding (--finding)")
    pairs = [(validate.text(t, finding_label, max_len=2000) or "", c) for t, c in findings]

    v = Visit(
        worker=w.username,
        household_id=h.id if h else None,
        grid_code=grid_code,
        kind=kind,
        started_at=start,
        minutes=mins,
        note=note_v,
        recorded_at=now,
        recorded_by=op.username,
    )
    session.add(v)
    session.flush()

    filed: list[dict[str, Any]] = []
    found_at = min(end, now) if at is not None else None
    for text, category in pairs:
        p = petition_svc.file_petition(
            session, op, text=text, category=category, channel=FINDING_CHANNEL, grid=grid_code,
            household=h.code if h else None, at=found_at, visit_id=v.id,
        )
        filed.append({"number": p["number"], "category": p["category"], "status": p["status"]})
    if dispute is not None:
        petition_svc.note_mediation(session, op, dispute.number, visit_id=v.id,  # type: ignore[arg-type]
                                    at=start if at is not None else None, note=note_v)
        v.petition_id = dispute.id
        session.add(v)
        session.flush()

    refresh_days(session, [(w.username, _local_day(start))])
    public = visit_public(v, household=h.code if h else None, petition=dispute.number if dispute else None,
                          findings=filed)
    audit.record(
        session, op, "visit.log", "visit", str(v.id),
        after={k: public[k] for k in ("worker", "grid", "household", "kind", "started_at", "minutes", "petition")}
        | {"findings": [f["number"] for f in filed]},
        occurred_at=at,
    )
    return public


def void_visit(
    session: Session, op: Operator | None, visit_id: int | str, *, reason: str, at: datetime | None = None
) -> dict[str, Any]:
    """Void a visit (it no longer counts anywhere); the record and its reason stay."""
    v = get_visit(session, visit_id)
    reason_v = validate.text(reason, "reason", max_len=500) or ""
    op = require_role(op, "grid_worker", "secretary", "admin")
    if op.role == "grid_worker" and v.worker != op.username:
        raise NotPermitted(OWN_ROUNDS_ONLY, username=op.username, worker=v.worker)
    require_area(op, v.grid_code)
    # Lock the worker's row so the ledger refresh below cannot race another write of the same day.
    from sqlmodel import select

    from baiyin_cli.models import Worker

    session.exec(select(Worker).where(Worker.username == v.worker).with_for_update()).first()
    session.refresh(v)
    if v.voided_at is not None:
        raise Conflict(ALREADY_VOIDED, id=v.id, at=timeutil.fmt(v.voided_at))
    now = timeutil.now()
    if at is not None and timeutil.ensure_utc(at) < v.started_at:
        raise InvalidInput(VOID_BEFORE_VISIT, id=v.id, at=timeutil.fmt(at), start=timeutil.fmt(v.started_at))
    v.voided_at = timeutil.ensure_utc(at) if at is not None else now
    v.voided_by = op.username
    v.void_reason = reason_v
    session.add(v)
    session.flush()
    refresh_days(session, [(v.worker, _local_day(v.started_at))])
    audit.record(
        session, op, "visit.void", "visit", str(v.id),
        before={"voided": False}, after={"voided": True, "reason": reason_v}, occurred_at=at,
    )
    return _public_many(session, [v])[0]


# ---------------------------------------------------------------- reading


def _period(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    if start and end and start > end:
        raise InvalidInput(BAD_PERIOD, start=start.isoformat(), end=end.isoformat())
    return (timeutil.day_bounds(start)[0] if start else None, timeutil.day_bounds(end)[1] if end else None)


def _area(session: Session, code: str | None, level: str | None = None) -> str | None:
    if not code:
        return None
    from baiyin_cli.services.org import _label, get_area

    a = get_area(session, code)
    if level == "grid" and a.level != "grid":
        raise InvalidInput(NOT_A_GRID, code=a.code, level=_label(a.level))
    return a.code


def list_visits(
    session: Session,
    op: Operator | None,
    *,
    worker: str | None = None,
    area: str | None = None,
    household: str | None = None,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
    include_voided: bool = False,
    limit: int | None = 100,
) -> list[dict[str, Any]]:
    """Newest first, inside the operator's area (index: grid_code/worker/household + started_at)."""
    from sqlmodel import col, select

    from baiyin_cli.models import Visit

    scope = read_scope(op, _area(session, area))
    lo, hi = _period(start, end)
    q = select(Visit).where(scope_clause(Visit.grid_code, scope))
    if worker:
        from baiyin_cli.services.org import get_worker

        q = q.where(Visit.worker == get_worker(session, worker).username)
    if household:
        q = q.where(Visit.household_id == _household(session, household).id)
    if kind:
        q = q.where(Visit.kind == kind_of(kind))
    if lo is not None:
        q = q.where(Visit.started_at >= lo)
    if hi is not None:
        q = q.where(Visit.started_at < hi)
    if not include_voided:
        q = q.where(col(Visit.voided_at).is_(None))
    q = q.order_by(col(Visit.started_at).desc(), col(Visit.id).desc())
    if limit:
        q = q.limit(limit)
    return _public_many(session, list(session.exec(q)))


def show_visit(session: Session, op: Operator | None, visit_id: int | str, *, reveal: bool = False) -> dict[str, Any]:
    from baiyin_cli.services.access import require_reveal
    from baiyin_cli.services.org import get_worker

    v = get_visit(session, visit_id)
    read_scope(op, v.grid_code)
    if reveal:
        require_reveal(op, v.grid_code)
        audit.record(session, op, "visit.reveal", "visit", str(v.id), detail={"fields": ["note"]})
    d = _public_many(session, [v], reveal=reveal)[0]
    w = get_worker(session, v.worker)
    d["worker_name"] = w.name
    if v.household_id is not None:
        from baiyin_cli.models import Household
        from baiyin_cli.services.registry_keys import full_address

        h = session.get(Household, v.household_id)
        if h is not None:
            d["address"] = full_address(h.address, h.building, h.unit, h.room)
    return d


# ---------------------------------------------------------------- schedules


def _household_filter(q, prefix: str | None, end: datetime, *, exact_grid: bool = False):  # type: ignore[no-untyped-def]
    """Households of the area that were registered and not archived at `end`."""
    from sqlalchemy import or_

    from baiyin_cli.models import Household

    q = q.where(
        Household.created_at < end,
        or_(Household.archived_at.is_(None), Household.archived_at >= end),  # type: ignore[union-attr, operator]
    )
    if prefix and exact_grid:
        return q.where(Household.grid_code == prefix)
    return q.where(scope_clause(Household.grid_code, prefix))


def _last_visit(end: datetime, column):  # type: ignore[no-untyped-def]
    """The household's last non-voided visit before `end` (`column` of it): a backward seek on
    visit(household_id, started_at, voided_at) that stops at the first row, inside the index."""
    from sqlalchemy import select

    from baiyin_cli.models import Household, Visit

    return (
        select(column)
        .where(Visit.household_id == Household.id, Visit.voided_at.is_(None), Visit.started_at < end)  # type: ignore[union-attr, arg-type]
        .order_by(Visit.started_at.desc())  # type: ignore[attr-defined]
        .limit(1)
        .correlate(Household)
        .scalar_subquery()
    )


def _schedules(session: Session, *, grid: str, on: date, care_only: bool) -> list[dict[str, Any]]:
    """Every household of one grid that was active on day `on`, with its tags, interval, window
    and last visit: one query for the households (with the last-visit seek), two for the tags
    (household_care; resident_care of active residents), one for the last visits' details."""
    from sqlalchemy import select
    from sqlmodel import col

    from baiyin_cli.models import Household, HouseholdCare, Resident, ResidentCare, Visit, Worker
    from baiyin_cli.services.registry_keys import full_address

    end = timeutil.day_bounds(on)[1]
    conf = settings()
    tags: dict[int, set[str]] = defaultdict(set)
    for q in (
        select(HouseholdCare.household_id, HouseholdCare.tag).join(Household, Household.id == HouseholdCare.household_id),  # type: ignore[arg-type]
        select(Resident.household_id, ResidentCare.tag)
        .join(Resident, Resident.id == ResidentCare.resident_id)  # type: ignore[arg-type]
        .join(Household, Household.id == Resident.household_id)  # type: ignore[arg-type]
        .where(Resident.archived_at.is_(None)),  # type: ignore[union-attr]
    ):
        for hid, tag in session.execute(_household_filter(q, grid, end, exact_grid=True)):
            tags[hid].add(tag)

    q = select(Household.id, Household.code, Household.address, Household.building, Household.unit, Household.room,
               Household.created_at, _last_visit(end, Visit.id).label("last"))
    rows = [r for r in session.execute(_household_filter(q, grid, end, exact_grid=True)) if not care_only or tags.get(r.id)]
    last_ids = [r.last for r in rows if r.last is not None]
    visits = {v.id: v for v in session.execute(select(Visit).where(col(Visit.id).in_(last_ids))).scalars()} if last_ids else {}
    who = {v.worker for v in visits.values()}
    names = dict(session.execute(select(Worker.username, Worker.name).where(col(Worker.username).in_(who))).all()) if who else {}  # type: ignore[arg-type]

    out = []
    for r in rows:
        htags = tags.get(r.id, set())
        interval, by_tag = interval_for(htags, conf)
        lv = visits.get(r.last) if r.last is not None else None
        registered = _local_day(r.created_at)
        last_day = _local_day(lv.started_at) if lv is not None else None
        out.append({
            "id": r.id,
            "code": r.code,
            "address": full_address(r.address, r.building, r.unit, r.room),
            "tags": htags,
            "interval_days": interval,
            "interval_tag": by_tag,
            "registered": registered.isoformat(),
            **window(on, last_day, registered, interval, conf["earliest_ratio"]),
            "last_visit": (
                {"id": lv.id, "at": timeutil.iso(lv.started_at), "day": last_day.isoformat(),  # type: ignore[union-attr]
                 "worker": lv.worker, "worker_name": names.get(lv.worker), "kind": lv.kind}
                if lv is not None else None
            ),
        })
    return out


def _care_order(tags: Iterable[str], conf: dict[str, Any]) -> list[str]:
    """Tags, the one with the shortest interval first."""
    return sorted(tags, key=lambda t: (conf["intervals"].get(t, 10**6), t))


def due_queue(
    session: Session,
    op: Operator | None,
    *,
    worker: str | None = None,
    grid: str | None = None,
    on: date | None = None,
    include_early: bool = False,
    care_only: bool = False,
    limit: int | None = None,
) -> dict[str, Any]:
    """A grid worker's visit queue for day `on` (default today): the households whose window
    is open (due) or past (overdue), most urgent first: the most elapsed share of their interval,
    then the shorter interval. With `include_early`, also those not yet due."""
    op = require(op)
    w = None
    if worker:
        w = _grid_worker(session, worker)
        grid_code = w.area_code
    elif grid:
        grid_code = _area(session, grid, level="grid")
    elif op.role == "grid_worker" and op.area_code:
        w = _grid_worker(session, op.username)
        grid_code = w.area_code
    else:
        raise UsageError(NEEDS_WORKER_OR_GRID)
    read_scope(op, grid_code)
    day = on or timeutil.today()
    conf = settings()
    rows = _schedules(session, grid=grid_code, on=day, care_only=care_only)  # type: ignore[arg-type]
    counts = {"overdue": 0, "due": 0, "early": 0}
    for r in rows:
        counts[r["status"]] += 1
    shown = [r for r in rows if include_early or r["status"] != "early"]
    shown.sort(key=lambda r: (-r["elapsed"], r["interval_days"], r["code"]))
    if limit:
        shown = shown[:limit]
    items = []
    for r in shown:
        items.append({
            "household": r["code"],
            "address": r["address"],
            "status": r["status"],
            "earliest": r["earliest"],
            "due": r["due"],
            "overdue": r["overdue"],
            "days_left": r["days_left"],
            "days_overdue": r["days_overdue"],
            "care": _care_order(r["tags"], conf),
            "interval_days": r["interval_days"],
            "interval_tag": r["interval_tag"],
            "registered": r["registered"],
            "last_visit": r["last_visit"],
        })
    return {
        "date": day.isoformat(),
        "grid": grid_code,
        "worker": w.username if w else None,
        "households": len(rows),
        "care_households": sum(1 for r in rows if r["tags"]),
        "overdue": counts["overdue"],
        "due": counts["due"],
        "early": counts["early"],
        "items": items,
    }


def coverage(session: Session, *, prefix: str | None, on: date) -> dict[str, dict[str, Any]]:
    """Care households per grid inside `prefix` on day `on`: how many, how many within their
    interval (not overdue), the percentage. The same rule as the windows (`window`), set-based
    in one statement so that a whole city answers at once:

      a household is overdue on `on` when the local day of its last visit (never visited: of its
      registration) is before `on` - interval, i.e. when that moment is before the UTC start of
      local day `on` - interval. The interval is min(default, tag intervals), a CASE over the
      configured tags; the thresholds are computed here per distinct interval (time zone rules
      stay in Python), so SQL only compares instants.
    """
    from sqlalchemy import case, func, literal, select, union_all

    from baiyin_cli.models import Household, HouseholdCare, Resident, ResidentCare, Visit
    from baiyin_cli.models.types import UTCDateTime

    conf = settings()
    default = conf["default_interval_days"]
    per_tag = {tag: min(days, default) for tag, days in conf["intervals"].items()}
    end = timeutil.day_bounds(on)[1]
    own = select(HouseholdCare.household_id.label("hid"), HouseholdCare.tag.label("tag"))  # type: ignore[attr-defined]
    of_residents = (
        select(Resident.household_id.label("hid"), ResidentCare.tag.label("tag"))  # type: ignore[attr-defined]
        .join(Resident, Resident.id == ResidentCare.resident_id)  # type: ignore[arg-type]
        .where(Resident.archived_at.is_(None))  # type: ignore[union-attr]
    )
    if prefix:  # an area: only its households' tags (a grid reads a few dozen rows, not the city's)
        own = _household_filter(own.join(Household, Household.id == HouseholdCare.household_id), prefix, end)  # type: ignore[arg-type]
        of_residents = _household_filter(of_residents.join(Household, Household.id == Resident.household_id), prefix, end)  # type: ignore[arg-type]
    tag_rows = union_all(own, of_residents).subquery()
    interval = case(per_tag, value=tag_rows.c.tag, else_=default) if per_tag else literal(default)
    care = select(tag_rows.c.hid, func.min(interval).label("days")).group_by(tag_rows.c.hid).subquery()
    thresholds = {n: timeutil.day_bounds(on - timedelta(days=n))[0] for n in {*per_tag.values(), default}}
    threshold = case({n: literal(t, UTCDateTime()) for n, t in thresholds.items()}, value=care.c.days)
    base = func.coalesce(_last_visit(end, Visit.started_at), Household.created_at)
    q = _household_filter(
        select(Household.grid_code, func.count(), func.sum(case((base >= threshold, 1), else_=0)))
        .select_from(care)
        .join(Household, Household.id == care.c.hid),  # type: ignore[arg-type]
        prefix, end,
    ).group_by(Household.grid_code)
    per: dict[str, dict[str, Any]] = {}
    for grid, n, within in session.execute(q):
        within = int(within or 0)
        per[grid] = {"grid": grid, "care_households": int(n), "within_interval": within, "overdue": int(n) - within,
                     "coverage": _pct(within, int(n))}
    return per


# ---------------------------------------------------------------- statistics


def visit_stats(
    session: Session,
    op: Operator | None,
    *,
    worker: str | None = None,
    area: str | None = None,
    start: date | None = None,
    end: date | None = None,
    daily: bool | None = None,
) -> dict[str, Any]:
    """The rounds of a worker, or of the grid workers of an area (default: the operator's whole
    scope), over local days `start`..`end` (default: the 30 days up to today).

    Per worker: days walked, days the hour was met (and the rate over the days of the period up
    to today), minutes, visits by kind, household visits (distinct households per day, summed),
    findings. Per grid: care coverage at the end of the period. `daily` adds one row per worker
    and day (default: only for one worker or one grid). JSON-ready; reused by `grid stats`.
    """
    from sqlalchemy import case, func, select
    from sqlmodel import col

    from baiyin_cli.models import VisitDay, Worker

    only_one(WORKER_AND_AREA, {"--worker": worker, "--area": area})  # the commands check their own flags first
    conf = settings()
    target = conf["daily_minutes"]
    today = timeutil.today()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_STATS_DAYS - 1)
    _period(start, end)
    counted_end = min(end, today)
    ndays = max((counted_end - start).days + 1, 0)

    w = None
    if worker:
        from baiyin_cli.services.org import get_worker

        w = get_worker(session, worker)  # a former (inactive) worker's rounds can still be read
        if w.role != "grid_worker" or not w.area_code:
            raise InvalidInput(NOT_GRID_WORKER, username=w.username)
        read_scope(op, w.area_code)
        prefix = w.area_code
        where = [VisitDay.worker == w.username]
    else:
        area_code = _area(session, area)
        prefix = read_scope(op, area_code)
        where = []
        if prefix:
            # The area's grids by name, not as a code range: `grid_code IN (...)` makes every planner
            # seek ix_visit_day_grid per grid; a range lets SQLite prefer a skip-scan of the whole key.
            from baiyin_cli.models import Area

            grids = session.execute(
                select(Area.code).where(Area.level == "grid", scope_clause(Area.code, prefix))
            ).scalars().all()
            where.append(col(VisitDay.grid_code).in_(grids))
    where += [VisitDay.day >= start, VisitDay.day <= end]  # type: ignore[list-item, operator]

    kinds = list(KINDS)
    sums = [func.sum(getattr(VisitDay, f"kind_{k}")) for k in kinds]
    agg = session.execute(
        select(
            VisitDay.worker,
            func.count(),
            func.sum(case((VisitDay.minutes >= target, 1), else_=0)),
            func.sum(VisitDay.minutes),
            func.sum(VisitDay.visits),
            *sums,
            func.sum(VisitDay.households),
            func.sum(VisitDay.findings),
        )
        .where(*where)
        .group_by(VisitDay.worker)
    ).all()

    # Every grid worker of the scope counts, walked or not; plus anyone who walked there then.
    if w is not None:
        roster = [(w.username, w.name, w.kind, w.area_code, w.active)]
    else:
        roster = list(session.execute(
            select(Worker.username, Worker.name, Worker.kind, Worker.area_code, Worker.active).where(
                Worker.role == "grid_worker", Worker.active, scope_clause(Worker.area_code, prefix)
            )
        ).all())
    known = {r[0] for r in roster}
    extra = sorted({r[0] for r in agg} - known)
    if extra:
        roster += list(session.execute(
            select(Worker.username, Worker.name, Worker.kind, Worker.area_code, Worker.active)
            .where(col(Worker.username).in_(extra))
        ).all())

    by_worker = {r[0]: r for r in agg}
    workers_out = []
    tot = {"days_walked": 0, "days_met": 0, "minutes": 0, "visits": 0, "household_visits": 0, "findings": 0}
    tot_kind = dict.fromkeys(kinds, 0)
    for username, name, wkind, grid_code, active in sorted(roster, key=lambda r: ((r[3] or ""), r[0])):
        r = by_worker.get(username)
        walked = int(r[1]) if r else 0
        met = int(r[2] or 0) if r else 0
        by_kind = {k: int((r[5 + i] if r else 0) or 0) for i, k in enumerate(kinds)}
        row = {
            "worker": username,
            "name": name,
            "kind": wkind,
            "grid": grid_code,
            "active": bool(active),
            "days": ndays,
            "days_walked": walked,
            "days_met": met,
            "met_rate": _pct(met, ndays),
            "minutes": int((r[3] if r else 0) or 0),
            "visits": int((r[4] if r else 0) or 0),
            "by_kind": by_kind,
            "household_visits": int((r[5 + len(kinds)] if r else 0) or 0),
            "findings": int((r[6 + len(kinds)] if r else 0) or 0),
        }
        workers_out.append(row)
        for k in tot:
            tot[k] += row[k]
        for k in kinds:
            tot_kind[k] += by_kind[k]

    cov_day = counted_end if counted_end >= start else start
    cov = coverage(session, prefix=prefix, on=cov_day)
    if w is not None:
        cov = {k: v for k, v in cov.items() if k == w.area_code}
    care = sum(g["care_households"] for g in cov.values())
    within = sum(g["within_interval"] for g in cov.values())
    worker_days = ndays * len(workers_out)

    result: dict[str, Any] = {
        "worker": w.username if w else None,
        "area": prefix,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": ndays,
        "daily_minutes": target,
        "coverage_date": cov_day.isoformat(),
        "totals": {
            "workers": len(workers_out),
            "worker_days": worker_days,
            **{k: tot[k] for k in ("days_walked", "days_met")},
            "met_rate": _pct(tot["days_met"], worker_days),
            "minutes": tot["minutes"],
            "visits": tot["visits"],
            "by_kind": tot_kind,
            "household_visits": tot["household_visits"],
            "findings": tot["findings"],
            "care_households": care,
            "care_within_interval": within,
            "care_overdue": care - within,
            "coverage": _pct(within, care),
        },
        "workers": workers_out,
        "grids": [cov[k] for k in sorted(cov)],
    }
    if daily is None:
        daily = w is not None or (prefix is not None and len(prefix) >= 15)
    if daily:
        result["daily"] = _daily(session, where, [r["worker"] for r in workers_out], start, counted_end, target)
    return result


def _daily(session: Session, where: list[Any], workers: list[str], start: date, end: date, target: int) -> list[dict[str, Any]]:
    """One row per worker and day of the period (days without visits included: not met)."""
    from sqlmodel import select

    from baiyin_cli.models import VisitDay

    got = {(d.worker, d.day): d for d in session.exec(select(VisitDay).where(*where))}
    out = []
    for username in workers:
        day = start
        while day <= end:
            d = got.get((username, day))
            minutes = d.minutes if d else 0
            out.append({
                "worker": username,
                "date": day.isoformat(),
                "grid": d.grid_code if d else None,
                "minutes": minutes,
                "visits": d.visits if d else 0,
                "by_kind": {k: (getattr(d, f"kind_{k}") if d else 0) for k in KINDS},
                "households": d.households if d else 0,
                "findings": d.findings if d else 0,
                "met": minutes >= target,
            })
            day += timedelta(days=1)
    return out
