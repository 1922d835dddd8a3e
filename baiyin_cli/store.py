"""Engine and sessions.

The URL comes from `--db` (a path or URL), else GRID_DATABASE_URL, else config
`database_url`, else a SQLite file under the platformdirs data directory.
SQLite gets WAL, foreign keys, a busy timeout and `BEGIN IMMEDIATE` for writing
transactions (so two terminals queue for the write lock instead of failing on
upgrade from a read lock). PostgreSQL goes through psycopg 3.

One command = one transaction: `with store.session(write=True) as s: ...` commits on
success and rolls back on any error, so nothing is half-written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baiyin_cli import config
from baiyin_cli.errors import Conflict, InvalidInput
from baiyin_cli.i18n import M

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

NOT_INITIALISED = M(
    "db.not_initialised",
    "数据库尚未初始化：{url}。请先运行 grid init",
    "The database is not initialised: {url}. Run `grid init` first",
)
DEMO_NOT_BUILT = M(
    "db.demo_not_built",
    "演示数据库还没有建立：{path}。请先运行 grid demo",
    "The demo database has not been built yet: {path}. Run `grid demo` first",
)
SCHEMA_OLD = M(
    "db.schema_old",
    "数据库结构版本为 {current}，本程序需要 {head}。请先备份（grid db backup），再运行 grid db migrate",
    "The database schema is at {current}; this grid needs {head}. Back up (grid db backup), then run `grid db migrate`",
)
SCHEMA_NEW = M(
    "db.schema_new",
    "数据库结构版本 {current} 比本程序更新，请升级 grid",
    "The database schema {current} is newer than this grid knows: upgrade grid",
)
CANNOT_CONNECT = M(
    "db.cannot_connect", "无法连接数据库 {url}：{error}", "Cannot connect to the database {url}: {error}"
)
BAD_URL = M("db.bad_url", "数据库地址无效：{url}", "Invalid database URL: {url}")
NOT_A_DATABASE = M(
    "db.not_a_database",
    "{path} 不是数据库文件（SQLite）；请检查 --db 或 GRID_DATABASE_URL",
    "{path} is not a database file (SQLite); check --db or GRID_DATABASE_URL",
)
LOCKED = M(
    "db.locked",
    "数据库正忙（其他终端正在写入），请稍后再试",
    "The database is busy (another terminal is writing); try again shortly",
)

WRITE_CONFLICT = M(
    "db.write_conflict",
    "其他终端同时在修改同样的记录，本次操作未写入任何内容，请重试",
    "Another terminal was changing the same records at the same moment; nothing was written, try again",
)
TOO_LARGE = M(
    "db.value_too_large",
    "输入的值超出数据库能保存的范围（{error}）",
    "A value given is out of the range the database can store ({error})",
)

_url_override: str | None = None
_engines: dict[str, Engine] = {}
_checked: set[str] = set()

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 64 * 1024


def set_url(value: str | None) -> None:
    """Set the database for this process (the `--db` option)."""
    global _url_override
    _url_override = to_url(value) if value else None


def to_url(value: str) -> str:
    if "://" in value:
        return value
    return "sqlite:///" + str(Path(value).expanduser().resolve())


def default_sqlite_path() -> Path:
    return config.data_dir() / "grid.db"


def demo_sqlite_path() -> Path:
    return config.data_dir() / "demo.db"


def database_url() -> str:
    if _url_override:
        return _url_override
    env = os.environ.get("GRID_DATABASE_URL")
    if env:
        return to_url(env)
    configured = config.load().get("database_url")
    if configured:
        return to_url(configured)
    return to_url(str(default_sqlite_path()))


def redact(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def libpq_url(url: str) -> str:
    """The URL as PostgreSQL's own tools (pg_dump, psql) take it: no '+psycopg' driver part,
    password hidden (they ask for it, or read ~/.pgpass)."""
    from sqlalchemy.engine import URL, make_url

    u = make_url(url)
    plain = URL.create(u.drivername.split("+", 1)[0], u.username, None, u.host, u.port, u.database, u.query)
    return plain.render_as_string(hide_password=True)


def is_sqlite(url: str | None = None) -> bool:
    return (url or database_url()).startswith("sqlite")


def sqlite_path(url: str | None = None) -> Path | None:
    url = url or database_url()
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    db = make_url(url).database
    return Path(db) if db and db != ":memory:" else None


def engine(url: str | None = None) -> Engine:
    url = url or database_url()
    eng = _engines.get(url)
    if eng is not None:
        return eng
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        if url.startswith("sqlite"):
            path = sqlite_path(url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            eng = create_engine(
                url,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "isolation_level": None},
            )

            @event.listens_for(eng, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                cur.execute("PRAGMA synchronous=NORMAL")
                # 64 MiB of page cache at most, used only as pages are read: the default 2 MiB
                # holds little of a city's indexes (a 240 000-resident import re-read them from
                # the OS all the time: several seconds of system time).
                cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
                cur.close()

            @event.listens_for(eng, "begin")
            def _sqlite_begin(conn: Any) -> None:
                write = conn.get_execution_options().get("grid_write", False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        else:
            eng = create_engine(url, pool_pre_ping=True)

            @event.listens_for(eng, "connect")
            def _pg_session(dbapi_conn: Any, _record: Any) -> None:
                # psycopg prepares a statement run five times, and PostgreSQL may then keep one
                # generic plan for it. A plan made while an import's table was still small (a
                # sequential scan) was kept as the import grew it to a million rows: every batch
                # scanned the whole table. Plan each execution for its own parameters and size.
                with dbapi_conn.cursor() as cur:
                    cur.execute("SET plan_cache_mode = force_custom_plan")
                dbapi_conn.commit()
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise InvalidInput(BAD_URL, url=redact(url)) from None
    _engines[url] = eng
    return eng


def dispose_all() -> None:
    for eng in _engines.values():
        eng.dispose()
    _engines.clear()
    _checked.clear()


def check_schema(eng: Engine) -> None:
    """Refuse to work on a database that is not initialised or not at this program's schema."""
    key = str(eng.url)
    if key in _checked:
        return
    from baiyin_cli.migrations import HEAD, REVISIONS, current_revision

    path = sqlite_path(str(eng.url))
    if path is not None and not path.exists():
        # Connecting would create an empty file, which `grid demo` would then refuse to replace.
        if path == demo_sqlite_path():
            raise InvalidInput(DEMO_NOT_BUILT, path=str(path))
        raise InvalidInput(NOT_INITIALISED, url=redact(str(eng.url)))
    current = current_revision(eng)
    if current is None:
        raise InvalidInput(NOT_INITIALISED, url=redact(str(eng.url)))
    if current != HEAD:
        if current in REVISIONS:
            raise Conflict(SCHEMA_OLD, current=current, head=HEAD)
        raise Conflict(SCHEMA_NEW, current=current)
    _checked.add(key)


