"""Communities isolated by PostgreSQL itself: one login role per terminal, row-level security.

`grid` checks scope in services/access.py, but a terminal holds a database login, and anyone
who copies that login out of the terminal can type SQL. So on PostgreSQL the database enforces
the same lines: a community terminal's role reads and writes only its community's households,
residents, visits and petitions; a department's role only the petitions escalated to it; the
admin role the whole city. Everything else (schema, migrations, `grid db roles apply`) is done
by the owner of the tables, who is not subject to these policies and never sits at a terminal.

How it is built (idempotent: run it again after adding communities or departments):

  {prefix}_terminal   NOLOGIN group: the table privileges every terminal needs
  {prefix}_admin      LOGIN, member of the group, kind "admin"  (sees the whole city)
  {prefix}_c<code>    LOGIN, member of the group, one per community   (area_code = <code>)
  {prefix}_d_<dept>   LOGIN, member of the group, one per department  (dept_code = <dept>)

`grid_db_role` maps each role to its scope; the SQL functions `grid_rls_area()` and
`grid_rls_dept()` read it for `current_user` once per statement (wrapped in a sub-select so
the planner evaluates them once, then uses the area-code B-tree ranges as usual). Area codes
extend their parent's, so "inside C" is `code >= C AND code < C || ':'`; the admin's scope
is '' (every code). A role not in the table gets NULL: no personal rows at all.

What each table allows (TABLES below; a test checks every table of the models is listed):
  scoped     RLS on: rows inside the role's scope (children through their parent's policy)
  readable   SELECT for every terminal (the org chart, numbering, schema version); writes
             only where the table is `shared`
  audit      SELECT of entries by the role's own people and of the newest entry (to chain the
             next one); INSERT only; UPDATE/DELETE refused by the append-only triggers anyway
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import InvalidInput, NotPermitted
from baiyin_cli.i18n import M
from baiyin_cli.services.access import Operator, require_role

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

NEEDS_POSTGRES = M(
    "dbroles.needs_postgres",
    "数据库角色与行级安全只适用于 PostgreSQL；SQLite 数据库只在一台终端上使用，请保护好文件与密钥",
    "Database roles and row-level security need PostgreSQL; a SQLite database serves one terminal: protect the file and the key",
)
NOT_OWNER = M(
    "dbroles.not_owner",
    "当前数据库登录 {user} 不是表的所有者或无权创建角色：请用所有者（运行 grid db migrate 的登录）执行",
    "The database login {user} does not own the tables or may not create roles: run this as the owner (the login that runs grid db migrate)",
)
BAD_PREFIX = M(
    "dbroles.bad_prefix",
    "角色前缀只能是小写字母、数字和下划线，以字母开头，最长 20 个字符：{prefix}",
    "A role prefix is lower-case letters, digits and underscores, starting with a letter, at most 20 characters: {prefix}",
)

BAD_HOST_URL = M(
    "dbroles.bad_host_url",
    "--host-url 不是 PostgreSQL 连接地址：{value}（例如 postgresql+psycopg://db.example:5432/grid）",
    "--host-url is not a PostgreSQL connection URL: {value} (for example postgresql+psycopg://db.example:5432/grid)",
)
CONFIRM_DROP = M(
    "dbroles.confirm_drop",
    "将删除前缀 {prefix} 的全部终端角色，各终端将无法连接：确认请加 --yes",
    "This drops every terminal role of prefix {prefix} and the terminals can no longer connect: add --yes to confirm",
)

PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
CODE_RE = re.compile(r"^[0-9]{1,15}$")
DEPT_RE = re.compile(r"^[A-Za-z0-9_]{1,32}$")

# SQL for "column inside the role's area scope" and "the role's department".
_AREA = "(SELECT grid_rls_area())"
_DEPT = "(SELECT grid_rls_dept())"


def _in_area(col: str) -> str:
    return f"({col} >= {_AREA} AND {col} < {_AREA} || ':')"


def _parent(table: str, fk: str, key: str = "id") -> str:
    # The parent's own policy applies inside the sub-select: a child row is visible when its parent is.
    # `fk` is qualified by the caller's table: unqualified, it could bind to the parent's column.
    return f"EXISTS (SELECT 1 FROM {table} p WHERE p.{key} = {fk})"


_WORKER_IN_SCOPE = (
    "EXISTS (SELECT 1 FROM worker w WHERE w.username = {col} AND ("
    + _in_area("w.area_code")
    + f" OR w.dept_code = {_DEPT} OR {_AREA} = ''))"
)

# table -> (kind, policy expression or None). kind: scoped | read | shared | audit
TABLES: dict[str, tuple[str, str | None]] = {
    # the population registry
    "household": ("scoped", _in_area("grid_code")),
    "household_address_key": ("scoped", _parent("household", "household_address_key.household_id")),
    "household_care": ("scoped", _parent("household", "household_care.household_id")),
    "household_event": ("scoped", _parent("household", "household_event.household_id")),
    "resident": ("scoped", _parent("household", "resident.household_id")),
    "resident_care": ("scoped", _parent("resident", "resident_care.resident_id")),
    # rounds
    "visit": ("scoped", _in_area("grid_code")),
    "visit_day": ("scoped", _in_area("grid_code")),
    # petitions: the community's own, and for a department those escalated to it
    "petition": ("scoped", f"({_in_area('community_code')} OR dept_code = {_DEPT})"),
    "petition_event": ("scoped", _parent("petition", "petition_event.petition_id")),
    "petition_reporter": ("scoped", _parent("petition", "petition_reporter.petition_id")),
    # who may act: credentials and sessions of the role's own people only
    "operator_credential": ("scoped", _WORKER_IN_SCOPE.format(col="operator_credential.username")),
    "auth_session": ("scoped", _WORKER_IN_SCOPE.format(col="auth_session.username")),
    # the org chart: read by all (it is on every community's notice board); written in scope
    "area": ("scoped_write", _in_area("code")),
    "worker": ("scoped_write", f"({_in_area('area_code')} OR dept_code = {_DEPT} OR {_AREA} = '')"),
    "department": ("read", None),
    # numbering is city-wide and holds nothing personal
    "petition_sequence": ("shared", None),
    "audit_entry": ("audit", None),
    "grid_meta": ("read", None),
    "grid_db_role": ("read", None),
    "alembic_version": ("read", None),
}


def check_prefix(prefix: str) -> str:
    if not PREFIX_RE.match(prefix):
        raise InvalidInput(BAD_PREFIX, prefix=prefix)
    return prefix


def community_role(prefix: str, code: str) -> str:
    return f"{prefix}_c{code}"


def dept_role(prefix: str, code: str) -> str:
    return f"{prefix}_d_{code.lower()}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _functions(conn: Connection) -> None:
    from sqlalchemy import text

    conn.execute(text(
        "CREATE OR REPLACE FUNCTION grid_rls_area() RETURNS text LANGUAGE sql STABLE AS $$ "
        "SELECT CASE WHEN kind = 'admin' THEN '' ELSE area_code END FROM grid_db_role "
        "WHERE role_name = current_user $$"
    ))
    conn.execute(text(
        "CREATE OR REPLACE FUNCTION grid_rls_dept() RETURNS text LANGUAGE sql STABLE AS $$ "
        "SELECT dept_code FROM grid_db_role WHERE role_name = current_user $$"
    ))
    # The newest audit entry's id, seen past RLS (the owner's rights): every terminal must chain
    # its next entry to the true end of the log, not to the last entry it may read.
    conn.execute(text(
        "CREATE OR REPLACE FUNCTION grid_audit_last_id() RETURNS bigint LANGUAGE sql STABLE "
        "SECURITY DEFINER SET search_path = pg_catalog, public AS $$ SELECT max(id) FROM public.audit_entry $$"
    ))


def _policies(conn: Connection, group: str) -> None:
    from sqlalchemy import text

    for table, (kind, expr) in TABLES.items():
        t = _q(table)
        conn.execute(text(f"REVOKE ALL ON {t} FROM {_q(group)}"))
        if kind in ("scoped", "scoped_write"):
            conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {_q(group)}"))
            conn.execute(text(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY"))
            for name in ("grid_read", "grid_insert", "grid_update", "grid_delete", "grid_all"):
                conn.execute(text(f"DROP POLICY IF EXISTS {name} ON {t}"))
            if kind == "scoped":
                conn.execute(text(f"CREATE POLICY grid_all ON {t} TO {_q(group)} USING ({expr}) WITH CHECK ({expr})"))
            else:
                conn.execute(text(f"CREATE POLICY grid_read ON {t} FOR SELECT TO {_q(group)} USING (true)"))
                conn.execute(text(f"CREATE POLICY grid_insert ON {t} FOR INSERT TO {_q(group)} WITH CHECK ({expr})"))
                conn.execute(text(
                    f"CREATE POLICY grid_update ON {t} FOR UPDATE TO {_q(group)} USING ({expr}) WITH CHECK ({expr})"
                ))
                conn.execute(text(f"CREATE POLICY grid_delete ON {t} FOR DELETE TO {_q(group)} USING ({expr})"))
        elif kind == "read":
            conn.execute(text(f"GRANT SELECT ON {t} TO {_q(group)}"))
        elif kind == "shared":
            conn.execute(text(f"GRANT SELECT, INSERT, UPDATE ON {t} TO {_q(group)}"))
        elif kind == "audit":
            conn.execute(text(f"GRANT SELECT, INSERT ON {t} TO {_q(group)}"))
            conn.execute(text(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY"))
            for name in ("grid_read", "grid_insert"):
                conn.execute(text(f"DROP POLICY IF EXISTS {name} ON {t}"))
            own = _WORKER_IN_SCOPE.format(col="audit_entry.actor")
            conn.execute(text(
                f"CREATE POLICY grid_read ON {t} FOR SELECT TO {_q(group)} "
                f"USING ({_AREA} = '' OR {own} OR id = (SELECT grid_audit_last_id()))"
            ))
            conn.execute(text(f"CREATE POLICY grid_insert ON {t} FOR INSERT TO {_q(group)} WITH CHECK (true)"))
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {_q(group)}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {_q(group)}"))
    conn.execute(text(f"GRANT EXECUTE ON FUNCTION grid_rls_area(), grid_rls_dept(), grid_audit_last_id() TO {_q(group)}"))


def _role_exists(conn: Connection, name: str) -> bool:
    from sqlalchemy import text

    return conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).scalar() is not None


def _ensure_role(conn: Connection, name: str, *, login: bool, password: str | None) -> bool:
    """Create the role if missing; set its password if one is given. True when created."""
    from sqlalchemy import text

    created = False
    if not _role_exists(conn, name):
        conn.execute(text(f"CREATE ROLE {_q(name)} {'LOGIN' if login else 'NOLOGIN'} NOBYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE"))
        created = True
    if password is not None:
        conn.execute(text(f"ALTER ROLE {_q(name)} PASSWORD {_lit(password)}"))
    return created


def _check_owner(conn: Connection) -> None:
    from sqlalchemy import text

    row = conn.execute(text(
        "SELECT current_user, (SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'resident'), "
        "(SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user)"
    )).one()
    user, owner, can_create = row
    if user != owner and not _is_super(conn):
        raise NotPermitted(NOT_OWNER, user=user)
    if not can_create:
        raise NotPermitted(NOT_OWNER, user=user)


def _is_super(conn: Connection) -> bool:
    from sqlalchemy import text

    return bool(conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar())


def plan(conn: Connection, prefix: str) -> list[dict[str, Any]]:
    """The roles this database should have: admin, one per community, one per department."""
    from sqlalchemy import text

    roles: list[dict[str, Any]] = [{"role": f"{prefix}_admin", "kind": "admin", "area": None, "dept": None}]
    for (code,) in conn.execute(text("SELECT code FROM area WHERE level = 'community' ORDER BY code")):
        if CODE_RE.match(code):
            roles.append({"role": community_role(prefix, code), "kind": "community", "area": code, "dept": None})
    for (code,) in conn.execute(text("SELECT code FROM department WHERE active ORDER BY code")):
        if DEPT_RE.match(code):
            roles.append({"role": dept_role(prefix, code), "kind": "department", "area": None, "dept": code})
    return roles


def _host_url(value: str):  # type: ignore[no-untyped-def]
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value.strip())
    except (ArgumentError, ValueError):
        raise InvalidInput(BAD_HOST_URL, value=value[:80]) from None
    if not url.drivername.startswith("postgresql") or not url.host:
        raise InvalidInput(BAD_HOST_URL, value=value[:80])
    return url


def apply(
    session: Session,
    op: Operator | None,
    *,
    prefix: str = "grid",
    out_dir: Path | None = None,
    reset_passwords: bool = False,
    host_url: str | None = None,
) -> dict[str, Any]:
    """Create or update the roles, their scopes and the policies. Idempotent.

    With `out_dir`, each role created now (or every role, with `reset_passwords`) gets a random
    password, and `<out_dir>/<role>.url` (mode 0600) holds the connection URL for that terminal.
    Without it, new roles have no password: give them one (or certificate auth) yourself.
    """
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    require_role(op, "admin")
    given = _host_url(host_url) if host_url else None  # refused before any role is touched
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        raise InvalidInput(NEEDS_POSTGRES)
    check_prefix(prefix)
    _check_owner(conn)
    group = f"{prefix}_terminal"
    _ensure_role(conn, group, login=False, password=None)
    _functions(conn)
    _policies(conn, group)
    base = given or make_url(conn.engine.url.render_as_string(hide_password=False))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    created: list[str] = []
    urls: dict[str, str] = {}
    now = timeutil.now()
    wanted = plan(conn, prefix)
    for r in wanted:
        name = r["role"]
        password = None
        is_new = not _role_exists(conn, name)
        if out_dir is not None and (is_new or reset_passwords):
            password = secrets.token_urlsafe(24)
        if _ensure_role(conn, name, login=True, password=password):
            created.append(name)
        conn.execute(text(f"GRANT {_q(group)} TO {_q(name)}"))
        conn.execute(text("DELETE FROM grid_db_role WHERE role_name = :n"), {"n": name})
        conn.execute(
            text("INSERT INTO grid_db_role (role_name, kind, area_code, dept_code, created_at) VALUES (:n, :k, :a, :d, :t)"),
            {"n": name, "k": r["kind"], "a": r["area"], "d": r["dept"], "t": now},
        )
        if password is not None and out_dir is not None:
            url = base.set(username=name, password=password).render_as_string(hide_password=False)
            path = out_dir / f"{name}.url"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(url + "\n")
            urls[name] = str(path)
    from baiyin_cli.services import audit

    audit.record(session, op, "db.roles_apply", "database", prefix, detail={"roles": len(wanted), "created": created})
    return {"prefix": prefix, "roles": [r | {"url_file": urls.get(r["role"])} for r in wanted], "created": created}


def drop(session: Session, op: Operator | None, *, prefix: str) -> dict[str, Any]:
    """Remove the roles of `prefix` from this database (and the cluster, when nothing else holds them)."""
    from sqlalchemy import text

    from baiyin_cli.services import audit

    require_role(op, "admin")
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        raise InvalidInput(NEEDS_POSTGRES)
    check_prefix(prefix)
    _check_owner(conn)
    names = [n for (n,) in conn.execute(
        text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p ESCAPE '\\' ORDER BY rolname"),
        {"p": prefix.replace("_", "\\_") + "\\_%"},
    )]
    names = [n for n in names if n == f"{prefix}_terminal" or n == f"{prefix}_admin"
             or n.startswith(f"{prefix}_c") or n.startswith(f"{prefix}_d_")]
    dropped: list[str] = []
    for n in sorted(names, key=lambda x: x == f"{prefix}_terminal"):
        conn.execute(text(f"DROP OWNED BY {_q(n)}"))
        conn.execute(text("DELETE FROM grid_db_role WHERE role_name = :n"), {"n": n})
        conn.execute(text(f"DROP ROLE {_q(n)}"))
        dropped.append(n)
    audit.record(session, op, "db.roles_drop", "database", prefix, detail={"dropped": dropped})
    return {"prefix": prefix, "dropped": dropped}
