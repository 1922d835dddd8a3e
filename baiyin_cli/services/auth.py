"""Operators prove who they are: PINs, logins, sessions, lockout.

The rules, in one place:
  * A secret is a PIN of at least 6 digits (not one digit repeated, not a run like 123456),
    or a password of at least 8 characters. It is stored only as an argon2id hash
    (argon2-cffi, RFC 9106 parameters), in `operator_credential`.
  * `login` checks the secret and opens a session: 256 random bits, handed to the operator
    once; the database keeps only its sha256 (`auth_session.token_hash`), so a database
    reader cannot replay it. A session lasts `auth.session_hours` (a shift, 8 h by default)
    and stops working at once when it is revoked (logout, PIN change) or the operator is
    deactivated.
  * `auth.max_failures` wrong answers in a row lock the operator for `auth.lockout_minutes`,
    audited. Every failure, whatever its cause (no such user, inactive, no PIN yet, wrong
    PIN, locked), gives the same message and costs the same argon2 work, so a failed login
    does not tell whether the user exists.
  * The token is kept client-side in the operator's state dir (`config.state_dir()`), one
    file per database, mode 0600; scripts pass it in GRID_TOKEN instead. `grid login` and the
    TUI's PIN screen both go through `sign_in`.
  * The TUI locks after `auth.idle_lock_minutes` without a key or mouse event; the same
    operator's PIN (`unlock`, judged like a login) opens it again.

Who the operator of a command is, given the token, is decided in services/access.py
(`authenticate`), which calls `session_operator` here.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import InvalidInput, NotFound, NotPermitted, os_error_text
from baiyin_cli.i18n import M
from baiyin_cli.services.access import NO_OPERATOR, Operator, require, role_label

if TYPE_CHECKING:
    from sqlmodel import Session

    from baiyin_cli.models import AuthSession, OperatorCredential, Worker

TOKEN_PREFIX = "grid_"
MIN_PIN_DIGITS = 6
MIN_PASSWORD_CHARS = 8
MAX_SECRET_CHARS = 128

LOGIN_FAILED = M(
    "auth.login_failed",
    "登录失败：用户名或 PIN 不正确，或账户已被暂时锁定",
    "Login failed: wrong username or PIN, or the account is locked for a while",
)
SESSION_INVALID = M(
    "auth.session_invalid",
    "会话无效或已过期（或操作员已停用），请重新登录：grid login",
    "The session is invalid or has expired (or the operator was deactivated): log in again with `grid login`",
)
SESSION_OTHER_USER = M(
    "auth.session_other_user",
    "当前会话属于 {session_user}，不是 {username}：请先 grid login {username}",
    "The current session belongs to {session_user}, not {username}: run `grid login {username}` first",
)
NO_SESSION = M(
    "auth.no_session",
    "{username} 尚未登录：请先运行 grid login {username}（脚本用 --pin-file 或 GRID_TOKEN）",
    "{username} is not logged in: run `grid login {username}` first (scripts: --pin-file or GRID_TOKEN)",
)
PIN_TOO_SHORT = M(
    "auth.pin_too_short",
    "PIN 至少 {n} 位数字",
    "A PIN needs at least {n} digits",
)
PIN_TOO_SIMPLE = M(
    "auth.pin_too_simple",
    "PIN 太简单（同一数字重复或连续数字），请换一个",
    "That PIN is too easy to guess (one digit repeated, or a run of digits): choose another",
)
PASSWORD_TOO_SHORT = M(
    "auth.password_too_short",
    "密码至少 {n} 个字符（或使用至少 {digits} 位数字的 PIN）",
    "A password needs at least {n} characters (or use a PIN of at least {digits} digits)",
)
SECRET_TOO_LONG = M("auth.secret_too_long", "PIN 或密码过长（最多 {n} 个字符）", "PIN or password too long (at most {n} characters)")
SECRET_BAD_CHARS = M(
    "auth.secret_bad_chars", "PIN 或密码不能包含空白或控制字符", "A PIN or password may not contain whitespace or control characters"
)
OLD_PIN_WRONG = M("auth.old_pin_wrong", "原 PIN 不正确", "The old PIN is wrong")
OLD_PIN_NEEDED = M(
    "auth.old_pin_needed",
    "修改自己的 PIN 需要先输入原 PIN（--old-pin-file）",
    "Changing your own PIN needs the old one (--old-pin-file)",
)
SET_PIN_NOT_ALLOWED = M(
    "auth.set_pin_not_allowed",
    "只有管理员可以为他人设置 PIN（{username} 的角色是{role}）",
    "Only an administrator may set someone else's PIN ({username} has the role {role})",
)
TOKEN_FILE_UNSAFE = M(
    "auth.token_file_unsafe",
    "会话文件 {path} 的权限过宽（应为 0600），已拒绝使用；请删除它并重新登录",
    "The session file {path} is readable by others (it must be 0600); refused: delete it and log in again",
)
SECRET_FILE_UNREADABLE = M(
    "auth.secret_file_unreadable", "无法读取 PIN 文件 {path}：{error}", "Cannot read the PIN file {path}: {error}"
)
SECRET_FILE_EMPTY = M("auth.secret_file_empty", "PIN 文件 {path} 是空的", "The PIN file {path} is empty")
NO_SUCH_WORKER = M("auth.no_such_worker", "人员 {username} 不存在", "No person {username}")


# ---------------------------------------------------------------- secrets


def check_secret(secret: str) -> str:
    """The secret if it is an acceptable PIN or password, else InvalidInput (exit 1)."""
    if len(secret) > MAX_SECRET_CHARS:
        raise InvalidInput(SECRET_TOO_LONG, n=MAX_SECRET_CHARS)
    if any(c.isspace() or not c.isprintable() for c in secret):
        raise InvalidInput(SECRET_BAD_CHARS)
    if secret.isdigit() and secret.isascii():
        if len(secret) < MIN_PIN_DIGITS:
            raise InvalidInput(PIN_TOO_SHORT, n=MIN_PIN_DIGITS)
        if _trivial_pin(secret):
            raise InvalidInput(PIN_TOO_SIMPLE)
        return secret
    if len(secret) < MIN_PASSWORD_CHARS:
        if secret.isdigit() or not secret:
            raise InvalidInput(PIN_TOO_SHORT, n=MIN_PIN_DIGITS)
        raise InvalidInput(PASSWORD_TOO_SHORT, n=MIN_PASSWORD_CHARS, digits=MIN_PIN_DIGITS)
    return secret


def _trivial_pin(pin: str) -> bool:
    """One digit repeated (000000), or a run up or down with wrap-around (123456, 987654, 890123)."""
    if len(set(pin)) == 1:
        return True
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:], strict=False)}
    return steps in ({1}, {9})


def secret_kind(secret: str) -> str:
    return "pin" if secret.isdigit() and secret.isascii() else "password"


def _hasher():  # type: ignore[no-untyped-def]
    # argon2id with argon2-cffi's defaults: RFC 9106 "low memory" profile (t=3, m=64 MiB, p=4).
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_secret(secret: str) -> str:
    return _hasher().hash(secret)


def verify_secret(encoded: str | None, secret: str) -> bool:
    """Constant work whether or not there is a hash to check (no user-existence oracle)."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    ph = _hasher()
    try:
        return ph.verify(encoded or _dummy_hash(), secret) and encoded is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(_hasher().hash(secrets.token_hex(16)))
    return _DUMMY[0]


