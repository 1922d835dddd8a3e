"""Bulk import speed, as ratios against a raw floor measured in the same run.

    .venv/bin/python benchmarks/bulk.py                  # 20,000 households (~50,000 residents)
    .venv/bin/python benchmarks/bulk.py --rows 1000000   # a million households
    .venv/bin/python benchmarks/bulk.py --no-postgres    # SQLite only
    .venv/bin/python benchmarks/bulk.py --no-sqlite      # the floor and PostgreSQL only

Generates N households (and 1-4 residents each, with valid ID numbers) as CSV files with the
Chinese headers an export writes, then times, each on a fresh database made by `grid init`:

  floor         raw `sqlite3` executemany of the CSV rows into the same table, same indexes
  grid sqlite   `grid import households|residents FILE` (a real subprocess: full validation,
                address search keys, one transaction)
  grid's rows   the rows grid stored (search keys, ciphertexts, hashes, care tags), read back
                from its database, then inserted by raw sqlite3 executemany into a fresh one: a
                second floor that writes what grid writes, so the rest is grid's own work
  sqlite-utils  `sqlite-utils insert DB TABLE FILE --csv` of the same CSV (if installed)
  grid postgres `grid import` against PostgreSQL at 127.0.0.1:5432 (a scratch database is
                created next to `test` and dropped afterwards); rows go in through COPY

and prints seconds, rows per second, the peak memory of each grid process (it should not grow
with N: rows stream in batches) and each time as a ratio to both floors. Never asserts anything.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_ADMIN = os.environ.get("GRID_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓"
STREETS = [
    "人民路",
    "工农路",
    "纺织路",
    "公园路",
    "北京路",
    "友好路",
    "诚信大道",
    "兰州路",
    "五一街",
    "建设街",
]
HOUSEHOLD_HEADER = ["户编号", "网格", "地址", "楼栋", "单元", "房号", "类型", "关爱标签", "备注"]
RESIDENT_HEADER = ["户编号", "姓名", "公民身份号码", "性别", "联系电话", "与户主关系", "民族"]


# ---------------------------------------------------------------- data


def id_number(region: str, birth: date, seq: int) -> str:
    from stdnum.cn import ric

    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def grids(n_communities: int = 10, per_community: int = 10) -> list[tuple[str, str, str, str | None]]:
    """(code, name, level, parent) of a small district: 2 streets, communities, grids."""
    out = [("620402", "白银区", "district", None)]
    for s in (1, 2):
        street = f"620402{s:03d}"
        out.append((street, f"第{s}街道", "street", "620402"))
        for c in range(1, n_communities // 2 + 1):
            community = f"{street}{c:03d}"
            out.append((community, f"第{s}-{c}社区", "community", street))
            for g in range(1, per_community + 1):
                out.append((f"{community}{g:03d}", f"第{s}-{c}-{g}网格", "grid", community))
    return out


def generate(tmp: Path, n: int, seed: int = 7) -> tuple[Path, Path, Path, int]:
    """areas.csv, households.csv, residents.csv; returns the number of residents too."""
    rng = random.Random(seed)
    areas = grids()
    grid_codes = [a[0] for a in areas if a[2] == "grid"]
    with open(tmp / "areas.csv", "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["区域代码", "名称", "级别", "上级代码"])
        w.writerows([[c, nm, lv, p or ""] for c, nm, lv, p in areas])
    person = 0
    base = date(1935, 1, 1)
    with (
        open(tmp / "households.csv", "w", encoding="utf-8-sig", newline="") as fh,
        open(tmp / "residents.csv", "w", encoding="utf-8-sig", newline="") as fr,
    ):
        wh, wr = csv.writer(fh), csv.writer(fr)
        wh.writerow(HOUSEHOLD_HEADER)
        wr.writerow(RESIDENT_HEADER)
        for i in range(n):
            code = f"B{i:08d}"
            street = STREETS[i % len(STREETS)]
            care = "独居老人" if i % 17 == 0 else ("低保户" if i % 23 == 0 else "")
            wh.writerow(
                [
                    code,
                    grid_codes[i % len(grid_codes)],
                    f"{street}{i // 120 + 1}号院",
                    str(i % 12 + 1),
                    str(i % 4 + 1),
                    f"{(i % 6 + 1)}0{i % 4 + 1}",
                    "",
                    care,
                    "",
                ]
            )
            members = 1 if i % 17 == 0 else rng.randint(1, 4)
            surname = SURNAMES[i % len(SURNAMES)]
            for k in range(members):
                # Distinct (birth date, sequence) per person: distinct, valid ID numbers.
                birth = base + timedelta(days=(person // 1000) % 27000)
                seq = person % 1000
                person += 1
                relation = ["户主", "配偶", "子女", "子女"][k]
                name = (
                    (surname if k != 1 else SURNAMES[(i + 7) % len(SURNAMES)])
                    + rng.choice(GIVEN)
                    + rng.choice(GIVEN)
                )
                phone = f"139{rng.randrange(10**8):08d}" if rng.random() < 0.6 else ""
                wr.writerow([code, name, id_number("620402", birth, seq), "", phone, relation, "汉族"])
    return tmp / "areas.csv", tmp / "households.csv", tmp / "residents.csv", person


# ---------------------------------------------------------------- running grid


def grid_env(tmp: Path, url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "GRID_CONFIG": str(tmp / "config.toml"),
        "GRID_DATA_DIR": str(tmp / "data"),
        "GRID_STATE_DIR": str(tmp / "state"),
        "GRID_DATABASE_URL": url,
        "GRID_USER": "admin",
        "COLUMNS": "120",
    }
    for k in ("GRID_TOKEN", "GRID_NOW", "GRID_LANG"):
        env.pop(k, None)
    return env


def login(env: dict[str, str]) -> None:
    """A session for `admin` when this grid requires one (services/auth.py), as the tests do."""
    code = (
        "import os\n"
        "from baiyin_cli import store\n"
        "try:\n"
        "    from baiyin_cli.services import auth\n"
        "except ImportError:\n"
        "    raise SystemExit(0)\n"
        "with store.session(write=True, url=os.environ['GRID_DATABASE_URL']) as s:\n"
        "    print(auth.issue_token(s, 'admin')[0])\n"
    )
    out = subprocess.run([PY, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()
    if out:
        env["GRID_TOKEN"] = out


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t0
    err = p.stderr.read().decode() if p.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err}")
    return seconds, usage.ru_maxrss / 1024


def grid_import(env: dict[str, str], entity: str, path: Path) -> tuple[float, float]:
    return run([PY, "-m", "baiyin_cli", "import", entity, str(path), "--json"], env)


def fresh_sqlite(tmp: Path, name: str) -> tuple[str, dict[str, str]]:
    url = f"sqlite:///{tmp / name}"
    env = grid_env(tmp, url)
    subprocess.run([PY, "-m", "baiyin_cli", "init"], env=env, check=True, capture_output=True)
    login(env)
    return url, env


# ---------------------------------------------------------------- the floor


def floor(db: Path, households: Path, residents: Path) -> tuple[float, float]:
    """csv.reader + sqlite3 executemany into household / resident, in one transaction each, with the
    pragmas grid uses. Values go in as read: no validation, no search keys."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    now = "2026-01-01 00:00:00.000000"

    def hh_rows():  # type: ignore[no-untyped-def]
        with open(households, encoding="utf-8-sig", newline="") as f:
            r = csv.reader(f)
            next(r)
            for i, (code, grid, address, building, unit, room, _t, _c, note) in enumerate(r, 1):
                yield (
                    i,
                    code,
                    grid,
                    address,
                    address,
                    building,
                    unit,
                    room,
                    "urban",
                    note or None,
                    now,
                    now,
                    1,
                )

    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO household (id, code, grid_code, address, address_norm, building, unit, room, type, note, "
        "created_at, updated_at, version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        hh_rows(),
    )
    con.execute("COMMIT")
    t_h = time.perf_counter() - t0
    ids = dict(con.execute("SELECT code, id FROM household"))

    def res_rows():  # type: ignore[no-untyped-def]
        with open(residents, encoding="utf-8-sig", newline="") as f:
            r = csv.reader(f)
            next(r)
            for code, name, idn, _sex, phone, relation, _eth in r:
                yield (
                    ids[code],
                    name,
                    "",
                    "",
                    idn,
                    idn[-4:],
                    None,
                    None,
                    phone or None,
                    phone[-4:] or None,
                    "02" if relation == "户主" else "10",
                    None,
                    now,
                    now,
                    1,
                )

    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.executemany(
        # ID numbers and phones go in as read, into the columns that hold their ciphertexts in grid.
        "INSERT INTO resident (household_id, name, name_pinyin, name_initials, id_number_enc, id_last4, birth_date, "
        "sex, phone_enc, phone_last4, relation, ethnicity, created_at, updated_at, version) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        res_rows(),
    )
    con.execute("COMMIT")
    t_r = time.perf_counter() - t0
    con.close()
    return t_h, t_r


