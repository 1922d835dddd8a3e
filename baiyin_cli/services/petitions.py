"""Petitions (诉求 / 工单): filing, numbering, duplicates, deadlines, queues, and every verb.

The state machine itself is declared in services/petition_workflow.py; this module holds
what each event *does* to a petition (who it is assigned to, when the callback was made...),
validates the details, and answers the questions the CLI, the TUI, the visits service and
the statistics ask. Every function takes (session, op, ...) and returns JSON-ready dicts.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import Conflict, InvalidInput, NotFound, NotPermitted
from baiyin_cli.i18n import M
from baiyin_cli.services import audit, choices, crypto, validate
from baiyin_cli.services import petition_workflow as wf
from baiyin_cli.services.access import (
    OUT_OF_SCOPE,
    Operator,
    may_reveal,
    petition_scope_clause,
    require,
    require_area,
    require_petition,
    require_reveal,
    scope_clause,
)

if TYPE_CHECKING:
    from sqlmodel import Session

    from baiyin_cli.models import Petition

NOT_FOUND = M("petition.not_found", "找不到诉求 {number}", "No petition {number}")
BAD_CATEGORY = M(
    "petition.bad_category",
    "诉求类别无效：{value}（可选：{choices}）",
    "Invalid category: {value} (one of: {choices})",
)
BAD_CHANNEL = M(
    "petition.bad_channel",
    "反映渠道无效：{value}（可选：{choices}）",
    "Invalid channel: {value} (one of: {choices})",
)
BAD_STATUS = M(
    "petition.bad_status",
    "状态无效：{value}（可选：{choices}）",
    "Invalid status: {value} (one of: {choices})",
)
BAD_HOW = M(
    "petition.bad_how",
    "回访方式无效：{value}（可选：{choices}）",
    "Invalid callback method: {value} (one of: {choices})",
)
NEEDS_PLACE = M(
    "petition.needs_place",
    "请用 --grid 或 --community 指明诉求所在的网格或社区",
    "Say where it is: --grid or --community",
)
BAD_PLACE_LEVEL = M(
    "petition.bad_place_level",
    "{flag} 应为{level}代码，{code} 是{actual}",
    "{flag} takes a {level} code; {code} is a {actual}",
)
PLACE_MISMATCH = M(
    "petition.place_mismatch",
    "网格 {grid} 不属于社区 {community}",
    "Grid {grid} is not in community {community}",
)
HOUSEHOLD_NOT_FOUND = M("petition.household_not_found", "找不到住户 {code}", "No household {code}")
HOUSEHOLD_ELSEWHERE = M(
    "petition.household_elsewhere",
    "住户 {code} 属于网格 {grid}，不在 {place}",
    "Household {code} belongs to grid {grid}, not to {place}",
)
VISIT_NOT_FOUND = M("petition.visit_not_found", "找不到走访记录 {id}", "No visit {id}")
ANONYMOUS_NAME = M(
    "petition.anonymous_name",
    "匿名诉求不记录姓名（去掉 --name 或 --anonymous）",
    "An anonymous petition keeps no name (drop --name or --anonymous)",
)
ASSIGNEE_INVALID = M(
    "petition.assignee_invalid",
    "{username} 不是社区 {community} 的在岗网格员",
    "{username} is not an active grid worker of community {community}",
)
ALREADY_ASSIGNED = M(
    "petition.already_assigned",
    "诉求 {number} 已派给 {username}",
    "Petition {number} is already assigned to {username}",
)
DEPT_INVALID = M(
    "petition.dept_invalid", "部门 {code} 不存在或已停用", "Department {code} does not exist or is inactive"
)
SAME_DEPT = M("petition.same_dept", "诉求 {number} 已在 {code}", "Petition {number} is already with {code}")
MERGE_SELF = M("petition.merge_self", "不能把诉求合并到它自己", "A petition cannot be merged into itself")
MERGE_OTHER_COMMUNITY = M(
    "petition.merge_other_community",
    "只能合并同一社区的诉求（{number} 属于 {community}）",
    "Only petitions of the same community can be merged ({number} is in {community})",
)
MERGE_TARGET_STATE = M(
    "petition.merge_target_state",
    "不能并入「{status}」的诉求 {number}：它须在办理中（待派单至已上报）",
    "Cannot merge into {number}, which is {status}: it must still be running (submitted to escalated)",
)
DURATION_BAD = M("petition.bad_limit", "{field} 应为正数", "{field} must be positive")

CONTACT_WAYS: dict[str, tuple[str, str]] = {
    "phone": ("电话", "phone"),
    "visit": ("上门", "visit"),
    "sms": ("短信", "text message"),
}


def contact_way_label(code: str) -> str:
    """A callback way as people call it, in the operator's language (sms -> 短信 / text message)."""
    from baiyin_cli.i18n import L

    pair = CONTACT_WAYS.get(code)
    return L(*pair) if pair else code
STATUS_ALL = "all"


# ---------------------------------------------------------------- configuration


def categories() -> dict[str, dict[str, Any]]:
    """Category code -> {group, days, zh, en}, from config `[categories.*]`."""
    from baiyin_cli import config

    return dict(config.load().get("categories") or {})


def category_groups() -> list[str]:
    from baiyin_cli import config

    return list((config.load().get("category_groups") or {}).keys())


def channels() -> list[str]:
    from baiyin_cli import config

    return list((config.load().get("channels") or {}).keys())


def _category(value: str | None) -> tuple[str, dict[str, Any]]:
    """A category by its code or its Chinese or English name (环境卫生, sanitation, environment)."""
    code = choices.pick(choices.from_config("categories"), value, BAD_CATEGORY)
    return code, categories()[code]


def _channel(value: str | None) -> str:
    """A channel by its code or its Chinese or English name (来访, walk-in, walk_in)."""
    return choices.pick(choices.from_config("channels"), value, BAD_CHANNEL)


