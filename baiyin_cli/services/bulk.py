"""Bulk import and export, the service side: what each importable thing is, and how its rows are
checked and written, with the same rules as the single-record commands.

A `Target` (areas, workers, households, residents, visits, petitions) declares its columns
(English field name, the Chinese label the export writes, which are personal), its natural key,
and the steps the import pipeline (`baiyin_cli/io/pipeline.py`) drives one chunk at a time:

  keys(values)               the natural keys of a row, for duplicates within the file
  plan(session, op, rows)    validate each row with the service's own prepare function, look up
                             what exists with one query per chunk (`WHERE code IN (...)`), and
                             decide create / update / ignore (identical: nothing to do)
  write(session, op, plans)  insert and update the chunk through SQLAlchemy Core (executemany;
                             COPY on PostgreSQL), never one ORM object per row

`export(...)` streams rows out in the same columns (personal data masked unless revealed), so
an export imports back as a no-op. One audit entry summarises each import or export.
"""

from __future__ import annotations

import abc

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import Conflict, GridError, InvalidInput, NotFound, UsageError
from baiyin_cli.i18n import M, Message, get_lang
from baiyin_cli.services import audit
from baiyin_cli.services.access import Operator, require_write

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlmodel import Session

STRATEGIES = ("create", "update", "create_and_update")
ATOMIC_MODES = ("all", "object")
COPY_MIN_ROWS = 50  # below this, executemany is as quick as COPY
ANALYZE_MIN_ROWS = 20_000  # PostgreSQL: new rows before an import refreshes a table's statistics
ANALYZE_LOCK_WAIT = "100ms"  # ... and how long it waits for another transaction's ANALYZE to end

IMPORT_EXISTS = M(
    "import.exists",
    "{what} {key} 已存在（--strategy create 只新增）",
    "{what} {key} already exists (--strategy create only adds)",
)
IMPORT_MISSING = M(
    "import.missing",
    "{what} {key} 不存在（--strategy update 只更新）",
    "{what} {key} does not exist (--strategy update only updates)",
)
IMPORT_MASKED = M(
    "import.masked",
    "{column}是脱敏后的值，无法导入（请用 --reveal 导出原值，或填写完整值）",
    "{column} holds a masked value, which cannot be imported (export with --reveal, or type the full value)",
)
IMPORT_BAD_BOOL = M(
    "import.bad_bool",
    "{column}应为 是/否（true/false）：{value}",
    "{column} must be yes/no (true/false): {value}",
)
IMPORT_BAD_STRATEGY = M(
    "import.bad_strategy",
    "导入策略无效：{value}（可选 create/update/create_and_update）",
    "Invalid strategy: {value} (create/update/create_and_update)",
)
IMPORT_BAD_ATOMIC = M(
    "import.bad_atomic", "--atomic 无效：{value}（可选 all/object）", "Invalid --atomic: {value} (all/object)"
)
WORKER_ROLE_FIXED = M(
    "import.worker_role_fixed",
    "导入不能更改 {username} 的角色（{current} → {new}）",
    "An import cannot change the role of {username} ({current} -> {new})",
)
WORKER_DEACTIVATE_ADMIN = M(
    "import.worker_last_admin",
    "导入不能停用最后一个管理员 {username}",
    "An import cannot deactivate the last active admin {username}",
)
WORKER_DEACTIVATE_SELF = M(
    "import.worker_self",
    "导入不能停用操作员自己（{username}）",
    "An import cannot deactivate the operator ({username})",
)


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Column:
    """One column of an import/export: the English field name (JSON key), the Chinese label the
    export writes (and the English one); either is accepted as a header on import."""

    name: str
    zh: str
    en: str
    required: bool = False  # needed to create a record
    personal: str | None = None  # "id" | "phone" | "name": masked in errors and exports
    read_only: bool = False  # exported for people to read; accepted and ignored on import
    width: int = 12  # XLSX column width (characters)
    aliases: tuple[str, ...] = ()
    show: Callable[[Any], str] | None = None  # code -> label in CSV/XLSX (JSON Lines keeps codes)

    def label(self, lang: str | None = None) -> str:
        return self.en if (lang or get_lang()) == "en" else self.zh


@dataclass(slots=True)
class Row:
    """A row as the file gave it: field -> text (None for an empty cell); a field whose column
    the file does not have is absent, and an update leaves it as it is."""

    row: int
    values: dict[str, str | None]


