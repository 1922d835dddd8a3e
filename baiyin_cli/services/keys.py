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
from baiyin_cli.errors import Conflict, InvalidInput
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
            raise InvalidInput(KEY_BAD, path=str(path), error=exc.strerror or str(exc)) from None
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
