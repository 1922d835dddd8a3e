"""Every command with every flag given an absurd value (issue 11), generated from the real
command tree: see tests/reliability/absurd.py for the values and what must hold."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.reliability import absurd
from tests.reliability.common import load, report

pytestmark = pytest.mark.reliability


def absurd_context(db_url: str, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The city, two petitions and a visit to point the commands at."""
    from baiyin_cli import store
    from baiyin_cli.services import petitions, visits
    from baiyin_cli.services.access import load_operator

    load.build_city(db_url)
    with store.session(write=True, url=db_url) as s:
        sec, wg = load_operator(s, "sec1"), load_operator(s, "wg11")
        p1 = petitions.file_petition(s, sec, text="楼道灯坏了", category="help", channel="qr", grid="620402001001001")
        p2 = petitions.file_petition(s, sec, text="井盖松动", category="help", channel="qr", grid="620402001001001")
        v = visits.log_visit(s, wg, kind="household", minutes=30, household=load.household_code("620402001001001", 1))
    small = tmp_path / "small.csv"
    small.write_text("code,grid,address\n620402001001001-0001,620402001001001,人民路1001号\n", encoding="utf-8")
    return {"petition": p1["number"], "petition2": p2["number"], "visit": str(v["id"]),
            "household": load.household_code("620402001001001", 1), "resident": "620402195603171232",
            "file": str(small), "checklist_kind": "petitions", "backup": str(tmp_path / "backup.db")}


def run_cases(db_url: str, tmp_path, every: int = 1) -> tuple[list[str], Counter, int]:  # type: ignore[no-untyped-def]
    import typer

    from baiyin_cli.cli.main import make_app
    from tests.conftest import invoke

    ctx = absurd_context(db_url, tmp_path)
    root = typer.main.get_command(make_app([]))
    all_cases = absurd.cases(root, ctx)
    chosen = all_cases[::every]
    import contextlib

    # Absurd values include file names (-o, --errors): keep whatever they create in tmp_path.
    with contextlib.chdir(tmp_path):
        problems, exits = _run_chosen(chosen, invoke)
    return problems, exits, len(all_cases)


def _run_chosen(chosen, invoke):  # type: ignore[no-untyped-def]
    problems: list[str] = []
    exits: Counter = Counter()
    for case in chosen:
        argv = case.argv if case.path == ("(root)",) else ("--as", "admin", *case.argv)
        r = invoke(*argv, expect=None)
        exits[r.exit_code] += 1
        why = absurd.must_hold(case, r.exit_code, r.stderr)
        if why:
            problems.append(f"{case.id}: {why}")
    return problems, exits


def test_every_command_refuses_absurd_values_in_one_line(db_url, backend, tmp_path):
    problems, exits, total = run_cases(db_url, tmp_path)
    report(f"absurd-{backend}", f"- absurd values, {backend}: {total} command/option/value cases generated from the "
           f"command tree; exit codes {dict(sorted(exits.items()))}; {len(problems)} problems\n")
    assert not problems, "\n".join(problems[:40])