def category_filter(value: str) -> tuple[str, list[str]]:
    """What a `--category` filter names: ("category", [code]) for a category, else
    ("group", [its categories' codes]) for a category group (隐患, dispute), either by code or
    name. A category wins over a group spelt the same (help, 投诉: both)."""
    cats = choices.from_config("categories")
    groups = choices.from_config("category_groups")
    code = choices.code_of(cats, value)
    if code is not None:
        return "category", [code]
    group = choices.code_of(groups, value)
    if group is not None:
        return "group", sorted(c for c, v in categories().items() if v.get("group") == group)
    listed = {**cats, **{g: groups[g] for g in groups if g not in cats}}  # each code once
    raise InvalidInput(BAD_CATEGORY, value=value.strip()[:40], choices=choices.listing(listed))


def _statuses(values: list[str] | None) -> frozenset[str] | None:
    """None -> the active states; ["all"] -> no filter (None returned as 'everything')."""
    if not values:
        return wf.ACTIVE
    out = set()
    for v in values:
        code = v.strip().replace("-", "_")
        if code == STATUS_ALL:
            return None
        if code not in wf.STATES:
            raise InvalidInput(BAD_STATUS, value=v, choices=", ".join([*wf.STATES, STATUS_ALL]))
        out.add(code)
    return frozenset(out)


# ---------------------------------------------------------------- numbering


def next_number(session: Session, filed_at: datetime) -> str:
    """BY-YYYYMMDD-NNNN: the local filing day and its sequence, one atomic upsert.

    INSERT ... ON CONFLICT DO UPDATE ... RETURNING takes the row lock on PostgreSQL and runs
    inside SQLite's write lock, so concurrent terminals never get the same number, and a
    rolled-back filing gives its number back.
    """
    from baiyin_cli.models import PetitionSequence

    day = timeutil.local_date(filed_at).strftime("%Y%m%d")
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = PetitionSequence.__table__  # type: ignore[attr-defined]
    stmt = insert(table).values(day=day, last=1)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.day], set_={"last": table.c.last + 1})
    n = session.execute(stmt.returning(table.c.last)).scalar_one()
    return f"BY-{day}-{n:04d}"


# ---------------------------------------------------------------- duplicates


def _norm_text(value: str) -> str:
    v = unicodedata.normalize("NFKC", value).lower()
    return "".join(c for c in v if unicodedata.category(c)[0] in "LN")


def _bigrams(value: str) -> set[str]:
    return {value[i : i + 2] for i in range(len(value) - 1)} or {value}


def similarity(a: str, b: str) -> float:
    """0-1: the larger of the character-bigram Jaccard index and difflib's ratio (punctuation ignored)."""
    from difflib import SequenceMatcher

    na, nb = _norm_text(a), _norm_text(b)
    if not na or not nb:
        return 0.0
    ba, bb = _bigrams(na), _bigrams(nb)
    jaccard = len(ba & bb) / len(ba | bb)
    sm = SequenceMatcher(None, na, nb, autojunk=False)
    ratio = sm.ratio() if sm.quick_ratio() > jaccard else 0.0
    return round(max(jaccard, ratio), 3)


SIMILAR_CANDIDATES = 500


def find_similar(
    session: Session,
    *,
    community: str,
    text: str,
    phone: str | None,
    at: datetime,
    exclude: int | None = None,
) -> list[dict[str, Any]]:
    """Running petitions of the community with very similar text, or from the same phone.

    The candidate set is bounded: the most recent SIMILAR_CANDIDATES running petitions of the
    community filed within `petition.similar_days`, plus those from the same phone: exactly
    the ones the secretary could `merge` the new petition into.
    """
    from sqlmodel import select

    from baiyin_cli import config
    from baiyin_cli.models import Petition

    cfg = config.load()
    threshold = float(cfg.get("petition.similar_threshold", 0.6))
    since = at - timedelta(days=int(cfg.get("petition.similar_days", 30)))
    cols = (
        Petition.id,
        Petition.number,
        Petition.text,
        Petition.status,
        Petition.filed_at,
        Petition.reporter_phone_hash,
    )
    base = select(*cols).where(
        Petition.community_code == community,
        Petition.status.in_(sorted(wf.RUNNING)),  # type: ignore[attr-defined]
    )
    if exclude is not None:
        base = base.where(Petition.id != exclude)
    recent = (
        base.where(Petition.filed_at >= since).order_by(Petition.filed_at.desc()).limit(SIMILAR_CANDIDATES)
    )  # type: ignore[attr-defined]
    rows = {r.id: r for r in session.execute(recent)}
    from baiyin_cli.services import crypto

    digest = crypto.for_session(session).lookup(phone, "petition.reporter_phone")  # phones are encrypted
    if phone:
        same_phone = base.where(Petition.phone_last4 == phone[-4:], Petition.reporter_phone_hash == digest)
        rows.update({r.id: r for r in session.execute(same_phone)})
    from baiyin_cli.services.privacy import scrub

    out = []
    for r in rows.values():
        reasons = []
        score = similarity(text, r.text)
        if score >= threshold:
            reasons.append("text")
        if phone and r.reporter_phone_hash is not None and bytes(r.reporter_phone_hash) == digest:
            reasons.append("phone")
        if reasons:
            out.append(
                {
                    "number": r.number,
                    "status": r.status,
                    "filed_at": timeutil.iso(r.filed_at),
                    "text": scrub(r.text[:80]),
                    "score": score,
                    "reasons": reasons,
                }
            )
    out.sort(key=lambda c: (-c["score"], c["number"]))
    return out


# ---------------------------------------------------------------- the public form


def _opt_dt(v: Any) -> datetime | None:
    if v is None or isinstance(v, datetime):
        return v
    return datetime.fromisoformat(v)


