"""Many terminals at once: N processes act as community terminals against one database.

    .venv/bin/python benchmarks/load.py --db URL [--processes 8] [--seconds 60] [--cli-share 0.1]

Each terminal process (multiprocessing, spawn: its own interpreter and its own engine) loops
until the time is up, picking an action at random: file a petition, assign, call back, start,
escalate, send back, resolve, rate, close, log a visit (sometimes with a finding filed on the
spot), import a small household file. Targets overlap on purpose: every terminal picks among
the newest few petitions in the state the action needs, and every import rewrites the same
households. A share of the actions goes through the real `grid` command as a subprocess (the
CLI path); the rest call the services in-process for throughput.

Every action carries a unique token (the history note, the petition text, the visit note, the
import file's name), and each process keeps a ledger of what it believes it did and of what
was refused. `verify()` then checks the database against the ledgers:

- petition numbers are unique and gap-free per day, and the day's sequence row agrees;
- every history is complete and in order (seq 1..n, each step starts where the last ended,
  times never go back, the last step is the petition's status, version == steps);
- no update was lost: every action a terminal saw succeed is in the database exactly once,
  and no refused action left a trace; every hot household carries the note of the last
  import that committed (by audit order) and one version per import that touched it;
- every refusal was a conflict (exit 5) naming what clashed, never "database is locked",
  never a traceback or another error;
- the visit day ledger says what the visit records say; the audit chain verifies; `grid db
  check` passes.

Figures (actions per second, p50/p95/p99 latency per action) are printed as a table: they
are figures of the run, not assertions.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DISTRICT, STREET = "620402", "620402001"
COMMUNITIES = {"620402001001": "sec1", "620402001002": "sec2"}
GRIDS = {  # grid -> its grid worker
    "620402001001001": "wg11",
    "620402001001002": "wg12",
    "620402001002001": "wg21",
    "620402001002002": "wg22",
}
DEPT, DEPT_USER = "sifa", "dsifa"
HOUSEHOLDS_PER_GRID = 6
HOT_PER_IMPORT = 5

# A refusal that concurrency may cause, and only those: each names what clashed.
CONFLICT_KEYS = frozenset({
    "petition.changed",           # someone moved the petition on since this terminal looked
    "petition.not_from_state",    # ... into a state the action does not start from
    "petition.already_assigned",  # ... and gave it to the same worker first
    "petition.already_rated",
    "petition.same_dept",
    "petition.not_closable",
    "import.race",                # two imports created the same record at once
    "db.write_conflict",          # PostgreSQL chose this transaction as a deadlock victim
})

# Weights of the action mix.
MIX = {
    "file": 6, "assign": 5, "contact": 4, "start": 2, "escalate": 2, "send_back": 1, "resolve": 4,
    "rate": 2, "close": 2, "visit": 4, "visit_finding": 1, "import": 1,
}
SOURCES = {  # event -> states it is picked from (the workflow table allows it from each)
    "assign": ("submitted", "assigned", "contacted", "in_progress"),
    "contact": ("assigned",),
    "start": ("contacted",),
    "escalate": ("contacted", "in_progress"),
    "send_back": ("escalated",),
    "resolve": ("contacted", "in_progress", "escalated"),
    "rate": ("resolved",),
    "close": ("resolved",),
}
PICK_AMONG = 6  # the newest few candidates: terminals collide on purpose


# ---------------------------------------------------------------- setup


def household_code(grid: str, k: int) -> str:
    return f"{grid}-{k:04d}"


def build_city(url: str) -> None:
    """The city the terminals work in: 2 communities, 4 grids, their people, 24 households."""
    from baiyin_cli import store
    from baiyin_cli.io import pipeline
    from baiyin_cli.services import bulk, org
    from baiyin_cli.services.access import load_operator

    with store.session(write=True, url=url) as s:
        admin = load_operator(s, "admin")
        org.add_area(s, admin, DISTRICT, "白银区", "district")
        org.add_area(s, admin, STREET, "人民路街道", "street")
        for c in COMMUNITIES:
            org.add_area(s, admin, c, f"社区{c[-1]}", "community")
        for g in GRIDS:
            org.add_area(s, admin, g, f"网格{g[-4]}{g[-1]}", "grid")
        org.add_dept(s, admin, DEPT, "司法所")
        for c, sec in COMMUNITIES.items():
            org.add_worker(s, admin, username=sec, name=f"书记{c[-1]}", phone=None, role="secretary", area=c)
        for g, wg in GRIDS.items():
            org.add_worker(s, admin, username=wg, name=f"网格员{wg[2:]}", phone=None, role="grid_worker", area=g)
        org.add_worker(s, admin, username=DEPT_USER, name="司法所员", phone=None, role="department", dept=DEPT)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "households.csv"
        rows = [[household_code(g, k), g, f"人民路{int(g[-3:]) * 100 + k}号", "setup"]
                for g in GRIDS for k in range(1, HOUSEHOLDS_PER_GRID + 1)]
        _write_csv(path, rows)
        with store.session(write=True, url=url) as s:
            admin = load_operator(s, "admin")
            t = bulk.target("households")
            with pipeline.open_for(t, str(path)) as src:
                report = pipeline.run_import(s, admin, t, src)
            assert report.error_count == 0, report.to_dict("en")


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["code", "grid", "address", "note"])
        w.writerows(rows)


# ---------------------------------------------------------------- one terminal


class Terminal:
    def __init__(self, url: str, index: int, seconds: float, cli_share: float, seed: int, workdir: Path,
                 env: dict[str, str]) -> None:
        self.url = url
        self.index = index
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.cli_share = cli_share
        self.rng = random.Random(seed * 1000 + index)
        self.workdir = workdir
        self.env = env
        self.n = 0
        self.ledger: list[dict[str, Any]] = []
        self.tokens: dict[str, str] = {}

    def token(self) -> str:
        self.n += 1
        return f"L{self.index:02d}x{self.n:05d}"

    # -- plumbing

    def session(self, write: bool):  # type: ignore[no-untyped-def]
        from baiyin_cli import store

        return store.session(write=write, url=self.url)

    def _op(self, s: Any, username: str) -> Any:
        from baiyin_cli.services.access import load_operator

        return load_operator(s, username)

    def cli_token(self, username: str) -> str | None:
        """A login session for the subprocess path, issued once per operator (as the test harness does)."""
        if username in self.tokens:
            return self.tokens[username]
        try:
            from baiyin_cli.services import auth
        except ImportError:  # a grid without authentication: --as is enough
            return None
        with self.session(True) as s:
            token, _row = auth.issue_token(s, username, client="load-test")
        self.tokens[username] = token
        return token

    def run_cli(self, username: str, *argv: str) -> tuple[int, str, str]:
        env = dict(self.env)
        env["GRID_DATABASE_URL"] = self.url
        env["GRID_LANG"] = "en"
        tok = self.cli_token(username)
        if tok:
            env["GRID_TOKEN"] = tok
        p = subprocess.run([sys.executable, "-m", "baiyin_cli", "--as", username, *argv], capture_output=True,
                           text=True, env=env, timeout=300, cwd=str(ROOT))
        return p.returncode, p.stdout, p.stderr

    def record(self, kind: str, path: str, seconds: float, outcome: str, **facts: Any) -> None:
        self.ledger.append({"kind": kind, "path": path, "seconds": round(seconds, 6), "outcome": outcome, **facts})

    def attempt(self, kind: str, username: str, service: Any, argv: list[str], **facts: Any) -> Any:
        """Run one action in-process (`service(session, op)`) or, for a share, as `grid ARGV --json`.

        Outcome: ok (its JSON result is returned), conflict (exit 5 / Conflict naming what clashed),
        or error (anything else: the run fails)."""
        from baiyin_cli.errors import Conflict, GridError

        use_cli = self.rng.random() < self.cli_share
        started = time.perf_counter()
        if use_cli:
            code, out, err = self.run_cli(username, *argv, "--json")
            took = time.perf_counter() - started
            lines = [ln for ln in err.splitlines() if ln.startswith("grid: ")]
            if code == 0:
                result = json.loads(out)
                self.record(kind, "cli", took, "ok", **facts, **self.facts_of(kind, result))
                return result
            if code == 5 and len(lines) == 1 and "Traceback" not in err:
                key = conflict_key(lines[0])
                self.record(kind, "cli", took, "conflict" if key else "error", **facts, key=key, message=lines[0])
                return None
            self.record(kind, "cli", took, "error", **facts, exit=code, message=err[-1500:])
            return None
        try:
            with self.session(True) as s:
                result = service(s, self._op(s, username))
        except Conflict as exc:
            took = time.perf_counter() - started
            self.record(kind, "svc", took, "conflict" if exc.key in CONFLICT_KEYS else "error", **facts,
                        key=exc.key, message=exc.text("en"))
            return None
        except GridError as exc:
            self.record(kind, "svc", time.perf_counter() - started, "error", **facts, key=exc.key,
                        exit=int(exc.code), message=exc.text("en"))
            return None
        except Exception as exc:  # noqa: BLE001 - the ledger keeps it; verify() fails the run
            self.record(kind, "svc", time.perf_counter() - started, "error", **facts,
                        message=f"{type(exc).__name__}: {exc}"[:500], traceback=traceback.format_exc()[-3000:])
            return None
        self.record(kind, "svc", time.perf_counter() - started, "ok", **facts, **self.facts_of(kind, result))
        return result

    @staticmethod
    def facts_of(kind: str, result: Any) -> dict[str, Any]:
        if kind in ("file",):
            return {"number": result["number"]}
        if kind in ("visit", "visit_finding"):
            return {"visit_id": result["id"], "findings": [f["number"] for f in result.get("findings", [])]}
        if kind == "import":
            return {"created": result["created"], "updated": result["updated"], "ignored": result["ignored"],
                    "rejected": result["rejected"]}
        return {"version": result.get("version")}

    # -- picking targets

    def candidates(self, statuses: tuple[str, ...], community: str, **where: str) -> list[Any]:
        from sqlalchemy import select

        from baiyin_cli.models import Petition

        q = select(Petition.number, Petition.version, Petition.assignee, Petition.grid_code, Petition.rating).where(
            Petition.status.in_(statuses), Petition.community_code == community  # type: ignore[attr-defined]
        )
        for k, v in where.items():
            q = q.where(getattr(Petition, k) == v)
        q = q.order_by(Petition.id.desc()).limit(PICK_AMONG)  # type: ignore[union-attr]
        with self.session(False) as s:
            return list(s.execute(q).all())

    # -- the actions

    def act(self) -> None:
        kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        getattr(self, "do_" + kind)()

    def do_file(self) -> None:
        from baiyin_cli.services import petitions

        grid = self.rng.choice(list(GRIDS))
        who = self.rng.choice([COMMUNITIES[grid[:12]], GRIDS[grid]])
        tok = self.token()
        text = f"{tok} 楼道灯不亮，请尽快处理"
        category = self.rng.choice(["help", "complaint", "environment"])
        self.attempt(
            "file", who,
            lambda s, op: petitions.file_petition(s, op, text=text, category=category, channel="qr", grid=grid),
            ["petition", "file", "--text", text, "--category", category, "--channel", "qr", "--grid", grid],
            token=tok, actor=who,
        )

    def _transition(self, event: str, pick: Any, who: str, **data: str) -> None:
        from baiyin_cli.services import petitions

        tok = self.token()
        number, version = pick.number, pick.version
        argv = ["petition", event.replace("_", "-"), number, "--note", tok, "--if-version", str(version)]
        for k, v in data.items():
            # `grid petition rate NUMBER RATING`: the rating is an argument, every other field an option.
            argv += [v] if k == "rating" else [f"--{k}", v]
        self.attempt(
            event, who,
            lambda s, op: petitions.apply(s, op, number, event, note=tok, expected_version=version, **data),
            argv, token=tok, actor=who, petition=number, read_version=version,
        )

    def _pick(self, event: str, **where: str) -> tuple[Any, str] | None:
        community = self.rng.choice(list(COMMUNITIES))
        rows = self.candidates(SOURCES[event], community, **where)
        if not rows:
            return None
        return self.rng.choice(rows), community

    def do_assign(self) -> None:
        got = self._pick("assign")
        if got:
            pick, community = got
            self._transition("assign", pick, COMMUNITIES[community], to=GRIDS[pick.grid_code])

    def _by_assignee(self, event: str, **data: str) -> None:
        got = self._pick(event)
        if got and got[0].assignee:
            self._transition(event, got[0], got[0].assignee, **data)

    def do_contact(self) -> None:
        self._by_assignee("contact", how=self.rng.choice(["phone", "visit", "sms"]), outcome="已回电说明情况")

    def do_start(self) -> None:
        self._by_assignee("start")

    def do_escalate(self) -> None:
        got = self._pick("escalate")
        if got:
            self._transition("escalate", got[0], COMMUNITIES[got[1]], dept=DEPT, reason="需要司法所调解")

    def do_send_back(self) -> None:
        got = self._pick("send_back")
        if got:
            self._transition("send_back", got[0], DEPT_USER, reason="属网格职责")

    def do_resolve(self) -> None:
        got = self._pick("resolve")
        if got:
            self._transition("resolve", got[0], COMMUNITIES[got[1]], result="已处理完毕")

    def do_rate(self) -> None:
        got = self._pick("rate")
        if got:
            rating = self.rng.choice(["satisfied", "satisfied", "basically_satisfied", "unsatisfied"])
            self._transition("rate", got[0], COMMUNITIES[got[1]], rating=rating)

    def do_close(self) -> None:
        community = self.rng.choice(list(COMMUNITIES))
        rows = [r for r in self.candidates(("resolved",), community) if r.rating is not None]
        if rows:
            self._transition("close", self.rng.choice(rows), COMMUNITIES[community])

    def _visit(self, kind_name: str, finding: bool) -> None:
        from baiyin_cli.services import visits

        grid = self.rng.choice(list(GRIDS))
        wg = GRIDS[grid]
        household = household_code(grid, self.rng.randint(1, HOUSEHOLDS_PER_GRID))
        minutes = self.rng.randint(5, 60)
        tok = self.token()
        note = f"{tok} 入户走访，了解近况"
        findings = [(f"{tok} 走访发现井盖松动", "help")] if finding else []
        argv = ["visit", "log", "--kind", "household", "--household", household, "--minutes", str(minutes),
                "--note", note]
        for text, cat in findings:
            argv += ["--finding", text, "--category", cat]
        self.attempt(
            kind_name, wg,
            lambda s, op: visits.log_visit(s, op, kind="household", minutes=minutes, household=household, note=note,
                                           findings=findings),
            argv, token=tok, actor=wg, household=household, minutes=minutes,
        )

    def do_visit(self) -> None:
        self._visit("visit", False)

    def do_visit_finding(self) -> None:
        self._visit("visit_finding", True)

    def do_import(self) -> None:
        """Rewrite the note of a few shared households (every import touches hot rows others touch too)."""
        from baiyin_cli.io import pipeline
        from baiyin_cli.services import bulk

        tok = self.token()
        keys = self.rng.sample([(g, k) for g in GRIDS for k in range(1, HOUSEHOLDS_PER_GRID + 1)], HOT_PER_IMPORT)
        keys.sort()
        rows = [[household_code(g, k), g, f"人民路{int(g[-3:]) * 100 + k}号", f"{tok} 导入"] for g, k in keys]
        path = self.workdir / f"import-{tok}.csv"
        _write_csv(path, rows)

        def service(s: Any, op: Any) -> dict[str, Any]:
            t = bulk.target("households")
            with pipeline.open_for(t, str(path)) as src:
                report = pipeline.run_import(s, op, t, src)
            return report.to_dict("en")

        self.attempt("import", "admin", service, ["import", "households", str(path)], token=tok,
                     file=path.name, households=[household_code(g, k) for g, k in keys])

    # -- loop

    def warm_up(self) -> None:
        """Imports, the engine, the calendar and the CLI's login sessions: paid before the clock starts."""
        import baiyin_cli.io.pipeline  # noqa: F401
        import baiyin_cli.services.bulk_registry  # noqa: F401
        from baiyin_cli.services import petitions, visits, workcalendar  # noqa: F401

        self.candidates(SOURCES["assign"], next(iter(COMMUNITIES)))
        workcalendar.resolve_due(__import__("baiyin_cli.timeutil").timeutil.now(), 5)
        if self.cli_share > 0:
            for username in ["admin", DEPT_USER, *COMMUNITIES.values(), *GRIDS.values()]:
                self.cli_token(username)

    def run(self, barrier: Any = None) -> list[dict[str, Any]]:
        self.warm_up()
        if barrier is not None:
            barrier.wait(timeout=600)
        self.deadline = time.monotonic() + self.seconds
        while time.monotonic() < self.deadline:
            try:
                self.act()
            except Exception as exc:  # noqa: BLE001 - picking a target failed: that is a finding too
                self.record("pick", "svc", 0.0, "error", message=f"{type(exc).__name__}: {exc}"[:500],
                            traceback=traceback.format_exc()[-3000:])
        return self.ledger