# The tables a households / residents import writes (search keys and care tags included).
WRITTEN = {
    "households": ("household", "household_care", "household_address_key", "household_event"),
    "residents": ("resident", "resident_care"),
}


def stored_floor(grid_db: Path, db: Path) -> dict[str, tuple[float, int]]:
    """The same rows grid stored, read back from its database before the clock starts, then
    executemany'd by raw sqlite3 into the same tables of a fresh database (one transaction per
    import). Against the first floor this one also pays for what grid's rows hold that the CSV
    does not: the address search keys (about a dozen rows a household), ciphertexts, and keyed
    hashes and pinyin in indexed columns. What grid takes beyond it is its own work: reading,
    validating, looking up, encrypting. Returns {entity: (seconds, rows written)}."""
    src = sqlite3.connect(grid_db)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    out: dict[str, tuple[float, int]] = {}
    try:
        for entity, tables in WRITTEN.items():
            data = []
            for t in tables:
                cols = [r[1] for r in src.execute(f'PRAGMA table_info("{t}")')]
                names = ", ".join(f'"{c}"' for c in cols)
                rows = src.execute(f'SELECT {names} FROM "{t}"').fetchall()
                data.append((f'INSERT INTO "{t}" ({names}) VALUES ({", ".join("?" * len(cols))})', rows))
            t0 = time.perf_counter()
            con.execute("BEGIN")
            for sql, rows in data:
                con.executemany(sql, rows)
            con.execute("COMMIT")
            out[entity] = (time.perf_counter() - t0, sum(len(r) for _s, r in data))
            del data
    finally:
        src.close()
        con.close()
    return out