def read_secret_file(path: str) -> str:
    """The first line of a PIN file ('-' reads stdin), without its line end."""
    import sys

    try:
        if path == "-":
            line = sys.stdin.readline()
        else:
            with open(Path(path).expanduser(), encoding="utf-8") as fh:
                line = fh.readline()
    except OSError as exc:
        raise InvalidInput(SECRET_FILE_UNREADABLE, path=path, error=os_error_text(exc)) from None
    value = line.rstrip("\r\n")
    if not value:
        raise InvalidInput(SECRET_FILE_EMPTY, path=path)
    return value


# ---------------------------------------------------------------- config


def _cfg(key: str, default: int) -> int:
    from baiyin_cli import config

    value = config.load().get(f"auth.{key}", default)
    return int(value) if isinstance(value, int | float) and value > 0 else default


def session_hours() -> int:
    return _cfg("session_hours", 8)


def max_failures() -> int:
    return _cfg("max_failures", 5)


def lockout_minutes() -> int:
    return _cfg("lockout_minutes", 15)


def idle_lock_minutes() -> int:
    return _cfg("idle_lock_minutes", 10)


# ---------------------------------------------------------------- credentials


def _worker(session: Session, username: str) -> Worker | None:
    from sqlmodel import select

    from baiyin_cli.models import Worker

    return session.exec(select(Worker).where(Worker.username == username)).first()


def _credential(session: Session, username: str) -> OperatorCredential | None:
    from baiyin_cli.models import OperatorCredential

    return session.get(OperatorCredential, username)


