"""Grid workers' rounds: the visit log, care windows, findings, scope, the daily hour.

Everything goes through the real `grid` command on SQLite and PostgreSQL; the clock is
fixed with GRID_NOW so that windows and days are exact.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import date, timedelta

import pytest

from tests.conftest import invoke, listed_choices, run_subprocess

A = ("--as", "admin")
G1 = "620402001001001"  # wg11
G2 = "620402001001002"  # wg12
G3 = "620402001002001"  # wg21 (the other community)
REGISTERED = "2026-10-01 08:00"


def care_intervals() -> dict[str, int]:
    from baiyin_cli import config

    return {k: v["interval_days"] for k, v in config.load_defaults()["care_tags"].items()}


@pytest.fixture
def clock(monkeypatch):  # type: ignore[no-untyped-def]
    """clock("2026-10-05 10:00") sets the time every following command sees."""

    def set_(value: str) -> None:
        monkeypatch.setenv("GRID_NOW", value)

    set_(REGISTERED)
    return set_


def add_household(grid, grid_code: str, address: str, *care: str) -> str:  # type: ignore[no-untyped-def]
    args = [*A, "household", "add", "--grid", grid_code, "--address", address, "--json"]
    for c in care:
        args += ["--care", c]
    return grid(*args).json()["code"]


def log(grid, user: str, *args: str, expect: int = 0):  # type: ignore[no-untyped-def]
    return grid("--as", user, "visit", "log", *args, expect=expect)


def due(grid, user: str, *args: str) -> dict:  # type: ignore[no-untyped-def]
    return grid("--as", user, "visit", "due", "--json", *args).json()


def by_household(q: dict) -> dict[str, dict]:
    return {i["household"]: i for i in q["items"]}


def d(s: str) -> date:
    return date.fromisoformat(s)


# ---------------------------------------------------------------- windows


def test_window_of_every_care_tag_and_of_no_tag(grid, city, clock):
    tags = care_intervals()
    codes = {tag: add_household(grid, city["grids"][0], f"关爱路{i}号", tag) for i, tag in enumerate(sorted(tags), 1)}
    plain = add_household(grid, city["grids"][0], "普通路1号")
    clock("2026-10-05 18:00")
    for code in [*codes.values(), plain]:
        log(grid, "wg11", "--kind", "household", "--household", code, "--minutes", "10", "--at", "2026-10-05 10:00")

    q = due(grid, "wg11", "--all", "--date", "2026-10-05")
    assert q["households"] == len(tags) + 1 and q["care_households"] == len(tags)
    items = by_household(q)
    visited = d("2026-10-05")
    for tag, code in codes.items():
        days = min(tags[tag], 90)
        it = items[code]
        assert it["care"] == [tag] and it["interval_days"] == days and it["interval_tag"] == tag
        assert d(it["earliest"]) == visited + timedelta(days=math.ceil(days * 0.5)), tag
        assert d(it["due"]) == visited + timedelta(days=days), tag
        assert d(it["overdue"]) == visited + timedelta(days=days + 1), tag
        assert it["status"] == "early" and it["last_visit"]["worker"] == "wg11"
    assert items[plain]["interval_days"] == 90 and items[plain]["interval_tag"] is None
    assert items[plain]["due"] == "2027-01-03"
    # Without --all the queue holds only open windows: nobody, a visit was just made.
    assert due(grid, "wg11", "--date", "2026-10-05")["items"] == []


def test_window_boundaries_early_due_overdue(grid, city, clock):
    h = add_household(grid, city["grids"][0], "人民路1号", "elderly_alone")  # every 7 days
    clock("2026-10-10 18:00")
    log(grid, "wg11", "--kind", "household", "--household", h, "--minutes", "30", "--at", "2026-10-10 09:00")
    expect = {
        "2026-10-13": ("early", None),
        "2026-10-14": ("due", 3),  # earliest = 10 + ceil(3.5)
        "2026-10-17": ("due", 0),  # the due day itself
        "2026-10-18": ("overdue", 1),
        "2026-10-25": ("overdue", 8),
    }
    for day, (status, n) in expect.items():
        clock(f"{day} 20:00")
        q = due(grid, "wg11", "--date", day, "--all")
        it = by_household(q)[h]
        assert it["status"] == status, day
        if status == "due":
            assert it["days_left"] == n
        if status == "overdue":
            assert it["days_overdue"] == n
        in_queue = h in by_household(due(grid, "wg11", "--date", day))
        assert in_queue == (status != "early"), day


def test_never_visited_household_is_due_from_registration(grid, city, clock):
    h = add_household(grid, city["grids"][0], "人民路2号", "empty_nest")  # 14 days
    q = due(grid, "wg11", "--date", "2026-10-01")
    it = by_household(q)[h]
    assert it["status"] == "due" and it["earliest"] == "2026-10-01" and it["due"] == "2026-10-15"
    assert it["last_visit"] is None and it["registered"] == "2026-10-01"
    clock("2026-10-20 09:00")
    it = by_household(due(grid, "wg11"))[h]
    assert it["status"] == "overdue" and it["days_overdue"] == 5
    # Before it was registered it is not in anyone's queue.
    assert h not in by_household(due(grid, "wg11", "--date", "2026-09-30", "--all"))


def test_combined_tags_shortest_interval_wins_and_residents_count(grid, city, clock):
    h = add_household(grid, city["grids"][0], "人民路3号", "veteran", "low_income")  # 60, 30
    q = by_household(due(grid, "wg11", "--all"))
    assert q[h]["interval_days"] == 30 and q[h]["interval_tag"] == "low_income"
    assert q[h]["care"] == ["low_income", "veteran"]
    r = grid(*A, "resident", "add", "--household", h, "--name", "王奶奶", "--relation", "02",
             "--birth-date", "1940-03-01", "--sex", "F", "--care", "elderly_alone", "--json").json()
    q = by_household(due(grid, "wg11", "--all"))
    assert q[h]["interval_days"] == 7 and q[h]["interval_tag"] == "elderly_alone"
    assert q[h]["care"][0] == "elderly_alone" and q[h]["due"] == "2026-10-08"
    # An archived resident's tags no longer set the schedule.
    grid(*A, "resident", "archive", str(r["id"]), "--reason", "迁出")
    q = by_household(due(grid, "wg11", "--all"))
    assert q[h]["interval_days"] == 30


def test_intervals_come_from_config_at_query_time(grid, city, clock):
    h = add_household(grid, city["grids"][0], "人民路4号", "disabled")  # 30
    clock("2026-10-02 10:00")
    log(grid, "wg11", "--kind", "household", "--household", h, "--minutes", "20", "--at", "2026-10-02 09:00")
    assert by_household(due(grid, "wg11", "--all"))[h]["due"] == "2026-11-01"
    grid("config", "set", "care_tags.disabled.interval_days", "10")
    grid("config", "set", "visits.earliest_ratio", "0.8")
    it = by_household(due(grid, "wg11", "--all"))[h]
    assert it["due"] == "2026-10-12" and it["earliest"] == "2026-10-10"
    grid("config", "set", "visits.default_interval_days", "5")
    assert by_household(due(grid, "wg11", "--all"))[h]["interval_days"] == 5


def test_a_visit_resets_the_window_and_a_void_restores_it(grid, city, clock):
    old = add_household(grid, city["grids"][0], "人民路5号", "childless_elderly")  # 7
    plain = add_household(grid, city["grids"][0], "人民路6号")
    clock("2026-10-20 08:00")
    q = due(grid, "wg11")
    assert [i["household"] for i in q["items"]] == [old, plain]  # most urgent first
    assert q["overdue"] == 1 and q["due"] == 1
    clock("2026-10-20 11:00")
    v = log(grid, "wg11", "--kind", "household", "--household", old, "--minutes", "45", "--json").json()
    q = due(grid, "wg11")
    assert old not in by_household(q) and q["overdue"] == 0
    it = by_household(due(grid, "wg11", "--all"))[old]
    assert it["last_visit"]["id"] == v["id"] and it["last_visit"]["day"] == "2026-10-20"
    assert it["due"] == "2026-10-27"
    # The queue of an earlier day does not see the later visit.
    assert by_household(due(grid, "wg11", "--date", "2026-10-19"))[old]["status"] == "overdue"
    grid("--as", "wg11", "visit", "void", str(v["id"]), "--reason", "录错住户")
    assert by_household(due(grid, "wg11"))[old]["status"] == "overdue"


def test_any_kind_and_any_worker_of_the_household_counts(grid, city, clock):
    h = add_household(grid, city["grids"][0], "人民路7号", "elderly_alone")
    clock("2026-10-20 12:00")
    grid(*A, "worker", "add", "--username", "wg11b", "--name", "红色网格员", "--role", "grid_worker",
         "--kind", "red", "--area", city["grids"][0])
    log(grid, "wg11b", "--kind", "service", "--household", h, "--minutes", "15")
    it = by_household(due(grid, "wg11", "--all"))[h]
    assert it["status"] == "early" and it["last_visit"]["worker"] == "wg11b"
    assert it["last_visit"]["kind"] == "service"


# ---------------------------------------------------------------- the one-hour rule


def stats(grid, user: str, *args: str) -> dict:  # type: ignore[no-untyped-def]
    return grid("--as", user, "visit", "stats", "--json", *args).json()


def test_one_hour_rule_across_midnight_and_several_visits(grid, city, clock):
    clock("2026-10-13 22:00")
    # 23:30 for 90 minutes counts whole on the day it started.
    log(grid, "wg11", "--kind", "info_gathering", "--minutes", "90", "--at", "2026-10-10 23:30")
    # Three visits making exactly the hour.
    for at, m in (("2026-10-11 08:00", "25"), ("2026-10-11 10:00", "20"), ("2026-10-11 15:00", "15")):
        log(grid, "wg11", "--kind", "service", "--minutes", m, "--at", at)
    # Two visits short of it.
    ids = [log(grid, "wg11", "--kind", "service", "--minutes", m, "--at", at, "--json").json()["id"]
           for at, m in (("2026-10-12 09:00", "25"), ("2026-10-12 14:00", "20"))]
    r = stats(grid, "wg11", "--from", "2026-10-10", "--to", "2026-10-13")
    days = {x["date"]: x for x in r["daily"]}
    assert (days["2026-10-10"]["minutes"], days["2026-10-10"]["met"]) == (90, True)
    assert (days["2026-10-11"]["minutes"], days["2026-10-11"]["met"], days["2026-10-11"]["visits"]) == (60, True, 3)
    assert (days["2026-10-12"]["minutes"], days["2026-10-12"]["met"]) == (45, False)
    assert (days["2026-10-13"]["minutes"], days["2026-10-13"]["met"]) == (0, False)
    w = r["workers"][0]
    assert (w["worker"], w["days"], w["days_walked"], w["days_met"], w["met_rate"]) == ("wg11", 4, 3, 2, 50.0)
    assert w["minutes"] == 195 and w["by_kind"] == {"household": 0, "info_gathering": 1, "mediation": 0, "service": 5}
    # The rule is read from config when asked, not stored.
    grid("config", "set", "visits.daily_minutes", "45")
    assert stats(grid, "wg11", "--from", "2026-10-12", "--to", "2026-10-12")["daily"][0]["met"] is True
    grid("config", "set", "visits.daily_minutes", "60")
    # Voiding a visit takes its minutes out of the day.
    grid("--as", "wg11", "visit", "void", str(ids[0]), "--reason", "重复登记")
    day = stats(grid, "wg11", "--from", "2026-10-12", "--to", "2026-10-12")["daily"][0]
    assert (day["minutes"], day["visits"]) == (20, 1)


def test_stats_for_an_area_count_idle_workers_and_coverage(grid, city, clock):
    g1 = city["grids"][0]
    elderly = add_household(grid, g1, "人民路8号", "elderly_alone")
    nest = add_household(grid, g1, "人民路9号", "empty_nest")
    add_household(grid, g1, "人民路10号")
    add_household(grid, city["grids"][1], "人民路11号", "disabled")
    clock("2026-10-20 19:00")
    log(grid, "wg11", "--kind", "household", "--household", elderly, "--minutes", "70", "--at", "2026-10-18 09:00",
        "--finding", "井盖松动", "--category", "hazard_manhole")
    log(grid, "wg11", "--kind", "household", "--household", nest, "--minutes", "30", "--at", "2026-10-19 09:00")
    log(grid, "wg12", "--kind", "service", "--minutes", "65", "--at", "2026-10-19 10:00")
    r = stats(grid, "sec1", "--community", city["communities"][0], "--from", "2026-10-18", "--to", "2026-10-20")
    assert "daily" not in r  # a community: per-worker rows only unless --daily
    workers = {w["worker"]: w for w in r["workers"]}
    assert set(workers) == {"wg11", "wg12"}
    assert (workers["wg11"]["days_met"], workers["wg11"]["days_walked"], workers["wg11"]["findings"]) == (1, 2, 1)
    assert workers["wg11"]["household_visits"] == 2
    assert (workers["wg12"]["days_met"], workers["wg12"]["met_rate"]) == (1, 33.33)
    t = r["totals"]
    assert (t["workers"], t["worker_days"], t["days_met"], t["findings"], t["minutes"]) == (2, 6, 2, 1, 165)
    # Care households on 10-20: elderly visited 10-18 (due 10-25) and empty-nest visited 10-19 are within;
    # the disabled household of grid 2, registered 10-01 (due 10-31), is within too.
    assert (t["care_households"], t["care_within_interval"], t["coverage"]) == (3, 3, 100.0)
    r = stats(grid, "sec1", "--community", city["communities"][0], "--from", "2026-10-18", "--to", "2026-10-27")
    grids = {g["grid"]: g for g in r["grids"]}
    assert r["coverage_date"] == "2026-10-20"  # never beyond today
    clock("2026-10-27 19:00")
    r = stats(grid, "sec1", "--community", city["communities"][0], "--from", "2026-10-18", "--to", "2026-10-27")
    grids = {g["grid"]: g for g in r["grids"]}
    assert (grids[g1]["care_households"], grids[g1]["overdue"], grids[g1]["coverage"]) == (2, 1, 50.0)
    assert r["totals"]["care_overdue"] == 1 and r["days"] == 10
    # The whole city for an admin includes the idle worker of the other community.
    city_wide = stats(grid, "admin", "--from", "2026-10-18", "--to", "2026-10-20")
    assert {w["worker"] for w in city_wide["workers"]} == {"wg11", "wg12", "wg21"}
    assert next(w for w in city_wide["workers"] if w["worker"] == "wg21")["met_rate"] == 0.0


def test_day_ledger_always_matches_the_records(grid, city, clock):
    """A random mix of logs and voids; the daily statistics equal sums recomputed from `visit list`."""
    rng = random.Random(7)
    clock("2026-10-31 23:00")
    hh = [add_household(grid, city["grids"][0], f"随机路{i}号") for i in range(3)]
    live: list[int] = []
    for _ in range(16):
        if live and rng.random() < 0.25:
            vid = live.pop(rng.randrange(len(live)))
            grid("--as", "wg11", "visit", "void", str(vid), "--reason", "测试")
            continue
        day = rng.randint(20, 23)
        hour, minute = rng.choice([(8, 0), (12, 30), (23, 10), (0, 5)])
        args = ["--kind", rng.choice(["household", "service", "info_gathering"]), "--minutes",
                str(rng.randint(5, 80)), "--at", f"2026-10-{day:02d} {hour:02d}:{minute:02d}"]
        if args[1] == "household":
            args += ["--household", rng.choice(hh)]
        live.append(log(grid, "wg11", *args, "--json").json()["id"])
    records = grid("--as", "wg11", "visit", "list", "--all", "--json", "--limit", "1000").json()
    expect: dict[str, dict] = defaultdict(lambda: {"minutes": 0, "visits": 0, "households": set()})
    for v in records:
        if v["voided"]:
            continue
        e = expect[v["day"]]
        e["minutes"] += v["minutes"]
        e["visits"] += 1
        if v["household"]:
            e["households"].add(v["household"])
    daily = stats(grid, "wg11", "--from", "2026-10-19", "--to", "2026-10-24")["daily"]
    for row in daily:
        e = expect.get(row["date"], {"minutes": 0, "visits": 0, "households": set()})
        assert (row["minutes"], row["visits"], row["households"]) == (e["minutes"], e["visits"], len(e["households"])), row


KINDS = ("household", "info_gathering", "mediation", "service")


def _expected_days(records: list[dict]) -> dict[str, dict]:
    """Per local day, what the visit records say (voided ones left out), computed here from `visit list`."""
    out: dict[str, dict] = {}
    for v in records:
        if v["voided"]:
            continue
        e = out.setdefault(v["day"], {"minutes": 0, "visits": 0, "households": set(), "findings": 0,
                                      "by_kind": dict.fromkeys(KINDS, 0)})
        e["minutes"] += v["minutes"]
        e["visits"] += 1
        e["by_kind"][v["kind"]] += 1
        e["findings"] += len(v["findings"])
        if v["household"]:
            e["households"].add(v["household"])
    return out


def _assert_ledger_is_the_records(grid, worker: str, start: str, end: str) -> None:  # type: ignore[no-untyped-def]
    records = grid("--as", "admin", "visit", "list", "--worker", worker, "--all", "--json", "--limit", "10000").json()
    expect = _expected_days(records)
    daily = stats(grid, "admin", "--worker", worker, "--from", start, "--to", end)["daily"]
    assert {r["date"] for r in daily} >= set(expect)
    for row in daily:
        e = expect.get(row["date"])
        got = (row["minutes"], row["visits"], row["by_kind"], row["households"], row["findings"])
        want = (e["minutes"], e["visits"], e["by_kind"], len(e["households"]), e["findings"]) if e else (
            0, 0, dict.fromkeys(KINDS, 0), 0, 0)
        assert got == want, row


def test_day_ledger_agrees_after_concurrent_terminals_an_import_voids_and_findings(grid, city, clock, tmp_path, db_url):
    """The day ledger (visit_day) is derived data: whatever writes visits, it equals the records.

    Four terminals log visits of the same worker and day at once while a fifth imports a file of
    that worker's visits of the same day, one of the visits has a finding; then voids. The daily
    statistics (read from the ledger) equal sums recomputed here from `visit list`, on SQLite
    and PostgreSQL. Also a finding filed straight through the petitions service with a visit
    link (the demo's path) moves the ledger's finding count.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tests.importing import write_csv

    clock("2026-10-31 23:00")
    hh = [add_household(grid, city["grids"][0], f"并发路{i}号") for i in range(3)]
    csv_path = write_csv(tmp_path / "走访.csv", [
        ["网格员", "户编号", "走访类型", "开始时间", "时长（分钟）", "记录"],
        ["wg11", hh[0], "入户走访", "2026-10-20 07:00", "12", "导入"],
        ["wg11", "", "便民服务", "2026-10-20 07:30", "8", ""],
        ["wg11", hh[1], "household", "2026-10-21 00:10", "25", ""],  # the next day
    ])
    finding = ("--finding", "井盖松动", "--category", "hazard_manhole")
    terminals = [
        ("--as", "wg11", "visit", "log", "--kind", "household", "--household", hh[k % 3], "--minutes", str(10 + k),
         "--at", f"2026-10-20 {9 + k:02d}:00", *(finding if k == 0 else ()))
        for k in range(4)
    ] + [("--as", "admin", "import", "visits", str(csv_path), "--json")]
    with ThreadPoolExecutor(len(terminals)) as pool:
        results = list(pool.map(lambda argv: run_subprocess(*argv, expect=None), terminals))
    assert [r.exit_code for r in results] == [0] * len(terminals), [r.stderr for r in results]
    assert results[-1].json()["created"] == 3
    _assert_ledger_is_the_records(grid, "wg11", "2026-10-19", "2026-10-22")
    day = stats(grid, "admin", "--worker", "wg11", "--from", "2026-10-20", "--to", "2026-10-20")["daily"][0]
    assert (day["minutes"], day["visits"], day["findings"], day["households"]) == (10 + 11 + 12 + 13 + 12 + 8, 6, 1, 3)

    # Voids, one of them the visit with the finding (the petition stays, the finding no longer counts).
    records = grid("--as", "wg11", "visit", "list", "--json", "--limit", "100").json()
    with_finding = next(v for v in records if v["findings"])
    grid("--as", "wg11", "visit", "void", str(with_finding["id"]), "--reason", "录错")
    grid("--as", "sec1", "visit", "void", str(next(v for v in records if v["note"] == "导入")["id"]), "--reason", "重复")
    _assert_ledger_is_the_records(grid, "wg11", "2026-10-19", "2026-10-22")
    one_day = ("--worker", "wg11", "--from", "2026-10-20", "--to", "2026-10-20")
    assert stats(grid, "admin", *one_day)["daily"][0]["findings"] == 0

    # A finding linked to a visit by the petitions service itself (as the demo files them).
    from baiyin_cli import store
    from baiyin_cli.services import petitions
    from baiyin_cli.services.access import load_operator

    live = next(v for v in records if v["day"] == "2026-10-21")
    with store.session(write=True) as s:
        petitions.file_petition(s, load_operator(s, "wg11"), text="路灯不亮", category="hazard_streetlight",
                                channel="grid_report", grid=city["grids"][0], visit_id=live["id"])
        s.commit()
    _assert_ledger_is_the_records(grid, "wg11", "2026-10-19", "2026-10-22")
    next_day = ("--worker", "wg11", "--from", "2026-10-21", "--to", "2026-10-21")
    assert stats(grid, "admin", *next_day)["daily"][0]["findings"] == 1


def test_visit_ledger_checks_and_rebuilds_after_a_time_zone_change(grid, city, clock):
    """`grid visit ledger` recomputes the ledger from the records: it agrees after ordinary work;
    after the configured time zone changes (the one thing that moves a visit's local day) it
    names the days that differ (exit 1) and --rebuild makes it the records again (audited)."""
    clock("2026-10-21 20:00")
    h = add_household(grid, city["grids"][0], "时区路1号")
    log(grid, "wg11", "--kind", "household", "--household", h, "--minutes", "30", "--at", "2026-10-20 07:30")
    log(grid, "wg11", "--kind", "service", "--minutes", "40", "--at", "2026-10-20 23:30")
    log(grid, "wg12", "--kind", "service", "--minutes", "20", "--at", "2026-10-20 12:00")
    ok = grid(*A, "visit", "ledger", "--json").json()
    assert (ok["visits"], ok["worker_days"], ok["differ"]) == (3, 2, 0)
    assert "一致" in grid(*A, "visit", "ledger").stderr
    grid("--as", "sec1", "visit", "ledger", expect=4)

    from baiyin_cli import timeutil

    grid("config", "set", "timezone", "Asia/Tokyo")  # 23:30 in Baiyin is 00:30 the next day in Tokyo
    timeutil.zone.cache_clear()  # a process reads the zone once; these commands share one process
    try:
        r = grid("--lang", "en", *A, "visit", "ledger", expect=1)
        assert "differ" in r.stderr and "wg11 2026-10-20" in r.stderr
        bad = grid(*A, "visit", "ledger", "--json", expect=1).json()
        assert bad["differ"] == 2 and {e["day"] for e in bad["examples"]} == {"2026-10-20", "2026-10-21"}
        fixed = grid(*A, "visit", "ledger", "--rebuild", "--json").json()
        assert (fixed["differ"], fixed["rebuilt"]) == (2, True)
        assert grid(*A, "visit", "ledger", "--json").json()["differ"] == 0
        _assert_ledger_is_the_records(grid, "wg11", "2026-10-19", "2026-10-22")
        assert grid(*A, "audit", "list", "--action", "visit.ledger_rebuild", "--json").json()[0]["actor"] == "admin"
    finally:
        grid("config", "set", "timezone", "Asia/Shanghai")
        timeutil.zone.cache_clear()


def test_coverage_agrees_with_the_due_queue_household_by_household(grid, city, clock):
    """Care coverage (one set-based statement for a whole area) and `visit due` (window per
    household) state the same rule twice: on a random community, day after day, the overdue
    care households of each grid are the same number both ways."""
    rng = random.Random(11)
    tags = sorted(care_intervals())
    g1, g2 = city["grids"][0], city["grids"][1]
    homes: dict[str, list[str]] = {g1: [], g2: []}
    for g in (g1, g2):
        for i in range(7):
            own = rng.sample(tags, rng.choice([0, 0, 1, 2]))
            code = add_household(grid, g, f"覆盖路{g[-1]}-{i}号", *own)
            homes[g].append(code)
            if rng.random() < 0.4:
                grid(*A, "resident", "add", "--household", code, "--name", "王秀英", "--birth-date", f"1940-03-{i + 1:02d}",
                     "--sex", "女", "--relation", "02", "--care", rng.choice(tags))
    clock("2026-11-20 20:00")
    grid(*A, "household", "archive", homes[g1][0], "--reason", "拆迁")
    worker = {g1: "wg11", g2: "wg12"}
    for _ in range(30):
        g = rng.choice([g1, g2])
        day = date(2026, 10, 1) + timedelta(days=rng.randrange(45))
        v = log(grid, worker[g], "--kind", "household", "--household", rng.choice(homes[g][1:]), "--minutes", "15",
                "--at", f"{day.isoformat()} {rng.randrange(8, 20):02d}:00", "--json").json()
        if rng.random() < 0.15:
            grid("--as", worker[g], "visit", "void", str(v["id"]), "--reason", "录错")
    seen = {"overdue": 0, "within": 0}
    for on in ("2026-10-05", "2026-10-09", "2026-10-16", "2026-10-31", "2026-11-08", "2026-11-20"):
        r = stats(grid, "sec1", "--community", city["communities"][0], "--from", on, "--to", on)
        assert r["coverage_date"] == on
        cover = {c["grid"]: c for c in r["grids"]}
        for g in (g1, g2):
            q = due(grid, "sec1", "--grid", g, "--date", on)
            late = sum(1 for i in q["items"] if i["care"] and i["status"] == "overdue")
            got = cover.get(g, {"care_households": 0, "overdue": 0})
            assert (got["care_households"], got["overdue"]) == (q["care_households"], late), (on, g, got, q)
            seen["overdue"] += late
            seen["within"] += got["care_households"] - late
    assert seen["overdue"] > 5 and seen["within"] > 5, seen  # both sides of the rule were exercised


# ---------------------------------------------------------------- findings and mediation


def test_findings_become_linked_petitions_in_the_same_transaction(grid, city, clock):
    h = add_household(grid, city["grids"][0], "人民路12号", "elderly_alone")
    clock("2026-10-05 17:00")
    r = log(grid, "wg11", "--kind", "household", "--household", h, "--minutes", "35", "--note", "老人身体尚可",
            "--finding", "楼道井盖破损", "--category", "hazard_manhole",
            "--finding", "楼道堆放杂物有火灾隐患", "--category", "hazard_fire")
    numbers = r.stdout.split()
    assert len(numbers) == 2 and all(n.startswith("BY-20261005-") for n in numbers)
    visit = grid("--as", "wg11", "visit", "list", "--json").json()[0]
    assert [f["number"] for f in visit["findings"]] == numbers
    for n, cat in zip(numbers, ("hazard_manhole", "hazard_fire")):
        p = grid("--as", "wg11", "petition", "show", n, "--json").json()
        assert (p["channel"], p["category"], p["visit_id"], p["household"], p["grid"]) == (
            "grid_report", cat, visit["id"], h, city["grids"][0])
        assert p["address"] == "人民路12号"
    shown = grid("--as", "sec1", "visit", "show", str(visit["id"]), "--json").json()
    assert [f["number"] for f in shown["findings"]] == numbers and shown["address"] == "人民路12号"

    # A bad finding: nothing at all is stored, neither the visit nor the good finding before it.
    before = len(grid("--as", "sec1", "petition", "list", "--json").json())
    r = log(grid, "wg11", "--kind", "service", "--minutes", "10", "--finding", "路灯不亮", "--category", "hazard_streetlight",
            "--finding", "别的", "--category", "no_such_category", expect=1)
    assert "no_such_category" in r.stderr
    assert len(grid("--as", "wg11", "visit", "list", "--json").json()) == 1
    assert len(grid("--as", "sec1", "petition", "list", "--json").json()) == before
    # Each finding needs its category: a usage error.
    log(grid, "wg11", "--kind", "service", "--minutes", "10", "--finding", "路灯不亮", expect=2)


def test_findings_without_categories_are_counted_in_plain_english(grid, city, clock):
    r = grid("--lang", "en", "--as", "wg11", "visit", "log", "--kind", "service", "--minutes", "10",
             "--finding", "路灯不亮", expect=2)
    assert "Each --finding needs its --category (findings: 1, categories: 0)" in r.stderr


def test_an_empty_finding_is_named_as_the_finding(grid, city, clock):
    clock("2026-10-05 17:00")
    for blank in ("", "   "):
        r = log(grid, "wg11", "--kind", "service", "--minutes", "10", "--finding", "路灯不亮", "--category",
                "hazard_streetlight", "--finding", blank, "--category", "hazard_fire", expect=1)
        assert "发现的问题（--finding）不能为空" in r.stderr and "内容" not in r.stderr
    r = grid("--lang", "en", "--as", "wg11", "visit", "log", "--kind", "service", "--minutes", "10",
             "--finding", "", "--category", "hazard_fire", expect=1)
    assert "Finding (--finding) is required" in r.stderr and "Text" not in r.stderr
    assert grid("--as", "wg11", "visit", "list", "--json").json() == []


def test_mediation_visit_is_in_the_dispute_history(grid, city, clock):
    clock("2026-10-05 09:00")
    dispute = grid("--as", "wg11", "petition", "file", "--text", "楼上漏水邻里争执", "--category", "dispute_neighbour",
                   "--channel", "walk_in").stdout.strip()
    hazard = grid("--as", "wg11", "petition", "file", "--text", "路灯不亮", "--category", "hazard_streetlight",
                  "--channel", "walk_in").stdout.strip()
    clock("2026-10-05 16:00")
    v = log(grid, "wg11", "--kind", "mediation", "--minutes", "50", "--petition", dispute,
            "--note", "双方同意分担维修费用", "--json").json()
    assert v["petition"] == dispute
    history = grid("--as", "wg11", "petition", "show", dispute, "--json").json()["history"]
    last = history[-1]
    assert last["event"] == "mediate" and last["data"]["visit_id"] == v["id"]
    assert last["note"] == "双方同意分担维修费用" and last["actor"] == "wg11"
    # Only a dispute, only on a mediation visit.
    r = log(grid, "wg11", "--kind", "mediation", "--minutes", "20", "--petition", hazard, expect=1)
    assert hazard in r.stderr
    log(grid, "wg11", "--kind", "service", "--minutes", "20", "--petition", dispute, expect=1)
    log(grid, "wg11", "--kind", "mediation", "--minutes", "20", "--petition", "BY-20261005-9999", expect=3)
    assert len(grid("--as", "wg11", "visit", "list", "--json").json()) == 1


# ---------------------------------------------------------------- rules and scope


def test_bad_visits_are_refused_and_nothing_is_stored(grid, city, clock):
    mine = add_household(grid, city["grids"][0], "人民路13号")
    other = add_household(grid, city["grids"][1], "人民路14号")
    gone = add_household(grid, city["grids"][0], "人民路15号")
    grid(*A, "household", "archive", gone, "--reason", "拆迁")
    clock("2026-10-05 12:00")
    cases = [
        (1, ["--kind", "service", "--minutes", "10", "--at", "2026-10-05 14:00"], "将来"),
        (1, ["--kind", "service", "--minutes", "90", "--at", "2026-10-05 11:30"], "将来"),
        (1, ["--kind", "service", "--minutes", "-5"], "-5"),
        (1, ["--kind", "service", "--minutes", "0"], "0"),
        (1, ["--kind", "service", "--minutes", "961"], "961"),
        (1, ["--kind", "walk", "--minutes", "10"], "walk"),
        (1, ["--kind", "household", "--household", other, "--minutes", "10"], other),
        (1, ["--kind", "household", "--household", gone, "--minutes", "10"], gone),
        (3, ["--kind", "household", "--household", "620402001001001-9999", "--minutes", "10"], "9999"),
        (2, ["--kind", "household", "--minutes", "10"], "--household"),
        (2, ["--kind", "service"], "--minutes"),
        (2, ["--minutes", "10"], "--kind"),
        (1, ["--kind", "service", "--minutes", "10", "--at", "not a time"], "not a time"),
    ]
    for code, args, fragment in cases:
        r = log(grid, "wg11", *args, expect=code)
        assert fragment in r.stderr, (args, r.stderr)
    assert grid("--as", "wg11", "visit", "list", "--all", "--json").json() == []
    log(grid, "wg11", "--kind", "household", "--household", mine, "--minutes", "960", "--at", "2026-10-04 08:00")


def test_visit_kinds_by_their_names_and_the_refusal_lists_them(grid, city, clock):
    """Regression: `visit log --kind 入户走访` was refused with a list of English codes only."""
    h = add_household(grid, city["grids"][0], "人民路17号")
    clock("2026-10-05 12:00")
    v = log(grid, "wg11", "--kind", "入户走访", "--household", h, "--minutes", "20", "--at", "2026-10-05 09:00",
            "--json").json()
    assert v["kind"] == "household"
    v = log(grid, "wg11", "--kind", "Dispute Mediation", "--minutes", "20", "--at", "2026-10-05 10:00",
            "--json").json()
    assert v["kind"] == "mediation"
    v = log(grid, "wg11", "--kind", "info-gathering", "--minutes", "5", "--at", "2026-10-05 11:00", "--json").json()
    assert v["kind"] == "info_gathering"
    kinds = lambda k: [v["kind"] for v in grid(*A, "visit", "list", "--kind", k, "--json").json()]  # noqa: E731
    assert kinds("化解纠纷") == kinds("mediation") == ["mediation"]
    r = log(grid, "wg11", "--kind", "巡逻", "--minutes", "10", expect=1)
    assert r.stderr.strip() == (
        "grid: 错误：走访类型无效：巡逻（可选：household 入户走访、info_gathering 情报收集、mediation 化解纠纷、"
        "service 便民服务）"
    )
    r = grid("--lang", "en", *A, "visit", "list", "--kind", "patrol", expect=1)
    assert r.stderr.strip() == (
        "grid: error: Invalid visit kind: patrol (one of: household (household visit), "
        "info_gathering (information gathering), mediation (dispute mediation), service)"
    )
    assert listed_choices(r.stderr) == ["household", "info_gathering", "mediation", "service"]


def test_who_may_log_read_and_void(grid, city, clock):
    h21 = add_household(grid, city["grids"][2], "兴华路1号", "elderly_alone")
    clock("2026-10-05 12:00")
    # A grid worker logs their own rounds only; a secretary enters paper records for their community.
    log(grid, "wg11", "--kind", "service", "--minutes", "10", "--worker", "wg12", expect=4)
    v12 = log(grid, "sec1", "--kind", "service", "--minutes", "30", "--worker", "wg12", "--json").json()
    assert v12["worker"] == "wg12" and v12["grid"] == city["grids"][1]
    log(grid, "sec1", "--kind", "service", "--minutes", "30", "--worker", "wg21", expect=4)
    log(grid, "sec1", "--kind", "service", "--minutes", "30", expect=2)  # a secretary names the worker
    log(grid, "view", "--kind", "service", "--minutes", "30", "--worker", "wg11", expect=4)
    log(grid, "dsifa", "--kind", "service", "--minutes", "30", "--worker", "wg11", expect=4)
    log(grid, "admin", "--kind", "service", "--minutes", "30", "--worker", "sec1", expect=1)  # not a grid worker
    v21 = log(grid, "admin", "--kind", "household", "--household", h21, "--minutes", "20", "--worker", "wg21",
              "--json").json()
    # Reading follows the area.
    assert [v["id"] for v in grid("--as", "wg11", "visit", "list", "--json").json()] == []
    assert {v["worker"] for v in grid("--as", "sec1", "visit", "list", "--json").json()} == {"wg12"}
    assert len(grid("--as", "view", "visit", "list", "--json").json()) == 2
    grid("--as", "wg11", "visit", "show", str(v21["id"]), expect=4)
    grid("--as", "dsifa", "visit", "list", expect=4)
    grid("--as", "wg11", "visit", "due", "--worker", "wg21", expect=4)
    grid("--as", "wg11", "visit", "due", "--grid", city["grids"][2], expect=4)
    grid("--as", "sec1", "visit", "due", expect=2)  # a secretary names the worker or grid
    grid("--as", "sec1", "visit", "due", "--grid", city["communities"][0], expect=1)  # not a grid
    assert due(grid, "sec2", "--worker", "wg21", "--all")["items"][0]["household"] == h21
    grid("--as", "wg11", "visit", "stats", "--worker", "wg21", expect=4)
    # Voiding: the worker themself or the secretary/admin of the area; once.
    grid("--as", "wg11", "visit", "void", str(v12["id"]), "--reason", "x", expect=4)
    grid("--as", "sec2", "visit", "void", str(v12["id"]), "--reason", "x", expect=4)
    grid("--as", "wg12", "visit", "void", str(v12["id"]), "--reason", "x", "--at", "2026-10-04 09:00", expect=1)
    grid("--as", "wg12", "visit", "void", str(v12["id"]), "--reason", "登记错了")
    r = grid("--as", "sec1", "visit", "void", str(v12["id"]), "--reason", "again", expect=5)
    assert str(v12["id"]) in r.stderr
    grid("--as", "wg12", "visit", "void", "99999", "--reason", "x", expect=3)
    shown = grid("--as", "sec1", "visit", "show", str(v12["id"]), "--json").json()
    assert shown["voided"] and shown["void_reason"] == "登记错了" and shown["voided_by"] == "wg12"
    assert grid("--as", "sec1", "visit", "list", "--json").json() == []
    assert len(grid("--as", "sec1", "visit", "list", "--all", "--json").json()) == 1
    entries = grid(*A, "audit", "list", "--entity", "visit", "--json").json()
    actions = [(e["action"], e["entity_key"], e["actor"]) for e in entries]
    assert ("visit.void", str(v12["id"]), "wg12") in actions and ("visit.log", str(v21["id"]), "admin") in actions


def test_notes_are_masked_unless_revealed(grid, city, clock):
    clock("2026-10-05 12:00")
    v = log(grid, "wg11", "--kind", "service", "--minutes", "15", "--note", "帮张大爷联系儿子 13912345678", "--json").json()
    assert "139****5678" in v["note"]
    assert "139****5678" in grid("--as", "sec1", "visit", "list", "--json").json()[0]["note"]
    shown = grid("--as", "sec1", "visit", "show", str(v["id"]), "--reveal", "--json").json()
    assert "13912345678" in shown["note"]
    grid("--as", "view", "visit", "show", str(v["id"]), "--reveal", expect=4)
    assert grid(*A, "audit", "list", "--action", "visit.reveal", "--json").json()[0]["actor"] == "sec1"


def test_list_filters(grid, city, clock, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # tables unfolded off a TTY
    h = add_household(grid, city["grids"][0], "人民路16号")
    clock("2026-10-09 20:00")
    log(grid, "wg11", "--kind", "household", "--household", h, "--minutes", "10", "--at", "2026-10-07 09:00")
    log(grid, "wg11", "--kind", "service", "--minutes", "10", "--at", "2026-10-08 09:00")
    log(grid, "wg12", "--kind", "service", "--minutes", "10", "--at", "2026-10-09 09:00")
    ls = lambda *a: [v["id"] for v in grid("--as", "sec1", "visit", "list", "--json", *a).json()]  # noqa: E731
    assert len(ls()) == 3 and ls() == sorted(ls(), reverse=True)
    assert len(ls("--grid", city["grids"][0])) == 2 and len(ls("--worker", "wg12")) == 1
    assert len(ls("--household", h)) == 1 and len(ls("--kind", "service")) == 2
    assert len(ls("--community", city["communities"][0])) == 3
    assert len(grid(*A, "visit", "list", "--community", city["communities"][1], "--json").json()) == 0
    grid("--as", "sec1", "visit", "list", "--community", city["communities"][1], expect=4)  # not their community
    assert len(ls("--from", "2026-10-08", "--to", "2026-10-08")) == 1 and len(ls("--limit", "2")) == 2
    grid("--as", "sec1", "visit", "list", "--from", "2026-10-09", "--to", "2026-10-01", expect=1)
    table = grid("--as", "sec1", "visit", "list").stdout
    assert "入户走访" in table and h in table


# ---------------------------------------------------------------- the command itself


def test_human_output_of_due_and_stats(grid, city, clock, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # tables unfolded off a TTY
    h = add_household(grid, city["grids"][0], "人民路17号", "elderly_alone")
    clock("2026-10-20 12:00")
    r = grid("--as", "wg11", "visit", "due")
    assert "逾期" in r.stdout and h in r.stdout and "独居老人" in r.stdout and "从未走访" in r.stdout
    r = grid("--lang", "en", "--as", "wg11", "visit", "stats")
    assert "Worker-days meeting the hour" in r.stdout
    assert "0 / 30 (0.0%, daily ≥ 60 min)" in r.stdout and "（" not in r.stdout  # English brackets in English
    v = log(grid, "wg11", "--kind", "household", "--household", h, "--minutes", "20", "--at", "2026-10-20 09:00",
            "--finding", "井盖松动", "--category", "hazard_manhole", "--json").json()
    r = grid("--lang", "en", "--as", "wg11", "visit", "show", str(v["id"]))
    assert "2026-10-20 09:00 – 09:20 (20 min)" in r.stdout and "(Broken manhole cover)" in r.stdout
    r = grid("--as", "wg11", "visit", "show", str(v["id"]))
    assert "2026-10-20 09:00 – 09:20（20 分钟）" in r.stdout and "（井盖破损）" in r.stdout


def test_through_a_real_process(grid_proc, grid, city, clock):
    h = add_household(grid, city["grids"][0], "人民路18号", "empty_nest")
    clock("2026-10-05 12:00")
    r = grid_proc("--as", "wg11", "visit", "log", "--kind", "household", "--household", h, "--minutes", "25",
                  "--finding", "单元门禁损坏", "--category", "hazard_building")
    number = r.stdout.strip()
    assert number.startswith("BY-20261005-") and "已登记走访" in r.stderr
    r = grid_proc("--as", "wg11", "visit", "log", "--minutes", "25", expect=2)
    assert "--kind" in r.stderr
    q = run_subprocess("--as", "wg11", "visit", "due", "--all", "--json").json()
    assert q["items"][0]["last_visit"]["kind"] == "household"


def test_help_lists_the_visit_commands(env_dirs):
    r = invoke("--lang", "en", "visit", "--help")
    for verb in ("log", "list", "show", "void", "due", "stats", "ledger"):
        assert verb in r.stdout


# ---------------------------------------------------------------- the demo


def test_demo_rounds(env_dirs, tmp_path):
    """The demo's rounds: most workers meet the hour most days, some do not; care households
    mostly within their window, some overdue; findings became linked petitions; the day ledger
    agrees with the records (SQLite only: the demo is its own SQLite file)."""
    import sqlite3

    from sqlmodel import Session

    from baiyin_cli import store, timeutil
    from baiyin_cli.services import demo, system

    path = tmp_path / "demo.db"
    url = f"sqlite:///{path}"
    system.init(url)
    with Session(store.engine(url).execution_options(grid_write=True)) as s:
        ctx = demo.DemoContext(session=s, rng=random.Random(2026), now=timeutil.now())
        steps = dict(demo.STEPS)
        for name in ("org", "registry", "visits"):
            steps[name](ctx)
            s.flush()
        s.commit()
    store.dispose_all()
    made = ctx.made
    assert made["visits"] > 20 * made["grids"] and made["findings"] > 0 and made["mediations"] > 0

    r = invoke("--db", str(path), "--as", "admin", "visit", "stats", "--json").json()
    rates = [w["met_rate"] for w in r["workers"]]
    assert sum(x >= 70 for x in rates) > 0.6 * len(rates)  # most meet the hour most days
    assert sum(x < 50 for x in rates) >= 0.05 * len(rates)  # some do not
    t = r["totals"]
    assert 75 < t["coverage"] < 100 and t["care_overdue"] > 0  # mostly within the window, some overdue
    assert t["findings"] > 0 and set(t["by_kind"].values()) != {0}

    con = sqlite3.connect(path)
    q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
    assert q("SELECT COUNT(*) FROM worker WHERE role = 'grid_worker' AND active") == [(len(rates),)]
    assert q("SELECT COUNT(*) FROM petition WHERE channel = 'grid_report' AND visit_id IS NOT NULL") == [(made["findings"],)]
    assert q("SELECT COUNT(*) FROM petition p JOIN visit v ON v.id = p.visit_id WHERE p.grid_code != v.grid_code") == [(0,)]
    assert q("SELECT COUNT(*) FROM petition_event WHERE event = 'mediate'") == [(made["mediations"],)]
    # A few sittings per dispute, not every mediation of the grid on the latest one (regression: 13).
    most = q("SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM petition_event WHERE event = 'mediate' GROUP BY petition_id)")
    assert most[0][0] <= 3
    assert q("SELECT COUNT(*) FROM visit v JOIN petition p ON p.id = v.petition_id WHERE v.kind != 'mediation'") == [(0,)]
    assert q("SELECT SUM(minutes), COUNT(*) FROM visit WHERE voided_at IS NULL") == q(
        "SELECT SUM(minutes), SUM(visits) FROM visit_day")
    assert q("SELECT SUM(findings) FROM visit_day") == [(made["findings"],)]
    assert invoke("--db", str(path), "--as", "admin", "visit", "ledger", "--json").json()["differ"] == 0
    con.close()
