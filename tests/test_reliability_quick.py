"""The quick versions of the reliability suites (tests/reliability, scripts/reliability), small
enough for every run of the normal suite: a few terminals for a few seconds, a few kills, a few
hundred fuzzed files, and every command of the tree with absurd values."""

from __future__ import annotations

import csv

import pytest

from tests.reliability.common import assert_agrees, load_run


def test_a_few_terminals_lose_nothing(db_url, backend):
    r = load_run(db_url, backend, processes=2, seconds=2, cli_share=0.0)
    assert_agrees(r)
    assert r["checked"]["petitions"] > 0


def test_a_killed_import_leaves_nothing_or_whole_batches(db_url, backend, tmp_path):
    if backend == "postgres":
        pytest.skip("a power cut mid-import is the single office's (SQLite) risk; tests/reliability kills both")
    from tests.reliability.test_crash import import_kill_trials

    t = import_kill_trials(db_url, backend, tmp_path, rows=3000, trials=2, seed=7)
    assert t["trials"] == 2



def test_a_copy_that_clashes_is_a_named_conflict_not_an_internal_error(grid, backend, tmp_path, monkeypatch):
    """Regression: COPY (imports of 50+ rows on PostgreSQL) runs on the raw psycopg cursor, so a key
    another terminal wrote between this import's check and its write escaped as psycopg's
    UniqueViolation, and `grid import` said "internal error" (exit 1) instead of naming the clash
    (exit 5, nothing written). The race is staged by hiding the existing rows from the check."""
    if backend != "postgres":
        pytest.skip("COPY is PostgreSQL's bulk path")
    from baiyin_cli.services import bulk

    rows = [["code", "name", "level", "parent"], ["620403", "平川区", "district", ""],
            ["620403001", "长征街道", "street", "620403"], ["620403001001", "电厂社区", "community", "620403001"]]
    rows += [[f"620403001001{i:03d}", f"网格{i}", "grid", "620403001001"] for i in range(1, 58)]
    path = tmp_path / "areas.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    grid("--as", "admin", "import", "areas", str(path))
    before = grid("--as", "admin", "audit", "list", "--limit", "1000", "--json").json()
    monkeypatch.setattr(bulk, "fetch", lambda *a, **k: {})  # the other terminal's rows are not seen
    r = grid("--as", "admin", "--lang", "en", "import", "areas", str(path), expect=5)
    assert "clashed with a change from another terminal" in r.stderr, r
    monkeypatch.undo()
    assert grid("--as", "admin", "audit", "list", "--limit", "1000", "--json").json() == before


@pytest.mark.parametrize("entity", ["areas", "workers", "households", "residents", "visits", "petitions"])
def test_importers_survive_a_few_hundred_bad_files(db_url, backend, entity, tmp_path):
    if backend == "postgres":
        pytest.skip("the parsers are backend-independent; tests/reliability fuzzes PostgreSQL too")
    from tests.reliability.common import load
    from tests.reliability.test_fuzz import fuzz_importer

    load.build_city(db_url)
    seen = fuzz_importer(db_url, entity, "csv", 20, tmp_path)
    seen += fuzz_importer(db_url, entity, "jsonl", 10, tmp_path)
    assert sum(seen.values()) >= 15


def test_free_text_survives_a_few_hundred_bad_strings(db_url, backend):
    if backend == "postgres":
        pytest.skip("one backend is enough for the quick version")
    from tests.reliability import fuzzing as fz
    from tests.reliability.common import load
    from tests.reliability.test_fuzz import fuzz_text

    load.build_city(db_url)
    for field in fz.free_text_fields():
        seen = fuzz_text(db_url, field, 10)
        assert seen["accepted"] + seen["refused"] > 0


def test_a_missing_required_cell_names_its_column(grid, tmp_path):
    """Regression (found by the importer fuzzing): a row whose required text cell was missing or
    empty (validate.text's "name is required") was rejected with its row but no column."""
    path = tmp_path / "areas.jsonl"
    path.write_text('{"code": "620402"}\n', encoding="utf-8")
    r = grid("--as", "admin", "--lang", "en", "import", "areas", str(path), "--json", expect=1)
    errors = r.json()["errors"]
    assert [(e["row"], e["field"], e["column"]) for e in errors] == [(1, "name", "Name")], errors