def has_secret(session: Session, username: str) -> bool:
    return _credential(session, username) is not None


def store_secret(session: Session, username: str, secret: str, *, by: str | None, at: datetime | None = None) -> None:
    """Write the hash of an already checked secret; clears failures and lock."""
    from baiyin_cli.models import OperatorCredential

    now = at or timeutil.now()
    cred = _credential(session, username)
    encoded = hash_secret(secret)
    if cred is None:
        cred = OperatorCredential(username=username, secret_hash=encoded, kind=secret_kind(secret), set_at=now, set_by=by)
    else:
        cred.secret_hash = encoded
        cred.kind = secret_kind(secret)
        cred.set_at = now
        cred.set_by = by
        cred.failed_count = 0
        cred.locked_until = None
    session.add(cred)
    session.flush()


def set_secret(
    session: Session,
    op: Operator | None,
    username: str,
    new: str,
    *,
    old: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """`grid worker set-pin`: an admin for anyone, an operator for themselves (old PIN asked).

    Every session of that operator ends, except the one making the change.
    """
    from baiyin_cli.services import audit

    op = require(op)
    w = _worker(session, username)
    if w is None:
        raise NotFound(NO_SUCH_WORKER, username=username)
    self_change = op.username == username
    if not self_change and not op.is_admin:
        raise NotPermitted(SET_PIN_NOT_ALLOWED, username=op.username, role=role_label(op.role))
    cred = _credential(session, username)
    if self_change and cred is not None:
        if old is None:
            raise InvalidInput(OLD_PIN_NEEDED)
        if not verify_secret(cred.secret_hash, old):
            raise NotPermitted(OLD_PIN_WRONG)
    check_secret(new)
    store_secret(session, username, new, by=op.username)
    ended = revoke_sessions(session, username, keep=op.session_id if self_change else None)
    audit.record(
        session, op, "auth.set_pin", "worker", username,
        detail={"kind": secret_kind(new), "sessions_ended": ended, "first": cred is None},
        occurred_at=at,
    )
    return {"username": username, "kind": secret_kind(new), "sessions_ended": ended}


# ---------------------------------------------------------------- sessions


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, username: str, *, hours: float | None = None, client: str | None = None
) -> tuple[str, AuthSession]:
    """Open a session for `username` and return (token, row). Only `login` (after the PIN) and the
    test harness call this; the token is never stored, only its hash."""
    from baiyin_cli.models import AuthSession

    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timeutil.now()
    row = AuthSession(
        token_hash=token_hash(token),
        username=username,
        created_at=now,
        expires_at=now + timedelta(hours=hours if hours is not None else session_hours()),
        client=(client or _client_name())[:100],
    )
    session.add(row)
    session.flush()
    return token, row


def _client_name() -> str:
    try:
        return socket.gethostname() or "-"
    except OSError:
        return "-"


def session_operator(session: Session, token: str) -> Operator:
    """The operator a token speaks for, or NotPermitted (exit 4): unknown, revoked, expired,
    or the operator deactivated since."""
    from sqlmodel import select

    from baiyin_cli.models import AuthSession, Worker

    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise NotPermitted(SESSION_INVALID)
    row = session.exec(
        select(AuthSession, Worker)
        .join(Worker, Worker.username == AuthSession.username)
        .where(AuthSession.token_hash == token_hash(token))
    ).first()
    if row is None:
        raise NotPermitted(SESSION_INVALID)
    sess, w = row
    if sess.revoked_at is not None or sess.expires_at <= timeutil.now() or not w.active:
        raise NotPermitted(SESSION_INVALID)
    return Operator(w.username, w.name, w.role, w.area_code, w.dept_code, session_id=sess.id)


def revoke_sessions(session: Session, username: str, *, keep: int | None = None) -> int:
    """End every live session of `username` (but `keep`); returns how many."""
    from sqlalchemy import update

    from baiyin_cli.models import AuthSession

    now = timeutil.now()
    q = update(AuthSession).where(
        AuthSession.username == username, AuthSession.revoked_at.is_(None), AuthSession.expires_at > now  # type: ignore[union-attr]
    )
    if keep is not None:
        q = q.where(AuthSession.id != keep)
    return session.execute(q.values(revoked_at=now)).rowcount or 0