def _get(p: Any, key: str, attr: str | None = None) -> Any:
    if isinstance(p, dict):
        return p.get(key)
    return getattr(p, attr or key)


def clock(p: Any, now: datetime | None = None) -> dict[str, Any]:
    """Both deadlines of a petition (ORM object or public dict) as of `now`.

    Each: due (ISO), seconds_left (negative when overdue; None once met or stopped), and state:
    on_time | due_soon (>= petition.due_soon_ratio of the allowed time used) | overdue while
    the clock runs; met | late once done (a late callback is late, not lost); stopped when the
    case ended without it (rejected, merged). `overdue` is true if a running deadline passed.
    """
    from baiyin_cli import config

    now = now or timeutil.now()
    ratio = float(config.load().get("petition.due_soon_ratio", 0.8))
    status = _get(p, "status")
    running = status in wf.RUNNING
    filed = _opt_dt(_get(p, "filed_at"))
    contact_due = _opt_dt(_get(p, "contact_due"))
    resolve_due = _opt_dt(_get(p, "resolve_due"))
    contacted = _opt_dt(_get(p, "contacted_at"))
    resolved = _opt_dt(_get(p, "resolved_at")) if status in ("resolved", "closed") else None
    estimated = bool(_get(p, "due_estimated"))

    def one(due: datetime, done: datetime | None, est: bool) -> dict[str, Any]:
        d: dict[str, Any] = {"due": timeutil.iso(due), "estimated": est, "seconds_left": None}
        if done is not None:
            d["state"] = "met" if done <= due else "late"
            d["done_at"] = timeutil.iso(done)
        elif running:
            left = (due - now).total_seconds()
            d["seconds_left"] = int(left)
            allowed = (due - filed).total_seconds() if filed else 0
            if left < 0:
                d["state"] = "overdue"
            elif allowed > 0 and (now - filed).total_seconds() >= ratio * allowed:  # type: ignore[operator]
                d["state"] = "due_soon"
            else:
                d["state"] = "on_time"
        else:
            d["state"] = "stopped"
        return d

    contact = one(contact_due, contacted, False)  # type: ignore[arg-type]
    resolve = one(resolve_due, resolved, estimated)  # type: ignore[arg-type]
    nxt = wf.next_due(status, contacted, contact_due, resolve_due)  # type: ignore[arg-type]
    current = (contact if contacted is None else resolve) if nxt is not None else resolve
    return {
        "contact": contact,
        "resolve": resolve,
        "next_due": timeutil.iso(nxt),
        "state": current["state"],
        "overdue": current["state"] == "overdue",
    }


def petition_public(p: Petition, *, reveal: bool = False, household: str | None = None) -> dict[str, Any]:
    """The --json contract: codes, ISO times, reporter masked unless `reveal`."""
    from baiyin_cli.services.privacy import mask_name, mask_phone, scrub

    cat = categories().get(p.category, {})
    phone = crypto.read(p, "petition.reporter_phone")
    return {
        "number": p.number,
        "status": p.status,
        "open311_status": wf.STATES[p.status].open311 if p.status in wf.STATES else None,
        "category": p.category,
        "category_group": cat.get("group"),
        "channel": p.channel,
        "community": p.community_code,
        "grid": p.grid_code,
        "household": household,
        "household_id": p.household_id,
        "visit_id": p.visit_id,
        "assignee": p.assignee,
        "dept": p.dept_code,
        "text": p.text if reveal else scrub(p.text),
        "address": p.address,
        "reporter_name": p.reporter_name if reveal else mask_name(p.reporter_name),
        "reporter_phone": phone if reveal else mask_phone(phone),
        "anonymous": p.anonymous,
        "filed_at": timeutil.iso(p.filed_at),
        "filed_by": p.filed_by,
        "recorded_at": timeutil.iso(p.recorded_at),
        "contact_due": timeutil.iso(p.contact_due),
        "resolve_due": timeutil.iso(p.resolve_due),
        "due_estimated": p.due_estimated,
        "due_at": timeutil.iso(p.due_at),
        "contacted_at": timeutil.iso(p.contacted_at),
        "resolved_at": timeutil.iso(p.resolved_at),
        "result": p.result if reveal else scrub(p.result),
        "rating": p.rating,
        "rating_comment": p.rating_comment if reveal else scrub(p.rating_comment),
        "rated_at": timeutil.iso(p.rated_at),
        "closed_at": timeutil.iso(p.closed_at),
        "reject_reason": p.reject_reason,
        "merged_into": p.merged_into,
        "updated_at": timeutil.iso(p.updated_at),
        "updated_by": p.updated_by,
        "version": p.version,
    }


def allowed_events(op: Operator | None, p: Any) -> list[str]:
    """The verbs `op` may use on petition `p` (public dict or ORM object) right now."""
    return wf.allowed(op, p)


# ---------------------------------------------------------------- lookups


def get_petition(session: Session, number: str) -> Petition:
    from sqlmodel import select

    from baiyin_cli.models import Petition

    validate.not_blank(number, "诉求编号", "Petition number")
    key = (number or "").strip().upper()
    p = session.exec(select(Petition).where(Petition.number == key)).first()
    if p is None:
        raise NotFound(NOT_FOUND, number=number)
    return p


def _household_code(session: Session, household_id: int | None) -> str | None:
    if household_id is None:
        return None
    from baiyin_cli.models import Household

    h = session.get(Household, household_id)
    return h.code if h else None


def _find_household(session: Session, code: str) -> Any:
    """The household (services/registry.py's lookup when it is there, else the table itself)."""
    try:
        from baiyin_cli.services.registry import get_household
    except ImportError:
        get_household = None
    if get_household is not None:
        return get_household(session, code)
    from sqlmodel import select

    from baiyin_cli.models import Household

    validate.not_blank(code, "住户编号", "Household code")
    h = session.exec(select(Household).where(Household.code == code.strip())).first()
    if h is None:
        raise NotFound(HOUSEHOLD_NOT_FOUND, code=code)
    return h


