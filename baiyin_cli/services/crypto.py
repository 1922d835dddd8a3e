"""Personal data at rest: the one place that encrypts, decrypts and hashes ID numbers and phones.

A stored value (a `*_enc` column) is

    0x01 | len(key id) | key id | 96-bit random nonce | AES-256-GCM ciphertext and tag

under the data key `key id` of the database's key set (services/keys.py). The associated data
binds it to its column ("resident.id_number") and to its header, so a ciphertext copied into
another column, or given another key id, does not decrypt. Equal values encrypt differently.

Exact lookup and duplicate detection use a keyed hash (`*_hash`): HMAC-SHA256 under the
lookup key, of the kind ("id" or "phone") and the normalised value, so the same phone gives
the same hash in residents and petitions. The lookup key never rotates (the hashes would all
change at once); data keys do (`grid key rotate`), and a reader holds every data key of the
key file, so values under the old and the new key both decrypt while a rotation runs.

The last four digits stay in clear next to each value (`*_last4`), for search by them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from baiyin_cli.errors import InvalidInput
from baiyin_cli.i18n import M
from baiyin_cli.services import keys

if TYPE_CHECKING:
    from sqlmodel import Session

VERSION = 1
NONCE_BYTES = 12

# Every encrypted column: "table.column" -> the kind of value (the lookup hash's domain).
FIELDS: dict[str, str] = {
    "resident.id_number": "id",
    "resident.phone": "phone",
    "petition.reporter_phone": "phone",
    "petition_reporter.phone": "phone",
}

KEY_UNKNOWN = M(
    "keys.unknown",
    "数据由密钥 {kid} 加密，而密钥 {path} 中没有它：请使用轮换后的密钥文件（grid key rotate 之后须分发到每个终端）",
    "A value is encrypted under key {kid}, which {path} does not hold: use the key file written by the "
    "rotation (after `grid key rotate`, copy it to every terminal)",
)
DECRYPT_FAILED = M(
    "keys.decrypt_failed",
    "无法解密 {field}（记录 #{row}）：密钥 {path} 与数据不符，或数据已被改动",
    "Cannot decrypt {field} (row #{row}): the key {path} does not match the data, or the data was altered",
)


class Cipher:
    """The key set of one database, ready to use: AESGCM objects made once, a keyed HMAC copied."""

    def __init__(self, ks: keys.KeySet) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.keyset = ks
        self.current = ks.current
        self._aead = {kid: AESGCM(k) for kid, k in ks.data_keys.items()}
        self._headers = {kid: header(kid) for kid in ks.data_keys}
        self._mac = hmac.new(ks.lookup_key, digestmod=hashlib.sha256)
        self._hashes: dict[tuple[str, str], bytes] = {}  # an import looks each number up 2-3 times

    @property
    def path(self) -> str:
        return self.keyset.source

    def seal(self, value: str | None, field: str, *, kid: str | None = None) -> bytes | None:
        """The stored form of `value` in column `field` (None stays None)."""
        if value is None:
            return None
        kid = kid or self.current
        head = self._headers[kid]
        nonce = os.urandom(NONCE_BYTES)
        return head + nonce + self._aead[kid].encrypt(nonce, value.encode(), field.encode() + head)

    def open(self, blob: bytes | memoryview | None, field: str, row: Any = "?") -> str | None:
        """The clear value of a stored one. A key the key file lacks, or a value that does not
        authenticate, is a one-line error naming the key file (never garbage)."""
        if blob is None:
            return None
        blob = bytes(blob)
        kid = key_id_of(blob)
        aead = self._aead.get(kid) if kid is not None else None
        if aead is None:
            raise InvalidInput(KEY_UNKNOWN, kid=kid or "?", path=self.path)
        from cryptography.exceptions import InvalidTag

        n = 2 + len(kid)  # type: ignore[arg-type]
        try:
            if len(blob) < n + NONCE_BYTES + 16:  # cut short: no whole nonce and tag
                raise InvalidTag
            return aead.decrypt(blob[n : n + NONCE_BYTES], blob[n + NONCE_BYTES :], field.encode() + blob[:n]).decode()
        except (InvalidTag, UnicodeDecodeError, ValueError):
            raise InvalidInput(DECRYPT_FAILED, field=field, row=row, path=self.path) from None

    def lookup(self, value: str | None, field: str) -> bytes | None:
        """The keyed hash of `value` for exact lookup (same kind of value, same hash)."""
        if value is None:
            return None
        kind = FIELDS[field]
        digest = self._hashes.get((kind, value))
        if digest is None:
            h = self._mac.copy()
            h.update(kind.encode() + b"\x00" + value.encode())
            digest = h.digest()
            if len(self._hashes) >= 100_000:
                self._hashes.clear()
            self._hashes[(kind, value)] = digest
        return digest

    def pair(self, value: str | None, field: str) -> tuple[bytes | None, bytes | None]:
        """(ciphertext, lookup hash) of `value`."""
        return self.seal(value, field), self.lookup(value, field)

    def columns(self, field: str, value: str | None) -> dict[str, bytes | None]:
        """The stored columns of `value`: {"<column>_enc": ..., "<column>_hash": ...}."""
        col = field.split(".", 1)[1]
        return {f"{col}_enc": self.seal(value, field), f"{col}_hash": self.lookup(value, field)}

    def lookups(self, values: Iterable[str], field: str) -> dict[bytes, str]:
        """hash -> value, for finding many values in one query."""
        return {self.lookup(v, field): v for v in values}  # type: ignore[misc]


def header(kid: str) -> bytes:
    raw = kid.encode("ascii")
    if not 0 < len(raw) < 256:
        raise ValueError("key id length")
    return bytes((VERSION, len(raw))) + raw


def key_id_of(blob: bytes | memoryview | None) -> str | None:
    """The id of the data key a stored value is under (None if not a stored value)."""
    if blob is None:
        return None
    b = bytes(blob[:257])
    if len(b) < 2 or b[0] != VERSION or len(b) < 2 + b[1]:
        return None
    try:
        return b[2 : 2 + b[1]].decode("ascii")
    except UnicodeDecodeError:
        return None


_ciphers: dict[int, Cipher] = {}


def cipher(ks: keys.KeySet) -> Cipher:
    """One Cipher per loaded key set (keys.load caches key sets by file and mtime)."""
    c = _ciphers.get(id(ks))
    if c is None or c.keyset is not ks:
        c = Cipher(ks)
        _ciphers[id(ks)] = c
    return c


def for_session(session: Session) -> Cipher:
    """The cipher of the database `session` is bound to, checked once per session against the
    key fingerprint the database remembers (KEY_MISSING / KEY_WRONG name the key path)."""
    c = session.info.get("grid.cipher")
    if c is None:
        c = cipher(keys.for_session(session))
        session.info["grid.cipher"] = c
    return c


def for_url(url: str) -> Cipher:
    return cipher(keys.load(url))


def for_object(obj: Any) -> Cipher:
    """The cipher of the session an ORM object belongs to (else of the configured database)."""
    from sqlalchemy.orm import object_session

    s = object_session(obj)
    if s is not None:
        return for_session(s)  # type: ignore[arg-type]
    from baiyin_cli import store

    return for_url(store.database_url())


def read(obj: Any, field: str, cipher: Cipher | None = None) -> str | None:
    """The clear value of encrypted column `field` ("petition.reporter_phone") of a stored object
    or row (its `<column>_enc` attribute)."""
    blob = getattr(obj, field.split(".", 1)[1] + "_enc")
    if blob is None:
        return None
    return (cipher or for_object(obj)).open(blob, field, getattr(obj, "id", "?"))
