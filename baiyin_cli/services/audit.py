"""The audit log: every change and every reveal or export of personal data.

Entries are appended inside the same transaction as the change they describe, so a
change is never stored without its entry, nor an entry without its change.
Values in `before`/`after` are masked: the log must not become a copy of the registry.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.i18n import M
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


CHAIN_LOCK_KEY = 0x67726964  # "grid": the PostgreSQL advisory lock that orders appends

BROKEN = M(
    "audit.broken",
    "审计日志在第 {id} 条断链：{why}",
    "The audit log is broken at entry {id}: {why}",
)


def _canonical(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _utc_iso(dt: datetime | None) -> str | None:
    return None if dt is None else timeutil.ensure_utc(dt).isoformat()


def entry_hash(prev_hash: str | None, fields: dict[str, Any]) -> str:
    """sha256 over the previous hash and the entry's canonical content."""
    content = {
        "recorded_at": _utc_iso(fields["recorded_at"]),
        "occurred_at": _utc_iso(fields.get("occurred_at")),
        "actor": fields.get("actor"),
        "action": fields["action"],
        "entity": fields["entity"],
        "entity_key": fields.get("entity_key"),
        "before": fields.get("before"),
        "after": fields.get("after"),
        "detail": fields.get("detail"),
    }
    return hashlib.sha256(((prev_hash or "") + "\n" + _canonical(content)).encode()).hexdigest()


def _last_hash(conn: Any) -> str | None:
    from sqlalchemy import text

    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
    return conn.execute(text("SELECT hash FROM audit_entry ORDER BY id DESC LIMIT 1")).scalar()


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
    """Append one entry, chained to the last one, inside the caller's transaction.

    Appends are ordered: SQLite writers already hold the write lock (BEGIN IMMEDIATE);
    on PostgreSQL a transaction-scoped advisory lock serialises them until commit.
    """
    from sqlalchemy import insert

    from baiyin_cli.models import AuditEntry

    fields = {
        "recorded_at": timeutil.now(),
        "occurred_at": occurred_at,
        "actor": op.username if op else None,
        "action": action,
        "entity": entity,
        "entity_key": key,
        "before": _jsonable(_mask_values(before)),
        "after": _jsonable(_mask_values(after)),
        "detail": _jsonable(_mask_values(detail)),
    }
    conn = session.connection()
    prev = _last_hash(conn)
    fields["prev_hash"] = prev
    fields["hash"] = entry_hash(prev, fields)
    session.execute(insert(AuditEntry).values(**fields))


def _jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the JSON column will give back, so the hash is computed over exactly that."""
    if values is None:
        return None
    return json.loads(json.dumps(values, ensure_ascii=False, default=str))


def chain_existing(conn: Any) -> int:
    """Give hashes to entries that have none (used by the migration that adds the chain)."""
    from sqlalchemy import text

    rows = conn.execute(
        text(
            "SELECT id, recorded_at, occurred_at, actor, action, entity, entity_key, before, after, detail "
            "FROM audit_entry ORDER BY id"
        )
    ).mappings().all()
    prev = None
    for r in rows:
        fields = _row_fields(r)
        h = entry_hash(prev, fields)
        conn.execute(
            text("UPDATE audit_entry SET prev_hash = :p, hash = :h WHERE id = :id"), {"p": prev, "h": h, "id": r["id"]}
        )
        prev = h
    return len(rows)


def _row_fields(r: Any) -> dict[str, Any]:
    from baiyin_cli.models.types import UTCDateTime

    def dt(v: Any) -> Any:
        if v is None or isinstance(v, datetime):
            return v if v is None or v.tzinfo else v.replace(tzinfo=timeutil.UTC)
        return UTCDateTime().process_result_value(datetime.fromisoformat(str(v)), None)

    def js(v: Any) -> Any:
        return json.loads(v) if isinstance(v, str) else v

    return {
        "recorded_at": dt(r["recorded_at"]),
        "occurred_at": dt(r["occurred_at"]),
        "actor": r["actor"],
        "action": r["action"],
        "entity": r["entity"],
        "entity_key": r["entity_key"],
        "before": js(r["before"]),
        "after": js(r["after"]),
        "detail": js(r["detail"]),
    }


def verify(session: Session, op: Operator | None, *, batch: int = 5000) -> dict[str, Any]:
    """Walk the chain in id order; name the first entry whose link or content does not match."""
    from sqlalchemy import text

    require_role(op, "admin")
    conn = session.connection()
    prev: str | None = None
    checked = 0
    last_id = 0
    while True:
        rows = conn.execute(
            text(
                "SELECT id, recorded_at, occurred_at, actor, action, entity, entity_key, before, after, detail, "
                "prev_hash, hash FROM audit_entry WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last_id, "n": batch},
        ).mappings().all()
        if not rows:
            break
        for r in rows:
            if r["prev_hash"] != prev:
                return {"ok": False, "checked": checked, "broken_at": r["id"], "reason": "prev_hash"}
            if entry_hash(prev, _row_fields(r)) != r["hash"]:
                return {"ok": False, "checked": checked, "broken_at": r["id"], "reason": "content"}
            prev = r["hash"]
            checked += 1
            last_id = r["id"]
    return {"ok": True, "checked": checked, "broken_at": None, "reason": None, "last_hash": prev}


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
