"""Communities isolated by PostgreSQL itself: `grid db roles apply`, then plain SQL (psycopg, not
`grid`) as community A's database login can neither read nor change community B's rows."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg_errors

from tests.test_idnumber import make_id

A = ("--as", "admin")
C1, C2 = "620402001001", "620402001002"
G11, G21 = "620402001001001", "620402001002001"
ID_A = make_id("620402", date(1956, 3, 17), 123)
ID_B = make_id("620402", date(1961, 5, 20), 377)


def _conninfo(url_file: Path) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url_file.read_text().strip())
    return f"host={u.host} port={u.port or 5432} dbname={u.database} user={u.username} password={u.password}"


def _people(grid) -> dict[str, str]:  # type: ignore[no-untyped-def]
    ha = grid(*A, "household", "add", "--grid", G11, "--address", "人民路12号", "--json").json()
    grid(*A, "resident", "add", "--household", ha["code"], "--name", "张三", "--relation", "户主",
         "--id-number", ID_A, "--phone", "13912345678")
    hb = grid(*A, "household", "add", "--grid", G21, "--address", "兴华路8号", "--json").json()
    grid(*A, "resident", "add", "--household", hb["code"], "--name", "王五", "--relation", "户主",
         "--id-number", ID_B, "--phone", "13787654321")
    grid("--as", "sec1", "petition", "file", "--text", "楼道灯坏了", "--category", "help", "--channel", "qr",
         "--grid", G11, "--name", "张三", "--phone", "13912345678")
    grid("--as", "sec2", "petition", "file", "--text", "下水道堵了", "--category", "help", "--channel", "qr",
         "--grid", G21, "--name", "王五", "--phone", "13787654321")
    return {"a": ha["code"], "b": hb["code"]}


@pytest.fixture
def roles(grid, city, backend, tmp_path):  # type: ignore[no-untyped-def]
    if backend != "postgres":
        yield None
        return
    prefix = "t" + uuid.uuid4().hex[:12]
    out = tmp_path / "urls"
    r = grid(*A, "db", "roles", "apply", "--prefix", prefix, "--out", str(out), "--json").json()
    try:
        yield {"prefix": prefix, "out": out, "apply": r}
    finally:
        grid(*A, "db", "roles", "drop", "--prefix", prefix, "--yes")


def test_roles_need_postgres(grid, city, backend, roles):
    if backend == "sqlite":
        r = grid(*A, "db", "roles", "apply", expect=1)
        assert "PostgreSQL" in r.stderr
        return
    names = {x["role"]: x for x in roles["apply"]["roles"]}
    p = roles["prefix"]
    assert names[f"{p}_c{C1}"]["area"] == C1 and names[f"{p}_c{C2}"]["area"] == C2
    assert names[f"{p}_d_sifa"]["dept"] == "sifa" and names[f"{p}_admin"]["kind"] == "admin"
    url_file = Path(names[f"{p}_c{C1}"]["url_file"])
    assert oct(url_file.stat().st_mode & 0o777) == "0o600"
    # Idempotent; only admins may run it.
    again = grid(*A, "db", "roles", "apply", "--prefix", p, "--json").json()
    assert again["created"] == []
    grid("--as", "sec1", "db", "roles", "apply", "--prefix", p, expect=4)
    grid(*A, "db", "roles", "apply", "--prefix", "Bad-Prefix", expect=1)
    # Regression (absurd-values walk): a --host-url that is no URL was an internal error.
    for bad in ("no-such-value", "sqlite:///x.db", "长长长"):
        r = grid(*A, "db", "roles", "apply", "--prefix", p, "--host-url", bad, expect=1)
        assert "--host-url" in r.stderr and r.stderr.count("\n") == 1
    r = grid(*A, "db", "roles", "apply", "--prefix", p, "--host-url", "postgresql+psycopg://db.example:5432/grid",
             "--json").json()
    assert r["created"] == []


def test_community_a_cannot_read_or_change_community_b_in_plain_sql(grid, city, backend, roles, db_url):
    if backend == "sqlite":
        return
    hh = _people(grid)
    p = roles["prefix"]
    from sqlalchemy import create_engine, text

    owner = create_engine(db_url)
    with owner.connect() as c:
        b_id = c.execute(text("SELECT id FROM household WHERE grid_code = :g"), {"g": G21}).scalar()
    owner.dispose()
    with psycopg.connect(_conninfo(roles["out"] / f"{p}_c{C1}.url"), autocommit=True) as conn:
        cur = conn.cursor()
        assert cur.execute("SELECT current_user").fetchone()[0] == f"{p}_c{C1}"
        # Reads: only A's registry, visits and petitions.
        grids = {g for (g,) in cur.execute("SELECT grid_code FROM household")}
        assert grids == {G11}
        names = {n for (n,) in cur.execute("SELECT name FROM resident")}
        assert names == {"张三"}
        assert cur.execute(
            "SELECT count(*) FROM resident r JOIN household h ON h.id = r.household_id WHERE h.grid_code = %s", (G21,)
        ).fetchone()[0] == 0
        communities = {c for (c,) in cur.execute("SELECT community_code FROM petition")}
        assert communities == {C1}
        assert cur.execute("SELECT count(*) FROM petition_reporter").fetchone()[0] == 1
        # Credentials and sessions of B's people are out of sight too.
        users = {u for (u,) in cur.execute("SELECT username FROM auth_session")}
        assert users and users <= {"sec1", "wg11", "wg12"}
        # Writes to B's rows change nothing ...
        cur.execute("UPDATE resident SET name = 'x' WHERE name = '王五'")
        assert cur.rowcount == 0
        cur.execute("DELETE FROM household WHERE grid_code = %s", (G21,))
        assert cur.rowcount == 0
        cur.execute("UPDATE petition SET text = 'x' WHERE community_code = %s", (C2,))
        assert cur.rowcount == 0
        # ... and rows cannot be put into B, nor A's rows moved there.
        with pytest.raises(pg_errors.InsufficientPrivilege):
            cur.execute(
                "INSERT INTO household (code, grid_code, address, address_norm, type, created_at, updated_at, version) "
                "VALUES ('x-1', %s, 'x', 'x', 'urban', now(), now(), 1)", (G21,)
            )
        with pytest.raises(pg_errors.InsufficientPrivilege):
            cur.execute("UPDATE household SET grid_code = %s WHERE grid_code = %s", (G21, G11))
        with pytest.raises(pg_errors.InsufficientPrivilege):
            cur.execute(
                "INSERT INTO resident (household_id, name, name_pinyin, name_initials, relation, created_at, updated_at, version) "
                "VALUES (%s, 'y', 'y', 'y', '10', now(), now(), 1)", (b_id,)
            )
        # The audit log cannot be rewritten from a terminal either.
        with pytest.raises(pg_errors.InsufficientPrivilege):
            cur.execute("DELETE FROM audit_entry")
    # B is untouched, seen by the owner.
    b = grid(*A, "household", "show", hh["b"], "--json").json()
    assert b["grid"] == G21


def test_a_terminal_runs_grid_through_its_own_role(grid, city, backend, roles):
    """`grid` itself works under a community's role, and the database holds it to that community."""
    if backend == "sqlite":
        return
    _people(grid)
    p = roles["prefix"]
    url = (roles["out"] / f"{p}_c{C1}.url").read_text().strip()
    rows = grid("--db", url, "--as", "sec1", "household", "list", "--json").json()
    assert {r["grid"] for r in rows} == {G11}
    grid("--db", url, "--as", "sec1", "household", "add", "--grid", G11, "--address", "人民路14号")
    assert len(grid("--db", url, "--as", "sec1", "petition", "list", "--json").json()) == 1
    # Even an admin's session on this terminal sees only community A: the database decides.
    rows = grid("--db", url, "--as", "admin", "household", "list", "--json", expect=None)
    assert rows.exit_code == 4 or {r["grid"] for r in rows.json()} <= {G11}
    # sec2 has no session here: this terminal's login may not even open one for B's people.
    grid("--db", url, "--as", "sec2", "household", "list", expect=4)
    # The audit chain stays whole while terminals append to it.
    assert grid(*A, "audit", "verify", "--json").json()["ok"]