@pytest.mark.parametrize("entity,line", [
    ("petitions", '{"text": "楼道灯坏了"}'),
    ("visits", '{"worker": "wg11", "started_at": "2026-11-01 09:00", "minutes": "30"}'),
])
def test_a_missing_choice_names_its_column(grid, city, tmp_path, entity, line):
    """Regression (found by the importer fuzzing): a row without a category/channel (petitions) or
    a kind (visits) was rejected naming its row but not its column."""
    path = tmp_path / f"{entity}.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    r = grid("--as", "admin", "--lang", "en", "import", entity, str(path), "--json", expect=1)
    errors = r.json()["errors"]
    assert errors and all(e["row"] == 1 and e["column"] for e in errors), errors


@pytest.mark.parametrize("argv", [
    ("petition", "list", "--limit", "99999999999999999999"),
    ("petition", "list", "--offset", "99999999999999999999"),
])
def test_a_number_too_big_for_the_database_is_one_line(grid, argv):
    """Regression (found by the absurd-values suite): a --limit beyond SQLite's INTEGER reached the
    driver, which raised OverflowError: 'internal error'. Now exit 1 saying the value is out of range."""
    r = grid("--as", "admin", "--lang", "en", *argv, expect=None)
    assert r.exit_code in (0, 1), r
    if r.exit_code == 1:
        assert "out of the range the database can store" in r.stderr, r


def test_a_backup_into_a_missing_folder_is_one_line(grid, backend, tmp_path):
    """Regression (absurd-values suite): `grid db backup /no/such/dir/x.db` said 'internal error'."""
    if backend != "sqlite":
        pytest.skip("grid db backup is for SQLite (PostgreSQL: pg_dump)")
    r = grid("--lang", "en", "db", "backup", str(tmp_path / "no" / "such" / "dir" / "x.db"), expect=1)
    assert "Cannot write the backup" in r.stderr


def test_every_command_survives_absurd_values_sampled(db_url, backend, tmp_path):
    """The quick version of tests/reliability/test_absurd.py: every 20th generated case (all
    commands are still walked, so a new command shows up in the count)."""
    if backend == "postgres":
        pytest.skip("one backend is enough for the quick version")
    from tests.reliability.test_absurd import run_cases

    problems, exits, total = run_cases(db_url, tmp_path, every=20)
    assert total > 500
    assert not problems, "\n".join(problems[:20])


