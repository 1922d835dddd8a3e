"""Crashes (issue 11): kill -9 `grid import` of 100 k rows and `grid petition resolve` at random
moments; restart the PostgreSQL server under an import. After every trial `grid db check`
passes, the audit chain verifies, and the data is whole:

- `--atomic all`: the database is exactly as before the import, or exactly as after a
  complete one (table fingerprints);
- `--atomic object`: exactly the batches the audit log lists as committed are in, each row as
  the file has it; running the same command again completes the import;
- a transition: the petition is exactly as before, or exactly one step further.

GRID_CRASH_ROWS (100000), GRID_CRASH_TRIALS (50 on SQLite, GRID_CRASH_TRIALS_PG 10 on
PostgreSQL) and GRID_KILL_TRIALS (20 transitions) size the runs; GRID_SEED the moments.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time

import pytest

from tests.importing import snapshot
from tests.reliability import crashing as cr
from tests.reliability.common import load, report

pytestmark = pytest.mark.reliability

ROWS = int(os.environ.get("GRID_CRASH_ROWS", "100000"))
SEED = int(os.environ.get("GRID_SEED", "1"))


def trials_for(backend: str) -> int:
    if backend == "postgres":
        return int(os.environ.get("GRID_CRASH_TRIALS_PG", "10"))
    return int(os.environ.get("GRID_CRASH_TRIALS", "50"))


def import_kill_trials(db_url: str, backend: str, tmp_path, *, rows: int, trials: int, seed: int) -> dict:
    """The import trials, shared with the quick suite; returns the tally (asserting as it goes)."""
    load.build_city(db_url)
    big = tmp_path / "households-big.csv"
    data = cr.write_households(big, rows)
    token = cr.admin_token(db_url)
    rng = random.Random(seed)
    tally = {"trials": 0, "killed": 0, "unchanged": 0, "complete": 0, "partial_batches": [], "reruns": 0}
    with cr.clones(db_url, backend, tmp_path) as clones:
        base = snapshot(db_url)
        ref = clones.make()
        (code, out, err), took = cr.timed(lambda: cr.run(ref, token, "import", "households", str(big), "--json"))
        assert code == 0, err
        full = snapshot(ref)
        clones.drop(ref)
        rerun_done = {"all": False, "object": False}
        for i in range(trials):
            atomic = ("all", "object")[i % 2]
            url = clones.make()
            p = cr.start(url, token, "import", "households", str(big), "--atomic", atomic, "--json")
            killed = cr.kill_after(p, rng.uniform(0, took * 1.1))
            tally["trials"] += 1
            tally["killed"] += killed
            cr.db_check(url)
            cr.chain_ok(url)
            if atomic == "all":
                now = snapshot(url)
                assert now in (base, full), f"trial {i}: neither unchanged nor complete"
                tally["unchanged" if now == base else "complete"] += 1
            else:
                batches = cr.check_object_import(url, data, big.name)
                tally["partial_batches"].append(batches)
            if killed and not rerun_done[atomic]:
                code, out, err = cr.run(url, token, "import", "households", str(big), "--atomic", atomic, "--json")
                assert code == 0, err
                r = cr.households_report(out)
                assert r["created"] + r["ignored"] == rows and r["rejected"] == 0, r
                assert len(cr.household_codes(url)) == rows
                cr.db_check(url)
                cr.chain_ok(url)
                rerun_done[atomic] = True
                tally["reruns"] += 1
            clones.drop(url)
    tally["seconds_full_import"] = round(took, 1)
    return tally


def test_kill_an_import_at_random_moments(db_url, backend, tmp_path):
    trials = trials_for(backend)
    t = import_kill_trials(db_url, backend, tmp_path, rows=ROWS, trials=trials, seed=SEED)
    batches = t["partial_batches"]
    report(f"crash-import-{backend}", (
        f"### kill -9 of `grid import households` ({ROWS} rows), {backend}\n\n"
        f"{t['trials']} trials, {t['killed']} killed mid-import (the rest had finished), all survived: "
        f"`--atomic all` {t['unchanged']} unchanged / {t['complete']} complete; `--atomic object` committed "
        f"batches per kill {sorted(batches)}; {t['reruns']} reruns completed. A full import took "
        f"{t['seconds_full_import']} s.\n"
    ))
    assert t["trials"] == trials and t["killed"] > 0


def test_kill_a_transition_at_random_moments(db_url, backend, tmp_path, monkeypatch):
    from baiyin_cli import store
    from baiyin_cli.services import petitions
    from baiyin_cli.services.access import load_operator

    monkeypatch.setenv("GRID_NOW", cr.NOW)
    load.build_city(db_url)
    with store.session(write=True, url=db_url) as s:
        p = petitions.file_petition(s, load_operator(s, "sec1"), text="楼道灯坏了", category="help", channel="qr",
                                    grid="620402001001001")
        petitions.apply(s, load_operator(s, "sec1"), p["number"], "assign", to="wg11")
        petitions.apply(s, load_operator(s, "wg11"), p["number"], "contact", how="phone", outcome="已回电")
    number = p["number"]
    token = cr.session_token_for_user(db_url, "wg11")
    trials = int(os.environ.get("GRID_KILL_TRIALS", "20"))
    rng = random.Random(SEED)
    outcome = {"before": 0, "after": 0, "killed": 0}
    argv = ("petition", "resolve", number, "--result", "已修好", "--json")
    with cr.clones(db_url, backend, tmp_path) as clones:
        ref = clones.make()
        (code, _out, err), took = cr.timed(lambda: cr.run(ref, token, *argv, user="wg11"))
        assert code == 0, err
        clones.drop(ref)
        for _ in range(trials):
            url = clones.make()
            proc = cr.start(url, token, *argv, user="wg11")
            outcome["killed"] += cr.kill_after(proc, rng.uniform(0, took * 1.1))
            cr.db_check(url)
            cr.chain_ok(url)
            with store.session(url=url) as s:
                d = petitions.show_petition(s, load_operator(s, "admin"), number)
            steps = [h["event"] for h in d["history"]]
            if d["status"] == "contacted":
                assert (d["version"], steps) == (3, ["file", "assign", "contact"]), d
                outcome["before"] += 1
            else:
                assert d["status"] == "resolved" and (d["version"], steps) == (4, ["file", "assign", "contact", "resolve"]), d
                outcome["after"] += 1
            clones.drop(url)
    report(f"crash-transition-{backend}", (
        f"### kill -9 of `grid petition resolve`, {backend}\n\n{trials} trials, {outcome['killed']} killed while "
        f"running: {outcome['before']} left the petition as it was, {outcome['after']} exactly one step further.\n"
    ))


# ---------------------------------------------------------------- PostgreSQL restarted under an import


def _pg_restart() -> None:
    versions = sorted(os.listdir("/etc/postgresql"))
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "restart"], check=True,
                   capture_output=True, timeout=120)
    for _ in range(60):
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode == 0:
            return
        time.sleep(1)
    raise AssertionError("PostgreSQL did not come back")


def _in_transaction(url: str) -> bool:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from tests.conftest import _pg_admin_engine

    eng = _pg_admin_engine()
    try:
        with eng.connect() as c:
            return bool(c.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND xact_start IS NOT NULL "
                "AND now() - xact_start > interval '3 seconds'"), {"db": make_url(url).database}).scalar())
    finally:
        eng.dispose()


@pytest.mark.parametrize("atomic", ["object", "all"])
def test_postgres_restarted_during_an_import(db_url, backend, tmp_path, atomic):
    """The shared server is restarted once per mode, no more: the import fails with one clear
    line and exit 1, nothing is half-written, and the same command run again completes."""
    if backend != "postgres":
        pytest.skip("a server restart concerns PostgreSQL")
    if not (shutil.which("pg_ctlcluster") and os.path.isdir("/etc/postgresql")):
        pytest.skip("no local PostgreSQL cluster to restart")
    from tests.importing import snapshot as snap

    load.build_city(db_url)
    rows = min(ROWS, 30000)
    big = tmp_path / "households-restart.csv"
    data = cr.write_households(big, rows)
    token = cr.admin_token(db_url)
    from baiyin_cli import store

    store.dispose_all()
    before = snap(db_url)
    p = cr.start(db_url, token, "import", "households", str(big), "--atomic", atomic, "--batch-size", "500")
    deadline = time.monotonic() + 600
    if atomic == "object":
        while not cr.batch_entries(db_url, big.name) and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.2)  # restart once some batches are committed
        store.dispose_all()
    else:
        while not _in_transaction(db_url) and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.2)  # restart once the import's transaction has been writing for a while
    assert p.poll() is None, "the import finished before the restart: use more rows"
    _pg_restart()
    out, err = p.communicate(timeout=900)
    lines = [ln for ln in err.splitlines() if ln.startswith("grid: ")]
    assert p.returncode == 1, (p.returncode, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "connection" in lines[0].lower() or "database" in lines[0].lower(), lines
    store.dispose_all()
    cr.db_check(db_url)
    cr.chain_ok(db_url)
    if atomic == "all":
        assert snap(db_url) == before
    else:
        cr.check_object_import(db_url, data, big.name)
        assert "committed" in lines[0], lines
    code, out, err = cr.run(db_url, token, "import", "households", str(big), "--atomic", atomic, "--json")
    assert code == 0, err
    assert len(cr.household_codes(db_url)) == rows
    cr.db_check(db_url)
    cr.chain_ok(db_url)
    report(f"crash-pg-restart-{atomic}", (
        f"### PostgreSQL restarted under `grid import households --atomic {atomic}` ({rows} rows)\n\n"
        f"exit {p.returncode}: `{lines[0]}`; the rerun completed ({len(data)} rows in).\n"
    ))
