"""The database's secret keys: where they live, how they are made, and which database they belong to.

One key set per database, in a JSON key file (mode 0600) that `grid init` creates, or in the
GRID_KEY environment variable (the same JSON, or its base64), for terminals that get the key
from a secret store:

  data_keys   {id: 32 random bytes}  AES-256-GCM keys for personal data at rest; `current` names
              the one new values are written with (`grid key rotate` adds one and re-encrypts)
  lookup_key  32 bytes  HMAC-SHA256 key for exact lookup and duplicate detection of ID numbers
              and phones (a keyed hash: without the key, the 10^10 phone numbers cannot be
              enumerated against it)
  audit_key   32 bytes  HMAC-SHA256 key that signs audit exports (`grid audit export`)

The database remembers which key set it belongs to (`grid_meta.key_id`, an HMAC of a constant
under the lookup key: it reveals nothing about the keys), so a wrong or lost key file gives a
clear error naming the path, never garbage.

Where the key file is: GRID_KEY (inline), else GRID_KEY_FILE, else config `key_file`, else next to
a SQLite database (`grid.db` -> `grid.db.key`), else (PostgreSQL) `<data dir>/keys/<host-db>.key`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import Conflict, ExitCode, GridError, InvalidInput, os_error_text
from baiyin_cli.i18n import M

if TYPE_CHECKING:
    from sqlmodel import Session

KEY_MISSING = M(
    "keys.missing",
    "找不到密钥文件 {path}：没有它，加密的身份证号和电话无法读取。请找回该文件（或设置 GRID_KEY / GRID_KEY_FILE）",
    "The key file {path} is missing: without it the encrypted ID numbers and phones cannot be read. Restore it (or set GRID_KEY / GRID_KEY_FILE)",
)
KEY_WRONG = M(
    "keys.wrong",
    "密钥 {path} 不属于此数据库（指纹 {found}，数据库需要 {expected}）",
    "The key {path} does not belong to this database (fingerprint {found}; the database needs {expected})",
)
KEY_BAD = M("keys.bad", "密钥 {path} 无法读取或格式不对：{error}", "The key {path} is unreadable or malformed: {error}")
KEY_UNSAFE = M(
    "keys.unsafe",
    "密钥文件 {path} 的权限过宽（应为 0600），已拒绝使用：chmod 600 {path}",
    "The key file {path} is readable by others (it must be 0600); refused: chmod 600 {path}",
)
KEY_EXISTS = M("keys.exists", "密钥文件已存在：{path}", "The key file exists: {path}")

FORMAT = "grid-key/1"
META_KEY_ID = "key_id"


@dataclass
class KeySet:
    data_keys: dict[str, bytes]
    current: str
    lookup_key: bytes
    audit_key: bytes
    source: str = ""
    created_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key_id(self) -> str:
        """A fingerprint of the key set (HMAC of a constant under the lookup key)."""
        return hmac.new(self.lookup_key, b"grid key id v1", hashlib.sha256).hexdigest()[:16]

    def to_json(self) -> str:
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        return json.dumps(
            {
                "format": FORMAT,
                "created_at": self.created_at,
                "current": self.current,
                "data_keys": {k: b64(v) for k, v in self.data_keys.items()},
                "lookup_key": b64(self.lookup_key),
                "audit_key": b64(self.audit_key),
                **self.extra,
            },
            indent=2,
        )


def new_keyset() -> KeySet:
    kid = "k" + timeutil.now().strftime("%Y%m%d%H%M%S")
    return KeySet(
        data_keys={kid: secrets.token_bytes(32)},
        current=kid,
        lookup_key=secrets.token_bytes(32),
        audit_key=secrets.token_bytes(32),
        created_at=timeutil.iso(timeutil.now()),
    )


def parse(text: str, source: str) -> KeySet:
    try:
        raw = text.strip()
        if not raw.startswith("{"):
            raw = base64.b64decode(raw, validate=False).decode()
        d = json.loads(raw)
        if d.get("format") != FORMAT:
            raise ValueError(f"format {d.get('format')!r}")
        dec = lambda s: base64.b64decode(s, validate=True)  # noqa: E731
        data_keys = {k: dec(v) for k, v in d["data_keys"].items()}
        ks = KeySet(
            data_keys=data_keys,
            current=d["current"],
            lookup_key=dec(d["lookup_key"]),
            audit_key=dec(d["audit_key"]),
            source=source,
            created_at=d.get("created_at"),
            extra={k: d[k] for k in ("rotation", "prepared") if k in d},
        )
        if ks.current not in data_keys or any(len(v) != 32 for v in (*data_keys.values(), ks.lookup_key, ks.audit_key)):
            raise ValueError("key lengths")
        return ks
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidInput(KEY_BAD, path=source, error=str(exc)[:100]) from None


def key_path(url: str | None = None) -> Path | None:
    """The key file for database `url`; None when GRID_KEY holds the key inline."""
    if os.environ.get("GRID_KEY"):
        return None
    env = os.environ.get("GRID_KEY_FILE")
    if env:
        return Path(env).expanduser()
    from baiyin_cli import config, store

    configured = config.load().get("key_file")
    if configured:
        return Path(configured).expanduser()
    url = url or store.database_url()
    db = store.sqlite_path(url)
    if db is not None:
        return db.with_name(db.name + ".key")
    from sqlalchemy.engine import make_url

    u = make_url(url)
    name = f"{u.host or 'local'}-{u.port or 5432}-{u.database or 'grid'}".replace("/", "_")
    return config.data_dir() / "keys" / f"{name}.key"


_cache: dict[str, KeySet] = {}


def load(url: str | None = None) -> KeySet:
    """The key set for `url` (GRID_KEY, else the key file). KEY_MISSING names the path."""
    inline = os.environ.get("GRID_KEY")
    if inline:
        ks = _cache.get("env:" + inline)
        if ks is None:
            ks = parse(inline, "GRID_KEY")
            _cache["env:" + inline] = ks
        return ks
    path = key_path(url)
    assert path is not None
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InvalidInput(KEY_MISSING, path=str(path)) from None
    if os.name == "posix" and st.st_mode & 0o077:
        raise InvalidInput(KEY_UNSAFE, path=str(path))
    cache_key = f"{path}:{st.st_mtime_ns}:{st.st_size}"
    ks = _cache.get(cache_key)
    if ks is None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(KEY_BAD, path=str(path), error=os_error_text(exc)) from None
        ks = parse(text, str(path))
        _cache[cache_key] = ks
    return ks


def write(path: Path, ks: KeySet, *, replace: bool = False) -> Path:
    """Write a key file with mode 0600 from the first byte (atomic replace when `replace`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not replace:
        raise Conflict(KEY_EXISTS, path=str(path))
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(ks.to_json() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _cache.clear()
    return path


def ensure(session: Session, url: str | None = None) -> dict[str, Any]:
    """At `grid init`: make a key set if the database has none yet, and bind it to the database.

    A database already bound to a key must be opened with that key (KEY_WRONG / KEY_MISSING)."""
    from baiyin_cli.models import GridMeta

    meta = session.get(GridMeta, META_KEY_ID)
    if meta is not None:
        ks = check(session, url)
        return {"created": False, "key_id": ks.key_id, "path": ks.source}
    inline = os.environ.get("GRID_KEY")
    if inline:
        ks = load(url)
        created_path = None
    else:
        path = key_path(url)
        assert path is not None
        if path.exists():
            ks = load(url)
            created_path = None
        else:
            ks = new_keyset()
            write(path, ks)
            ks.source = str(path)
            created_path = str(path)
    session.merge(GridMeta(key=META_KEY_ID, value=ks.key_id))
    session.flush()
    return {"created": created_path is not None, "key_id": ks.key_id, "path": ks.source}


def check(session: Session, url: str | None = None) -> KeySet:
    """The key set, checked against the fingerprint the database was bound to."""
    from baiyin_cli.models import GridMeta

    ks = load(url)
    meta = session.get(GridMeta, META_KEY_ID)
    if meta is not None and meta.value != ks.key_id:
        raise InvalidInput(KEY_WRONG, path=ks.source, found=ks.key_id, expected=meta.value)
    return ks


def for_session(session: Session) -> KeySet:
    """The checked key set for the database `session` is bound to."""
    url = session.get_bind().url.render_as_string(hide_password=False)
    return check(session, url)


# ---------------------------------------------------------------- rotation (grid key rotate)

ROTATE_INLINE = M(
    "keys.rotate_inline",
    "密钥来自环境变量 GRID_KEY，无法就地轮换：请改用密钥文件（GRID_KEY_FILE）后再执行 grid key rotate",
    "The key comes from GRID_KEY and cannot be rotated in place: use a key file (GRID_KEY_FILE), then run `grid key rotate`",
)
ROTATE_STOPPED = M(
    "keys.rotate_stopped",
    "轮换在 {batches} 批后停止（已提交 {done} 个值）；再次执行 grid key rotate 即可完成",
    "The rotation stopped after {batches} batches ({done} values committed); run `grid key rotate` again to finish it",
)


class RotationStopped(GridError):
    """A rotation stopped part-way (as if killed): what is committed stays; rerun to finish."""

    code = ExitCode.INTERRUPTED


def _new_kid(ks: KeySet) -> str:
    """A new data key id: its date and a random part, so two terminals that rotate in the same
    second cannot make two different keys with one id."""
    while True:
        kid = "k" + timeutil.now().strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
        if kid not in ks.data_keys:
            return kid


def _write_keeping(path: Path, ks: KeySet) -> None:
    """Replace the key file with `ks`, keeping every data key the file on disk holds.

    A rotation reads the key file, then writes it back later; another rotation (or --prepare)
    may have added a key in between, and values may already be encrypted under it. The file is
    locked while it is re-read and written, and no data key is ever dropped from it."""
    try:
        import fcntl
    except ImportError:  # Windows terminals: no advisory lock; the re-read below still keeps keys
        fcntl = None  # type: ignore[assignment]

    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        keep: dict[str, bytes] = {}
        if path.exists():
            on_disk = parse(path.read_text(encoding="utf-8"), str(path))
            if on_disk.lookup_key != ks.lookup_key:
                raise InvalidInput(KEY_WRONG, path=str(path), found=on_disk.key_id, expected=ks.key_id)
            keep = {k: v for k, v in on_disk.data_keys.items() if k not in ks.data_keys}
        merged = KeySet(
            data_keys={**keep, **ks.data_keys}, current=ks.current, lookup_key=ks.lookup_key,
            audit_key=ks.audit_key, source=ks.source, created_at=ks.created_at, extra=ks.extra,
        )
        write(path, merged, replace=True)
    finally:
        os.close(fd)


def _stored_columns() -> list[tuple[Any, str, str]]:
    """(table, column of the ciphertext, crypto field) of every encrypted column."""
    from baiyin_cli.models import Petition, PetitionReporter, Resident
    from baiyin_cli.services.crypto import FIELDS

    tables = {"resident": Resident.__table__, "petition": Petition.__table__, "petition_reporter": PetitionReporter.__table__}
    out = []
    for field_name in FIELDS:
        table, column = field_name.split(".", 1)
        out.append((tables[table], f"{column}_enc", field_name))
    return out


def key_counts(session: Session) -> dict[str, dict[str, int]]:
    """How many stored values each data key encrypts, per encrypted column ("other": a key the
    key file does not hold). Reads key ids only, never a value."""
    from sqlalchemy import func, select

    from baiyin_cli.services import crypto

    ks = for_session(session)
    out: dict[str, dict[str, int]] = {}
    for table, column, field_name in _stored_columns():
        col = table.c[column]
        total = session.execute(select(func.count()).select_from(table).where(col.is_not(None))).scalar_one()
        counts: dict[str, int] = {}
        for kid in ks.data_keys:
            head = crypto.header(kid)
            n = session.execute(
                select(func.count()).select_from(table).where(func.substr(col, 1, len(head)) == head)
            ).scalar_one()
            if n:
                counts[kid] = n
        if total - sum(counts.values()):
            counts["other"] = total - sum(counts.values())
        out[field_name] = counts
    return out


def describe(session: Session, op: Any) -> dict[str, Any]:
    """`grid key show`: where the key is, its fingerprint, the current data key, the data keys
    and how many values each encrypts. No secret leaves. Admins only."""
    from baiyin_cli.services.access import require_role

    require_role(op, "admin")
    ks = for_session(session)
    counts = key_counts(session)
    per_key = {kid: 0 for kid in ks.data_keys}
    for by_key in counts.values():
        for kid, n in by_key.items():
            per_key[kid] = per_key.get(kid, 0) + n
    rotation = ks.extra.get("rotation")
    return {
        "path": ks.source,
        "key_id": ks.key_id,
        "created_at": ks.created_at,
        "current": ks.current,
        "data_keys": sorted(ks.data_keys),
        "values_by_key": per_key,
        "values_by_column": counts,
        "rotation_unfinished": rotation.get("to") if isinstance(rotation, dict) else None,
        "prepared": prepared(ks),
    }


def prepared(ks: KeySet) -> str | None:
    """The data key `grid key rotate --prepare` added and no rotation has switched to yet."""
    mark = ks.extra.get("prepared")
    kid = mark.get("kid") if isinstance(mark, dict) else None
    return kid if isinstance(kid, str) and kid in ks.data_keys and kid != ks.current else None


def prepare_rotation(session: Session, op: Any) -> dict[str, Any]:
    """The first half of a rotation for a city of terminals: add the next data key to the key
    file without using it. Once that file is on every terminal, `rotate` switches to the key and
    re-encrypts while every terminal can read both keys, so none has to stop (no downtime on
    PostgreSQL). Running it again keeps the key it prepared."""
    from baiyin_cli.services import audit
    from baiyin_cli.services.access import require_role

    require_role(op, "admin")
    ks = for_session(session)
    if ks.source == "GRID_KEY":
        raise InvalidInput(ROTATE_INLINE)
    path = Path(ks.source)
    kid = prepared(ks)
    again = kid is not None
    if kid is None:
        kid = _new_kid(ks)
        ks = KeySet(
            data_keys={**ks.data_keys, kid: secrets.token_bytes(32)},
            current=ks.current,
            lookup_key=ks.lookup_key,
            audit_key=ks.audit_key,
            source=ks.source,
            created_at=ks.created_at,
            extra={**ks.extra, "prepared": {"kid": kid, "at": timeutil.iso(timeutil.now())}},
        )
        _write_keeping(path, ks)
        session.info.pop("grid.cipher", None)
        audit.record(session, op, "key.prepare", "key", kid, detail={"current": ks.current, "prepared": kid})
    return {"path": str(path), "prepared": kid, "current": ks.current, "already": again}


def rotate(
    session: Session, op: Any, *, batch: int = 2000, stop_after: int | None = None
) -> dict[str, Any]:
    """Add a new data key as current and re-encrypt every stored value under it.

    The key file is written first (atomically, old keys kept, with a `rotation` marker), so
    every reader holds both keys while values move. Values are re-encrypted by id in batches,
    each batch committed: short transactions, no downtime on PostgreSQL. An UPDATE changes a
    value only if it is still the ciphertext read (a terminal that rewrote it meanwhile wrote
    it under the new key). Values already under the new key are skipped, so a rotation that
    was killed is finished by running it again (the marker says which key to finish with).
    The lookup (HMAC) key does not change: the lookup hashes stay valid. `stop_after` stops
    after that many batches, as a kill would (drills and tests)."""
    from sqlalchemy import and_, select, update

    from baiyin_cli.services import audit, crypto
    from baiyin_cli.services.access import require_role

    require_role(op, "admin")
    ks = for_session(session)
    if ks.source == "GRID_KEY":
        raise InvalidInput(ROTATE_INLINE)
    path = Path(ks.source)
    rotation = ks.extra.get("rotation")
    resumed = isinstance(rotation, dict) and rotation.get("to") == ks.current
    previous = ks.current
    if resumed:
        new = ks.current
        previous = str(rotation.get("from") or "")  # type: ignore[union-attr]
    else:
        ready = prepared(ks)
        new = ready or _new_kid(ks)
        extra = {k: v for k, v in ks.extra.items() if k != "prepared"}
        ks = KeySet(
            data_keys=ks.data_keys if ready else {**ks.data_keys, new: secrets.token_bytes(32)},
            current=new,
            lookup_key=ks.lookup_key,
            audit_key=ks.audit_key,
            source=ks.source,
            created_at=ks.created_at,
            extra={**extra, "rotation": {"from": previous, "to": new, "started_at": timeutil.iso(timeutil.now())}},
        )
        _write_keeping(path, ks)
        session.info.pop("grid.cipher", None)
    cipher = crypto.cipher(ks)
    audit.record(
        session, op, "key.rotate", "key", new,
        detail={"event": "resumed" if resumed else "started", "from": previous, "to": new},
    )
    session.commit()
    done = batches = 0
    for table, column, field_name in _stored_columns():
        col = table.c[column]
        last = 0
        while True:
            rows = session.execute(
                select(table.c.id, col).where(table.c.id > last, col.is_not(None)).order_by(table.c.id).limit(batch)
            ).all()
            if not rows:
                break
            last = rows[-1].id
            for row in rows:
                old = bytes(row[1])
                if crypto.key_id_of(old) == new:
                    continue
                fresh = cipher.seal(cipher.open(old, field_name, row.id), field_name)
                res = session.execute(
                    update(table).where(and_(table.c.id == row.id, col == old)).values({column: fresh})
                )
                done += res.rowcount or 0
            session.commit()
            batches += 1
            if stop_after is not None and batches >= stop_after:
                raise RotationStopped(ROTATE_STOPPED, batches=batches, done=done)
    left = {f: {k: n for k, n in c.items() if k != new} for f, c in key_counts(session).items()}
    left = {f: c for f, c in left.items() if c}
    finished = KeySet(
        data_keys=ks.data_keys, current=new, lookup_key=ks.lookup_key, audit_key=ks.audit_key,
        source=ks.source, created_at=ks.created_at, extra={k: v for k, v in ks.extra.items() if k != "rotation"},
    )
    if not left:
        _write_keeping(path, finished)
    audit.record(
        session, op, "key.rotate", "key", new,
        detail={"event": "finished" if not left else "incomplete", "from": previous, "to": new,
                "reencrypted": done, "left": left},
    )
    session.commit()
    return {
        "path": str(path), "from": previous, "to": new, "resumed": resumed, "reencrypted": done,
        "batches": batches, "finished": not left, "left": left,
    }
