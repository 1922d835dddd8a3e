"""Test harness: every test drives the real `grid` entry point against a real database.

`db_url` is a fresh, migrated database per test, on SQLite (a file) and on PostgreSQL
(a database cloned from a migrated template, so tests and xdist workers never share
rows). Locally the PostgreSQL half skips when no server answers; with CI=true it fails.

`grid("area", "list", "--json", expect=0)` runs the command through typer's CliRunner
and checks the exit code, that stderr holds no traceback, and hands back the result;
`.json()` parses stdout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_ADMIN_URL = os.environ.get("GRID_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _test_keyset() -> str:
    """One fixed key set for every test database (templates are copied, so they share it): the
    data, lookup and audit keys grid would otherwise keep in a key file next to each database.
    Tests of key files themselves unset GRID_KEY."""
    import base64
    import hashlib

    k = lambda label: base64.b64encode(hashlib.sha256(b"grid tests " + label).digest()).decode()  # noqa: E731
    return json.dumps({"format": "grid-key/1", "current": "t1", "data_keys": {"t1": k(b"data")},
                       "lookup_key": k(b"lookup"), "audit_key": k(b"audit")})


TEST_KEY = _test_keyset()
os.environ["GRID_KEY"] = TEST_KEY


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", action="append", default=None, help="sqlite and/or postgres (default both)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--backend") or ["sqlite", "postgres"]
        params = [pytest.param(b, marks=pytest.mark.postgres) if b == "postgres" else b for b in chosen]
        metafunc.parametrize("backend", params, scope="session")


# ---------------------------------------------------------------- PostgreSQL


def _pg_admin_engine():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _pg_available() -> str | None:
    try:
        eng = _pg_admin_engine()
        with eng.connect() as c:
            c.exec_driver_sql("SELECT 1")
        eng.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return str(exc).splitlines()[0]


def _pg_url(dbname: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN_URL).set(database=dbname).render_as_string(hide_password=False)


def _pg_drop(admin: Any, name: str) -> None:
    admin.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    problem = _pg_available()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL must answer in CI: {problem}")
        pytest.skip(f"no PostgreSQL server: {problem}")
    from sqlalchemy import create_engine

    from baiyin_cli import migrations

    name = f"grid_tpl_{uuid.uuid4().hex[:10]}"
    admin_eng = _pg_admin_engine()
    with admin_eng.connect() as admin:
        admin.exec_driver_sql(f'CREATE DATABASE "{name}"')
    from baiyin_cli import store
    from baiyin_cli.services import system

    system.init(_pg_url(name))
    store.dispose_all()
    yield name
    with admin_eng.connect() as admin:
        _pg_drop(admin, name)
    admin_eng.dispose()


# ---------------------------------------------------------------- SQLite


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from baiyin_cli import store
    from baiyin_cli.services import system

    path = tmp_path_factory.mktemp("tpl") / "template.db"
    system.init(f"sqlite:///{path}")
    store.dispose_all()
    return path


# ---------------------------------------------------------------- per test


@pytest.fixture
def env_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolated config/data/state dirs and a clean environment for grid."""
    home = tmp_path / "home"
    home.mkdir()
    for var in ("GRID_USER", "GRID_LANG", "GRID_DATABASE_URL", "GRID_NOW", "GRID_DEBUG", "GRID_TZ", "GRID_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GRID_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("GRID_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("GRID_STATE_DIR", str(home / "state"))
    from baiyin_cli import config

    config.load(reload=True)
    return home


@pytest.fixture
def db_url(request: pytest.FixtureRequest, backend: str, env_dirs: Path, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the current schema, with the admin operator (as `grid init` makes it)."""
    from baiyin_cli import store

    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "grid.db"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
    else:
        template = request.getfixturevalue("pg_template")
        name = f"grid_t_{uuid.uuid4().hex[:12]}"
        admin_eng = _pg_admin_engine()
        with admin_eng.connect() as admin:
            admin.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        url = _pg_url(name)
    os.environ["GRID_DATABASE_URL"] = url
    try:
        yield url
    finally:
        store.dispose_all()
        os.environ.pop("GRID_DATABASE_URL", None)
        if backend == "postgres":
            with admin_eng.connect() as admin:
                _pg_drop(admin, name)
            admin_eng.dispose()


class Result:
    def __init__(self, exit_code: int, stdout: str, stderr: str, args: list[str]) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.args = args

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return f"<grid {' '.join(self.args)} -> {self.exit_code}>\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def check_result(res: Result, expect: int | None) -> Result:
    assert "Traceback" not in res.stderr, repr(res)
    if expect is not None:
        assert res.exit_code == expect, repr(res)
    if res.exit_code not in (0, 2) and expect is not None:
        lines = [ln for ln in res.stderr.strip().splitlines() if ln.startswith("grid: ")]
        assert len(lines) == 1, f"expected one error line: {res!r}"
    return res


def listed_choices(stderr: str) -> list[str]:
    """The codes a refusal lists after 可选：/one of: ("code 中文名、…" or "code (Label), …"), in order."""
    import re

    m = re.search(r"(?:可选：|one of: )(.*)[）)]$", stderr.strip())
    assert m, f"no list of choices in {stderr!r}"
    parts = m.group(1).split("、" if "可选：" in stderr else ", ")
    return [p.split(" ")[0] for p in parts]


def _option(argv: list[str], name: str) -> str | None:
    for i, a in enumerate(argv):
        if a == "--":
            break
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def session_token_for(argv: list[str], env: dict[str, str] | None = None) -> str | None:
    """A live session token for the operator a test names with `--as U` (or GRID_USER).

    `--as` alone no longer proves anything to `grid`: a command needs a session. Tests name
    the operator they act as; this issues that operator a session directly through the auth
    service (no PIN: what is under test is the command, not the login) and the caller passes
    it in GRID_TOKEN. A test that sets GRID_TOKEN itself (even to "") gets none, which is how
    tests of authentication run commands without a session. Nothing is audited.
    """
    env = env or {}
    if "GRID_TOKEN" in env or os.environ.get("GRID_TOKEN"):
        return None
    user = _option(argv, "--as") or env.get("GRID_USER") or os.environ.get("GRID_USER")
    url = _option(argv, "--db") or env.get("GRID_DATABASE_URL") or os.environ.get("GRID_DATABASE_URL")
    if not user or not url:
        return None
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # GRID_NOW, config...: the session starts at the command's "now"
    try:
        from sqlmodel import select

        from baiyin_cli import store
        from baiyin_cli.models import Worker
        from baiyin_cli.services import auth

        with store.session(write=True, url=store.to_url(url)) as s:
            if s.exec(select(Worker.id).where(Worker.username == user)).first() is None:
                return None
            token, _row = auth.issue_token(s, user)
        return token
    except Exception:  # noqa: BLE001 - no database yet, wrong schema...: the command says so itself
        return None
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def invoke(*args: str, expect: int | None = 0, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    from typer.testing import CliRunner

    from baiyin_cli.cli.main import make_app

    argv = [str(a) for a in args]
    runner = CliRunner()
    env = dict(env or {})
    saved = {k: os.environ.get(k) for k in (*env, "GRID_TOKEN")}
    os.environ.update(env)
    try:
        token = session_token_for(argv, env)
        if token:
            os.environ["GRID_TOKEN"] = token
        app = make_app(argv)
        r = runner.invoke(app, argv, input=input, catch_exceptions=False, prog_name="grid")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return check_result(Result(r.exit_code, r.stdout, r.stderr, argv), expect)


def run_subprocess(
    *args: str, expect: int | None = 0, input: str | None = None, env: dict[str, str] | None = None
) -> Result:
    argv = [str(a) for a in args]
    full_env = {**os.environ, **(env or {})}
    token = session_token_for(argv, env)
    if token:
        full_env["GRID_TOKEN"] = token
    p = subprocess.run(
        [sys.executable, "-m", "baiyin_cli", *argv],
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )
    return check_result(Result(p.returncode, p.stdout, p.stderr, argv), expect)


@pytest.fixture
def grid(db_url: str):  # type: ignore[no-untyped-def]
    """Run `grid ARGS` in-process against the test database; see `invoke`."""
    return invoke


@pytest.fixture
def grid_proc(db_url: str):  # type: ignore[no-untyped-def]
    """Run `grid ARGS` as a real subprocess against the test database."""
    return run_subprocess


@pytest.fixture
def city(grid):  # type: ignore[no-untyped-def]
    """A small city: one district, street, two communities with two grids each, people, departments."""
    a = ("--as", "admin")
    grid(*a, "area", "add", "620402", "白银区", "--level", "district")
    grid(*a, "area", "add", "620402001", "人民路街道", "--level", "street")
    grid(*a, "area", "add", "620402001001", "新华社区", "--level", "community")
    grid(*a, "area", "add", "620402001002", "兴华社区", "--level", "community")
    for c in ("620402001001", "620402001002"):
        for g in ("001", "002"):
            grid(*a, "area", "add", c + g, f"网格{c[-1]}{g[-1]}", "--level", "grid")
    grid(*a, "dept", "add", "sifa", "司法所")
    grid(*a, "dept", "add", "zhujian", "住建局")
    grid(*a, "worker", "add", "--username", "sec1", "--name", "李书记", "--phone", "13800000001",
         "--role", "secretary", "--area", "620402001001")
    grid(*a, "worker", "add", "--username", "sec2", "--name", "王书记", "--phone", "13800000002",
         "--role", "secretary", "--area", "620402001002")
    grid(*a, "worker", "add", "--username", "wg11", "--name", "张网格", "--phone", "13800000011",
         "--role", "grid_worker", "--area", "620402001001001")
    grid(*a, "worker", "add", "--username", "wg12", "--name", "赵网格", "--phone", "13800000012",
         "--role", "grid_worker", "--kind", "red", "--area", "620402001001002")
    grid(*a, "worker", "add", "--username", "wg21", "--name", "孙网格", "--phone", "13800000021",
         "--role", "grid_worker", "--area", "620402001002001")
    grid(*a, "worker", "add", "--username", "dsifa", "--name", "周司法", "--phone", "13800000031",
         "--role", "department", "--dept", "sifa")
    grid(*a, "worker", "add", "--username", "view", "--name", "督查", "--role", "viewer")
    return {
        "district": "620402",
        "street": "620402001",
        "communities": ["620402001001", "620402001002"],
        "grids": ["620402001001001", "620402001001002", "620402001002001", "620402001002002"],
    }