def test_a_deadlock_victim_is_told_it_clashed_not_that_the_database_is_gone(grid, city, backend):
    """Regression: PostgreSQL aborts one of two transactions that wait on each other (a merge holds
    the audit chain's lock and waits for the merged petition's row, which another terminal holds
    while it waits for the chain). The victim was told 'Cannot connect to the database ...:
    deadlock detected' (exit 1); now it is a named conflict (exit 5) and nothing of it is written."""
    if backend != "postgres":
        pytest.skip("SQLite writers never hold locks while waiting for others (BEGIN IMMEDIATE)")
    import threading
    import time

    from sqlalchemy import text

    from baiyin_cli import store
    from baiyin_cli.errors import Conflict
    from baiyin_cli.services import audit, petitions
    from baiyin_cli.services.access import load_operator

    filed = [grid("--as", "sec1", "petition", "file", "--text", t, "--category", "help", "--channel", "qr",
                  "--grid", "620402001001001").stdout.strip() for t in ("楼道灯坏了", "楼道的灯坏了")]
    merged, survivor = filed
    errors: dict[str, BaseException] = {}
    holding = threading.Event()

    def terminal_x() -> None:  # holds the merged petition's row, then wants the audit chain
        try:
            with store.session(write=True) as s:
                s.execute(text("SELECT id FROM petition WHERE number = :n FOR UPDATE"), {"n": merged})
                holding.set()
                time.sleep(2)
                audit.record(s, load_operator(s, "sec1"), "petition.reveal", "petition", merged)
        except BaseException as exc:  # noqa: BLE001
            errors["x"] = exc

    def terminal_m() -> None:  # the merge: the survivor's row and the chain, then the merged row
        holding.wait(30)
        try:
            with store.session(write=True) as s:
                petitions.apply(s, load_operator(s, "sec1"), merged, "merge", into=survivor)
        except BaseException as exc:  # noqa: BLE001
            errors["m"] = exc

    threads = [threading.Thread(target=terminal_x), threading.Thread(target=terminal_m)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(errors) == 1, errors
    (victim,) = errors.values()
    assert isinstance(victim, Conflict) and victim.key == "db.write_conflict", repr(victim)
    shown = grid("--as", "sec1", "petition", "show", merged, "--json").json()
    assert shown["status"] == ("duplicate" if "x" in errors else "submitted")


def test_a_failed_rollback_does_not_hide_what_went_wrong(db_url, monkeypatch):
    """Regression (PostgreSQL restarted under `grid import --atomic object`): the rollback on the
    dead connection raised too, and its 'cannot connect' replaced the import's own message saying
    which batches were committed and to run the command again."""
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session

    from baiyin_cli import store
    from baiyin_cli.errors import InvalidInput
    from baiyin_cli.io.pipeline import IMPORT_CUT

    def lost(self):  # type: ignore[no-untyped-def]
        raise OperationalError("ROLLBACK", None, Exception("the connection is lost"))

    monkeypatch.setattr(Session, "rollback", lost)
    with pytest.raises(InvalidInput) as caught, store.session(write=True):
        raise InvalidInput(IMPORT_CUT, batch=3, done=2, row=2001, error="the connection is lost")
    assert caught.value.key == "import.cut"


def test_an_error_quoting_a_line_break_is_still_one_line(grid, tmp_path):
    """Regression (found by the importer fuzzing): a header cell with a line break in it (a quoted
    CSV field) was quoted back in the 'lacks the required columns' message: two lines on stderr."""
    path = tmp_path / "residents.csv"
    path.write_bytes(b'"id\r\n620402"\r\n1\r\n')
    r = grid("--as", "admin", "import", "residents", str(path), expect=1)
    assert len(r.stderr.strip().splitlines()) == 1, r


def test_two_imports_of_one_household_at_once_both_count(grid, city, backend, tmp_path):
    """Regression: on PostgreSQL two terminals importing the same household both planned on the
    version they had read; the second overwrote the first's version number (v+1 after two
    updates), so a later --if-version check could pass against a state its reader never saw.
    The rows an import may update are now locked while it plans: the second waits, then counts."""
    if backend != "postgres":
        pytest.skip("SQLite serialises whole writing transactions")
    import threading
    import time

    from baiyin_cli import store
    from baiyin_cli.io import pipeline
    from baiyin_cli.services import bulk
    from baiyin_cli.services.access import load_operator

    def csv_with(note: str):  # type: ignore[no-untyped-def]
        path = tmp_path / f"hh-{note}.csv"
        path.write_text(f"code,grid,address,note\n620402001001001-0001,620402001001001,人民路1号,{note}\n", "utf-8")
        return path

    def import_(path, session):  # type: ignore[no-untyped-def]
        t = bulk.target("households")
        with pipeline.open_for(t, str(path)) as src:
            return pipeline.run_import(session, load_operator(session, "admin"), t, src)

    with store.session(write=True) as s:
        import_(csv_with("初始"), s)
    done: dict[str, object] = {}

    def second() -> None:
        with store.session(write=True) as s2:
            done["report"] = import_(csv_with("乙"), s2)

    with store.session(write=True) as s1:
        import_(csv_with("甲"), s1)
        t = threading.Thread(target=second)
        t.start()
        time.sleep(2)  # the second terminal reads (and now waits) while the first has not committed
    t.join(60)
    hh = grid("--as", "admin", "household", "show", "620402001001001-0001", "--json").json()
    assert hh["note"] == "乙" and hh["version"] == 3, hh
