"""Visit schedules and rounds statistics on a city-year of visits.

    .venv/bin/python benchmarks/visits.py [--rows N] [--db PATH | --url URL] [--runs 5]

Builds a database of one year of rounds (2026) and times the services behind `grid visit due`
and `grid visit stats` (services/visits.py: due_queue, visit_stats), each the best of --runs,
as a ratio to a baseline measured in the same run: a raw `SELECT count(*) FROM visit`. Ratios
are what to compare across machines and runs; the milliseconds are for this machine now.

Scale: Baiyin has ~2,400 grids, ~600 k households and, at ~3.4 visits per grid-day, ~3 M
visits a year. --rows sets the visits; grids and households follow at that ratio (250
households and ~1,250 visits per grid). The default, 750,000 rows (600 grids, 150 k
households), builds in a few minutes on a 2-core machine; --rows 3000000 is the full city.
Built with bulk Core inserts: areas, workers, households, care tags (8 % of households tagged,
6 % more through a resident), two untagged residents per household, then visits through visits.insert_bulk (which refreshes the day
ledger, the table the statistics read). No petitions: findings are counted in the same ledger.

Also printed: the per-worker-day sums computed straight from `visit` (what the ledger saves),
and the SQLite query plans of the two hot lookups; with --check-ledger, the time `grid visit
ledger` takes to recompute the whole ledger and whether it agrees. Nothing is asserted.
PostgreSQL: --url postgresql+psycopg://postgres@127.0.0.1:5432/DBNAME (an empty database).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

YEAR = 2026
NOW = f"{YEAR}-12-31 20:00"
HOUSEHOLDS_PER_GRID = 250
VISITS_PER_GRID = 1250
KINDS = ["household"] * 55 + ["info_gathering"] * 15 + ["mediation"] * 8 + ["service"] * 22
TAGS = ["elderly_alone", "empty_nest", "childless_elderly", "child_in_difficulty", "left_behind_child",
        "disabled", "low_income", "special_hardship", "veteran"]


def build(url: str, rows: int, seed: int) -> dict[str, str]:
    from sqlalchemy import insert
    from sqlmodel import Session

    from baiyin_cli import store, timeutil
    from baiyin_cli.models import Area, Household, HouseholdCare, Resident, ResidentCare, Worker
    from baiyin_cli.services import system, visits

    system.init(url)
    eng = store.engine(url)
    rng = random.Random(seed)
    now = timeutil.now()
    registered = timeutil.parse_time(f"{YEAR - 1}-06-01 09:00")
    ngrids = max(4, rows // VISITS_PER_GRID)
    per_day = rows / (ngrids * 365)

    # The tree: 5 districts, streets of 8 communities, communities of 4 grids.
    areas: dict[str, dict] = {}
    workers, grids = [], []
    for i in range(ngrids):
        d, s_, c, g = 620402 + i // 480, (i // 32) % 15 + 1, (i // 4) % 8 + 1, i % 4 + 1
        dc, sc, cc, gc = f"{d}", f"{d}{s_:03d}", f"{d}{s_:03d}{c:03d}", f"{d}{s_:03d}{c:03d}{g:03d}"
        for code, level, parent in ((dc, "district", None), (sc, "street", dc), (cc, "community", sc),
                                    (gc, "grid", cc)):
            areas.setdefault(code, dict(code=code, name=code, level=level, parent_code=parent, created_at=now))
        grids.append(gc)
        workers.append(dict(username=f"wg{gc[-12:]}", name="网格员", phone=None, role="grid_worker", kind="full_time",
                            area_code=gc, dept_code=None, active=True, created_at=now, updated_at=now))
        if g == 1:
            workers.append(dict(username=f"sj{cc[-9:]}", name="书记", phone=None, role="secretary", kind=None,
                                area_code=cc, dept_code=None, active=True, created_at=now, updated_at=now))

    with Session(eng.execution_options(grid_write=True)) as s:
        s.execute(insert(Area.__table__), list(areas.values()))
        s.execute(insert(Worker.__table__), workers)
        print(f"{len(grids):,} grids; adding {len(grids) * HOUSEHOLDS_PER_GRID:,} households ...", file=sys.stderr)
        hh, hc, rr, rc = [], [], [], []
        hid = rid = 0
        homes: dict[str, list[int]] = {}
        care: set[int] = set()
        for gc in grids:
            for k in range(HOUSEHOLDS_PER_GRID):
                hid += 1
                hh.append(dict(id=hid, code=f"{gc}-{k + 1:04d}", grid_code=gc, address=f"幸福路{k + 1}号",
                               address_norm=f"幸福路{k + 1}号", building=None, unit=None, room=None, type="urban",
                               note=None, archived_at=None, archive_reason=None, created_at=registered,
                               updated_at=registered, version=1))
                homes.setdefault(gc, []).append(hid)
                x = rng.random()
                if x < 0.08:
                    hc.append(dict(household_id=hid, tag=rng.choice(TAGS)))
                    care.add(hid)
                elif x < 0.14:
                    rid += 1
                    rr.append(dict(id=rid, household_id=hid, name="居民", name_pinyin="jumin", name_initials="jm",
                                   id_number_enc=None, id_last4=None, birth_date=date(1940, 1, 1), sex="F", phone_enc=None,
                                   phone_last4=None, relation="02", ethnicity="01", note=None, archived_at=None,
                                   archive_reason=None, created_at=registered, updated_at=registered, version=1))
                    rc.append(dict(resident_id=rid, tag=rng.choice(TAGS)))
                    care.add(hid)
        for table, data in ((Household, hh), (HouseholdCare, hc), (Resident, rr), (ResidentCare, rc)):
            for i in range(0, len(data), 50_000):
                s.execute(insert(table.__table__), data[i : i + 50_000])
        # Everyone else: two untagged residents per household (a city has ~2.5 per household), so
        # that the care-tag lookups run against a resident table of the real size.
        from sqlalchemy import Date, Integer, String, literal, select

        R, H = Resident.__table__, Household.__table__
        cols = ["household_id", "name", "name_pinyin", "name_initials", "birth_date", "sex", "relation", "ethnicity",
                "created_at", "updated_at", "version"]
        if eng.dialect.name == "postgresql":  # the tagged residents above were given their ids
            from sqlalchemy import text

            s.execute(text("SELECT setval(pg_get_serial_sequence('resident', 'id'), (SELECT MAX(id) FROM resident))"))
        for _ in range(2):
            s.execute(insert(R).from_select(cols, select(
                H.c.id, literal("居民", String), literal("jumin", String), literal("jm", String),
                literal(date(1980, 1, 1), Date), literal("M", String), literal("10", String), literal("01", String),
                H.c.created_at, H.c.updated_at, literal(1, Integer))))
        s.commit()

        print(f"adding ~{rows:,} visits ...", file=sys.stderr)
        t0 = time.perf_counter()
        zone = timeutil.zone()
        made = 0
        chunk: list[dict] = []
        for n, gc in enumerate(grids, 1):
            worker = f"wg{gc[-12:]}"
            mine = homes[gc]
            cared = [h for h in mine if h in care]
            day = date(YEAR, 1, 1)
            while day.year == YEAR:
                count = max(0, round(rng.gauss(per_day, 1.2)))
                clock = datetime(day.year, day.month, day.day, 8, rng.randrange(0, 60), tzinfo=zone)
                for _ in range(count):
                    kind = rng.choice(KINDS)
                    household = None
                    if kind == "household" or rng.random() < 0.3:
                        household = rng.choice(cared) if cared and rng.random() < 0.45 else rng.choice(mine)
                    minutes = rng.randint(5, 45)
                    voided = rng.random() < 0.005
                    at = clock.astimezone(timeutil.UTC)
                    chunk.append(dict(worker=worker, household_id=household, grid_code=gc, kind=kind, started_at=at,
                                      minutes=minutes, recorded_at=at, recorded_by=worker,
                                      voided_at=at + timedelta(hours=1) if voided else None,
                                      voided_by=worker if voided else None, void_reason="录错" if voided else None))
                    clock += timedelta(minutes=minutes + rng.randint(5, 60))
                day += timedelta(days=1)
            if len(chunk) >= 100_000 or n == len(grids):
                visits.insert_bulk(s, chunk)  # one worker's whole year per chunk: its ledger rows are complete
                s.commit()
                made += len(chunk)
                chunk = []
                print(f"  {made:,} visits ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        if eng.dialect.name == "postgresql":
            from sqlalchemy import text

            for t in ("household", "resident"):
                s.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))"))
            s.commit()
    with eng.connect() as conn:
        from sqlalchemy import text

        conn.execute(text("ANALYZE"))
        conn.commit()
    return {"grid": grids[len(grids) // 2], "community": grids[len(grids) // 2][:12]}


def timed(fn, runs: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=750_000, help="visits in the year (3000000: the whole city)")
    ap.add_argument("--url", help="database URL (PostgreSQL: an empty database)")
    ap.add_argument("--db", type=Path, help="SQLite file (default: a temporary one); reused if it exists")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--check-ledger", action="store_true",
                    help="also recompute the whole day ledger from the records (grid visit ledger) and time it")
    args = ap.parse_args()
    os.environ.setdefault("GRID_DATA_DIR", tempfile.mkdtemp())
    os.environ.setdefault("GRID_CONFIG", os.path.join(os.environ["GRID_DATA_DIR"], "config.toml"))
    os.environ["GRID_NOW"] = NOW
    path = (args.db or Path(tempfile.mkdtemp()) / "visits.db").resolve()
    url = args.url or f"sqlite:///{path}"

    from sqlalchemy import func, select, text

    from baiyin_cli import store
    from baiyin_cli.models import Area, Household, Visit, VisitDay, Worker
    from baiyin_cli.services import visits
    from baiyin_cli.services.access import Operator

    if args.url or not path.exists():
        t0 = time.perf_counter()
        picks = build(url, args.rows, args.seed)
        print(f"built in {time.perf_counter() - t0:.0f} s: {store.redact(url)}", file=sys.stderr)
    else:
        with store.session(url=url) as s:
            g = s.execute(select(func.min(Area.code)).where(Area.level == "grid")).scalar()
        picks = {"grid": g, "community": g[:12]}

    with store.session(url=url) as s:
        counts = {
            "visits": s.execute(select(func.count()).select_from(Visit)).scalar(),
            "ledger rows": s.execute(select(func.count()).select_from(VisitDay)).scalar(),
            "households": s.execute(select(func.count()).select_from(Household)).scalar(),
            "grids": s.execute(select(func.count()).select_from(Area).where(Area.level == "grid")).scalar(),
        }
        worker = s.execute(select(Worker.username).where(Worker.area_code == picks["grid"])).scalar()
    print("\n" + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + f"; {store.redact(url).split('://')[0]}")

    admin = Operator("admin", "管理员", "admin", None)
    wg = Operator(worker, "网格员", "grid_worker", picks["grid"])
    sec = Operator("sec", "书记", "secretary", picks["community"])
    year = dict(start=date(YEAR, 1, 1), end=date(YEAR, 12, 31))

    def session_call(fn):  # type: ignore[no-untyped-def]
        def run():  # type: ignore[no-untyped-def]
            with store.session(url=url) as s:
                return fn(s)
        return run

    cases = [
        ("grid visit due (a grid, today)", lambda s: visits.due_queue(s, wg)),
        ("grid visit due (a grid, 2026-06-30)", lambda s: visits.due_queue(s, wg, on=date(YEAR, 6, 30))),
        ("grid visit stats --worker (30 days, daily)", lambda s: visits.visit_stats(s, wg, worker=worker)),
        ("grid visit stats --grid (year, daily)", lambda s: visits.visit_stats(s, wg, area=picks["grid"], **year)),
        ("grid visit stats --community (year)", lambda s: visits.visit_stats(s, sec, area=picks["community"], **year)),
        ("grid visit stats, whole city (30 days)", lambda s: visits.visit_stats(s, admin)),
        ("grid visit stats, whole city (year)", lambda s: visits.visit_stats(s, admin, **year)),
        ("  of which: care coverage, whole city", lambda s: visits.coverage(s, prefix=None, on=date(YEAR, 12, 31))),
        ("grid visit list, whole city (newest 100)", lambda s: visits.list_visits(s, admin, limit=100)),
        ("reference: worker-day sums straight from visit (year)", lambda s: s.execute(text(
            "SELECT count(*) FROM (SELECT worker, sum(minutes) FROM visit WHERE voided_at IS NULL "
            "AND started_at >= :lo AND started_at < :hi GROUP BY worker, " + (
                "date(started_at, '+8 hours')" if url.startswith("sqlite") else
                "(started_at AT TIME ZONE 'Asia/Shanghai')::date") + ") t"),
            {"lo": datetime(YEAR - 1, 12, 31, 16), "hi": datetime(YEAR, 12, 31, 16)}).scalar()),
    ]
    base, _ = timed(session_call(lambda s: s.execute(text("SELECT count(*) FROM visit")).scalar()), args.runs)
    scan, _ = timed(session_call(lambda s: s.execute(text("SELECT sum(minutes) FROM visit")).scalar()), args.runs)
    print(f"\nbest of {args.runs} runs; baseline = SELECT count(*) FROM visit: {base * 1000:.1f} ms "
          f"(a full scan, SELECT sum(minutes) FROM visit: {scan * 1000:.1f} ms = {scan / base:.1f} x baseline)\n")
    print(f"{'':<56}{'ms':>10}{'x baseline':>12}")
    for label, fn in cases:
        t, out = timed(session_call(fn), args.runs)
        extra = ""
        if isinstance(out, dict) and "totals" in out:
            tot = out["totals"]
            extra = f"  ({tot['workers']} workers, met {tot['met_rate']}%, coverage {tot['coverage']}%)"
        elif isinstance(out, dict) and "items" in out:
            extra = f"  ({out['overdue']} overdue, {out['due']} due of {out['households']})"
        print(f"{label:<56}{t * 1000:>10.1f}{t / base:>12.1f}{extra}")

    if args.check_ledger:
        t = time.perf_counter()
        with store.session(url=url) as s:
            r = visits.check_ledger(s, admin)
        print(f"\ngrid visit ledger (the whole ledger recomputed from the records): {time.perf_counter() - t:.1f} s, "
              f"{r['visits']:,} visits, {r['worker_days']:,} worker-days, {r['differ']} differ")

    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(path)
        plans = {
            "last visit of a household (due, coverage)":
                "SELECT v.id FROM visit v WHERE v.household_id = 1 AND v.voided_at IS NULL "
                "AND v.started_at < '2026-12-31' ORDER BY v.started_at DESC LIMIT 1",
            "ledger, whole city (stats)":
                "SELECT worker, count(*), sum(minutes) FROM visit_day WHERE day >= '2026-01-01' "
                "AND day <= '2026-12-31' GROUP BY worker",
            "ledger, an area (stats)":
                f"SELECT worker, count(*) FROM visit_day WHERE grid_code >= '{picks['community']}' "
                f"AND grid_code < '{picks['community']}:' AND day >= '2026-01-01' GROUP BY worker",
        }
        print()
        for label, sql in plans.items():
            print(f"plan, {label}:")
            for row in con.execute("EXPLAIN QUERY PLAN " + sql):
                print("   ", row[-1])


if __name__ == "__main__":
    main()
