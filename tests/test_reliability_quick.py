"""The quick versions of the reliability suites (tests/reliability, scripts/reliability), small
enough for every run of the normal suite: a few terminals for a few seconds, a few kills, a few
hundred fuzzed files, and every command of the tree with absurd values."""

from __future__ import annotations

import pytest

from tests.reliability.common import assert_agrees, load_run


def test_a_few_terminals_lose_nothing(db_url, backend):
    r = load_run(db_url, backend, processes=2, seconds=3, cli_share=0.0)
    assert_agrees(r)
    assert r["checked"]["petitions"] > 0


def test_a_killed_import_leaves_nothing_or_whole_batches(db_url, backend, tmp_path):
    from tests.reliability.test_crash import import_kill_trials

    t = import_kill_trials(db_url, backend, tmp_path, rows=3000, trials=2, seed=7)
    assert t["trials"] == 2
