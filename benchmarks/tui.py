"""`grid triage` at 1 k, 10 k and 100 k open petitions: first paint and keypress latency, with the pilot.

    .venv/bin/python benchmarks/tui.py [--sizes 1000,10000,100000] [--keys 40] [--keep DIR] [--datatable]

For each size a SQLite database is built once (kept under --keep, default a temp dir): one
community with four grids and N petitions filed over the last three weeks, loaded through
the petitions importer (the rules of `petition file`), all in the secretary's scope: the
worst case, every row is hers. Then, in one process and one event loop:

  first paint      TriageApp started until the frame with the first petition rows is drawn
                   (includes opening the database, the header counts, the total and the first
                   page: a real cold start of the screen, imports excepted)
  keypress         a key event sent to the driver until the frame that shows its effect:
                   j (next row), PageDown, End (the frame with the placeholders of the last
                   page: the answer), and the time until End's rows arrive from the database
  search           "/" + a word + Enter until the filtered rows are drawn (database-bound)

Baselines measured in the same run: an empty Textual app (one Static) for the first paint, and
the same app changing its text on a key for the keypress. Figures are printed as milliseconds
and as ratios to the baseline, never asserted. With --datatable, Textual's standard DataTable
filled with every open petition is timed too (at 100 k it takes tens of seconds).
Byte-compiles the package first (PYTHONDONTWRITEBYTECODE may be set on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMMUNITY = "620402001001"
GRIDS = [f"{COMMUNITY}{i:03d}" for i in range(1, 5)]
SIZE = (120, 40)
WORDS = {
    "hazard_manhole": "井盖破损，夜间行人容易踩空",
    "hazard_streetlight": "路灯不亮，晚上出行不安全",
    "environment": "垃圾堆放多日无人清运",
    "water_heating": "暖气不热，室温只有十几度",
    "dispute_neighbour": "楼上漏水导致楼下天花板发霉",
    "complaint": "夜间施工噪音扰民",
    "consultation": "咨询高龄补贴申领条件",
    "help": "独居老人家中水管爆裂，需要帮忙联系维修",
}


# ---------------------------------------------------------------- data


def build(path: Path, n: int) -> str:
    """A database with one community and `n` petitions in it (reused if it is already there)."""
    from baiyin_cli import store, timeutil
    from baiyin_cli.services import org, system
    from baiyin_cli.services.access import load_operator

    url = f"sqlite:///{path}"
    if path.exists():
        return url
    system.init(url)
    with store.session(write=True, url=url) as s:
        admin = load_operator(s, "admin")
        org.add_area(s, admin, "620402", "白银区", "district")
        org.add_area(s, admin, "620402001", "人民路街道", "street")
        org.add_area(s, admin, COMMUNITY, "新华社区", "community")
        for i, g in enumerate(GRIDS, 1):
            org.add_area(s, admin, g, f"新华社区第{'一二三四'[i - 1]}网格", "grid")
            org.add_worker(s, admin, username=f"wg{i}", name=f"网格员{i}", phone=None, role="grid_worker",
                           area=g)
        org.add_worker(s, admin, username="sec1", name="李书记", phone=None, role="secretary", area=COMMUNITY)
    rng = random.Random(n)
    now = timeutil.now()
    cats = list(WORDS)
    rows = path.with_suffix(".jsonl")
    with rows.open("w", encoding="utf-8") as fh:
        for i in range(n):
            cat = cats[i % len(cats)]
            filed = now - timedelta(minutes=rng.randrange(0, 21 * 24 * 60))
            fh.write(json.dumps({
                "text": f"{WORDS[cat]}（{i}）", "category": cat, "channel": "qr", "grid": GRIDS[i % len(GRIDS)],
                "address": f"人民路{i % 300}号", "filed_at": timeutil.fmt(filed),
            }, ensure_ascii=False) + "\n")
    from baiyin_cli.io import pipeline
    from baiyin_cli.services import bulk

    target = bulk.target("petitions")
    with pipeline.open_for(target, str(rows), fmt="jsonl") as source, store.session(write=True, url=url) as s:
        report = pipeline.run_import(s, load_operator(s, "admin"), target, source, strategy="create", atomic="all",
                                     dry_run=False, batch_size=5000, errors_path=None, progress=None)
    if report.error_count:
        raise SystemExit(f"import failed: {report.to_dict()}")
    store.dispose_all()
    return url


# ---------------------------------------------------------------- measuring


class Frames:
    """Records when the app writes a frame (headless apps skip writing: we encode it ourselves)."""

    def __init__(self, app: Any) -> None:
        from rich.console import Console

        self.times: list[float] = []
        self.console = Console(file=io.StringIO(), force_terminal=True, width=SIZE[0], height=SIZE[1],
                               color_system="truecolor", legacy_windows=False)
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None:
                renderable.render_segments(self.console)
                self.times.append(time.perf_counter())

        app._display = display

    def after(self, t0: float) -> float | None:
        later = [t for t in self.times if t >= t0]
        return later[0] if later else None


async def wait_for(predicate: Any, timeout: float = 120.0) -> None:
    t_end = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > t_end:
            raise TimeoutError("condition never held")
        await asyncio.sleep(0.0005)


async def frame_after(frames: Frames, t0: float, condition: Any, timeout: float = 120.0) -> float:
    """Seconds from t0 to the first frame drawn after `condition` came true.

    The condition is polled every half millisecond; the state changed after the last poll
    that saw it false, so the frame showing the change is the first one after that poll.
    """
    t_end = time.perf_counter() + timeout
    last_false = t0
    while not condition():
        last_false = time.perf_counter()
        if last_false > t_end:
            raise TimeoutError("condition never held")
        await asyncio.sleep(0.0005)
    while frames.after(last_false) is None:
        if time.perf_counter() > t_end:
            raise TimeoutError("no frame was drawn")
        await asyncio.sleep(0.0005)
    return frames.after(last_false) - t0  # type: ignore[operator]


def send_key(app: Any, key: str) -> None:
    from textual import events

    char = key if len(key) == 1 else None
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)


async def baseline(keys: int) -> tuple[float, list[float]]:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Empty(App[None]):
        BINDINGS = [("j", "bump", "")]
        count = 0

        def compose(self) -> ComposeResult:
            yield Static("0", id="n")

        def action_bump(self) -> None:
            self.count += 1
            self.query_one("#n", Static).update(str(self.count))

    t0 = time.perf_counter()
    app = Empty()
    frames = Frames(app)
    async with app.run_test(size=SIZE):
        paint = await frame_after(frames, t0, lambda: app.query("#n"))
        lat = []
        for _ in range(keys):
            before = app.count
            t = time.perf_counter()
            send_key(app, "j")
            lat.append(await frame_after(frames, t, lambda before=before: app.count > before))
            await asyncio.sleep(0.01)
    return paint, lat


async def triage(url: str, keys: int) -> dict[str, Any]:
    from baiyin_cli import store
    from baiyin_cli.tui.app import TriageApp

    store.dispose_all()
    t0 = time.perf_counter()
    app = TriageApp("sec1", url=url, lang="zh", refresh_seconds=3600)
    frames = Frames(app)
    out: dict[str, Any] = {}
    async with app.run_test(size=SIZE):
        def rows_shown() -> bool:
            q = getattr(app.screen, "queue", None) if app.screen.id == "queue-screen" else None
            return q is not None and q.total is not None and q.row_at(0) is not None

        out["paint"] = await frame_after(frames, t0, rows_shown)
        q = app.screen.queue
        out["total"] = q.total
        lat = []
        for _ in range(keys):
            before = q.cursor
            t = time.perf_counter()
            send_key(app, "j")
            lat.append(await frame_after(frames, t, lambda before=before: q.cursor > before))
            await asyncio.sleep(0.01)
        out["j"] = lat
        pg = []
        for _ in range(max(keys // 4, 3)):
            before = q.cursor
            t = time.perf_counter()
            send_key(app, "pagedown")
            pg.append(await frame_after(frames, t, lambda before=before: q.cursor > before))
            await wait_for(lambda: q.current is not None)
            await asyncio.sleep(0.01)
        out["pagedown"] = pg
        t = time.perf_counter()
        send_key(app, "end")
        out["end"] = await frame_after(frames, t, lambda: q.cursor == (q.total or 1) - 1)
        out["end_rows"] = await frame_after(frames, t, lambda: q.current is not None)
        await asyncio.sleep(0.05)
        send_key(app, "slash")
        await wait_for(lambda: app.screen.query_one("#search").has_focus)
        app.screen.query_one("#search").value = "井盖"
        gen = q.generation
        t = time.perf_counter()
        send_key(app, "enter")
        out["search"] = await frame_after(frames, t, lambda: q.generation > gen and q.total is not None
                                          and (q.total == 0 or q.row_at(0) is not None))
        out["search_total"] = q.total
    return out


async def datatable(url: str) -> float:
    """First paint of Textual's DataTable holding every open petition (what the queue avoids)."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    from baiyin_cli import store
    from baiyin_cli.services import petitions
    from baiyin_cli.services.access import load_operator

    class Table(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

        def on_mount(self) -> None:
            with store.session(url=url) as s:
                rows = petitions.list_petitions(s, load_operator(s, "sec1"))
            table = self.query_one(DataTable)
            table.add_columns("编号", "类别", "网格", "状态", "时限", "内容")
            table.add_rows([(r["number"], r["category"], r["grid"], r["status"], r["due_at"], r["text"])
                            for r in rows])

    t0 = time.perf_counter()
    app = Table()
    frames = Frames(app)
    async with app.run_test(size=SIZE):
        return await frame_after(frames, t0, lambda: app.query_one(DataTable).row_count > 0)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def p95(values: list[float]) -> float:
    return sorted(values)[max(int(len(values) * 0.95) - 1, 0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--keys", type=int, default=40, help="keypresses measured per size")
    ap.add_argument("--keep", default=None, help="directory to keep (and reuse) the databases in")
    ap.add_argument("--datatable", action="store_true", help="also time a DataTable with every row")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "baiyin_cli")], check=True)
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="grid-tui-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GRID_CONFIG", str(workdir / "config.toml"))
    os.environ.setdefault("GRID_DATA_DIR", str(workdir / "data"))
    os.environ.setdefault("GRID_STATE_DIR", str(workdir / "state"))
    os.environ.setdefault("GRID_NOW", "2026-03-16 10:00")

    urls = {}
    for n in sizes:
        t = time.perf_counter()
        urls[n] = build(workdir / f"triage-{n}.db", n)
        print(f"database with {n:,} petitions ready in {time.perf_counter() - t:.1f}s: {urls[n]}", flush=True)

    async def run() -> None:
        await baseline(3)  # warm the imports (textual, rich) before anything is measured
        await triage(urls[sizes[0]], 3)
        base_paint, base_keys = await baseline(args.keys)
        base_key = statistics.median(base_keys)
        print()
        print(f"baseline (an empty Textual app): first paint {ms(base_paint).strip()} ms, "
              f"keypress median {ms(base_key).strip()} ms   (terminal {SIZE[0]}x{SIZE[1]})")
        print()
        head = (f"{'petitions':>10} {'first paint':>19} {'j median':>17} {'j p95':>9} {'PgDn median':>12} "
                f"{'End':>9} {'End rows':>9} {'search':>9}")
        print(head)
        print(f"{'':>10} {'ms':>10} {'ratio':>8} {'ms':>8} {'ratio':>8} {'ms':>9} {'ms':>12} {'ms':>9} {'ms':>9} {'ms':>9}")
        for n in sizes:
            r = await triage(urls[n], args.keys)
            j = statistics.median(r["j"])
            print(f"{n:>10,} {ms(r['paint']):>10} {r['paint'] / base_paint:7.2f}x {ms(j):>8} {j / base_key:7.2f}x "
                  f"{ms(p95(r['j'])):>9} {ms(statistics.median(r['pagedown'])):>12} {ms(r['end']):>9} "
                  f"{ms(r['end_rows']):>9} {ms(r['search']):>9}", flush=True)
        if args.datatable:
            print()
            for n in sizes:
                d = await datatable(urls[n])
                print(f"DataTable with {n:>7,} rows: first paint {ms(d).strip()} ms ({d / base_paint:.1f}x baseline)",
                      flush=True)

    asyncio.run(run())


if __name__ == "__main__":
    main()
