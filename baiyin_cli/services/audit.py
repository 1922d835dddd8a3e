"""The audit log: every change and every reveal or export of personal data.

Entries are appended inside the same transaction as the change they describe, so a
change is never stored without its entry, nor an entry without its change.
Values in `before`/`after` are masked: the log must not become a copy of the registry.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.services.access import Operator, require_role

if TYPE_CHECKING:
    from sqlmodel import Session

PERSONAL_KEYS = {"id_number": "id", "phone": "phone", "reporter_phone": "phone"}


def _mask_values(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    from baiyin_cli.services.privacy import mask_id, mask_phone

    out: dict[str, Any] = {}
    for k, v in values.items():
        kind = PERSONAL_KEYS.get(k)
        if kind == "id" and isinstance(v, str):
            out[k] = mask_id(v)
        elif kind == "phone" and isinstance(v, str):
            out[k] = mask_phone(v)
        elif isinstance(v, datetime):
            out[k] = timeutil.iso(v)
        elif hasattr(v, "isoformat"):
            out[k] = v.isoformat()
        else:
            out[k] = v
    return out


def record(
    session: Session,
    op: Operator | None,
    action: str,
    entity: str,
    key: str | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> None:
    from baiyin_cli.models import AuditEntry

    session.add(
        AuditEntry(
            recorded_at=timeutil.now(),
            occurred_at=occurred_at,
            actor=op.username if op else None,
            action=action,
            entity=entity,
            entity_key=key,
            before=_mask_values(before),
            after=_mask_values(after),
            detail=_mask_values(detail),
        )
    )


def entry_public(e: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "recorded_at": timeutil.iso(e.recorded_at),
        "occurred_at": timeutil.iso(e.occurred_at),
        "actor": e.actor,
        "action": e.action,
        "entity": e.entity,
        "entity_key": e.entity_key,
        "before": e.before,
        "after": e.after,
        "detail": e.detail,
    }


def list_entries(
    session: Session,
    op: Operator | None,
    *,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    entity: str | None = None,
    key: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first. Reading the log is for admins and secretaries (their own community's actors)."""
    from sqlmodel import col, select

    from baiyin_cli.models import AuditEntry, Worker
    from baiyin_cli.services.access import scope_clause

    op = require_role(op, "admin", "secretary")
    q = select(AuditEntry)
    if not op.is_admin:
        actors = select(Worker.username).where(scope_clause(Worker.area_code, op.scope))
        q = q.where(col(AuditEntry.actor).in_(actors))
    if user:
        q = q.where(AuditEntry.actor == user)
    if since:
        q = q.where(AuditEntry.recorded_at >= since)
    if until:
        q = q.where(AuditEntry.recorded_at < until)
    if action:
        q = q.where(col(AuditEntry.action).startswith(action))
    if entity:
        q = q.where(AuditEntry.entity == entity)
    if key:
        q = q.where(AuditEntry.entity_key == key)
    q = q.order_by(col(AuditEntry.id).desc()).limit(limit)
    return [entry_public(e) for e in session.exec(q)]
