"""Crash trials: kill -9 a running `grid` at a random moment, then prove the database whole.

Used by tests/reliability/test_crash.py (100 k rows, 50 moments) and by the quick suite
(a small file, a few moments). A trial runs on a clone of a baseline database (a copy of
the SQLite file, or a PostgreSQL database created from the baseline as template), so every
kill starts from the same state.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.reliability.common import ROOT, load

NOW = "2026-11-30 10:00"  # a fixed clock: two complete imports leave identical databases


def write_households(path: Path, n: int) -> list[list[str]]:
    """N households spread over the four grids of the load city: code, grid, address, note."""
    grids = list(load.GRIDS)
    rows = []
    for i in range(1, n + 1):
        g = grids[i % len(grids)]
        rows.append([f"{g}-{i:06d}", g, f"幸福路{i}号", f"第{i}户"])
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["code", "grid", "address", "note"])
        w.writerows(rows)
    return rows


class Clones:
    """Fresh copies of a baseline database, one per trial."""

    def __init__(self, url: str, backend: str, workdir: Path) -> None:
        from baiyin_cli import store

        self.url, self.backend, self.workdir = url, backend, workdir
        self.made: list[str] = []
        store.dispose_all()  # no connection may stay open on a template / a file being copied

    def make(self) -> str:
        from baiyin_cli import store

        store.dispose_all()
        if self.backend == "sqlite":
            src = store.sqlite_path(self.url)
            dst = self.workdir / f"trial-{uuid.uuid4().hex[:8]}.db"
            shutil.copy(src, dst)
            self.made.append(f"sqlite:///{dst}")
            return self.made[-1]
        from sqlalchemy.engine import make_url

        from tests.conftest import _pg_admin_engine, _pg_url

        template = make_url(self.url).database
        name = f"grid_crash_{uuid.uuid4().hex[:10]}"
        eng = _pg_admin_engine()
        with eng.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        eng.dispose()
        self.made.append(_pg_url(name))
        return self.made[-1]

    def drop(self, url: str) -> None:
        from baiyin_cli import store

        store.dispose_all()
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(str(store.sqlite_path(url)) + suffix).unlink(missing_ok=True)
            return
        from sqlalchemy.engine import make_url

        from tests.conftest import _pg_admin_engine, _pg_drop

        eng = _pg_admin_engine()
        with eng.connect() as c:
            _pg_drop(c, make_url(url).database)
        eng.dispose()


@contextmanager
def clones(url: str, backend: str, workdir: Path) -> Iterator[Clones]:
    c = Clones(url, backend, workdir)
    try:
        yield c
    finally:
        for made in c.made:
            try:
                c.drop(made)
            except Exception:  # noqa: BLE001 - best effort cleanup
                pass


def session_token_for_user(url: str, username: str) -> str:
    """A login session for `username` (as the test harness issues them); "" on a grid without logins."""
    from tests.conftest import session_token_for

    return session_token_for(["--as", username, "--db", url], {"GRID_NOW": NOW}) or ""


def admin_token(url: str) -> str:
    return session_token_for_user(url, "admin")


def grid_env(token: str) -> dict[str, str]:
    env = {**os.environ, "GRID_NOW": NOW, "GRID_LANG": "en", "PYTHONPATH": str(ROOT)}
    if token:
        env["GRID_TOKEN"] = token
    return env


def start(url: str, token: str, *argv: str, user: str = "admin") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "baiyin_cli", "--as", user, "--db", url, *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=grid_env(token), cwd=str(ROOT),
    )


def run(url: str, token: str, *argv: str, user: str = "admin", timeout: float = 1800) -> tuple[int, str, str]:
    p = start(url, token, *argv, user=user)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def kill_after(p: subprocess.Popen[str], seconds: float) -> bool:
    """SIGKILL `p` after `seconds` (True), unless it finished first (False)."""
    try:
        p.wait(timeout=seconds)
        p.communicate()
        return False
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()
        return True


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    r = fn()
    return r, time.perf_counter() - t


# ---------------------------------------------------------------- what must hold after a kill


def db_check(url: str) -> dict[str, Any]:
    """`grid db check --json` must pass."""
    from tests.conftest import invoke

    r = invoke("--db", url, "db", "check", "--json", expect=None)
    assert r.exit_code == 0, repr(r)
    return r.json()


def chain_ok(url: str) -> None:
    from baiyin_cli import store
    from baiyin_cli.services import audit
    from baiyin_cli.services.access import load_operator

    with store.session(url=url) as s:
        v = audit.verify(s, load_operator(s, "admin"))
    assert v["ok"], v


def household_codes(url: str) -> dict[str, tuple[str, str | None]]:
    """Imported households (not the city's own): code -> (address, note)."""
    from sqlalchemy import select

    from baiyin_cli import store
    from baiyin_cli.models import Household

    with store.session(url=url) as s:
        return {c: (a, n) for c, a, n in s.execute(select(Household.code, Household.address, Household.note))
                if len(c.rsplit("-", 1)[-1]) == 6}


def batch_entries(url: str, file_name: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from baiyin_cli import store
    from baiyin_cli.models import AuditEntry

    with store.session(url=url) as s:
        rows = s.execute(
            select(AuditEntry.detail).where(AuditEntry.action == "import.households.batch").order_by(AuditEntry.id)
        ).scalars()
        return [d for d in rows if (d or {}).get("file") == file_name]


def check_object_import(url: str, rows: list[list[str]], file_name: str) -> int:
    """After a kill of `--atomic object`: exactly the committed batches are in, and the audit log
    says which. Returns how many batches were committed."""
    entries = batch_entries(url, file_name)
    last_row = 1  # the header
    for i, e in enumerate(entries, start=1):
        assert e["batch"] == i and e["first_row"] == last_row + 1, entries
        assert e["rejected"] == 0 and e["created"] == e["last_row"] - e["first_row"] + 1, e
        last_row = e["last_row"]
    committed = rows[: last_row - 1]
    got = household_codes(url)
    assert len(got) == len(committed), (len(got), len(committed))
    want = {code: (address, note) for code, _grid, address, note in committed}
    assert got == want
    return len(entries)


def households_report(out: str) -> dict[str, Any]:
    return json.loads(out)