def test_a_community_login_imports_though_it_may_not_analyze(grid, city, backend, roles, tmp_path, monkeypatch):
    """An import ANALYZEs the tables it grows (services/bulk.refresh_statistics); a community's
    login does not own them, PostgreSQL only warns, and the import goes in through that login."""
    if backend == "sqlite":
        return
    import csv

    from baiyin_cli.services import bulk

    monkeypatch.setattr(bulk, "ANALYZE_MIN_ROWS", 1)
    path = tmp_path / "hh.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows([["网格", "地址"]] + [[G11, f"建设街{i}号"] for i in range(6)])
    url = (roles["out"] / f"{roles['prefix']}_c{C1}.url").read_text().strip()
    r = grid("--db", url, "--as", "sec1", "import", "households", str(path), "--batch-size", "2", "--json")
    assert r.json()["created"] == 6 and "WARNING" not in r.stderr


def test_a_department_login_sees_the_petitions_escalated_to_it(grid, city, backend, roles):
    if backend == "sqlite":
        return
    _people(grid)
    p = roles["prefix"]
    number = grid("--as", "sec2", "petition", "list", "--json").json()[0]["number"]
    grid("--as", "sec2", "petition", "assign", number, "--to", "wg21")
    grid("--as", "wg21", "petition", "contact", number, "--how", "phone", "--outcome", "已联系")
    grid("--as", "sec2", "petition", "escalate", number, "--dept", "sifa", "--reason", "需要调解")
    with psycopg.connect(_conninfo(roles["out"] / f"{p}_d_sifa.url"), autocommit=True) as conn:
        cur = conn.cursor()
        assert [n for (n,) in cur.execute("SELECT number FROM petition")] == [number]
        assert cur.execute("SELECT count(*) FROM resident").fetchone()[0] == 0
        assert cur.execute("SELECT count(*) FROM household").fetchone()[0] == 0
    with psycopg.connect(_conninfo(roles["out"] / f"{p}_d_zhujian.url"), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM petition").fetchone()[0] == 0


def test_every_table_has_a_declared_policy():
    """A new table must be classified in services/dbroles.TABLES before terminals may touch it."""
    from sqlmodel import SQLModel

    import baiyin_cli.models  # noqa: F401
    from baiyin_cli.services import dbroles

    assert set(SQLModel.metadata.tables) | {"alembic_version"} == set(dbroles.TABLES)
