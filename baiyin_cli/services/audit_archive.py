"""Archiving the audit log: signed JSON Lines exports, and checking them later.

The Cybersecurity Law (Art. 21) asks that network logs be kept at least six months. In the
database the log is append-only (triggers refuse UPDATE/DELETE, migration 0002) and grid never
prunes it, so everything is kept; `grid audit export --from --to` writes a period to a file for
the archive, and `grid audit verify-export FILE` proves later that the file is complete and
unaltered:

  line 1      {"kind": "header", "format": "grid-audit-export/1", "from", "to", "exported_at",
               "exported_by", "key_id", "first_prev_hash"}
  lines 2..n  {"kind": "entry", "id", "recorded_at", "occurred_at" (UTC ISO, as hashed),
               "actor", "action", "entity", "entity_key", "before", "after", "detail",
               "prev_hash", "hash"}
  last line   {"kind": "signature", "alg": "HMAC-SHA256", "count", "last_hash", "mac"}

`mac` is HMAC-SHA256 under the database's audit key (services/keys.py) over every byte before
the signature line; each entry's hash is the database's own chain hash, recomputed on
verification, so an archive also proves its entries are the ones the live chain holds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import InvalidInput, os_error_text
from baiyin_cli.i18n import L, M
from baiyin_cli.services.access import Operator, require_role

if TYPE_CHECKING:
    from sqlmodel import Session

FORMAT = "grid-audit-export/1"
RETENTION_DAYS = 180  # Cybersecurity Law Art. 21: at least six months

BAD_RANGE = M("audit.export_bad_range", "起始日期 {start} 晚于结束日期 {end}", "The start {start} is after the end {end}")
EXPORT_BROKEN = M(
    "audit.export_broken",
    "审计归档文件 {path} 无效：{why}",
    "The audit archive {path} is not valid: {why}",
)
EXPORT_UNREADABLE = M(
    "audit.export_unreadable", "无法读取审计归档文件 {path}：{error}", "Cannot read the audit archive {path}: {error}"
)


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str) + "\n").encode()


def export_lines(
    session: Session, op: Operator | None, *, start: datetime, end: datetime, batch: int = 2000
) -> Iterator[bytes]:
    """The export, line by line (entries recorded in [start, end)); the last line is the signature.

    The export itself is audited (after the entries are read, so it is not inside this file)."""
    from sqlalchemy import text

    from baiyin_cli.services import audit, keys

    op = require_role(op, "admin")
    ks = keys.for_session(session)
    mac = hmac.new(ks.audit_key, digestmod=hashlib.sha256)
    conn = session.connection()
    rows_q = text(
        "SELECT id, recorded_at, occurred_at, actor, action, entity, entity_key, before, after, detail, prev_hash, hash "
        "FROM audit_entry WHERE recorded_at >= :a AND recorded_at < :b AND id > :last ORDER BY id LIMIT :n"
    )
    from baiyin_cli.models.types import UTCDateTime

    dialect = conn.dialect
    bind = UTCDateTime().process_bind_param
    params = {"a": bind(start, dialect), "b": bind(end, dialect)}
    first = conn.execute(
        text("SELECT prev_hash FROM audit_entry WHERE recorded_at >= :a AND recorded_at < :b ORDER BY id LIMIT 1"), params
    ).scalar()
    header = _line({
        "kind": "header", "format": FORMAT, "from": timeutil.iso(start), "to": timeutil.iso(end),
        "exported_at": timeutil.iso(timeutil.now()), "exported_by": op.username, "key_id": ks.key_id,
        "first_prev_hash": first,
    })
    mac.update(header)
    yield header
    count, last_id, last_hash = 0, 0, None
    while True:
        rows = conn.execute(rows_q, {**params, "last": last_id, "n": batch}).mappings().all()
        if not rows:
            break
        for r in rows:
            f = audit._row_fields(r)
            line = _line({
                "kind": "entry", "id": r["id"],
                "recorded_at": audit._utc_iso(f["recorded_at"]), "occurred_at": audit._utc_iso(f["occurred_at"]),
                "actor": f["actor"], "action": f["action"], "entity": f["entity"], "entity_key": f["entity_key"],
                "before": f["before"], "after": f["after"], "detail": f["detail"],
                "prev_hash": r["prev_hash"], "hash": r["hash"],
            })
            mac.update(line)
            yield line
            count += 1
            last_id = r["id"]
            last_hash = r["hash"]
    audit.record(session, op, "audit.export", "audit", None,
                 detail={"from": timeutil.iso(start), "to": timeutil.iso(end), "count": count})
    yield _line({"kind": "signature", "alg": "HMAC-SHA256", "count": count, "last_hash": last_hash,
                 "mac": mac.hexdigest()})


def verify_file(path: Path, *, url: str | None = None) -> dict[str, Any]:
    """Check an export: its signature under the audit key, then the hash chain inside it."""
    from baiyin_cli.services import audit, keys

    ks = keys.load(url)
    mac = hmac.new(ks.audit_key, digestmod=hashlib.sha256)

    def broken(why: str) -> InvalidInput:
        return InvalidInput(EXPORT_BROKEN, path=str(path), why=why)

    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InvalidInput(EXPORT_UNREADABLE, path=str(path), error=os_error_text(exc)) from None
    with fh:
        lines = fh.readlines()
    if len(lines) < 2:
        raise broken(L("内容太短", "too short"))
    try:
        header = json.loads(lines[0])
        sig = json.loads(lines[-1])
    except ValueError:
        raise broken(L("不是 JSON Lines 文件", "not JSON Lines")) from None
    if header.get("kind") != "header" or header.get("format") != FORMAT or sig.get("kind") != "signature":
        raise broken(L("缺少文件头或签名行", "no header or signature line"))
    if header.get("key_id") != ks.key_id:
        raise broken(L(f"签名密钥为 {header.get('key_id')}，本数据库的密钥为 {ks.key_id}",
                   f"signed with key {header.get('key_id')}, this key is {ks.key_id}"))
    for ln in lines[:-1]:
        mac.update(ln)
    if not hmac.compare_digest(mac.hexdigest(), str(sig.get("mac", ""))):
        raise broken(L("签名不符（内容被修改、截断或调换了顺序）", "signature does not match (altered, truncated or reordered)"))
    prev = header.get("first_prev_hash")
    count = 0
    for ln in lines[1:-1]:
        e = json.loads(ln)
        fields = {**e, "recorded_at": datetime.fromisoformat(e["recorded_at"]),
                  "occurred_at": datetime.fromisoformat(e["occurred_at"]) if e.get("occurred_at") else None}
        if e.get("prev_hash") != prev or audit.entry_hash(prev, fields) != e.get("hash"):
            raise broken(L(f"第 {e.get('id')} 条记录与前一条的哈希链不符", f"entry {e.get('id')} does not chain"))
        prev = e["hash"]
        count += 1
    if count != sig.get("count") or prev != sig.get("last_hash") and count:
        raise broken(L("记录条数或最后的哈希与签名不符", "entry count or last hash differs from the signature"))
    return {"ok": True, "path": str(path), "count": count, "from": header.get("from"), "to": header.get("to"),
            "exported_by": header.get("exported_by"), "last_hash": sig.get("last_hash")}
