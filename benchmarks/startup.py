"""Startup cost of `grid`, as ratios against baselines measured in the same run.

    .venv/bin/python benchmarks/startup.py [--runs 15]

Measures the median wall time of
  - a one-command typer app's --help        (the baseline: what any typer CLI costs)
  - python -c "import sqlmodel"             (what a top-level ORM import would cost)
  - grid --help
  - grid area list --json                   (a real query on a fresh SQLite database)
and prints each as a ratio to the one-command app. Goal: grid --help <= 1.5x.
Byte-compiles the package first (PYTHONDONTWRITEBYTECODE may be set on this machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def median_time(cmd: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()

    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "baiyin_cli")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        one = tmpdir / "one.py"
        one.write_text(
            textwrap.dedent(
                """
                import typer
                app = typer.Typer()
                @app.command()
                def hello(name: str = "world") -> None:
                    \"\"\"Say hello.\"\"\"
                    print(name)
                app()
                """
            )
        )
        env = {
            **os.environ,
            "GRID_CONFIG": str(tmpdir / "config.toml"),
            "GRID_DATA_DIR": str(tmpdir / "data"),
            "GRID_DATABASE_URL": f"sqlite:///{tmpdir / 'bench.db'}",
            "COLUMNS": "100",
        }
        env.pop("GRID_USER", None)
        grid = [PY, "-m", "baiyin_cli"]
        subprocess.run([*grid, "init"], env=env, check=True, stderr=subprocess.DEVNULL)
        cases = [
            ("one-command typer app --help (baseline)", [PY, str(one), "--help"]),
            ('python -c "import sqlmodel"', [PY, "-c", "import sqlmodel"]),
            ("grid --help", [*grid, "--help"]),
            ("grid area list --json", [*grid, "area", "list", "--json"]),
        ]
        results = []
        for label, cmd in cases:
            median_time(cmd, 2, env)  # warm the page cache
            results.append((label, median_time(cmd, args.runs, env)))
    base = results[0][1]
    width = max(len(label) for label, _ in results)
    print(f"{'case':<{width}}  median ms  ratio to baseline   (runs={args.runs})")
    for label, t in results:
        print(f"{label:<{width}}  {t * 1000:9.1f}  {t / base:6.2f}x")


if __name__ == "__main__":
    main()