@dataclass(slots=True)
class Plan:
    row: int
    action: str  # create | update | ignore
    key: str
    values: dict[str, Any]
    current: Any = None  # the existing record (a Core row) for update / ignore
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Problem:
    row: int
    field: str | None
    error: GridError


# Message keys whose field is implied by the key itself (validators shared with single commands).
_KEY_FIELDS = {
    "phone.": "phone",
    "id_number.": "id_number",
    "username.": "username",
    "care.": "care",
    # choices the single commands check with messages of their own
    "visit.bad_kind": "kind",
    "petition.bad_category": "category",
    "petition.bad_channel": "channel",
}


def field_of(exc: GridError, default: str | None = None) -> str | None:
    """The field a validator's error is about: its `field_key`, else what its message key says."""
    f = exc.args_.get("field_key")
    if f:
        return str(f)
    for prefix, name in _KEY_FIELDS.items():
        if exc.key.startswith(prefix):
            return name
    # The shared validators (validate.text: required, too long, control characters) name the field
    # they were given: a column name such as "name" or "address".
    named = exc.args_.get("field")
    if isinstance(named, str) and named.isascii() and named.isidentifier():
        return named
    return default


def problem(row: int, exc: GridError, default_field: str | None = None) -> Problem:
    return Problem(row, field_of(exc, default_field), exc)


def problem_cells(p: Problem) -> list[tuple[str | None, GridError]]:
    """(field, error) of each cell a problem is about: every refused field of a row whose checks
    refused several (errors.InvalidFields), else the one."""
    errors = getattr(p.error, "errors", None)
    if errors:
        return [(field_of(e, p.field), e) for e in errors]
    return [(p.field, p.error)]


MASKED_DATE = "****-**-**"


def mask(kind: str | None, value: Any) -> Any:
    """A value as a masked export or error report shows it (kinds: id, phone, name, date, note)."""
    if value is None or kind is None:
        return value
    from baiyin_cli.services.privacy import mask_id, mask_name, mask_phone, scrub

    if kind == "date":
        return MASKED_DATE
    return {"id": mask_id, "phone": mask_phone, "name": mask_name, "note": scrub}[kind](str(value))


def choice_label(table: str) -> Callable[[Any], str]:
    def show(code: Any) -> str:
        if code in (None, ""):
            return ""
        from baiyin_cli import config

        return config.load().label(table, str(code))

    return show


_TRUE = {"true", "1", "yes", "y", "是", "在岗", "有效", "启用", "active"}
_FALSE = {"false", "0", "no", "n", "否", "停用", "无效", "inactive"}


def parse_bool(value: str | None, column: str) -> bool | None:
    if value is None or not value.strip():
        return None
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise InvalidInput(IMPORT_BAD_BOOL, column=column, value=value[:20], field_key=column)


def unmask(values: dict[str, Any], current: Mapping[str, Any] | None, columns: Sequence[Column]) -> None:
    """A masked cell (138****5678, as a masked export writes it) means "unchanged" when it masks the
    current value; anything else masked cannot be imported."""
    for col in columns:
        if not col.personal:
            continue
        v = values.get(col.name)
        if not isinstance(v, str) or "*" not in v:
            continue
        cur = current.get(col.name) if current is not None else None
        if cur is not None and mask(col.personal, cur) == v.strip():
            values[col.name] = cur
        elif col.personal != "note":  # a note may hold an asterisk of its own
            raise InvalidInput(IMPORT_MASKED, column=col.label(), field_key=col.name)


# ---------------------------------------------------------------- database helpers


def fetch(
    session: Session, table: Table, column: str, keys: Iterable[Any], *, chunk: int = 900, lock: bool = False,
) -> dict[Any, Any]:
    """Rows of `table` whose `column` is one of `keys`, by that column: one query per `chunk` keys.

    `lock`: rows the import may update are locked on PostgreSQL (in key order) until the batch
    commits, so a second terminal importing the same records waits and plans on what the first
    wrote instead of overwriting it from a stale read (SQLite's writers are serialised anyway)."""
    from sqlalchemy import select

    wanted = [k for k in dict.fromkeys(keys) if k not in (None, "")]
    out: dict[Any, Any] = {}
    col = table.c[column]
    lock = lock and session.get_bind().dialect.name == "postgresql"
    for i in range(0, len(wanted), chunk):
        stmt = select(table).where(col.in_(wanted[i : i + chunk]))
        if lock:
            stmt = stmt.order_by(col).with_for_update()
        for r in session.execute(stmt):
            out[getattr(r, column)] = r
    return out