# ---------------------------------------------------------------- PostgreSQL


def pg_scratch() -> tuple[str, str, object] | None:
    try:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"grid_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return name, make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), admin
    except Exception as exc:  # noqa: BLE001 - the benchmark goes on without PostgreSQL
        print(f"  (no PostgreSQL: {str(exc).splitlines()[0]})")
        return None


def pg_drop(name: str, admin: object) -> None:
    with admin.connect() as c:  # type: ignore[attr-defined]
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()  # type: ignore[attr-defined]


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=20_000, help="households to generate (default 20000)")
    ap.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    ap.add_argument("--no-sqlite", action="store_true", help="skip grid and sqlite-utils on SQLite (the floor runs)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files and databases")
    ap.add_argument("--stored-floor", nargs=2, metavar=("GRID_DB", "FLOOR_DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stored_floor:
        print(json.dumps(stored_floor(Path(args.stored_floor[0]), Path(args.stored_floor[1]))))
        return

    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "baiyin_cli")], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="grid-bulk-"))
    try:
        t0 = time.perf_counter()
        areas, households, residents, n_res = generate(tmp, args.rows)
        size = (households.stat().st_size + residents.stat().st_size) / 2**20
        print(
            f"generated {args.rows:,} households and {n_res:,} residents ({size:.1f} MiB of CSV) "
            f"in {time.perf_counter() - t0:.1f} s: {tmp}"
        )

        results: list[tuple[str, str, float, float | None, int]] = []

        def add(label: str, entity: str, secs: float, mem: float | None, n: int) -> None:
            """Keep a figure, and say it at once: a long run stopped midway still told what it measured."""
            results.append((label, entity, secs, mem, n))
            mem_s = f", peak {mem:.0f} MiB" if mem is not None else ""
            print(f"  {label}, {entity}: {secs:.2f} s, {n / secs:,.0f} rows/s{mem_s}", flush=True)

        # The floor.
        _url, env = fresh_sqlite(tmp, "floor.db")
        run([PY, "-m", "baiyin_cli", "import", "areas", str(areas)], env)
        fh, fr = floor(tmp / "floor.db", households, residents)
        add("floor: sqlite3 executemany", "households", fh, None, args.rows)
        add("floor: sqlite3 executemany", "residents", fr, None, n_res)

        # grid on SQLite, and sqlite-utils if installed.
        if not args.no_sqlite:
            _url, env = fresh_sqlite(tmp, "grid.db")
            run([PY, "-m", "baiyin_cli", "import", "areas", str(areas)], env)
            s, m = grid_import(env, "households", households)
            add("grid import (SQLite)", "households", s, m, args.rows)
            s, m = grid_import(env, "residents", residents)
            add("grid import (SQLite)", "residents", s, m, n_res)
            s, m = grid_import(env, "households", households)
            add("grid import again: a no-op", "households", s, m, args.rows)

            # The second floor: the rows grid stored, inserted raw.
            _url, env2 = fresh_sqlite(tmp, "floor2.db")
            run([PY, "-m", "baiyin_cli", "import", "areas", str(areas)], env2)
            # In a process of its own: it holds every row in memory, and each grid process forked
            # from this one afterwards would count those pages in its peak memory.
            out = subprocess.run(
                [PY, __file__, "--stored-floor", str(tmp / "grid.db"), str(tmp / "floor2.db")],
                check=True, capture_output=True, text=True,
            ).stdout
            for entity, (secs, written) in json.loads(out).items():
                n = args.rows if entity == "households" else n_res
                add(f"floor: grid's rows ({written / n:.1f}/row)", entity, secs, None, n)

            su = shutil.which("sqlite-utils") or (
                str(Path(PY).parent / "sqlite-utils") if (Path(PY).parent / "sqlite-utils").exists() else None
            )
            if su:
                for entity, path, n in (("households", households, args.rows), ("residents", residents, n_res)):
                    s, _m = run([su, "insert", str(tmp / "su.db"), entity, str(path), "--csv"], env)
                    add("sqlite-utils insert --csv", entity, s, None, n)
            else:
                print("  (sqlite-utils is not installed: pip install sqlite-utils to compare)")

        # grid on PostgreSQL.
        if not args.no_postgres:
            pg = pg_scratch()
            if pg is not None:
                name, url, admin = pg
                try:
                    env = grid_env(tmp, url)
                    subprocess.run([PY, "-m", "baiyin_cli", "init"], env=env, check=True, capture_output=True)
                    login(env)
                    run([PY, "-m", "baiyin_cli", "import", "areas", str(areas)], env)
                    s, m = grid_import(env, "households", households)
                    add("grid import (PostgreSQL, COPY)", "households", s, m, args.rows)
                    s, m = grid_import(env, "residents", residents)
                    add("grid import (PostgreSQL, COPY)", "residents", s, m, n_res)
                finally:
                    if not args.keep:
                        pg_drop(name, admin)

        floors = {e: t for label, e, t, _m, _n in results if label.startswith("floor: sqlite3")}
        stored = {e: t for label, e, t, _m, _n in results if label.startswith("floor: grid's rows")}

        def ratio(base: dict[str, float], entity: str, secs: float) -> str:
            return f"{secs / base[entity]:8.1f}" if base.get(entity) else f"{'-':>8}"

        print()
        print(f"{'':36} {'what':11} {'seconds':>9} {'rows/s':>10} {'peak MiB':>9} {'x floor':>8} {'x rows':>8}")
        for label, entity, secs, mem, n in results:
            mem_s = f"{mem:9.0f}" if mem is not None else f"{'-':>9}"
            print(
                f"{label:36} {entity:11} {secs:9.2f} {n / secs:10,.0f} {mem_s} "
                f"{ratio(floors, entity, secs)} {ratio(stored, entity, secs)}"
            )
        print("\nx floor: against the CSV's values inserted raw into the same table (the issue's floor).")
        print("x rows:  against the rows grid stored (search keys, ciphertexts, hashes, care tags), inserted")
        print("         raw: what grid takes beyond it is reading, validating, looking up and encrypting.")
        print("(grid validates every row with the registry's rules: ID check digit, phone, grid, duplicates")
        print(" in the file and in the database.)")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
