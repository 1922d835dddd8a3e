"""Resident search on a city-sized registry: 1.5 M residents in ~2,400 grids.

    .venv/bin/python benchmarks/registry_search.py [--residents 1500000] [--url URL] [--db PATH] [--runs 5]

Builds (or, run again, resumes filling) the demo city, adds grids up to ~2,400 (Baiyin's count) and synthetic households and
residents up to --residents (bulk Core inserts; names, pinyin, initials, ID/phone last 4 and
address keys as the registry writes them), then times `registry_search.search_residents`
(the service behind `grid resident search`) for each kind of query, as the admin (whole city),
a secretary (a community) and a grid worker (a grid). Prints the best of --runs per query and
the query plan of the widest lookup. Nothing is asserted: the figures are for reading.
PostgreSQL: --url postgresql+psycopg://postgres@127.0.0.1:5432/DBNAME (an empty database).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = ["zs", "zhangsan", "zhangw", "张三", "王", "5678", "人民路12号", "金鱼花园3栋", "13912345678"]


def build(url: str, residents: int, seed: int) -> dict[str, str]:
    """Create (or resume filling) the benchmark database; each batch commits on its own."""
    from sqlalchemy import func, insert, select, text
    from stdnum.cn import ric

    from baiyin_cli import store, timeutil
    from baiyin_cli.migrations import current_revision
    from baiyin_cli.models import Area, Household, HouseholdAddressKey, Resident, Worker
    from baiyin_cli.services import demo, system
    from baiyin_cli.services.demo_registry import ESTATES, ROADS
    from baiyin_cli.services.registry_keys import address_keys, full_address, normalise_address

    eng = store.engine(url)
    now = timeutil.now()
    if current_revision(eng) is None:
        system.init(url)
        with eng.begin() as conn:
            from sqlmodel import Session

            with Session(bind=conn) as s:
                ctx = demo.DemoContext(session=s, rng=random.Random(seed), now=now)
                for _name, fn in [st for st in demo.STEPS if st[0] in ("org", "registry")]:
                    fn(ctx)
                s.flush()
            communities = [c["code"] for c in ctx.communities]
            extra = []
            per = max(1, (2400 - len(ctx.grids)) // len(communities))
            for c in communities:
                for i in range(10, 10 + per):
                    extra.append(dict(code=f"{c}{i:03d}", name=f"网格{i}", level="grid", parent_code=c, created_at=now))
            conn.execute(insert(Area.__table__), extra)
    with eng.connect() as conn:
        grids = [r[0] for r in conn.execute(select(Area.code).where(Area.level == "grid").order_by(Area.code))]
        have = conn.execute(select(func.count()).select_from(Resident.__table__)).scalar()
    rng = random.Random(seed * 1_000_003 + have)
    surnames = demo.SURNAMES
    given = demo.GIVEN_M + demo.GIVEN_F
    from pypinyin import Style, lazy_pinyin

    py = {c: (lazy_pinyin(c, style=Style.NORMAL) or [c])[0] for c in set(surnames + given)}
    from baiyin_cli.services import crypto

    cipher = crypto.for_url(eng.url.render_as_string(hide_password=False))
    print(f"adding {max(residents - have, 0):,} residents to {len(grids):,} grids ...", file=sys.stderr)
    t0 = time.perf_counter()
    while have < residents:
        with eng.begin() as conn:
            if conn.dialect.name == "sqlite":
                # Random keys into big indexes: keep them in memory while loading (1 GB).
                conn.exec_driver_sql("PRAGMA cache_size=-1000000")
            hid = conn.execute(select(func.max(Household.__table__.c.id))).scalar() + 1
            rid = conn.execute(select(func.max(Resident.__table__.c.id))).scalar() + 1
            hh, rr, kk = [], [], []
            while len(rr) < 50_000 and have < residents:
                g = rng.choice(grids)
                addr = f"{rng.choice(ROADS[g[:6]])}{rng.randint(1, 300)}号{rng.choice(ESTATES)}"
                b, u, room = str(rng.randint(1, 20)), str(rng.randint(1, 4)), f"{rng.randint(1, 18)}0{rng.randint(1, 4)}"
                norm = normalise_address(full_address(addr, b, u, room))
                hh.append(dict(id=hid, code=f"{g}-B{hid:08d}", grid_code=g, address=addr, address_norm=norm,
                               building=b, unit=u, room=room, type="urban", note=None, archived_at=None,
                               archive_reason=None, created_at=now, updated_at=now, version=1))
                kk += [dict(household_id=hid, key=k) for k in address_keys(norm)]
                surname = rng.choice(surnames)
                for j in range(rng.choice([1, 2, 2, 3, 3, 3, 4, 4, 5])):
                    name = (surname if j != 1 else rng.choice(surnames)) + "".join(
                        rng.choice(given) for _ in range(rng.choice([1, 2, 2])))
                    syl = [py[c] for c in name]
                    birth = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 30000))
                    idn = f"{g[:6]}{birth:%Y%m%d}{rng.randrange(1000):03d}"
                    idn += ric.calc_check_digit(idn + "?")
                    phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}" if rng.random() < 0.8 else None
                    rr.append(dict(id=rid, household_id=hid, name=name, name_pinyin="".join(syl),
                                   name_initials="".join(x[0] for x in syl), id_last4=idn[-4:],
                                   birth_date=birth, sex=rng.choice("MF"),
                                   **cipher.columns("resident.id_number", None),
                                   **cipher.columns("resident.phone", phone),  # stored encrypted
                                   phone_last4=phone[-4:] if phone else None, relation="02" if j == 0 else "10",
                                   ethnicity="01", note=None, archived_at=None, archive_reason=None,
                                   created_at=now, updated_at=now, version=1))
                    rid += 1
                    have += 1
                hid += 1
            conn.execute(insert(Household.__table__), hh)
            conn.execute(insert(Resident.__table__), rr)
            conn.execute(insert(HouseholdAddressKey.__table__), kk)
            if conn.dialect.name == "postgresql":
                for t in ("household", "resident"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))"))
        print(f"  {have:,} residents ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    with eng.connect() as conn:
        sec = conn.execute(select(Worker.username).where(Worker.role == "secretary").order_by(Worker.username).limit(1)).scalar()
        wg = conn.execute(select(Worker.username).where(Worker.role == "grid_worker").order_by(Worker.username).limit(1)).scalar()
    return {"admin": "admin", "secretary": sec, "grid_worker": wg}


def statistics(url: str, analyze: bool) -> None:
    """PostgreSQL's autovacuum keeps planner statistics; a SQLite file has none unless someone
    runs ANALYZE, which grid does not: measure that case unless --analyze."""
    from sqlalchemy import text

    from baiyin_cli import store

    with store.engine(url).connect() as conn:
        if analyze or conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("DROP TABLE IF EXISTS sqlite_stat1"))
            conn.execute(text("DROP TABLE IF EXISTS sqlite_stat4"))
        conn.commit()
    store.dispose_all()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--residents", type=int, default=1_500_000)
    ap.add_argument("--url")
    ap.add_argument("--db", type=Path, help="SQLite file (default: a temporary one)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--analyze", action="store_true", help="SQLite: measure with ANALYZE statistics")
    args = ap.parse_args()
    os.environ.setdefault("GRID_DATA_DIR", tempfile.mkdtemp())
    os.environ.setdefault("GRID_CONFIG", os.path.join(os.environ["GRID_DATA_DIR"], "config.toml"))
    url = args.url or f"sqlite:///{(args.db or Path(tempfile.mkdtemp()) / 'bench.db').resolve()}"
    t0 = time.perf_counter()
    users = build(url, args.residents, args.seed)
    statistics(url, args.analyze)
    print(f"built in {time.perf_counter() - t0:.0f} s: {url}", file=sys.stderr)

    from sqlalchemy import func, select

    from baiyin_cli import store
    from baiyin_cli.models import Resident
    from baiyin_cli.services.access import load_operator
    from baiyin_cli.services.registry_search import search_residents

    with store.session(url=url) as s:
        total = s.execute(select(func.count()).select_from(Resident)).scalar()
    stats = "with ANALYZE statistics" if args.analyze or not url.startswith("sqlite") else "no planner statistics"
    print(f"\n{total:,} residents, {stats}; best of {args.runs} runs, milliseconds (rows found)\n")
    print(f"{'query':<14}" + "".join(f"{who:>22}" for who in users))
    for q in QUERIES:
        cells = []
        for who, username in users.items():
            best = float("inf")
            n = 0
            for _ in range(args.runs):
                with store.session(url=url) as s:
                    op = load_operator(s, username)
                    t = time.perf_counter()
                    rows = search_residents(s, op, q, limit=50)
                    best = min(best, time.perf_counter() - t)
                    n = len(rows)
            cells.append(f"{best * 1000:>15.1f} ({n:>3})")
        print(f"{q:<14}" + "".join(f"{c:>22}" for c in cells))
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(store.sqlite_path(url))
        sql = ("SELECT r.id FROM resident r JOIN household h ON h.id = r.household_id WHERE r.name_initials >= 'zs'"
               " AND r.name_initials < 'zt' AND r.archived_at IS NULL ORDER BY r.name_initials, r.id LIMIT 50")
        print("\nplan (initials, whole city):")
        for row in con.execute("EXPLAIN QUERY PLAN " + sql):
            print("  ", row[-1])
        con.close()


if __name__ == "__main__":
    main()