@contextmanager
def session(write: bool = False, url: str | None = None, check: bool = True) -> Iterator[Session]:
    """One transaction. Commits on success, rolls back on any exception."""
    from sqlalchemy.exc import DatabaseError, DataError, OperationalError
    from sqlmodel import Session

    eng = engine(url)
    try:
        if check:
            check_schema(eng)
        bind = eng.execution_options(grid_write=True) if write else eng
        with Session(bind=bind, expire_on_commit=False) as s:
            try:
                yield s
                s.commit()
            except BaseException:
                try:
                    s.rollback()
                except OperationalError:
                    pass  # the connection is gone (server restarted): the server dropped the transaction
                raise
    except OperationalError as exc:
        raise translate_operational_error(exc, eng) from None
    except (OverflowError, DataError) as exc:
        # A number too big for an SQLite INTEGER (the driver refuses to bind it) or a value
        # PostgreSQL refuses ("integer out of range"): the input's fault, said in one line.
        msg = str(getattr(exc, "orig", exc)).strip()
        raise InvalidInput(TOO_LARGE, error=(msg.splitlines()[0] if msg else type(exc).__name__)[:200]) from None
    except DatabaseError as exc:
        # --db naming a spreadsheet or any other file: SQLite says so on the first read.
        if eng.dialect.name == "sqlite" and "file is not a database" in str(getattr(exc, "orig", exc)):
            raise InvalidInput(NOT_A_DATABASE, path=str(sqlite_path(str(eng.url)) or eng.url)) from None
        raise


# SQLSTATE classes PostgreSQL uses to abort one of two transactions that wait on each other
# (40P01 deadlock_detected) or that cannot both be serialised (40001 serialization_failure).
_WRITE_CONFLICT_STATES = ("40P01", "40001")


def translate_operational_error(exc: Exception, eng: Engine) -> Exception:
    msg = str(getattr(exc, "orig", exc))
    if "database is locked" in msg or "database is busy" in msg:
        return Conflict(LOCKED)
    if getattr(getattr(exc, "orig", None), "sqlstate", None) in _WRITE_CONFLICT_STATES:
        return Conflict(WRITE_CONFLICT)
    first = msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__
    return InvalidInput(CANNOT_CONNECT, url=redact(str(eng.url)), error=first)
