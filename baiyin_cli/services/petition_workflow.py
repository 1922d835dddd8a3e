"""The petition (诉求) workflow, declared once: states, transitions, and the one apply().

Read the two tables below as the rule book (GUIDE §3):

* STATES: each state's Open311 status (open/closed), whether the deadlines run in it, and
  whom the case waits on (`--mine`, the triage queue).
* TRANSITIONS: event, the states it may fire from, the state it leads to (STAY: unchanged,
  the event only adds to the history), who may fire it, which details it needs, and guards.

Who may fire a transition is a *relation* to the petition (services/access.py
`petition_relations`): `admin`; `secretary` of its community; `assignee`, the grid worker it
is assigned to; `grid_worker` of its grid (or its assignee); `department` it is escalated to.

`apply()` is the only way a petition changes state: it checks the table, writes the change
with an optimistic version check (UPDATE ... WHERE id=? AND version=?), appends the history
entry and the audit entry, all in the caller's transaction. The CLI and the TUI offer the
events `allowed()` returns. Deadlines are facts; overdue is computed (see `next_due`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import Conflict, InvalidInput, NotPermitted
from baiyin_cli.i18n import M, get_lang
from baiyin_cli.services.access import Operator, petition_relations, require_write

if TYPE_CHECKING:
    from sqlmodel import Session

    from baiyin_cli.models import Petition

STAY = None


@dataclass(frozen=True)
class State:
    code: str
    zh: str
    en: str
    open311: str  # "open" | "closed" (Open311 GeoReport v2 `status`)
    clock: bool  # do the deadlines run in this state?
    waiting_on: str | None  # the relation the case waits on; None: nobody (final)

    def label(self, lang: str | None = None) -> str:
        return self.en if (lang or get_lang()) == "en" else self.zh


@dataclass(frozen=True)
class Transition:
    event: str
    sources: frozenset[str]
    target: str | None  # STAY: the status does not change
    roles: tuple[str, ...]  # relations allowed to fire it (see module docstring)
    needs: tuple[str, ...] = ()  # details that must be given (the CLI's required options)
    when: tuple[str, frozenset[str]] | None = None  # the detail that picks this row, e.g. the rating
    guard: str | None = None  # a condition on the petition, see GUARDS
    offered: bool = True  # a verb people use; False: fired by other services (mediation, merging)


def _s(*codes: str) -> frozenset[str]:
    return frozenset(codes)


STATES: dict[str, State] = {
    s.code: s
    for s in (
        State("submitted", "待派单", "submitted", "open", True, "secretary"),
        State("assigned", "已派单", "assigned", "open", True, "assignee"),
        State("contacted", "已回访", "contacted", "open", True, "assignee"),
        State("in_progress", "办理中", "in progress", "open", True, "assignee"),
        State("escalated", "已上报部门", "escalated", "open", True, "department"),
        State("resolved", "已办结待评价", "resolved", "closed", False, "secretary"),
        State("closed", "已结案", "closed", "closed", False, None),
        State("rejected", "不予受理", "rejected", "closed", False, None),
        State("duplicate", "重复已合并", "duplicate", "closed", False, None),
    )
}
INITIAL = "submitted"
RUNNING = frozenset(code for code, s in STATES.items() if s.clock)
FINAL = frozenset(code for code, s in STATES.items() if s.waiting_on is None)
ACTIVE = frozenset(STATES) - FINAL  # not yet finished: the default listing
RATINGS = ("satisfied", "basically_satisfied", "unsatisfied")
_WORKING = _s("contacted", "in_progress")

TRANSITIONS: tuple[Transition, ...] = (
    # 派单 / 改派: the secretary sends it to a grid worker of the community (again, if need be).
    Transition(
        "assign",
        _s("submitted", "assigned", "contacted", "in_progress"),
        "assigned",
        ("secretary", "admin"),
        needs=("to",),
    ),
    # 回访: the 30-minute callback; later calls (e.g. to a merged reporter) only add to the history.
    Transition("contact", _s("assigned"), "contacted", ("assignee", "admin"), needs=("how", "outcome")),
    Transition("contact", _WORKING, STAY, ("assignee", "admin"), needs=("how", "outcome")),
    Transition("start", _s("contacted"), "in_progress", ("assignee", "admin")),
    # 上报 (grid -> department) and 转办 (department -> another department).
    Transition(
        "escalate", _WORKING, "escalated", ("assignee", "secretary", "admin"), needs=("dept", "reason")
    ),
    Transition(
        "escalate",
        _s("escalated"),
        "escalated",
        ("department", "secretary", "admin"),
        needs=("dept", "reason"),
    ),
    # 退回: the department sends it back to the grid.
    Transition("send_back", _s("escalated"), "in_progress", ("department", "admin"), needs=("reason",)),
    # 办结: by whoever holds the case.
    Transition("resolve", _WORKING, "resolved", ("assignee", "secretary", "admin"), needs=("result",)),
    Transition(
        "resolve", _s("escalated"), "resolved", ("department", "secretary", "admin"), needs=("result",)
    ),
    # 群众来评, recorded on the resident's behalf; 不满意 reopens the case to the assignee.
    Transition(
        "rate",
        _s("resolved"),
        STAY,
        ("secretary", "admin"),
        needs=("rating",),
        when=("rating", _s("satisfied", "basically_satisfied")),
        guard="unrated",
    ),
    Transition(
        "rate",
        _s("resolved"),
        "in_progress",
        ("secretary", "admin"),
        needs=("rating",),
        when=("rating", _s("unsatisfied")),
        guard="unrated",
    ),
    # 结案: after the rating, or once the evaluation period has lapsed.
    Transition("close", _s("resolved"), "closed", ("secretary", "admin"), guard="rated_or_lapsed"),
    Transition(
        "reject",
        _s("submitted", "assigned", "contacted"),
        "rejected",
        ("secretary", "admin"),
        needs=("reason",),
    ),
    Transition(
        "merge",
        _s("submitted", "assigned", "contacted", "in_progress"),
        "duplicate",
        ("secretary", "admin"),
        needs=("into",),
    ),
    Transition("reopen", _s("resolved", "closed"), "in_progress", ("secretary", "admin"), needs=("reason",)),
    Transition("reopen", _s("rejected", "duplicate"), "submitted", ("secretary", "admin"), needs=("reason",)),
    # Entries fired by other services; they never change the status.
    Transition(
        "mediate",
        ACTIVE | _s("closed"),
        STAY,
        ("grid_worker", "secretary", "admin"),
        needs=("visit_id",),
        offered=False,
    ),
    Transition("absorb", RUNNING, STAY, ("secretary", "admin"), needs=("from",), offered=False),
    Transition("detach", frozenset(STATES), STAY, ("secretary", "admin"), needs=("from",), offered=False),
)

# The history entry written when a petition is filed (no transition fires it: it has no "from").
FILE_EVENT = "file"

EVENT_LABELS: dict[str, tuple[str, str]] = {
    "file": ("受理", "filed"),
    "assign": ("派单", "assign"),
    "contact": ("回访", "contact"),
    "start": ("开始办理", "start"),
    "escalate": ("上报部门", "escalate"),
    "send_back": ("退回", "send back"),
    "resolve": ("办结", "resolve"),
    "rate": ("评价", "rate"),
    "close": ("结案", "close"),
    "reject": ("不予受理", "reject"),
    "merge": ("合并重复", "merge"),
    "reopen": ("重新办理", "reopen"),
    "mediate": ("调解走访", "mediation visit"),
    "absorb": ("并入重复诉求", "duplicate merged in"),
    "detach": ("撤销合并", "duplicate taken out"),
}
ROLE_LABELS: dict[str, tuple[str, str]] = {
    "assignee": ("承办网格员", "the assigned grid worker"),
    "grid_worker": ("本网格网格员", "a grid worker of the grid"),
    "secretary": ("社区书记", "the community secretary"),
    "department": ("承办部门", "the department it is escalated to"),
    "admin": ("管理员", "admin"),
}
RATING_LABELS: dict[str, tuple[str, str]] = {
    "satisfied": ("满意", "satisfied"),
    "basically_satisfied": ("基本满意", "basically satisfied"),
    "unsatisfied": ("不满意", "unsatisfied"),
}

UNKNOWN_EVENT = M("petition.unknown_event", "未知操作：{event}", "Unknown action: {event}")
NOT_FROM_STATE = M(
    "petition.not_from_state",
    "诉求 {number} 当前为「{status}」，不能{event}；此状态下可以：{allowed}",
    "Petition {number} is {status}: cannot {event}; from here: {allowed}",
)
NOT_YOUR_ROLE = M(
    "petition.not_your_role",
    "{username} 不能对诉求 {number} {event}（需要：{roles}）；你在此可以：{allowed}",
    "{username} may not {event} petition {number} (needs {roles}); you may: {allowed}",
)
ALREADY_RATED = M(
    "petition.already_rated",
    "诉求 {number} 已评价（{rating}），请结案；此状态下可以：{allowed}",
    "Petition {number} is already rated ({rating}); close it. From here: {allowed}",
)
NOT_YET_CLOSABLE = M(
    "petition.not_closable",
    "诉求 {number} 尚未评价，评价期至 {until} 结束后才能结案；请先记录评价（grid petition rate）",
    "Petition {number} is not rated and its evaluation period runs until {until}; record a rating first "
    "(grid petition rate)",
)
BAD_RATING = M(
    "petition.bad_rating",
    "评价无效：{value}（可选：{choices}）",
    "Invalid rating: {value} (one of: {choices})",
)
MISSING_DETAIL = M("petition.missing_detail", "{event}需要填写{field}", "{field} is required to {event}")
CHANGED = M(
    "petition.changed",
    "诉求 {number} 已被 {who} 于 {when} 修改（版本 {version}），请重新查看后再操作",
    "Petition {number} was changed by {who} at {when} (version {version}); look again",
)
BEFORE_LAST = M(
    "petition.before_last",
    "时间 {at} 早于此诉求的上一步（{last}）",
    "Time {at} is before this petition's previous step ({last})",
)
NONE_ALLOWED = M("petition.none_allowed", "无", "nothing")


def rating_of(value: Any) -> str:
    """A rating by its code or its Chinese or English name (满意, basically satisfied)."""
    from baiyin_cli.services import choices

    return choices.pick(RATING_LABELS, value, BAD_RATING)


def state(code: str) -> State:
    return STATES[code]


def label(code: str, table: Mapping[str, tuple[str, str]], lang: str | None = None) -> str:
    pair = table.get(code)
    if pair is None:
        return code
    return pair[1] if (lang or get_lang()) == "en" else pair[0]


def status_label(code: str | None, lang: str | None = None) -> str:
    if code is None:
        return ""
    s = STATES.get(code)
    return s.label(lang) if s else code


def event_label(code: str, lang: str | None = None) -> str:
    return label(code, EVENT_LABELS, lang)


def events(*, offered_only: bool = True) -> list[str]:
    """Every event name, in table order."""
    seen: list[str] = []
    for t in TRANSITIONS:
        if (t.offered or not offered_only) and t.event not in seen:
            seen.append(t.event)
    return seen


def next_due(
    status: str, contacted_at: datetime | None, contact_due: datetime, resolve_due: datetime
) -> datetime | None:
    """The deadline the clock runs against: the callback until it is made, then the resolution."""
    if status not in RUNNING:
        return None
    return contact_due if contacted_at is None else resolve_due


# ---------------------------------------------------------------- checking


@dataclass(frozen=True)
class Facts:
    """What the rules look at, from an ORM Petition or its public dict."""

    number: str
    status: str
    community: str | None
    grid: str | None
    assignee: str | None
    dept: str | None
    rating: str | None = None
    resolved_at: datetime | None = None
    version: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, p: Any) -> Facts:
        if isinstance(p, Facts):
            return p
        if isinstance(p, Mapping):
            resolved = p.get("resolved_at")
            if isinstance(resolved, str):
                resolved = datetime.fromisoformat(resolved)
            return cls(
                p["number"],
                p["status"],
                p.get("community"),
                p.get("grid"),
                p.get("assignee"),
                p.get("dept"),
                p.get("rating"),
                resolved,
                int(p.get("version") or 1),
            )
        return cls(
            p.number,
            p.status,
            p.community_code,
            p.grid_code,
            p.assignee,
            p.dept_code,
            p.rating,
            p.resolved_at,
            p.version,
        )


def relations(op: Operator | None, f: Facts) -> frozenset[str]:
    return petition_relations(op, community=f.community, grid=f.grid, assignee=f.assignee, dept=f.dept)


def evaluation_ends(resolved_at: datetime) -> datetime:
    from baiyin_cli import config

    days = int(config.load().get("petition.evaluation_days", 7))
    return resolved_at + timedelta(days=days)


def _guard_ok(guard: str | None, f: Facts, at: datetime) -> bool:
    if guard is None:
        return True
    if guard == "unrated":
        return f.rating is None
    if guard == "rated_or_lapsed":
        return f.rating is not None or (f.resolved_at is not None and at >= evaluation_ends(f.resolved_at))
    raise ValueError(f"unknown guard {guard}")  # pragma: no cover - a typo in the table


def _matches_when(t: Transition, data: Mapping[str, Any]) -> bool:
    if t.when is None:
        return True
    key, values = t.when
    return data.get(key) in values


def _fires(op: Operator | None, t: Transition, f: Facts) -> bool:
    return op is not None and op.may_write() and bool(set(t.roles) & relations(op, f))


def allowed(
    op: Operator | None, p: Any, *, at: datetime | None = None, offered_only: bool = True
) -> list[str]:
    """Events `op` may fire on petition `p` now (state, relation and guards all hold)."""
    f = Facts.of(p)
    at = at or timeutil.now()
    out: list[str] = []
    for t in TRANSITIONS:
        if offered_only and not t.offered:
            continue
        if f.status in t.sources and _fires(op, t, f) and _guard_ok(t.guard, f, at) and t.event not in out:
            out.append(t.event)
    return out


def _who(roles: tuple[str, ...] | set[str]) -> str:
    order = list(ROLE_LABELS)
    sep = ", " if get_lang() == "en" else "、"
    return sep.join(label(r, ROLE_LABELS) for r in sorted(set(roles), key=order.index))


def _from_here(status: str) -> str:
    """Each offered event possible from `status`, with who may fire it."""
    by_event: dict[str, set[str]] = {}
    for t in TRANSITIONS:
        if t.offered and status in t.sources:
            by_event.setdefault(t.event, set()).update(t.roles)
    if not by_event:
        return NONE_ALLOWED.text()
    sep = "; " if get_lang() == "en" else "；"
    return sep.join(
        f"{event_label(e)}（{_who(r)}）" if get_lang() != "en" else f"{event_label(e)} ({_who(r)})"
        for e, r in by_event.items()
    )


def _labels(evts: list[str]) -> str:
    if not evts:
        return NONE_ALLOWED.text()
    return (", " if get_lang() == "en" else "、").join(event_label(e) for e in evts)


def check(op: Operator | None, p: Any, event: str, data: Mapping[str, Any], at: datetime) -> Transition:
    """The transition `event` would fire, or the error that says why not and what is allowed."""
    f = Facts.of(p)
    rows = [t for t in TRANSITIONS if t.event == event]
    if not rows:
        raise InvalidInput(UNKNOWN_EVENT, event=event)
    if "rating" in data and event == "rate":
        data = {**data, "rating": rating_of(data["rating"])}
    op = require_write(op)
    here = [t for t in rows if f.status in t.sources]
    if not here:
        raise Conflict(
            NOT_FROM_STATE,
            number=f.number,
            status=status_label(f.status),
            event=event_label(event),
            allowed=_from_here(f.status),
        )
    here = [t for t in here if _matches_when(t, data)] or here
    mine = [t for t in here if _fires(op, t, f)]
    if not mine:
        roles = {r for t in here for r in t.roles}
        raise NotPermitted(
            NOT_YOUR_ROLE,
            username=op.username,
            number=f.number,
            event=event_label(event),
            roles=_who(roles),
            allowed=_labels(allowed(op, f, at=at)),
        )
    for t in mine:
        if _guard_ok(t.guard, f, at):
            missing = [n for n in t.needs if data.get(n) is None or (isinstance(data[n], str) and not data[n].strip())]
            if missing:
                from baiyin_cli.services.validate import field_name

                raise InvalidInput(MISSING_DETAIL, event=event_label(event), field=field_name(missing[0]))
            return t
    t = mine[0]
    if t.guard == "unrated":
        raise Conflict(
            ALREADY_RATED,
            number=f.number,
            rating=label(f.rating or "", RATING_LABELS),
            allowed=_labels(allowed(op, f, at=at)),
        )
    until = evaluation_ends(f.resolved_at) if f.resolved_at else at
    raise Conflict(NOT_YET_CLOSABLE, number=f.number, until=timeutil.fmt(until))


# ---------------------------------------------------------------- applying


def _changed_by(session: Session, petition_id: int, number: str) -> Conflict:
    from sqlalchemy import select

    from baiyin_cli.models import Petition

    row = session.execute(
        select(Petition.updated_by, Petition.updated_at, Petition.version).where(Petition.id == petition_id)
    ).first()
    who, when, version = row if row else ("?", None, "?")
    return Conflict(CHANGED, number=number, who=who or "-", when=timeutil.fmt(when), version=version)


def apply(
    session: Session,
    op: Operator | None,
    p: Petition,
    event: str,
    *,
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    note: str | None = None,
    expected_version: int | None = None,
    effect: Callable[[Transition, datetime, dict[str, Any]], dict[str, Any]] | None = None,
) -> Transition:
    """Check `event` against the table, write it with a version check, append history and audit.

    `effect(transition, at, data)` returns the column changes the event brings besides the
    status (the business details live in services/petitions.py); it may normalise `data`, which
    is what the history keeps. `expected_version` is the version
    the operator looked at: if the petition has moved on since, nothing is written (exit 5).
    """
    from sqlalchemy.orm.attributes import set_committed_value

    from baiyin_cli.services import audit

    data = dict(data or {})
    now = timeutil.now()
    at = timeutil.ensure_utc(at) if at else now
    if expected_version is not None and expected_version != p.version:
        raise _changed_by(session, p.id, p.number)  # type: ignore[arg-type]
    if event == "rate" and data.get("rating") is not None:
        data["rating"] = rating_of(data["rating"])  # the code is what history and --json keep
    t = check(op, p, event, data, at)
    op = require_write(op)
    floor = last_step_at(session, p) if t.offered else p.filed_at
    if at < floor:
        raise InvalidInput(BEFORE_LAST, at=timeutil.fmt(at), last=timeutil.fmt(floor))

    before = {"status": p.status, "version": p.version}
    changes = dict(effect(t, at, data) if effect else {})
    target = t.target or p.status
    contacted_at = changes.get("contacted_at", p.contacted_at)
    contact_due = changes.get("contact_due", p.contact_due)
    resolve_due = changes.get("resolve_due", p.resolve_due)
    values = {
        **changes,
        "status": target,
        "due_at": next_due(target, contacted_at, contact_due, resolve_due),
        "updated_at": now,
        "updated_by": op.username,
        "version": p.version + 1,
    }
    # Core statements on the tables: the version check is in the WHERE, and the history entry
    # number is the new version (entry N of a petition is its version N; the unique index on
    # (petition_id, seq) backs it).
    version = p.version + 1
    result = session.execute(
        _update_statement(frozenset(values)), {**values, "_id": p.id, "_version": p.version}
    )
    if result.rowcount != 1:
        raise _changed_by(session, p.id, p.number)  # type: ignore[arg-type]
    session.execute(
        _insert_event_statement(),
        {
            "petition_id": p.id,
            "seq": version,
            "event": event,
            "from_status": p.status,
            "to_status": target,
            "actor": op.username,
            "occurred_at": at,
            "recorded_at": now,
            "note": note,
            "data": _jsonable(data) or None,
        },
    )
    audit.record(
        session,
        op,
        f"petition.{event}",
        "petition",
        p.number,
        before=before,
        after={"status": target, "version": version},
        detail=_scrubbed(data) or None,
        occurred_at=at,
    )
    # The object now says what the row says, without reading it back.
    for key, value in values.items():
        set_committed_value(p, key, value)
    return t


@lru_cache(maxsize=64)
def _update_statement(columns: frozenset[str]):  # type: ignore[no-untyped-def]
    """UPDATE petition SET <columns> WHERE id = :_id AND version = :_version, built once per column set
    (a statement object keeps its cache key, so SQLAlchemy compiles it once)."""
    from sqlalchemy import bindparam, update

    from baiyin_cli.models import Petition

    t = Petition.__table__  # type: ignore[attr-defined]
    return (
        update(t)
        .where(t.c.id == bindparam("_id"), t.c.version == bindparam("_version"))
        .values({c: bindparam(c, type_=t.c[c].type) for c in sorted(columns)})
    )


@lru_cache(maxsize=1)
def _insert_event_statement():  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from baiyin_cli.models import PetitionEvent

    return insert(PetitionEvent.__table__)  # type: ignore[attr-defined]


def _scrubbed(d: Mapping[str, Any]) -> dict[str, Any]:
    """Details for the audit log: free text without embedded phone or ID numbers."""
    from baiyin_cli.services.privacy import scrub

    return {k: scrub(v) if isinstance(v, str) else v for k, v in _jsonable(d).items()}


NOTE_EVENTS = frozenset(t.event for t in TRANSITIONS if not t.offered)


def last_step_at(session: Session, p: Petition) -> datetime:
    """When the petition's latest workflow step happened (its filing at the earliest).

    A step cannot be dated before the one it follows; entries other services add (a mediation
    visit, a duplicate merged in) carry their own dates and do not hold the workflow back.
    """
    last = session.execute(_last_step_statement(), {"_id": p.id}).scalar()
    return max(x for x in (last, p.filed_at) if x is not None)


@lru_cache(maxsize=1)
def _last_step_statement():  # type: ignore[no-untyped-def]
    from sqlalchemy import bindparam, func, select

    from baiyin_cli.models import PetitionEvent

    return select(func.max(PetitionEvent.occurred_at)).where(
        PetitionEvent.petition_id == bindparam("_id"),
        PetitionEvent.event.not_in(sorted(NOTE_EVENTS)),  # type: ignore[attr-defined]
    )


def first_event(
    session: Session,
    op: Operator | None,
    p: Petition,
    *,
    at: datetime,
    note: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    """History entry number 1: the filing (from nothing to the initial state)."""
    from baiyin_cli.models import PetitionEvent

    session.add(
        PetitionEvent(
            petition_id=p.id,  # type: ignore[arg-type]
            seq=1,
            event=FILE_EVENT,
            from_status=None,
            to_status=INITIAL,
            actor=op.username if op else None,
            occurred_at=at,
            recorded_at=timeutil.now(),
            note=note,
            data=_jsonable(dict(data or {})) or None,
        )
    )


def _jsonable(d: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if v is None:
            continue
        out[k] = timeutil.iso(v) if isinstance(v, datetime) else v
    return out