def ids_by(
    session: Session, table: Table, column: str, keys: Iterable[Any], *, active: bool = False, chunk: int = 900
) -> dict[Any, int]:
    """{key: id} of the rows of `table` whose `column` is one of `keys` (with `active`: not archived).

    The driver's own SQL, not `fetch`: SQLAlchemy spends longer rendering and converting a thousand
    bound keys (keyed hashes, a batch's worth) than the database takes to find them, and an import
    of new records finds none. Fetch the few it finds by id."""
    wanted = [k for k in dict.fromkeys(keys) if k not in (None, "")]
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    out: dict[Any, int] = {}
    for i in range(0, len(wanted), chunk):
        part = wanted[i : i + chunk]
        sql = (
            f'SELECT "{column}", id FROM "{table.name}" WHERE "{column}" IN ({", ".join([mark] * len(part))})'
            + (" AND archived_at IS NULL" if active else "")
        )
        for key, rid in conn.exec_driver_sql(sql, tuple(part)):
            out[bytes(key) if isinstance(key, memoryview) else key] = rid
    return out


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL (psycopg 3), executemany elsewhere."""
    if not rows:
        return
    from sqlalchemy import insert

    inserted = session.info.setdefault("grid_inserted", {})
    inserted[table.name] = inserted.get(table.name, 0) + len(rows)
    conn = session.connection()
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS and not _row_security(session, table):
        copy_rows(conn, table, rows)
    elif conn.dialect.name == "sqlite":
        executemany_rows(conn, table, rows)
    else:
        conn.execute(insert(table), rows)


def refresh_statistics(session: Session) -> None:
    """PostgreSQL: ANALYZE each table this session has inserted into once it has grown by as many
    rows as it held when last analyzed (at least ANALYZE_MIN_ROWS): a few times an import.

    An import into an empty city is one transaction that autovacuum cannot see into, so the
    planner went on believing the tables were as small as before and read whole tables for each
    batch's lookups (a sequential scan of 240 000 residents per batch, growing; a batch's plan
    took 5 s per 20 000 rows at the end against 2.4 s at the start). ANALYZE in the importing
    transaction counts its own new rows. A login that does not own the table gets a warning from
    PostgreSQL, not an error, and the import goes on as before.

    ANALYZE holds its lock on the table until the import commits, and a second import on another
    terminal would wait for it (or deadlock with the first over the rows both lock): it waits at
    most ANALYZE_LOCK_WAIT for the lock, and goes on without fresh statistics when it cannot
    have it, trying again after ANALYZE_MIN_ROWS more rows. (An import that rolls back leaves
    the statistics it took, which count its rows, until autovacuum next visits: PostgreSQL
    writes them outside the transaction. The planner then overestimates a table, which costs
    little.)"""
    from sqlalchemy import text

    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return
    inserted: dict[str, int] = session.info.get("grid_inserted") or {}
    # table -> (rows it held before this session inserted any, inserted count when next due)
    state: dict[str, tuple[float, float]] = session.info.setdefault("grid_analyzed", {})
    for name, n in inserted.items():
        if name not in state:
            known = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": name})
            before = max(0.0, float(known.scalar() or 0))
            state[name] = (before, max(ANALYZE_MIN_ROWS, before))
        before, due = state[name]
        if n < due:
            continue
        if _analyze(session, name):
            state[name] = (before, n + max(ANALYZE_MIN_ROWS, before + n))  # when it has doubled
        else:  # the lock was taken: try again after ANALYZE_MIN_ROWS more rows, not a doubling
            state[name] = (before, n + ANALYZE_MIN_ROWS)


def _analyze(session: Session, table: str) -> bool:
    """ANALYZE `table` if its lock is free within ANALYZE_LOCK_WAIT (inside a savepoint, so that a
    wait that runs out leaves the import's transaction as it was). Whether it ran."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    try:
        with session.begin_nested():
            conn = session.connection()
            before = conn.exec_driver_sql("SHOW lock_timeout").scalar()
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{ANALYZE_LOCK_WAIT}'")
            conn.exec_driver_sql(f'ANALYZE "{table}"')
            conn.execute(text("SELECT set_config('lock_timeout', :v, true)"), {"v": before})
    except OperationalError as exc:
        # lock_not_available; or deadlock_detected, should deadlock_timeout be below the wait:
        # either way only the savepoint is undone.
        if getattr(getattr(exc, "orig", None), "sqlstate", None) not in ("55P03", "40P01"):
            raise
        return False
    return True


def _row_security(session: Session, table: Table) -> bool:
    """Does row-level security apply to this login on `table`? PostgreSQL refuses COPY FROM then
    (a community's own login, `grid db roles`), so such rows go in as INSERTs, checked by the policy."""
    from sqlalchemy import text

    cache = session.info.setdefault("grid_row_security", {})  # one command, one login
    if table.name not in cache:
        found = session.connection().execute(text("SELECT row_security_active(:t)"), {"t": table.name}).scalar()
        cache[table.name] = bool(found)
    return cache[table.name]


def executemany_rows(conn: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    """One INSERT compiled once and executed for all rows by the driver (Connection.exec_driver_sql),
    each column's bind processor applied here (UTCDateTime, JSON): the same values `insert(table)`
    would send, without SQLAlchemy's per-row parameter processing, which costs more than SQLite's
    own insert."""
    from sqlalchemy import insert

    cols = list(rows[0].keys())
    dialect = conn.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=cols)
    order = compiled.positiontup or []
    from sqlalchemy import LargeBinary

    procs = []
    for name in order:
        col = table.c[name]
        if dialect.name == "sqlite" and isinstance(col.type, LargeBinary):
            procs.append(None)  # sqlite3 binds bytes as a BLOB itself (ciphertexts, lookup hashes)
        else:
            procs.append(col.type._cached_bind_processor(dialect))
    if set(order) != set(cols):  # a column default the rows do not give: let SQLAlchemy fill it in
        conn.execute(insert(table), rows)
        return
    sql = str(compiled)
    # Column by column: a processor runs once per distinct value (a batch shares its timestamps,
    # and birth dates repeat), then zip() makes the rows.
    columns = [[r[c] for r in rows] for c in order]
    for i, proc in enumerate(procs):
        if proc is not None:
            columns[i] = _processed(proc, columns[i])
    conn.exec_driver_sql(sql, list(zip(*columns)))


def _processed(proc: Any, values: list[Any]) -> list[Any]:
    """proc(v) for each value but None, once per distinct value (unhashable ones each time)."""
    done: dict[Any, Any] = {}
    out = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        try:
            out.append(done[v])
        except KeyError:
            out.append(done.setdefault(v, proc(v)))
        except TypeError:  # a JSON list or dict
            out.append(proc(v))
    return out


def copy_rows(conn: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    """COPY ... FROM STDIN through psycopg 3, inside the connection's transaction."""
    from psycopg import sql

    cols = list(rows[0].keys())
    dbapi = conn.connection.dbapi_connection
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    )
    import json

    def cell(v: Any) -> Any:
        return json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v

    import psycopg

    try:
        with dbapi.cursor() as cur, cur.copy(stmt) as cp:
            for r in rows:
                cp.write_row([cell(r[c]) for c in cols])
    except psycopg.Error as exc:
        # The raw cursor bypasses SQLAlchemy: give its errors SQLAlchemy's shape (IntegrityError for a
        # key another terminal wrote first, OperationalError for a lost server), as every other
        # statement has, so the importer and the store name them instead of "internal error".
        from sqlalchemy.exc import DBAPIError

        raise DBAPIError.instance(stmt.as_string(dbapi), None, exc, psycopg.Error) from None


def update_rows(session: Session, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    """UPDATE ... WHERE key = :key for many rows (executemany), grouped by the columns they change."""
    if not rows:
        return
    from sqlalchemy import bindparam, update

    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        cols = tuple(sorted(c for c in r if c != key))
        groups.setdefault(cols, []).append({**{c: r[c] for c in cols}, "_key": r[key]})
    conn = session.connection()
    for cols, params in groups.items():
        if not cols:
            continue
        stmt = update(table).where(table.c[key] == bindparam("_key")).values({c: bindparam(c) for c in cols})
        conn.execute(stmt, params)


def allocate_ids(session: Session, table: Table, n: int) -> list[int]:
    """`n` fresh primary keys for `table`, so rows written by COPY/executemany can be referred to
    by their children at once: the id sequence on PostgreSQL, max(id)+1... on SQLite (the import
    holds the write lock)."""
    if n <= 0:
        return []
    from sqlalchemy import func, select, text

    conn = session.connection()
    if conn.dialect.name == "postgresql":
        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar()
        got = conn.execute(
            text("SELECT nextval(:s) FROM generate_series(1, :n)"), {"s": seq, "n": n}
        ).scalars()
        return list(got)
    start = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar() or 0
    return list(range(start + 1, start + 1 + n))


# ---------------------------------------------------------------- targets


class Target(abc.ABC):
    """What an import and export of one kind of record needs; subclasses fill it in."""

    entity = ""  # CLI noun, plural: areas
    record = ""  # audit entity: area
    what = ("记录", "record")  # for messages: 区域 / area
    columns: tuple[Column, ...] = ()
    # The header must name at least one of these groups of columns (how a row finds its record).
    key_fields: tuple[tuple[str, ...], ...] = ()
    # For a key namespace of `keys()` that is not a column itself: the column to blame, and a
    # message of its own for a repeat ({first}: the earlier row, {key}: the key).
    key_columns: dict[str, str] = {}
    key_messages: dict[str, Message] = {}
    personal = False  # exports of these records are audited

    def __init__(self) -> None:
        self.strategy = "create_and_update"
        self.now = timeutil.now()
        # The importer's memory of keys (see `keys`): first row of (namespace, key) in this file, or None.
        self.seen: Callable[[str, str], int | None] = lambda ns, key: None
        self.chunk_start = 0  # row number of the first row of the chunk being planned

    # -- import

    def begin(self, session: Session, op: Operator | None, strategy: str) -> None:
        """Once, before the first chunk: who may import at all, reference data to keep."""
        require_write(op)
        self.strategy = strategy
        self.now = timeutil.now()

    def keys(self, values: Mapping[str, str | None]) -> list[tuple[str, str]]:
        return []

    @abc.abstractmethod
    def plan(
        self, session: Session, op: Operator | None, rows: list[Row]
    ) -> list[Plan | Problem]:
        """Each subclass does this its own way."""

    @abc.abstractmethod
    def write(self, session: Session, op: Operator | None, plans: list[Plan]) -> None:
        """Each subclass does this its own way."""

    def finish(self, session: Session, op: Operator | None) -> None:
        """Once, after the last chunk was written (and before the audit entry)."""

    def label(self) -> str:
        zh, en = self.what
        return en if get_lang() == "en" else zh

    def decide(self, key: str, exists: bool) -> None:
        """The strategy: create only adds, update only changes what exists."""
        if exists and self.strategy == "create":
            raise Conflict(IMPORT_EXISTS, what=self.label(), key=key)
        if not exists and self.strategy == "update":
            raise NotFound(IMPORT_MISSING, what=self.label(), key=key)

    # -- export

    def export_columns(self) -> list[Column]:
        return list(self.columns)

    @abc.abstractmethod
    def export(
        self, session: Session, op: Operator | None, *, reveal: bool = False, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """Each subclass does this its own way."""


def check_options(strategy: str, atomic: str) -> tuple[str, str]:
    s = (strategy or "").strip().lower().replace("-", "_")
    if s not in STRATEGIES:
        raise UsageError(IMPORT_BAD_STRATEGY, value=strategy)
    a = (atomic or "").strip().lower()
    if a not in ATOMIC_MODES:
        raise UsageError(IMPORT_BAD_ATOMIC, value=atomic)
    return s, a


def batches(rows: Iterable[Any], n: int) -> Iterator[list[Any]]:
    """Rows in lists of `n` (an export looks up what a batch refers to with one query)."""
    batch: list[Any] = []
    for r in rows:
        batch.append(r)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def stream(session: Session, stmt: Any, batch: int = 2000) -> Iterator[Any]:
    """Rows of a SELECT, fetched `batch` at a time (a server-side cursor on PostgreSQL)."""
    result = session.connection().execution_options(stream_results=True, yield_per=batch).execute(stmt)
    yield from result


def _level_label(code: Any) -> str:
    from baiyin_cli.services.org import _label

    return _label(str(code)) if code else ""


class AreasTarget(Target):
    entity = "areas"
    record = "area"
    what = ("区域", "area")
    columns = (
        Column("code", "区域代码", "Area code", required=True, width=17),
        Column("name", "名称", "Name", required=True, width=24),
        Column("level", "级别", "Level", width=8, show=_level_label),
        Column("parent", "上级代码", "Parent code", width=17, aliases=("parent_code",)),
        Column("created_at", "创建时间", "Created", read_only=True, width=17),
    )
    key_fields = (("code",),)

    def begin(self, session: Session, op: Operator | None, strategy: str) -> None:
        super().begin(session, op, strategy)
        self.created: dict[str, str] = {}  # code -> level of areas this import adds (parents of later rows)

    def keys(self, values: Mapping[str, str | None]) -> list[tuple[str, str]]:
        code = (values.get("code") or "").strip()
        return [("code", code)] if code else []

    def plan(self, session: Session, op: Operator | None, rows: list[Row]) -> list[Plan | Problem]:
        from baiyin_cli.models import Area
        from baiyin_cli.models.org import LEVEL_CODE_LENGTH
        from baiyin_cli.services import org

        table = Area.__table__
        wanted: set[str] = set()
        for r in rows:
            code = (r.values.get("code") or "").strip()
            wanted.add(code)
            wanted.update(code[:n] for n in LEVEL_CODE_LENGTH.values() if n < len(code))
            if r.values.get("parent"):
                wanted.add((r.values["parent"] or "").strip())
        known = fetch(session, table, "code", wanted)
        levels = {c: a.level for c, a in known.items()}
        levels.update(self.created)
        out: list[Plan | Problem] = []
        for r in rows:
            code = (r.values.get("code") or "").strip()
            cur = known.get(code)
            try:
                self.decide(code, cur is not None)
                merged: dict[str, Any] = {}
                if cur is not None:
                    merged = {
                        "code": cur.code,
                        "name": cur.name,
                        "level": cur.level,
                        "parent": cur.parent_code,
                    }
                merged.update(r.values)
                p = org.prepare_area(None, merged, areas=levels)
                if cur is None:
                    org.require_manage_area(op, p["level"], p["parent_code"])
                    self.created[p["code"]] = levels[p["code"]] = p["level"]
                    out.append(Plan(r.row, "create", p["code"], {**p, "created_at": self.now}))
                    continue
                changes = {k: p[k] for k in ("name",) if p[k] != getattr(cur, k)}
                if changes:
                    org.require_manage_area(op, cur.level, cur.code if cur.level != "district" else None)
                out.append(Plan(r.row, "update" if changes else "ignore", code, p, cur, changes))
            except GridError as exc:
                out.append(problem(r.row, exc))
        return out

    def write(self, session: Session, op: Operator | None, plans: list[Plan]) -> None:
        from baiyin_cli.models import Area

        table = Area.__table__
        insert_rows(session, table, [p.values for p in plans if p.action == "create"])
        update_rows(
            session, table, "code", [{"code": p.key, **p.changes} for p in plans if p.action == "update"]
        )

    def export(
        self, session: Session, op: Operator | None, *, reveal: bool = False, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        from sqlalchemy import select

        from baiyin_cli.models import Area
        from baiyin_cli.services import org
        from baiyin_cli.services.access import scope_clause

        t = Area.__table__
        stmt = select(t).order_by(t.c.code)
        if filters.get("level"):
            stmt = stmt.where(t.c.level == org.level_of(filters["level"]).value)
        if filters.get("parent"):
            org.get_area(session, filters["parent"])
            stmt = stmt.where(t.c.parent_code == filters["parent"].strip())
        if filters.get("under"):
            org.get_area(session, filters["under"])
            stmt = stmt.where(scope_clause(t.c.code, filters["under"].strip()))
        for a in stream(session, stmt):
            yield {
                "code": a.code,
                "name": a.name,
                "level": a.level,
                "parent": a.parent_code,
                "created_at": a.created_at,
            }


class WorkersTarget(Target):
    entity = "workers"
    record = "worker"
    what = ("人员", "worker")
    columns = (
        Column("username", "用户名", "Username", required=True, width=16),
        Column("name", "姓名", "Name", required=True, width=10),
        Column("phone", "联系电话", "Phone", personal="phone", width=14),
        Column("role", "角色", "Role", required=True, width=14, show=choice_label("roles")),
        Column("kind", "网格员类型", "Kind", width=12, show=choice_label("worker_kinds")),
        Column("area", "所属区域", "Area", width=17, aliases=("area_code",)),
        Column("dept", "所属部门", "Department", width=12, aliases=("dept_code",)),
        Column(
            "active",
            "状态",
            "Active",
            width=8,
            show=lambda v: (
                ("在岗" if v else "停用") if get_lang() != "en" else ("active" if v else "inactive")
            ),
        ),
        Column("created_at", "创建时间", "Created", read_only=True, width=17),
    )
    key_fields = (("username",),)
    personal = True

    def begin(self, session: Session, op: Operator | None, strategy: str) -> None:
        from sqlalchemy import func, select

        from baiyin_cli.models import Department, Worker

        super().begin(session, op, strategy)
        self.depts = set(session.execute(select(Department.__table__.c.code)).scalars())
        w = Worker.__table__
        self.active_admins = (
            session.execute(
                select(func.count()).select_from(w).where(w.c.role == "admin", w.c.active.is_(True))
            ).scalar()
            or 0
        )
        self.op_username = op.username if op else None

    def keys(self, values: Mapping[str, str | None]) -> list[tuple[str, str]]:
        u = (values.get("username") or "").strip()
        return [("username", u)] if u else []

    def plan(self, session: Session, op: Operator | None, rows: list[Row]) -> list[Plan | Problem]:
        from baiyin_cli.models import Area, Worker
        from baiyin_cli.services import org, validate
        from baiyin_cli.services.access import role_label

        existing = fetch(
            session, Worker.__table__, "username", ((r.values.get("username") or "").strip() for r in rows)
        )
        area_codes = {(r.values.get("area") or "").strip() for r in rows}
        area_codes.update(w.area_code for w in existing.values() if w.area_code)
        levels = {c: a.level for c, a in fetch(session, Area.__table__, "code", area_codes).items()}
        out: list[Plan | Problem] = []
        for r in rows:
            username = (r.values.get("username") or "").strip()
            cur = existing.get(username)
            try:
                self.decide(username, cur is not None)
                current = None
                if cur is not None:
                    current = {
                        "username": cur.username,
                        "name": cur.name,
                        "phone": cur.phone,
                        "role": cur.role,
                        "kind": cur.kind,
                        "area": cur.area_code,
                        "dept": cur.dept_code,
                        "active": "true" if cur.active else "false",
                    }
                merged: dict[str, Any] = dict(current or {})
                merged.update(r.values)
                unmask(merged, current, self.columns)
                role = org.role_code(merged.get("role"))  # an unknown role is prepare_worker's to refuse
                if cur is not None and role is not None and role != cur.role:
                    raise Conflict(
                        WORKER_ROLE_FIXED,
                        username=username,
                        current=role_label(cur.role),
                        new=role_label(role),
                        field_key="role",
                    )
                f = validate.Fields()  # the active cell is named with the row's other bad cells
                p = f.check(None, org.prepare_worker, None, merged, areas=levels, depts=self.depts)
                active = f.check("active", parse_bool, merged.get("active"), "active")
                f.done()
                p["active"] = True if active is None else active
                if cur is None:
                    org.require_manage_worker(op, p["role"], p["area_code"])
                    out.append(
                        Plan(r.row, "create", username, {**p, "created_at": self.now, "updated_at": self.now})
                    )
                    continue
                changes = {
                    k: p[k]
                    for k in ("name", "phone", "kind", "area_code", "dept_code", "active")
                    if p[k] != getattr(cur, k)
                }
                if changes:
                    org.require_manage_worker(op, cur.role, cur.area_code)
                    if "area_code" in changes:
                        org.require_manage_worker(op, cur.role, p["area_code"])
                    if changes.get("active") is False:
                        if username == self.op_username:
                            raise InvalidInput(WORKER_DEACTIVATE_SELF, username=username, field_key="active")
                        if cur.role == "admin":
                            if self.active_admins <= 1:
                                raise Conflict(WORKER_DEACTIVATE_ADMIN, username=username, field_key="active")
                            self.active_admins -= 1
                    changes["updated_at"] = self.now
                out.append(Plan(r.row, "update" if changes else "ignore", username, p, cur, changes))
            except GridError as exc:
                out.append(problem(r.row, exc))
        return out

    def write(self, session: Session, op: Operator | None, plans: list[Plan]) -> None:
        from baiyin_cli.models import Worker

        table = Worker.__table__
        insert_rows(session, table, [p.values for p in plans if p.action == "create"])
        update_rows(
            session,
            table,
            "username",
            [{"username": p.key, **p.changes} for p in plans if p.action == "update"],
        )

    def export(
        self, session: Session, op: Operator | None, *, reveal: bool = False, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        from sqlalchemy import select

        from baiyin_cli.models import Worker
        from baiyin_cli.services import org
        from baiyin_cli.services.access import require, scope_clause

        w = Worker.__table__
        stmt = select(w).order_by(w.c.area_code, w.c.username)
        if filters.get("area"):
            org.get_area(session, filters["area"])
            stmt = stmt.where(scope_clause(w.c.area_code, filters["area"].strip()))
        if filters.get("role"):
            stmt = stmt.where(w.c.role == org._role_of(filters["role"]).value)
        if not filters.get("include_inactive"):
            stmt = stmt.where(w.c.active.is_(True))
        require(op)  # phones, even masked, leave the office only under someone's name (audited)
        for r in stream(session, stmt):
            # As `worker show --reveal`: admins see every phone, a secretary those of their community.
            clear = (
                reveal
                and op is not None
                and (
                    op.is_admin
                    or op.username == r.username
                    or (
                        op.role == "secretary"
                        and bool(r.area_code)
                        and r.area_code.startswith(op.area_code or "~")
                    )
                )
            )
            yield {
                "username": r.username,
                "name": r.name,
                "phone": r.phone if clear else mask("phone", r.phone),
                "role": r.role,
                "kind": r.kind,
                "area": r.area_code,
                "dept": r.dept_code,
                "active": r.active,
                "created_at": r.created_at,
            }


TARGETS: dict[str, str] = {
    "areas": "baiyin_cli.services.bulk:AreasTarget",
    "workers": "baiyin_cli.services.bulk:WorkersTarget",
    "households": "baiyin_cli.services.bulk_registry:HouseholdsTarget",
    "residents": "baiyin_cli.services.bulk_registry:ResidentsTarget",
    "visits": "baiyin_cli.services.bulk_activity:VisitsTarget",
    "petitions": "baiyin_cli.services.bulk_activity:PetitionsTarget",
}


def target(entity: str) -> Target:
    import importlib

    module, _, name = TARGETS[entity].partition(":")
    return getattr(importlib.import_module(module), name)()


# ---------------------------------------------------------------- rendering and audit


def render(value: Any, column: Column, fmt: str) -> Any:
    """A value as the format writes it: JSON Lines keeps codes and ISO times; CSV/XLSX show
    labels and local times as people type them."""
    if fmt == "jsonl":
        if isinstance(value, datetime):
            return timeutil.iso(value)
        if isinstance(value, date):
            return value.isoformat()
        return value
    if column.show is not None:
        return column.show(value)
    if isinstance(value, datetime):
        return timeutil.fmt(value, seconds=timeutil.ensure_utc(value).second != 0)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return value


def record_import(
    session: Session,
    op: Operator | None,
    t: Target,
    summary: Mapping[str, Any],
    *,
    occurred_at: datetime | None = None,
) -> None:
    """One audit entry for a whole import: who, which file, what came of it."""
    detail = {
        k: summary.get(k)
        for k in (
            "file",
            "format",
            "encoding",
            "sheet",
            "strategy",
            "atomic",
            "rows",
            "created",
            "updated",
            "ignored",
            "rejected",
        )
        if summary.get(k) is not None
    }
    audit.record(
        session,
        op,
        f"import.{t.entity}",
        t.record,
        str(summary.get("file") or "")[:64],
        detail=detail,
        occurred_at=occurred_at,
    )


def record_batch(
    session: Session,
    op: Operator | None,
    t: Target,
    *,
    file: str,
    batch: int,
    first_row: int,
    last_row: int,
    created: int,
    updated: int,
    ignored: int,
    rejected: int,
) -> None:
    """One audit entry per committed batch of an `--atomic object` import, in the batch's own
    transaction: after a crash the log says exactly which rows went in."""
    detail = {
        "file": file,
        "batch": batch,
        "first_row": first_row,
        "last_row": last_row,
        "created": created,
        "updated": updated,
        "ignored": ignored,
        "rejected": rejected,
    }
    audit.record(session, op, f"import.{t.entity}.batch", t.record, str(file or "")[:64], detail=detail)


def record_export(
    session: Session,
    op: Operator | None,
    t: Target,
    *,
    file: str,
    fmt: str,
    count: int,
    revealed: bool,
    filters: Mapping[str, Any],
) -> None:
    detail = {
        "file": file,
        "format": fmt,
        "rows": count,
        "revealed": revealed,
        "filters": {k: v for k, v in filters.items() if v not in (None, False, "")},
    }
    audit.record(session, op, f"export.{t.entity}", t.record, file[:64], detail=detail)
