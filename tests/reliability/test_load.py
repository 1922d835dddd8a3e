"""Many terminals at once (issue 11): N processes act as community terminals for a minute,
on SQLite (WAL, busy timeout, BEGIN IMMEDIATE writers) and on PostgreSQL; the database must
agree with every terminal's ledger afterwards (see benchmarks/load.py for what is checked).

GRID_LOAD_PROCESSES (default 8) and GRID_LOAD_SECONDS (default 60) size the run.
"""

from __future__ import annotations

import os

import pytest

from tests.reliability.common import assert_agrees, load, load_run

pytestmark = pytest.mark.reliability

PROCESSES = int(os.environ.get("GRID_LOAD_PROCESSES", "8"))
SECONDS = float(os.environ.get("GRID_LOAD_SECONDS", "60"))


def test_many_terminals_lose_nothing(db_url, backend):
    r = load_run(db_url, backend, processes=PROCESSES, seconds=SECONDS, cli_share=0.1, name=f"load-{backend}")
    assert_agrees(r)
    ok = [e for ledger in r["ledgers"] for e in ledger if e["outcome"] == "ok"]
    # The run did real work (how much depends on the machine: the figures say), some of it
    # through the real `grid` command, and the histories it checked went beyond the filing.
    assert any(e["kind"] == "file" for e in ok) and any(e["kind"] in load.SOURCES for e in ok), ok
    assert any(e["path"] == "cli" for ledger in r["ledgers"] for e in ledger)
    assert r["checked"]["history_steps"] > r["checked"]["petitions"]