def _attempt(session: Session, username: str, secret: str) -> Worker | None:
    """Check `secret` for `username`: the worker when it is right, else None.

    The one judge of a PIN typed to open or resume a session (`login`, `unlock`): an expired
    lock is cleared first; a wrong answer counts toward the lockout (`auth.max_failures` in a
    row lock the operator for `auth.lockout_minutes`, audited `auth.lock`) and is audited
    `auth.login_failed` with its reason. Every cause of failure costs the same argon2 work.
    Never raises for a wrong answer: the caller commits, so the count and the audit stay.
    """
    from baiyin_cli.services import audit

    now = timeutil.now()
    w = _worker(session, username) if len(username) <= 64 else None
    cred = _credential(session, username) if w is not None else None
    # Clear an expired lock before judging.
    if cred is not None and cred.locked_until is not None and cred.locked_until <= now:
        cred.locked_until = None
        cred.failed_count = 0
    locked = cred is not None and cred.locked_until is not None
    good = verify_secret(cred.secret_hash if cred else None, secret)
    if w is not None and w.active and cred is not None and good and not locked:
        cred.failed_count = 0
        cred.last_login_at = now
        session.add(cred)
        return w

    reason = (
        "unknown" if w is None else "inactive" if not w.active else "no_secret" if cred is None
        else "locked" if locked else "wrong_secret"
    )
    detail: dict[str, Any] = {"reason": reason, "client": _client_name()[:100]}
    if cred is not None and reason == "wrong_secret":
        cred.failed_count += 1
        detail["failures"] = cred.failed_count
        if cred.failed_count >= max_failures():
            cred.locked_until = now + timedelta(minutes=lockout_minutes())
            session.add(cred)
            audit.record(session, None, "auth.lock", "worker", username,
                         detail={"failures": cred.failed_count, "until": timeutil.iso(cred.locked_until)})
        session.add(cred)
    audit.record(session, None, "auth.login_failed", "worker", username[:64], detail=detail)
    return None


FAILED: dict[str, Any] = {"ok": False, "token": None, "expires_at": None, "operator": None}


def _open_session(session: Session, w: Worker) -> dict[str, Any]:
    from baiyin_cli.services import audit

    token, row = issue_token(session, w.username)
    op = Operator(w.username, w.name, w.role, w.area_code, w.dept_code, session_id=row.id)
    audit.record(session, op, "auth.login", "worker", w.username, detail={"client": row.client})
    return {"ok": True, "token": token, "expires_at": row.expires_at, "operator": operator_public(op)}


def login(session: Session, username: str, secret: str) -> dict[str, Any]:
    """Check the secret; on success open a session. Never raises for a wrong answer: the
    caller commits (so the failure count and the audit entry are kept) and then refuses
    with LOGIN_FAILED. Returns {"ok", "token", "expires_at", "operator"}."""
    w = _attempt(session, username, secret)
    return _open_session(session, w) if w is not None else dict(FAILED)


def unlock(session: Session, username: str, secret: str, token: str | None) -> dict[str, Any]:
    """The operator of a locked screen (the TUI after idle time) types their PIN again.

    The same judge as `login` (a wrong PIN counts toward the lockout, same audit, same
    message). When right, the session of `token` goes on (audited `auth.unlock`) if it is
    still that operator's live session; if it ended meanwhile (expired, revoked) a new one
    opens as at login ("renewed"). `token=None` (a demo database, used without sessions)
    only checks the PIN. Returns what `login` returns, plus "renewed".
    """
    from baiyin_cli.services import audit

    w = _attempt(session, username, secret)
    if w is None:
        return {**FAILED, "renewed": False}
    if token:
        try:
            op = session_operator(session, token)
        except NotPermitted:
            op = None
        if op is None or op.username != username:
            return {**_open_session(session, w), "renewed": True}
    else:
        op = Operator(w.username, w.name, w.role, w.area_code, w.dept_code)
    audit.record(session, op, "auth.unlock", "worker", username)
    expires_at = None
    if op.session_id is not None:
        from baiyin_cli.models import AuthSession

        row = session.get(AuthSession, op.session_id)
        expires_at = row.expires_at if row is not None else None
    return {
        "ok": True, "token": token, "expires_at": expires_at, "operator": operator_public(op), "renewed": False
    }


def sign_in(url: str, username: str, secret: str, *, save: bool = True) -> dict[str, Any]:
    """`grid login` and the TUI's PIN screen: check the PIN in its own transaction (committed
    whatever the answer, so failures and lockouts count), refuse a wrong one with LOGIN_FAILED
    (exit 4; it does not say whether the user exists), and keep the token in this user's
    state dir (mode 0600) unless `save` is false. Returns `login`'s dict."""
    from baiyin_cli import store

    with store.session(write=True, url=url) as s:
        r = login(s, username, secret)
    if not r["ok"]:
        raise NotPermitted(LOGIN_FAILED)
    if save:
        save_token(url, r["token"], username, r["expires_at"])
    return r