def _terminal_main(url: str, index: int, seconds: float, cli_share: float, seed: int, workdir: str,
                   env: dict[str, str], out: str, barrier: Any) -> None:
    os.environ.update(env)
    try:
        ledger = Terminal(url, index, seconds, cli_share, seed, Path(workdir), env).run(barrier)
    except BaseException as exc:  # noqa: BLE001
        ledger = [{"kind": "terminal", "path": "svc", "seconds": 0, "outcome": "error",
                   "message": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}]
    Path(out).write_text(json.dumps(ledger, ensure_ascii=False))


# ---------------------------------------------------------------- conflicts named on the CLI


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile(".*".join(re.escape(p) for p in parts), re.S)


def conflict_key(line: str) -> str | None:
    """Which allowed conflict an English stderr line names (None: not one of them)."""
    _load_catalog()
    text = line.split(": ", 2)[-1] if line.startswith("grid: error: ") else line
    for key, pat in _patterns().items():
        if pat.fullmatch(text.strip()):
            return key
    return None


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _load_catalog() -> None:
    import importlib

    for mod in ("baiyin_cli.services.petition_workflow", "baiyin_cli.services.petitions", "baiyin_cli.io.pipeline",
                "baiyin_cli.store"):
        importlib.import_module(mod)


def _patterns() -> dict[str, re.Pattern[str]]:
    if not _PATTERNS:
        from baiyin_cli.i18n import catalog

        for key in CONFLICT_KEYS:
            msg = catalog().get(key)
            if msg is not None:
                _PATTERNS[key] = _pattern(msg.en)
    return _PATTERNS


