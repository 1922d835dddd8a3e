"""Shared by the reliability suites (tests/reliability, marked `reliability`) and their quick
versions in the normal suite (tests/test_reliability_quick.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))

import load  # noqa: E402  (benchmarks/load.py: the load runner)

REPORT_DIR = Path(os.environ.get("GRID_RELIABILITY_DIR", str(ROOT / "build" / "reliability")))


def report(name: str, text: str) -> None:
    """Keep a figure of the run (scripts/reliability prints them all at the end); never asserted."""
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / f"{name}.md").write_text(text.rstrip() + "\n", encoding="utf-8")
    print("\n" + text)


def load_run(url: str, backend: str, *, processes: int, seconds: float, cli_share: float, name: str | None = None):
    """Run the terminals, keep the figures, hand back the result (problems asserted by the caller)."""
    r = load.run(url, processes=processes, seconds=seconds, cli_share=cli_share, seed=int(os.environ.get("GRID_SEED", "1")))
    if name:
        title = (f"### Load, {backend}: {processes} terminals for {seconds:.0f} s "
                 f"({cli_share:.0%} through the `grid` subprocess)\n")
        report(name, title + "\n" + load.table(r["figures"]) + f"\n\nchecked: {r['checked']}\n")
    return r


def assert_agrees(r) -> None:  # type: ignore[no-untyped-def]
    problems = r["problems"]
    assert not problems, "\n".join(problems[:30])


def fingerprints(url: str) -> dict[str, tuple[int, str]]:
    """Every table's row count and a checksum of its content (all tables, login sessions included)."""
    import hashlib

    from sqlalchemy import create_engine, inspect, text

    eng = create_engine(url)
    out: dict[str, tuple[int, str]] = {}
    try:
        with eng.connect() as c:
            for t in sorted(inspect(c).get_table_names()):
                rows = sorted(repr(tuple(r)) for r in c.execute(text(f'SELECT * FROM "{t}"')))
                out[t] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    finally:
        eng.dispose()
    return out