def _label(level: str) -> str:
    from baiyin_cli.i18n import get_lang

    zh = {"district": "区县", "street": "街道", "community": "社区", "grid": "网格"}
    return level if get_lang() == "en" else zh.get(level, level)


def _place(
    session: Session, op: Operator | None, community: str | None, grid: str | None, household: Any
) -> tuple[str, str | None]:
    """(community code, grid code) from --community / --grid / the household / the operator's own area."""
    from baiyin_cli.services.org import get_area

    if not community and not grid:
        if household is not None:
            grid = household.grid_code
        elif op is not None and op.role == "grid_worker" and op.area_code:
            grid = op.area_code
        elif op is not None and op.role == "secretary" and op.area_code:
            community = op.area_code
        else:
            raise InvalidInput(NEEDS_PLACE)
    grid_code = None
    if grid:
        g = get_area(session, grid)
        if g.level != "grid":
            raise InvalidInput(
                BAD_PLACE_LEVEL, flag="--grid", level=_label("grid"), code=g.code, actual=_label(g.level)
            )
        grid_code = g.code
    if community:
        c = get_area(session, community)
        if c.level != "community":
            raise InvalidInput(
                BAD_PLACE_LEVEL,
                flag="--community",
                level=_label("community"),
                code=c.code,
                actual=_label(c.level),
            )
        if grid_code and g.parent_code != c.code:
            raise InvalidInput(PLACE_MISMATCH, grid=grid_code, community=c.code)
        community_code = c.code
    else:
        community_code = g.parent_code  # type: ignore[assignment]
    if household is not None:
        inside = (
            household.grid_code == grid_code if grid_code else household.grid_code.startswith(community_code)
        )
        if not inside:
            raise InvalidInput(
                HOUSEHOLD_ELSEWHERE,
                code=household.code,
                grid=household.grid_code,
                place=grid_code or community_code,
            )
        grid_code = grid_code or household.grid_code
    return community_code, grid_code


# ---------------------------------------------------------------- filing


def file_petition(
    session: Session,
    op: Operator | None,
    *,
    text: str,
    category: str,
    channel: str,
    community: str | None = None,
    grid: str | None = None,
    household: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    address: str | None = None,
    anonymous: bool = False,
    at: datetime | None = None,
    visit_id: int | None = None,
) -> dict[str, Any]:
    """File a petition: number it, fix its deadlines, record who raised it, flag likely duplicates.

    Returns the public dict plus "clock" and "similar" (open petitions of the community with
    very similar text or the same phone: a warning for the secretary, who may `merge`).
    """
    from baiyin_cli import config
    from baiyin_cli.models import Petition, PetitionReporter, Visit
    from baiyin_cli.services import workcalendar

    require(op)
    text_v = validate.text(text, "text", max_len=2000) or ""
    cat_code, cat = _category(category)
    channel_v = _channel(channel)
    hh = _find_household(session, household) if household else None
    community_code, grid_code = _place(session, op, community, grid, hh)
    op = require_area(op, grid_code or community_code)
    name_v = validate.text(name, "name", required=False, max_len=50)
    if anonymous and name_v:
        raise InvalidInput(ANONYMOUS_NAME)
    phone_v = validate.phone(phone)
    address_v = validate.text(address, "address", required=False, max_len=200) or (hh.address if hh else None)
    found_id = validate.record_id(visit_id) if visit_id is not None else None
    found_on = session.get(Visit, found_id) if found_id is not None else None
    if visit_id is not None and found_on is None:
        raise NotFound(VISIT_NOT_FOUND, id=visit_id)

    now = timeutil.now()
    filed_at = timeutil.ensure_utc(at) if at else now
    cfg = config.load()
    contact_due = filed_at + timedelta(minutes=int(cfg.get("petition.contact_minutes", 30)))
    resolve_due, estimated = workcalendar.resolve_due(filed_at, int(cat.get("days", 5)))
    similar = find_similar(session, community=community_code, text=text_v, phone=phone_v, at=filed_at)
    number = next_number(session, filed_at)
    p = Petition(
        number=number,
        text=text_v,
        category=cat_code,
        channel=channel_v,
        status=wf.INITIAL,
        community_code=community_code,
        grid_code=grid_code,
        household_id=hh.id if hh else None,
        visit_id=visit_id,
        address=address_v,
        reporter_name=name_v,
        **crypto.for_session(session).columns("petition.reporter_phone", phone_v),
        phone_last4=phone_v[-4:] if phone_v else None,
        anonymous=bool(anonymous),
        filed_by=op.username,
        filed_at=filed_at,
        recorded_at=now,
        contact_due=contact_due,
        resolve_due=resolve_due,
        due_estimated=estimated,
        due_at=wf.next_due(wf.INITIAL, None, contact_due, resolve_due),
        updated_at=now,
        updated_by=op.username,
        version=1,
    )
    session.add(p)
    session.flush()
    if name_v or phone_v:
        session.add(
            PetitionReporter(
                petition_id=p.id,
                name=name_v,
                **crypto.for_session(session).columns("petition_reporter.phone", phone_v),
                from_number=number,  # type: ignore[arg-type]
                added_at=filed_at,
            )
        )
    wf.first_event(
        session, op, p, at=filed_at, data={"channel": channel_v, "similar": [c["number"] for c in similar]}
    )
    if found_on is not None:
        # A finding of a visit: the rounds' day ledger counts findings per worker and day
        # (models/visit.py), so its row for that visit's day is rebuilt here, the one place a
        # petition gets linked to a visit, whoever calls.
        from baiyin_cli.services import visits

        visits.refresh_days(session, [(found_on.worker, timeutil.local_date(found_on.started_at))])
    public = petition_public(p, household=hh.code if hh else None)
    audit.record(
        session,
        op,
        "petition.file",
        "petition",
        number,
        after={k: public[k] for k in ("category", "channel", "community", "grid", "status")}
        | {"reporter_phone": phone_v},
        occurred_at=at,
    )
    return {**public, "clock": clock(p, now), "similar": similar}