# The refusals that mean "this person has to log in" (the TUI then asks for the PIN).
LOGIN_REQUIRED = frozenset(
    {SESSION_INVALID.key, SESSION_OTHER_USER.key, NO_SESSION.key, NO_OPERATOR.key}
)


def login_required(exc: BaseException) -> bool:
    from baiyin_cli.errors import GridError

    return isinstance(exc, GridError) and exc.key in LOGIN_REQUIRED


def logout(session: Session, token: str) -> dict[str, Any] | None:
    """End the session of `token`; None when it was not a live session."""
    from sqlmodel import select

    from baiyin_cli.models import AuthSession
    from baiyin_cli.services import audit

    try:
        op = session_operator(session, token)
    except NotPermitted:
        return None
    row = session.exec(select(AuthSession).where(AuthSession.token_hash == token_hash(token))).one()
    row.revoked_at = timeutil.now()
    session.add(row)
    audit.record(session, op, "auth.logout", "worker", op.username)
    return operator_public(op)


def whoami(session: Session, op: Operator | None) -> dict[str, Any]:
    from baiyin_cli.models import AuthSession

    op = require(op)
    out = operator_public(op)
    if op.session_id is not None:
        row = session.get(AuthSession, op.session_id)
        if row is not None:
            out["session"] = {
                "created_at": timeutil.iso(row.created_at),
                "expires_at": timeutil.iso(row.expires_at),
                "client": row.client,
            }
    return out


def operator_public(op: Operator) -> dict[str, Any]:
    return {
        "username": op.username,
        "name": op.name,
        "role": op.role,
        "area": op.area_code,
        "dept": op.dept_code,
    }


def credential_status(session: Session, username: str) -> dict[str, Any]:
    """Whether an operator has a secret, and whether they are locked (for admins' eyes)."""
    cred = _credential(session, username)
    now = timeutil.now()
    return {
        "has_secret": cred is not None,
        "kind": cred.kind if cred else None,
        "locked_until": timeutil.iso(cred.locked_until) if cred and cred.locked_until and cred.locked_until > now else None,
    }


# ---------------------------------------------------------------- the demo database


DEMO_KEY = "demo"


def mark_demo(session: Session) -> None:
    from baiyin_cli.models import GridMeta

    session.merge(GridMeta(key=DEMO_KEY, value="synthetic"))


def is_demo(session: Session) -> bool:
    """Made by `grid demo` (synthetic people). Only a SQLite file can be a demo database."""
    from baiyin_cli.models import GridMeta

    if session.get_bind().dialect.name != "sqlite":
        return False
    return session.get(GridMeta, DEMO_KEY) is not None


# ---------------------------------------------------------------- the client side: token files


def token_path(url: str) -> Path:
    """The file holding this terminal user's session for database `url`."""
    from baiyin_cli import config

    digest = hashlib.sha256(url.encode()).hexdigest()[:24]
    return config.state_dir() / "sessions" / f"{digest}.json"


def save_token(url: str, token: str, username: str, expires_at: datetime) -> Path:
    """Write the token file with mode 0600 (created so; never world-readable even for a moment)."""
    path = token_path(url)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"token": token, "username": username, "expires_at": timeutil.iso(expires_at)}, fh)
    os.replace(tmp, path)
    return path


def load_token(url: str) -> str | None:
    path = token_path(url)
    try:
        st = path.stat()
    except OSError:
        return None
    if os.name == "posix" and st.st_mode & 0o077:
        raise NotPermitted(TOKEN_FILE_UNSAFE, path=str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) else None


def saved_username(url: str) -> str | None:
    """Who last logged in on this terminal for database `url` (even if the session has ended):
    the name a login screen offers. None without a (safe, readable) token file."""
    path = token_path(url)
    try:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("username") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def forget_token(url: str) -> bool:
    try:
        token_path(url).unlink()
        return True
    except FileNotFoundError:
        return False


def presented_token(url: str) -> tuple[str | None, str | None]:
    """(token, source): GRID_TOKEN first ("env"), else this user's token file ("file")."""
    env = os.environ.get("GRID_TOKEN")
    if env:
        return env.strip(), "env"
    token = load_token(url)
    return (token, "file") if token else (None, None)
