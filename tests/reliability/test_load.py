"""Many terminals at once (issue 11): N processes act as community terminals for a minute,
on SQLite (WAL, busy timeout, BEGIN IMMEDIATE writers) and on PostgreSQL; the database must
agree with every terminal's ledger afterwards (see benchmarks/load.py for what is checked).

GRID_LOAD_PROCESSES (default 8) and GRID_LOAD_SECONDS (default 60) size the run.
"""

from __future__ import annotations

import os

import pytest

from tests.reliability.common import assert_agrees, load_run

pytestmark = pytest.mark.reliability

PROCESSES = int(os.environ.get("GRID_LOAD_PROCESSES", "8"))
SECONDS = float(os.environ.get("GRID_LOAD_SECONDS", "60"))


def test_many_terminals_lose_nothing(db_url, backend):
    r = load_run(db_url, backend, processes=PROCESSES, seconds=SECONDS, cli_share=0.1, name=f"load-{backend}")
    assert_agrees(r)
    done = {(e["kind"], e["path"]) for ledger in r["ledgers"] for e in ledger if e["outcome"] == "ok"}
    kinds = {k for k, _p in done}
    # The run did real work of every main kind, and some of it through the real `grid` command.
    assert {"file", "assign", "contact", "resolve", "visit", "import"} <= kinds, sorted(done)
    assert any(p == "cli" for _k, p in done), sorted(done)
    assert r["checked"]["petitions"] > 0 and r["checked"]["history_steps"] > r["checked"]["petitions"]