# ---------------------------------------------------------------- queues


def _area_filter(session: Session, op: Operator, area: str):  # type: ignore[no-untyped-def]
    from baiyin_cli.models import Petition
    from baiyin_cli.services.org import get_area

    a = get_area(session, area)
    scope = op.scope
    if scope and op.role in ("secretary", "grid_worker", "viewer"):
        if not (a.code.startswith(scope) or scope.startswith(a.code)):
            raise NotPermitted(OUT_OF_SCOPE, username=op.username, area=scope, scope=scope)
    if a.level == "grid":
        return Petition.grid_code == a.code
    if a.level == "community":
        return Petition.community_code == a.code
    return scope_clause(Petition.community_code, a.code)


def _mine_filter(op: Operator):  # type: ignore[no-untyped-def]
    """What waits on this operator (the `waiting_on` column of the state table)."""
    from sqlalchemy import false

    from baiyin_cli.models import Petition

    def waiting(on: str) -> list[str]:
        return sorted(code for code, s in wf.STATES.items() if s.waiting_on == on)

    status = Petition.status
    if op.role == "grid_worker":
        return (Petition.assignee == op.username) & status.in_(waiting("assignee"))  # type: ignore[attr-defined]
    if op.role == "department":
        return (Petition.dept_code == op.dept_code) & status.in_(waiting("department"))  # type: ignore[attr-defined]
    if op.role in ("secretary", "admin"):
        return status.in_(waiting("secretary"))  # type: ignore[attr-defined]
    return false()


def _queue_filter(
    session: Session,
    op: Operator,
    *,
    statuses: list[str] | None,
    area: str | None,
    assignee: str | None,
    category: str | None,
    overdue: bool,
    due_within: timedelta | None,
    mine: bool,
    text: str | None,
    now: datetime,
) -> tuple[list[Any], frozenset[str] | None]:
    """The WHERE clauses of a listing (the operator's scope first) and the states it wants."""
    from sqlalchemy import or_

    from baiyin_cli.models import Petition

    clauses: list[Any] = [
        petition_scope_clause(
            op,
            community=Petition.community_code,
            grid=Petition.grid_code,
            assignee=Petition.assignee,
            dept=Petition.dept_code,
        )
    ]
    wanted = _statuses(statuses)
    if wanted is not None:
        clauses.append(Petition.status.in_(sorted(wanted)))  # type: ignore[attr-defined]
    if area:
        clauses.append(_area_filter(session, op, area))
    if assignee:
        clauses.append(Petition.assignee == assignee.strip())
    if category:
        what, codes = category_filter(category)
        if what == "category":
            clauses.append(Petition.category == codes[0])
        else:
            clauses.append(Petition.category.in_(codes))  # type: ignore[attr-defined]
    due_at = Petition.due_at
    if overdue and due_within is not None:
        clauses.append(due_at < now + due_within)  # type: ignore[operator]
    elif overdue:
        clauses.append(due_at < now)  # type: ignore[operator]
    elif due_within is not None:
        if due_within.total_seconds() <= 0:
            raise InvalidInput(DURATION_BAD, field="--due-within")
        clauses.append(due_at >= now)  # type: ignore[operator]
        clauses.append(due_at < now + due_within)  # type: ignore[operator]
    if mine:
        clauses.append(_mine_filter(op))
    if text and text.strip():
        # The text, the number (or part of it), the address, or the last four digits of the phone.
        needle = text.strip()
        matches = [
            Petition.text.contains(needle, autoescape=True),  # type: ignore[attr-defined]
            Petition.number.contains(needle.upper(), autoescape=True),  # type: ignore[attr-defined]
            Petition.address.contains(needle, autoescape=True),  # type: ignore[union-attr]
        ]
        if len(needle) == 4 and needle.isdigit():
            matches.append(Petition.phone_last4 == needle)
        clauses.append(or_(*matches))
    return clauses, wanted


PAGE_MAX = 1000  # a listing up to this long is read by ids first (see list_petitions)


def _newest_first(wanted: frozenset[str] | None) -> bool:
    """A listing of stopped states only is newest first; anything with running clocks, most urgent first."""
    return wanted is not None and not (wanted & wf.RUNNING)


def _after(session: Session, wanted: frozenset[str] | None, number: str) -> tuple[Any, Any]:
    """Keyset paging: the conditions for the rows after petition `number` in the listing's order,
    as (on the running rows, on the stopped rows); None for "none of these".

    Each is an index range (scope, due_at, id) or (filed_at, id), so page N+1 costs what page 1
    costs. Had the anchor moved since the page was read, the next page starts from where it is
    now; the TUI's periodic snapshot re-reads in one transaction.
    """
    from sqlalchemy import and_, or_, true

    from baiyin_cli.models import Petition

    a = get_petition(session, number)
    if _newest_first(wanted):
        return None, and_(
            Petition.filed_at <= a.filed_at,  # type: ignore[operator]
            or_(Petition.filed_at < a.filed_at, Petition.id < a.id),
        )  # type: ignore[operator]
    if a.due_at is None:
        return None, Petition.id > a.id  # type: ignore[operator]
    return and_(
        Petition.due_at >= a.due_at,  # type: ignore[operator]
        or_(Petition.due_at > a.due_at, Petition.id > a.id),
    ), true()  # type: ignore[operator]


