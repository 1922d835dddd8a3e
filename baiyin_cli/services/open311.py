"""Open311 GeoReport v2: petitions as service requests, categories as services.

The fields are those of GeoReport v2 (https://wiki.open311.org/GeoReport_v2), GET Service
Requests and GET Service List. The `status` of each petition state comes from the workflow
table (services/petition_workflow.py, GUIDE §3): only `open` and `closed` exist in the spec.

No personal data leaves through this feed: no reporter name or phone, the description is
scrubbed of phone and ID numbers (services/privacy.scrub), and the `address` is the place only
where a place is public by nature (a hazard not tied to a household: a manhole, a street
light); for every other petition it is the community and grid, since a complaint's address
is usually someone's home. `address_id` is the area code of the grid (or community). The
registry keeps no coordinates, so `lat`/`long` are null; there are no photos (`media_url`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.i18n import get_lang

if TYPE_CHECKING:
    from sqlmodel import Session

    from baiyin_cli.services.access import Operator
    from baiyin_cli.services.stats import Period

# GET Service Requests: every field of a request, in the order of the specification.
REQUEST_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
# GET Service List.
SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")

# Category groups whose places are public (the location of the thing, not of a person).
PUBLIC_PLACE_GROUPS = ("hazard",)


def _t(zh: str, en: str) -> str:
    return en if get_lang() == "en" else zh


def status_of(state: str) -> str:
    """The Open311 status (open/closed) of a workflow state."""
    from baiyin_cli.services import petition_workflow as wf

    return wf.STATES[state].open311


def status_notes(p: Any) -> str:
    """What a resident would want to read about where the case stands (scrubbed)."""
    from baiyin_cli.services import petition_workflow as wf
    from baiyin_cli.services.privacy import scrub

    label = wf.status_label(p.status)
    if p.status in ("resolved", "closed") and p.result:
        return f"{label}：{scrub(p.result)}" if get_lang() != "en" else f"{label}: {scrub(p.result)}"
    if p.status == "rejected" and p.reject_reason:
        return f"{label}：{scrub(p.reject_reason)}" if get_lang() != "en" else f"{label}: {scrub(p.reject_reason)}"
    if p.status == "duplicate" and p.merged_into:
        return _t(f"{label}：并入 {p.merged_into}", f"{label}: merged into {p.merged_into}")
    return label


def service_notice(days: int | None) -> str | None:
    if not days:
        return None
    return _t(f"{days} 个工作日内办结", f"To be resolved within {days} working days")


def _iso(dt: datetime | None) -> str | None:
    return timeutil.iso(dt)


def request_of(
    p: Any, *, categories: dict[str, Any], areas: dict[str, str], depts: dict[str, str], dept: str | None,
    updated: datetime | None = None,
) -> dict[str, Any]:
    """One GeoReport v2 service request from a petition row; `dept`: the department in charge, if any;
    `updated`: when its case last changed (the latest history entry's date), else the row's update time."""
    from baiyin_cli import config
    from baiyin_cli.services.privacy import scrub

    cfg = config.load()
    cat = categories.get(p.category) or {}
    place = " ".join(n for n in (areas.get(p.community_code), areas.get(p.grid_code or "")) if n)
    public_place = cat.get("group") in PUBLIC_PLACE_GROUPS and p.household_id is None and p.address
    agency = depts.get(dept) if dept else None
    return {
        "service_request_id": p.number,
        "status": status_of(p.status),
        "status_notes": status_notes(p),
        "service_name": cfg.label("categories", p.category),
        "service_code": p.category,
        "description": scrub(p.text),
        "agency_responsible": agency or areas.get(p.community_code) or p.community_code,
        "service_notice": service_notice(cat.get("days")),
        "requested_datetime": _iso(p.filed_at),
        "updated_datetime": _iso(updated or p.updated_at),
        "expected_datetime": _iso(p.resolve_due),
        "address": scrub(p.address) if public_place else (place or None),
        "address_id": p.grid_code or p.community_code,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def requests(
    session: Session, op: Operator | None, *, period: Period | None = None, area: str | None = None
) -> list[dict[str, Any]]:
    """The service requests in the operator's reach (inside `area`), filed in `period`, oldest first."""
    from sqlalchemy import select

    from baiyin_cli import config
    from baiyin_cli.models import Department
    from baiyin_cli.models import Petition as P
    from baiyin_cli.services import stats
    from baiyin_cli.services.checklists import department_in_charge, events_of

    period = period or stats.Period()
    scope = stats.petition_scope(session, op, area)
    lo, hi = period.bounds
    q = select(P).where(scope.clause)
    if lo is not None:
        q = q.where(P.filed_at >= lo)  # type: ignore[operator]
    if hi is not None:
        q = q.where(P.filed_at < hi)  # type: ignore[operator]
    rows = list(session.execute(q.order_by(P.filed_at, P.number)).scalars())
    history = events_of(session, [p.id for p in rows], (stats.EV_ESCALATE, stats.EV_SEND_BACK, "resolve"))
    updated = last_changed(session, [p.id for p in rows])
    codes = {c for p in rows for c in (p.community_code, p.grid_code) if c}
    areas = stats.area_names(session, codes)
    depts = dict(session.execute(select(Department.code, Department.name)).all())
    categories = config.load().data.get("categories", {})
    return [
        request_of(p, categories=categories, areas=areas, depts=depts,
                   dept=department_in_charge(p, history.get(p.id, [])), updated=updated.get(p.id))
        for p in rows
    ]


def last_changed(session: Session, ids: list[int]) -> dict[int, datetime]:
    """When each petition's case last changed: the date of its latest history entry (when it
    happened, which `--at` may set earlier than when it was typed in; a paper record entered
    days later still reads as updated on the day it was done)."""
    from sqlalchemy import func, select

    from baiyin_cli.models import PetitionEvent as E

    out: dict[int, datetime] = {}
    for chunk in range(0, len(ids), 900):
        part = ids[chunk : chunk + 900]
        q = (
            select(E.petition_id, func.max(E.occurred_at))
            .where(E.petition_id.in_(part))  # type: ignore[attr-defined]
            .group_by(E.petition_id)
        )
        for pid, at in session.execute(q):
            if at is not None:
                out[pid] = timeutil.ensure_utc(at)
    return out


def services() -> list[dict[str, Any]]:
    """GET Service List: one service per petition category (config `categories`)."""
    from baiyin_cli import config

    cfg = config.load()
    out = []
    for code, cat in cfg.data.get("categories", {}).items():
        if not isinstance(cat, dict):
            continue
        group = cat.get("group") or ""
        group_label = cfg.label("category_groups", group) if group else ""
        name = cfg.label("categories", code)
        keywords = [w for w in (cat.get("zh"), cat.get("en"), group_label, group) if w]
        out.append({
            "service_code": code,
            "service_name": name,
            "description": _t(
                f"{group_label}类诉求：{name}，{cat.get('days')} 个工作日内办结",
                f"{group_label}: {name}, resolved within {cat.get('days')} working days",
            ),
            "metadata": False,
            "type": "realtime",
            "keywords": ",".join(dict.fromkeys(keywords)),
            "group": group_label,
        })
    return out


def record_export(session: Session, op: Operator | None, *, what: str, count: int, area: str | None,
                  period: Period | None, target: str) -> None:
    """The audit entry for an Open311 export (no personal data, but data leaving the system)."""
    from baiyin_cli.services import audit

    audit.record(session, op, f"export.open311.{what}", "open311", area, detail={
        "count": count,
        "period": period.public() if period else None,
        "target": target,
    })