# ---------------------------------------------------------------- running


def run(url: str, *, processes: int = 8, seconds: float = 60.0, cli_share: float = 0.1, seed: int = 1,
        setup: bool = True) -> dict[str, Any]:
    """Build the city (unless `setup` is False), run the terminals, verify; returns the figures and problems."""
    if setup:
        build_city(url)
        from baiyin_cli import store

        store.dispose_all()
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="grid-load-") as tmp:
        env = {k: v for k, v in os.environ.items() if k.startswith("GRID_") and k not in ("GRID_TOKEN", "GRID_USER", "GRID_NOW")}
        env.pop("GRID_DATABASE_URL", None)
        outs = [str(Path(tmp) / f"ledger-{i}.json") for i in range(processes)]
        barrier = ctx.Barrier(processes + 1)
        procs = [ctx.Process(target=_terminal_main, args=(url, i, seconds, cli_share, seed, tmp,
                                                          {**env, "GRID_DATABASE_URL": url}, outs[i], barrier))
                 for i in range(processes)]
        for p in procs:
            p.start()
        barrier.wait(timeout=600)  # every terminal is warm: the clock starts for all at once
        started = time.perf_counter()
        for p in procs:
            p.join(timeout=seconds + 900)
            if p.is_alive():
                p.kill()
        wall = time.perf_counter() - started
        ledgers = []
        for i, out in enumerate(outs):
            path = Path(out)
            if path.exists():
                ledgers.append(json.loads(path.read_text()))
            else:
                ledgers.append([{"kind": "terminal", "path": "svc", "seconds": 0, "outcome": "error",
                                 "message": f"terminal {i} died (exit {procs[i].exitcode}) without a ledger"}])
    problems, checked = verify(url, ledgers)
    return {"wall": wall, "seconds": seconds, "processes": processes, "ledgers": ledgers, "problems": problems,
            "checked": checked, "figures": figures(ledgers, wall)}