def list_petitions(
    session: Session,
    op: Operator | None,
    *,
    statuses: list[str] | None = None,
    area: str | None = None,
    assignee: str | None = None,
    category: str | None = None,
    overdue: bool = False,
    due_within: timedelta | None = None,
    mine: bool = False,
    text: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
    after: str | None = None,
) -> list[dict[str, Any]]:
    """Petitions the operator may see, most urgent first, filtered and paged in SQL.

    Order: running clocks by their current deadline (so the overdue come first, most overdue
    first), then stopped ones; a listing of stopped states only is newest first. `statuses`
    None means the active states (everything not closed, rejected or merged); ["all"] all.
    `due_within` keeps running deadlines that fall between now and now + due_within.
    `text` matches the text, the number, the address or the phone's last four digits.
    `after` (a petition number) pages by keyset: the rows after that one, in this order.
    """
    from sqlalchemy import func
    from sqlalchemy import select as core_select
    from sqlmodel import select

    from baiyin_cli.models import Household, Petition

    op = require(op)
    now = timeutil.now()
    filters: dict[str, Any] = dict(
        area=area,
        assignee=assignee,
        category=category,
        overdue=overdue,
        due_within=due_within,
        mine=mine,
        text=text,
        now=now,
    )
    clauses, wanted = _queue_filter(session, op, statuses=statuses, **filters)
    base = select(Petition, Household.code).outerjoin(Household, Household.id == Petition.household_id)  # type: ignore[arg-type]
    on_running, on_stopped = _after(session, wanted, after) if after else (True, True)
    if _newest_first(wanted):
        parts = [(None, clauses, [on_stopped], (Petition.filed_at.desc(), Petition.id.desc()))]  # type: ignore[attr-defined, union-attr]
    else:
        # Running clocks by deadline, then the stopped ones: two reads in index order (scope, due_at,
        # id) rather than one sort of the whole scope by "due_at NULLS LAST" (SQLite keeps NULLs first).
        # due_at is set only while the clock runs (wf.next_due): when every running state is wanted,
        # the running read needs no status test, and an OFFSET over it steps through the index alone.
        running = clauses
        if wanted is None or wf.RUNNING <= wanted:
            running, _ = _queue_filter(session, op, statuses=[STATUS_ALL], **filters)
        parts = [
            (
                "running",
                running,
                [Petition.due_at.is_not(None), on_running],
                (Petition.due_at.asc(), Petition.id.asc()),
            ),  # type: ignore[union-attr]
            ("stopped", clauses, [Petition.due_at.is_(None), on_stopped], (Petition.id.asc(),)),  # type: ignore[union-attr]
        ]
    out: list[dict[str, Any]] = []
    skip = offset or 0
    for name, scope, extra, order in parts:
        if extra[-1] is None or (limit is not None and len(out) >= limit):
            continue
        where = [*scope, *(c for c in extra if c is not True)]
        if skip and name == "running":
            # An offset past the running rows continues into the stopped ones.
            n = session.execute(core_select(func.count()).select_from(Petition).where(*where)).scalar_one()
            if skip >= n:
                skip -= n
                continue
        if limit is not None and limit <= PAGE_MAX:
            # A page: its ids first, from the index alone (an OFFSET skips index entries, not rows),
            # then those rows.
            q_ids = core_select(Petition.id).where(*where).order_by(*order).limit(limit - len(out))
            if skip:
                q_ids, skip = q_ids.offset(skip), 0
            ids = list(session.execute(q_ids).scalars())
            found = {p.id: (p, hh) for p, hh in session.execute(base.where(Petition.id.in_(ids)))}  # type: ignore[union-attr]
            rows = [found[i] for i in ids if i in found]
        else:
            q = base.where(*where).order_by(*order)
            if skip:
                q, skip = q.offset(skip), 0
            if limit is not None:
                q = q.limit(limit - len(out))
            rows = list(session.execute(q))
        for p, hh_code in rows:
            d = petition_public(p, household=hh_code)
            d["clock"] = clock(p, now)
            out.append(d)
    return out


def count_petitions(
    session: Session,
    op: Operator | None,
    *,
    statuses: list[str] | None = None,
    area: str | None = None,
    assignee: str | None = None,
    category: str | None = None,
    overdue: bool = False,
    due_within: timedelta | None = None,
    mine: bool = False,
    text: str | None = None,
) -> int:
    """How many rows `list_petitions` with the same filters would give (without limit)."""
    from sqlalchemy import func, select

    from baiyin_cli.models import Petition

    op = require(op)
    clauses, _wanted = _queue_filter(
        session,
        op,
        statuses=statuses,
        area=area,
        assignee=assignee,
        category=category,
        overdue=overdue,
        due_within=due_within,
        mine=mine,
        text=text,
        now=timeutil.now(),
    )
    return int(session.execute(select(func.count()).select_from(Petition).where(*clauses)).scalar_one())


def queue_counts(session: Session, op: Operator | None, *, area: str | None = None) -> dict[str, int]:
    """The triage header over the active petitions the operator may see (in `area`): open (the
    default listing), overdue (a running deadline passed), awaiting_callback (assigned, not yet
    phoned back) and escalated (at a department).

    Two index-only reads, whatever the size of the queue: the states from (scope, status), and
    the overdue from (scope, due_at): due_at is set only while the clock runs (wf.next_due), so
    a passed due_at is an active petition's.
    """
    from sqlalchemy import func, select

    from baiyin_cli.models import Petition

    op = require(op)
    now = timeutil.now()
    common: dict[str, Any] = dict(
        area=area, assignee=None, category=None, due_within=None, mine=False, text=None, now=now
    )
    clauses, _wanted = _queue_filter(session, op, statuses=None, overdue=False, **common)
    by_status = {
        st: int(n)
        for st, n in session.execute(
            select(Petition.status, func.count()).where(*clauses).group_by(Petition.status)
        )
    }
    late, _ = _queue_filter(session, op, statuses=[STATUS_ALL], overdue=True, **common)
    overdue = session.execute(select(func.count()).select_from(Petition).where(*late)).scalar_one()
    return {
        "open": sum(by_status.values()),
        "overdue": int(overdue or 0),
        "awaiting_callback": by_status.get("assigned", 0),
        "escalated": by_status.get("escalated", 0),
    }


