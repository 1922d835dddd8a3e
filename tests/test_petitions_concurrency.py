"""Two terminals at once: no lost update, no duplicate number (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import run_subprocess

G1 = "620402001001001"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clock(env_dirs, monkeypatch):
    monkeypatch.setenv("GRID_NOW", "2026-09-30 09:00")


def _file(grid) -> str:
    r = grid(
        "--as",
        "sec1",
        "petition",
        "file",
        "--text",
        "楼道灯坏了",
        "--category",
        "help",
        "--channel",
        "qr",
        "--grid",
        G1,
    )
    return r.stdout.strip()


def _contacted(grid) -> str:
    n = _file(grid)
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg11")
    grid("--as", "wg11", "petition", "contact", n, "--how", "phone", "--outcome", "已回电")
    return n


def _history(grid, n: str) -> list[str]:
    return [h["event"] for h in grid("--as", "admin", "petition", "show", n, "--json").json()["history"]]


def _at_once(*commands: tuple[str, ...]) -> list:
    """Run each command as its own `grid` process, all started together."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda argv: run_subprocess(*argv, expect=None), commands))


@pytest.mark.parametrize("pin_version", [True, False], ids=["if-version", "plain"])
def test_two_terminals_on_one_petition_one_wins(grid, city, pin_version):
    n = _contacted(grid)
    version = grid("--as", "admin", "petition", "show", n, "--json").json()["version"]
    pin = ("--if-version", str(version)) if pin_version else ()
    results = _at_once(
        ("--as", "wg11", "petition", "resolve", n, "--result", "已修好", *pin),
        ("--as", "sec1", "petition", "reject", n, "--reason", "不属于受理范围", *pin),
    )
    assert sorted(r.exit_code for r in results) == [0, 5], results
    loser = next(r for r in results if r.exit_code == 5)
    assert len([ln for ln in loser.stderr.splitlines() if ln.startswith("grid: ")]) == 1
    assert "Traceback" not in loser.stderr
    history = _history(grid, n)
    assert history[:3] == ["file", "assign", "contact"] and len(history) == 4
    assert history[3] in ("resolve", "reject")
    p = grid("--as", "admin", "petition", "show", n, "--json").json()
    assert p["version"] == version + 1
    assert p["status"] == ("resolved" if history[3] == "resolve" else "rejected")


def test_a_stale_terminal_is_told_who_changed_it(grid, city):
    n = _contacted(grid)
    version = grid("--as", "admin", "petition", "show", n, "--json").json()["version"]
    grid("--as", "wg11", "petition", "start", n, "--if-version", str(version))
    r = run_subprocess(
        "--as", "sec1", "petition", "assign", n, "--to", "wg12", "--if-version", str(version), expect=5
    )
    assert "wg11" in r.stderr and "2026-09-30 09:00" in r.stderr and f"版本 {version + 1}" in r.stderr
    assert grid("--as", "admin", "petition", "show", n, "--json").json()["assignee"] == "wg11"


def test_the_version_check_catches_a_writer_that_slipped_in_between(grid, city, backend):
    """Two sessions read the same row; the second to write must fail, not overwrite (PostgreSQL).

    On SQLite a writing transaction holds the database lock from its first statement
    (BEGIN IMMEDIATE), so the second terminal cannot read before the first commits: the
    stale case there is the --if-version one (above).
    """
    if backend != "postgres":
        pytest.skip("SQLite serialises writing transactions; covered by --if-version")
    from sqlmodel import Session

    from baiyin_cli import store
    from baiyin_cli.errors import Conflict
    from baiyin_cli.services import petitions
    from baiyin_cli.services.access import load_operator

    n = _contacted(grid)
    eng = store.engine()
    with Session(eng) as first, Session(eng) as second:
        a_op, b_op = load_operator(first, "wg11"), load_operator(second, "sec1")
        seen_first = petitions.get_petition(first, n)
        seen_second = petitions.get_petition(second, n)  # both have read version 3
        assert seen_first.version == seen_second.version == 3
        petitions.apply(first, a_op, n, "resolve", result="已修好")
        first.commit()
        with pytest.raises(Conflict) as caught:
            # the second session still works from what it read: version 3, contacted
            assert petitions.get_petition(second, n) is seen_second and seen_second.status == "contacted"
            petitions.apply(second, b_op, n, "reject", reason="不属于受理范围")
        assert caught.value.key == "petition.changed" and caught.value.args_["who"] == "wg11"
        second.rollback()
    assert _history(grid, n) == ["file", "assign", "contact", "resolve"]


WORKER = """
import sys
from tests.conftest import invoke
for i in range(int(sys.argv[1])):
    invoke("--as", "sec1", "petition", "file", "--text", f"并发受理 {sys.argv[2]}-{i}", "--category", "help",
           "--channel", "hotline_12345", "--grid", "620402001001001")
"""


def test_numbers_stay_unique_when_terminals_file_at_once(grid, city):
    processes, each = 6, 5
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(each), str(k)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(processes)
    ]
    for p in procs:
        _out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    rows = grid("--as", "admin", "petition", "list", "--status", "all", "--limit", "1000", "--json").json()
    numbers = sorted(r["number"] for r in rows)
    total = processes * each
    assert numbers == [f"BY-20260930-{i:04d}" for i in range(1, total + 1)]
    assert len({r["text"] for r in rows}) == total
    assert _file(grid) == f"BY-20260930-{total + 1:04d}"