# ---------------------------------------------------------------- figures


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def figures(ledgers: list[list[dict[str, Any]]], wall: float) -> dict[str, Any]:
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ledger in ledgers:
        for e in ledger:
            if e["kind"] in ("pick", "terminal"):
                continue
            by[f"{e['kind']} ({e['path']})"].append(e)
    rows = []
    total = 0
    for name in sorted(by):
        es = by[name]
        lat = sorted(e["seconds"] * 1000 for e in es)
        total += len(es)
        rows.append({
            "action": name, "count": len(es), "ok": sum(e["outcome"] == "ok" for e in es),
            "conflict": sum(e["outcome"] == "conflict" for e in es),
            "error": sum(e["outcome"] == "error" for e in es),
            "per_s": len(es) / wall if wall else 0.0,
            "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95), "p99_ms": percentile(lat, 99),
        })
    return {"rows": rows, "total": total, "per_s": total / wall if wall else 0.0}


def table(fig: dict[str, Any], title: str = "") -> str:
    head = f"| action | count | ok | conflict | error | /s | p50 ms | p95 ms | p99 ms |\n|{'---|' * 9}"
    lines = [title, head] if title else [head]
    for r in fig["rows"]:
        lines.append(f"| {r['action']} | {r['count']} | {r['ok']} | {r['conflict']} | {r['error']} | "
                     f"{r['per_s']:.2f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} |")
    lines.append(f"| **all** | {fig['total']} | | | | {fig['per_s']:.2f} | | | |")
    return "\n".join(lines)