def change_marker(session: Session) -> int:
    """A number that grows whenever any petition is filed or changed (its newest history entry):
    a terminal polls it to know when to read the queue again."""
    from sqlalchemy import func, select

    from baiyin_cli.models import PetitionEvent

    return int(session.execute(select(func.max(PetitionEvent.id))).scalar() or 0)


# ---------------------------------------------------------------- one petition


def _where(p: Petition) -> dict[str, str | None]:
    return {"community": p.community_code, "grid": p.grid_code, "assignee": p.assignee, "dept": p.dept_code}


def show_petition(
    session: Session, op: Operator | None, number: str, *, reveal: bool = False
) -> dict[str, Any]:
    """Every field, both deadlines, the history (who, when, from -> to, note), reporters, merged duplicates."""
    from sqlmodel import select

    from baiyin_cli.models import Petition, PetitionEvent, PetitionReporter
    from baiyin_cli.services.privacy import mask_name, mask_phone, scrub

    p = get_petition(session, number)
    op = require_petition(op, **_where(p))
    if reveal:
        require_reveal(op, p.grid_code or p.community_code)
        audit.record(
            session,
            op,
            "petition.reveal",
            "petition",
            p.number,
            detail={"fields": ["reporter_name", "reporter_phone", "text", "reporters"]},
        )
    d = petition_public(p, reveal=reveal, household=_household_code(session, p.household_id))
    d["clock"] = clock(p)
    d["allowed_events"] = wf.allowed(op, p)
    d["may_reveal"] = may_reveal(op, p.grid_code or p.community_code)

    def text_of(v: Any) -> Any:
        return v if reveal or not isinstance(v, str) else scrub(v)

    events = session.exec(
        select(PetitionEvent).where(PetitionEvent.petition_id == p.id).order_by(PetitionEvent.seq)
    )
    d["history"] = [
        {
            "seq": e.seq,
            "event": e.event,
            "from": e.from_status,
            "to": e.to_status,
            "actor": e.actor,
            "at": timeutil.iso(e.occurred_at),
            "recorded_at": timeutil.iso(e.recorded_at),
            "note": text_of(e.note),
            "data": {k: text_of(v) for k, v in (e.data or {}).items()},
        }
        for e in events
    ]
    # The department code stays after a send-back (the ledger counts 部门退回); say whether the
    # case is with it now or was sent back by it.
    moves = [e["event"] for e in d["history"] if e["event"] in ("escalate", "send_back")]
    d["dept_sent_back"] = bool(p.dept_code) and bool(moves) and moves[-1] == "send_back"
    reporters = session.exec(
        select(PetitionReporter).where(PetitionReporter.petition_id == p.id).order_by(PetitionReporter.id)
    )
    d["reporters"] = [
        {
            "name": r.name if reveal else mask_name(r.name),
            "phone": crypto.read(r, "petition_reporter.phone") if reveal else mask_phone(crypto.read(r, "petition_reporter.phone")),
            "from_number": r.from_number,
            "added_at": timeutil.iso(r.added_at),
        }
        for r in reporters
    ]
    d["merged"] = list(
        session.exec(
            select(Petition.number).where(Petition.merged_into == p.number).order_by(Petition.number)
        )
    )
    return d


def similar_petitions(session: Session, op: Operator | None, number: str) -> list[dict[str, Any]]:
    """Running petitions of the same community that look like this one (duplicate candidates to
    `merge` into): very similar text or the same reporter phone, most similar first."""
    p = get_petition(session, number)
    require_petition(op, **_where(p))
    return find_similar(
        session,
        community=p.community_code,
        text=p.text,
        phone=crypto.read(p, "petition.reporter_phone"),
        at=timeutil.now(),
        exclude=p.id,
    )


# ---------------------------------------------------------------- the verbs


def _text(data: dict[str, Any], key: str, max_len: int = 1000) -> str:
    v = validate.text(data.get(key), key, max_len=max_len) or ""
    data[key] = v
    return v


def _effects(session: Session, op: Operator, p: Petition):  # type: ignore[no-untyped-def]
    """What each event does besides moving the status: column changes (and related rows)."""
    from sqlmodel import select

    from baiyin_cli.models import Department, PetitionReporter, Worker

    def assign(t: wf.Transition, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        username = str(data["to"]).strip()
        w = session.exec(select(Worker).where(Worker.username == username)).first()
        if (
            w is None
            or not w.active
            or w.role != "grid_worker"
            or not (w.area_code or "").startswith(p.community_code)
        ):
            raise InvalidInput(ASSIGNEE_INVALID, username=username, community=p.community_code)
        if p.assignee == username:
            raise Conflict(ALREADY_ASSIGNED, number=p.number, username=username)
        data.update(to=username, previous=p.assignee)
        return {"assignee": username, "grid_code": p.grid_code or w.area_code}

    def contact(t: wf.Transition, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        data["how"] = choices.pick(CONTACT_WAYS, data["how"], BAD_HOW)
        _text(data, "outcome")
        if p.contacted_at is not None:
            return {}
        data["late"] = at > p.contact_due
        return {"contacted_at": at}

    def escalate(t: wf.Transition, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        code = str(data["dept"]).strip()
        d = session.exec(select(Department).where(Department.code == code)).first()
        if d is None or not d.active:
            raise InvalidInput(DEPT_INVALID, code=code)
        if p.status == "escalated" and p.dept_code == code:
            raise Conflict(SAME_DEPT, number=p.number, code=code)
        _text(data, "reason")
        data.update(dept=code, previous=p.dept_code if p.status == "escalated" else None)
        return {"dept_code": code}

    def send_back(t: wf.Transition, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        _text(data, "reason")
        data["dept"] = p.dept_code
        return {}

    def resolve(t: wf.Transition, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        result = _text(data, "result", 2000)
        data["on_time"] = at <= p.resolve_due
        if p.status == "escalated":
            data["dept"] = p.dept_code
        return {"resolved_at": at, "result": result, "rating": None, "rating_comment": None, "rated_at": None}

    def rate(t: wf.Transition, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        comment = validate.text(data.get("comment"), "comment", required=False, max_len=1000)
        data["comment"] = comment
        changes: dict[str, Any] = {"rating": data["rating"], "rating_comment": comment, "rated_at": at}
        if t.target == "in_progress":
            changes.update(resolved_at=None, closed_at=None)
        return changes

    def close(t: wf.Transition, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        data["lapsed"] = p.rating is None
        return {"closed_at": at}

    def reject(t: wf.Transition, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        return {"reject_reason": _text(data, "reason")}

    def merge(t: wf.Transition, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        other = get_petition(session, str(data["into"]))
        if other.id == p.id:
            raise InvalidInput(MERGE_SELF)
        if other.community_code != p.community_code:
            raise InvalidInput(MERGE_OTHER_COMMUNITY, number=other.number, community=other.community_code)
        if other.status not in wf.RUNNING:
            raise Conflict(MERGE_TARGET_STATE, number=other.number, status=wf.status_label(other.status))
        data["into"] = other.number
        # Everyone who raised this one is kept on the survivor, so they too get the callback.
        mine = list(session.exec(select(PetitionReporter).where(PetitionReporter.petition_id == p.id)))
        for r in mine:
            session.add(
                PetitionReporter(
                    petition_id=other.id,
                    name=r.name,
                    phone_enc=r.phone_enc,  # the same column kind: the ciphertext is copied as is
                    phone_hash=r.phone_hash,
                    from_number=r.from_number or p.number,
                    added_at=at,
                )
            )
        wf.apply(
            session,
            op,
            other,
            "absorb",
            data={"from": p.number, "reporters": len(mine)},
            at=max(at, other.filed_at),
        )
        return {"merged_into": other.number}

    def reopen(t: wf.Transition, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        _text(data, "reason")
        if t.target == "in_progress":
            return {"resolved_at": None, "closed_at": None}
        changes: dict[str, Any] = {"assignee": None, "reject_reason": None, "merged_into": None}
        if p.status == "duplicate" and p.merged_into:
            _detach(session, op, p, at)
        data["previous_assignee"] = p.assignee
        return changes

    def nothing(t: wf.Transition, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        return {}

    return {
        "assign": assign,
        "contact": contact,
        "start": nothing,
        "escalate": escalate,
        "send_back": send_back,
        "resolve": resolve,
        "rate": rate,
        "close": close,
        "reject": reject,
        "merge": merge,
        "reopen": reopen,
        "mediate": nothing,
        "absorb": nothing,
        "detach": nothing,
    }


def _detach(session: Session, op: Operator, p: Petition, at: datetime) -> None:
    """Undo a merge: take this petition's reporters off the survivor again."""
    from sqlalchemy import delete
    from sqlmodel import select

    from baiyin_cli.models import PetitionReporter

    try:
        other = get_petition(session, p.merged_into or "")
    except NotFound:
        return
    mine = list(session.exec(select(PetitionReporter).where(PetitionReporter.petition_id == p.id)))
    for r in mine:
        session.execute(
            delete(PetitionReporter).where(
                PetitionReporter.petition_id == other.id,
                PetitionReporter.from_number == (r.from_number or p.number),
                PetitionReporter.phone_hash.is_(None) if r.phone_hash is None else PetitionReporter.phone_hash == r.phone_hash,  # type: ignore[union-attr]
            )
        )
    wf.apply(session, op, other, "detach", data={"from": p.number}, at=max(at, other.filed_at))


EVENT_ALIASES = {"send-back": "send_back"}


def apply(
    session: Session,
    op: Operator | None,
    number: str,
    event: str,
    *,
    at: datetime | None = None,
    note: str | None = None,
    expected_version: int | None = None,
    **data: Any,
) -> dict[str, Any]:
    """Fire `event` on petition `number`: assign(to=), contact(how=, outcome=), start, escalate(dept=,
    reason=), send_back(reason=), resolve(result=), rate(rating=, comment=), close, reject(reason=),
    merge(into=), reopen(reason=). Returns the petition's public dict with its clock and next verbs.
    """
    event = EVENT_ALIASES.get(event, event)
    p = get_petition(session, number)
    op = require_petition(op, **_where(p))
    note_v = validate.text(note, "note", required=False, max_len=1000)
    effects = _effects(session, op, p)
    if event not in effects:
        raise InvalidInput(wf.UNKNOWN_EVENT, event=event)
    wf.apply(
        session,
        op,
        p,
        event,
        data={k: v for k, v in data.items() if v is not None},
        at=at,
        note=note_v,
        expected_version=expected_version,
        effect=effects[event],
    )
    d = petition_public(p, household=_household_code(session, p.household_id))
    d["clock"] = clock(p)
    d["allowed_events"] = wf.allowed(op, p)
    return d


def note_mediation(
    session: Session,
    op: Operator | None,
    number: str,
    *,
    visit_id: int,
    at: datetime | None = None,
    note: str | None = None,
) -> None:
    """A mediation visit worked on this (dispute) petition: add it to the history, status unchanged."""
    p = get_petition(session, number)
    op = require_petition(op, **_where(p))
    note_v = validate.text(note, "note", required=False, max_len=1000)
    wf.apply(session, op, p, "mediate", data={"visit_id": visit_id}, at=at, note=note_v)