# ---------------------------------------------------------------- verification


def verify(url: str, ledgers: list[list[dict[str, Any]]]) -> tuple[list[str], dict[str, int]]:
    """Problems (empty: the database agrees with every ledger) and how much was checked."""
    from sqlalchemy import func, select

    from baiyin_cli import store
    from baiyin_cli.models import (
        AuditEntry,
        Household,
        Petition,
        PetitionEvent,
        PetitionSequence,
        Visit,
        VisitDay,
    )
    from baiyin_cli.services import audit, system
    from baiyin_cli.services.access import load_operator

    problems: list[str] = []
    entries = [e for ledger in ledgers for e in ledger]
    for e in entries:
        if e["outcome"] == "error":
            problems.append(f"{e['kind']} ({e['path']}) failed: {e.get('message')}\n{e.get('traceback', '')}")
        if e["outcome"] == "conflict" and e.get("key") not in CONFLICT_KEYS:
            problems.append(f"{e['kind']} refused with an unnamed conflict: {e.get('message')}")
    ok = [e for e in entries if e["outcome"] == "ok"]
    refused_tokens = {e["token"] for e in entries if e["outcome"] != "ok" and "token" in e}

    with store.session(url=url) as s:
        # Numbers: unique, gap-free per day, the sequence row agrees.
        numbers = list(s.execute(select(Petition.number)).scalars())
        if len(numbers) != len(set(numbers)):
            problems.append("duplicate petition numbers")
        per_day: dict[str, list[int]] = defaultdict(list)
        for n in numbers:
            _by, day, seq = n.split("-")
            per_day[day].append(int(seq))
        seqrows = dict(s.execute(select(PetitionSequence.day, PetitionSequence.last)).all())
        for day, seqs in per_day.items():
            if sorted(seqs) != list(range(1, len(seqs) + 1)):
                missing = sorted(set(range(1, max(seqs) + 1)) - set(seqs))[:10]
                problems.append(f"petition numbers of {day} have gaps: missing {missing}")
            if seqrows.get(day) != len(seqs):
                problems.append(f"sequence of {day} says {seqrows.get(day)}, {len(seqs)} petitions filed")

        # Histories: complete and in order.
        petitions = {p.id: p for p in s.execute(select(Petition)).scalars()}
        history: dict[int, list[Any]] = defaultdict(list)
        for ev in s.execute(select(PetitionEvent).order_by(PetitionEvent.petition_id, PetitionEvent.seq)).scalars():
            history[ev.petition_id].append(ev)
        for pid, p in petitions.items():
            evs = history.get(pid, [])
            where = f"petition {p.number}"
            if [e.seq for e in evs] != list(range(1, len(evs) + 1)):
                problems.append(f"{where}: history seq {[e.seq for e in evs]}")
                continue
            if not evs or evs[0].event != "file" or evs[0].from_status is not None:
                problems.append(f"{where}: history does not start with the filing")
                continue
            for a, b in zip(evs, evs[1:]):
                if b.from_status != a.to_status:
                    problems.append(f"{where}: step {b.seq} starts at {b.from_status}, step {a.seq} ended at {a.to_status}")
                if b.occurred_at < a.occurred_at:
                    problems.append(f"{where}: step {b.seq} happened before step {a.seq}")
            if evs[-1].to_status != p.status:
                problems.append(f"{where}: status {p.status}, history ends at {evs[-1].to_status}")
            if p.version != len(evs):
                problems.append(f"{where}: version {p.version} with {len(evs)} history steps")

        # Every successful action is there exactly once; no refused one left a trace.
        notes: dict[str, list[Any]] = defaultdict(list)
        for evs in history.values():
            for ev in evs:
                m = re.match(r"(L\d\dx\d{5})", ev.note or "")
                if m:
                    notes[m.group(1)].append(ev)
        by_number = {p.number: p for p in petitions.values()}
        texts: dict[str, list[Any]] = defaultdict(list)
        for p in petitions.values():
            m = re.match(r"(L\d\dx\d{5})", p.text)
            if m:
                texts[m.group(1)].append(p)
        visit_notes: dict[str, list[Any]] = defaultdict(list)
        for v in s.execute(select(Visit)).scalars():
            m = re.match(r"(L\d\dx\d{5})", v.note or "")
            if m:
                visit_notes[m.group(1)].append(v)
        seen_tokens: set[str] = set()
        for e in ok:
            tok, kind = e.get("token"), e["kind"]
            seen_tokens.add(tok)
            if kind == "file":
                got = texts.get(tok, [])
                if len(got) != 1 or got[0].number != e["number"] or got[0].filed_by != e["actor"]:
                    problems.append(f"filed {e['number']} ({tok}): the database has {[p.number for p in got]}")
            elif kind in SOURCES:
                got = notes.get(tok, [])
                if len(got) != 1:
                    problems.append(f"{kind} of {e['petition']} ({tok}) is in the history {len(got)} times")
                    continue
                ev = got[0]
                p = petitions[ev.petition_id]
                if p.number != e["petition"] or ev.event != kind or ev.actor != e["actor"]:
                    problems.append(f"{kind} ({tok}) recorded as {ev.event} on {p.number} by {ev.actor}")
                if ev.seq != e["read_version"] + 1:
                    problems.append(f"{kind} ({tok}) on {p.number}: read version {e['read_version']}, "
                                    f"written as step {ev.seq}")
            elif kind in ("visit", "visit_finding"):
                got = visit_notes.get(tok, [])
                if len(got) != 1 or got[0].id != e["visit_id"] or got[0].worker != e["actor"]:
                    problems.append(f"visit {e['visit_id']} ({tok}): the database has {[v.id for v in got]}")
                for number in e.get("findings", []):
                    fp = by_number.get(number)
                    if fp is None or (got and fp.visit_id != got[0].id):
                        problems.append(f"finding {number} of visit {e['visit_id']} is missing or unlinked")
        for tok in refused_tokens:
            if tok in notes or tok in texts or tok in visit_notes:
                problems.append(f"refused action {tok} left a trace")
        strays = (set(notes) | set(texts) | set(visit_notes)) - seen_tokens
        if strays:
            problems.append(f"{len(strays)} actions in the database no terminal saw succeed: {sorted(strays)[:5]}")

        # Imports: one audit entry per committed import; last writer (audit order) wins; no version lost.
        imports = [e for e in ok if e["kind"] == "import"]
        audit_rows = s.execute(
            select(AuditEntry.id, AuditEntry.entity_key, AuditEntry.detail).where(AuditEntry.action == "import.households")
        ).all()
        order: dict[str, int] = {}
        for aid, key, detail in audit_rows:
            m = re.search(r"import-(L\d\dx\d{5})\.csv", str((detail or {}).get("file") or key or ""))
            if m:
                order[m.group(1)] = aid
        expected_note: dict[str, tuple[int, str]] = {}
        updates: dict[str, int] = defaultdict(int)
        for e in imports:
            if e["token"] not in order:
                problems.append(f"import {e['token']} succeeded but has no audit entry")
                continue
            if e["created"] + e["updated"] + e["ignored"] != len(e["households"]) or e["rejected"]:
                problems.append(f"import {e['token']}: report {e}")
            for code in e["households"]:
                updates[code] += 1
                cur = expected_note.get(code)
                if cur is None or order[e["token"]] > cur[0]:
                    expected_note[code] = (order[e["token"]], e["token"])
        for e in entries:
            if e["kind"] == "import" and e["outcome"] != "ok" and e.get("token") in order:
                problems.append(f"import {e['token']} was refused but is in the audit log")
        households = {h.code: h for h in s.execute(select(Household)).scalars()}
        for code, (_aid, tok) in expected_note.items():
            h = households[code]
            if not (h.note or "").startswith(tok):
                problems.append(f"household {code}: note {h.note!r}, the last committed import was {tok}")
            if h.version != 1 + updates[code]:
                problems.append(f"household {code}: version {h.version} after {updates[code]} updating imports")

        # The visit day ledger says what the records say.
        stored = {(r.worker, r.day): (r.minutes, r.visits) for r in s.execute(select(VisitDay)).scalars()}
        for (worker, day), (minutes, count) in stored.items():
            lo, hi = _day_bounds(day)
            real = s.execute(
                select(func.coalesce(func.sum(Visit.minutes), 0), func.count()).where(
                    Visit.worker == worker, Visit.started_at >= lo, Visit.started_at < hi,
                    Visit.voided_at.is_(None),  # type: ignore[union-attr]
                )
            ).one()
            if (int(real[0]), int(real[1])) != (minutes, count):
                problems.append(f"visit ledger {worker} {day}: {minutes} min/{count}, records say {tuple(real)}")

        chain = audit.verify(s, load_operator(s, "admin"))
        if not chain["ok"]:
            problems.append(f"audit chain broken at {chain['broken_at']} ({chain['reason']})")
        checked = {"petitions": len(petitions), "history_steps": sum(len(v) for v in history.values()),
                   "visits": sum(len(v) for v in visit_notes.values()), "imports": len(imports),
                   "audit_entries": chain.get("checked", 0), "ledger_entries": len(entries)}
    check = system.check(url)
    if not check["ok"]:
        problems.append(f"grid db check: {check['problems']}")
    return problems, checked


def _day_bounds(day: Any) -> tuple[Any, Any]:
    from baiyin_cli import timeutil

    return timeutil.day_bounds(day)


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="database URL (a fresh, initialised database: the city is built in it)")
    ap.add_argument("--processes", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--cli-share", type=float, default=0.1, help="share of actions run as a `grid` subprocess")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the figures and problems as JSON")
    args = ap.parse_args(argv)
    from baiyin_cli import store

    url = store.to_url(args.db)
    r = run(url, processes=args.processes, seconds=args.seconds, cli_share=args.cli_share, seed=args.seed)
    if args.json:
        print(json.dumps({k: r[k] for k in ("wall", "processes", "figures", "problems", "checked")}, ensure_ascii=False,
                         indent=2))
    else:
        print(table(r["figures"], f"{args.processes} terminals, {args.seconds:.0f} s on {store.redact(url)}"))
        print(f"checked: {r['checked']}")
        for p in r["problems"]:
            print("PROBLEM:", p)
    return 1 if r["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
