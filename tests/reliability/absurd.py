"""Every command, every option, absurd values: generated from the real command tree
(`typer.main.get_command(make_app())`), so a command added tomorrow is covered tomorrow.

For each leaf command, required arguments and options get plausible values (an existing
petition, area, worker...), then each option (and each argument) in turn gets each absurd value
of its type: negative and huge numbers, dates in year 9999, unknown enum values, very long
strings, control and right-to-left characters, paths that do not exist. What must hold: no
traceback, no "internal error", a refusal in one line: exit 1 (invalid) or 2 (usage), or the
reason the command stopped first (3 not found, 4 not permitted, 5 conflict); a negative
number is always refused. Exit 0 is allowed where the absurd value is still a legal query
(a filter matching nothing, a huge --limit, a search for odd text, a note stored as typed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

# Commands not run here: interactive or long-running by nature (a TUI, the demo builder), or
# the database lifecycle (init/migrate, which work on the database itself, not on input).
SKIP = {("triage",), ("demo",), ("init",), ("db", "migrate")}

DATE_NAMES = {"at", "since", "until", "date_", "day", "month", "from_", "birth_date", "start", "end"}
LONG = "长" * 5000 + "😀" * 1000


@dataclass(frozen=True)
class Case:
    path: tuple[str, ...]
    param: str
    argv: tuple[str, ...]
    value: str
    kind: str  # int | date | enum | text

    @property
    def id(self) -> str:
        return f"{' '.join(self.path)} {self.param}={self.kind}:{self.value[:12]!r}"


def walk(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if hasattr(cmd, "commands"):
        for name, sub in sorted(cmd.commands.items()):
            yield from walk(sub, (*path, name))
    else:
        yield path, cmd


def annotation(p: Any) -> Any:
    a = p.type_descriptor.annotation
    if get_origin(a) is not None:
        args = [x for x in get_args(a) if x is not type(None)]
        if get_origin(a) is list and args:
            return args[0]
        a = args[0] if args else a
        if get_origin(a) is list:
            return get_args(a)[0]
    return a


def absurd_values(p: Any) -> list[tuple[str, str]]:
    """(kind, value) pairs for one parameter; [] for a flag, which takes no value."""
    if getattr(p, "is_flag", False):
        return []
    a = annotation(p)
    name = p.name
    if a is int:
        return [("int", "-1"), ("int", "-99999999999999999999"), ("int", "99999999999999999999")]
    if a is float:
        return [("int", "-1e308"), ("int", "nan")]
    if name in DATE_NAMES:
        return [("date", "9999-12-31 23:59"), ("date", "9999-12-31"), ("date", "0000-13-45")]
    if a is Path:
        return [("text", "/nonexistent/目录/\u202efile.csv")]
    # (No NUL byte: a real command line cannot carry one.)
    return [("enum", "no-such-value-😀"), ("text", LONG), ("text", "a\x01b\x1b[31m\u202e\u0301\nsecond line")]


def plausible(path: tuple[str, ...], p: Any, ctx: dict[str, str]) -> str:
    """A value that passes, so the absurd one is the only thing wrong."""
    name = p.name
    table = {
        "number": ctx["petition"], "into": ctx["petition2"], "to": "wg11", "how": "phone", "outcome": "已回电",
        "dept": "sifa", "reason": "理由", "result": "已办结", "rating": "satisfied", "visit_id": ctx["visit"],
        "username": "wg12", "level": "grid", "kind": "household", "key": "language", "value": "zh",
        "query": "张", "ref": ctx["resident"], "resident": ctx["resident"], "relation": "spouse",
        "former": ctx["resident"], "household": ctx["household"], "grid": "620402001001002", "file": ctx["file"],
        "area": "620402001001", "name": "新名称",
    }
    if name == "code":
        if path[0] == "household":
            return ctx["household"]
        if path[0] == "dept":
            return "newdept"
        if path[:2] == ("area", "add"):
            return "620402001001009"
        return "620402001001"
    if path[:2] == ("checklist", "export") and name == "kind":
        return ctx["checklist_kind"]
    if path[:2] == ("db", "backup") and name == "file":
        return ctx["backup"]
    return table.get(name, "x")


def cases(root: Any, ctx: dict[str, str]) -> list[Case]:
    out: list[Case] = []
    for path, cmd in walk(root):
        if path[:1] in SKIP or path[:2] in SKIP:
            continue
        params = [p for p in cmd.params if p.name not in ("help",)]
        base: dict[str, list[str]] = {}
        for p in params:
            if p.required:
                v = plausible(path, p, ctx)
                base[p.name] = [v] if p.param_type_name == "argument" else [p.opts[0], v]
        for p in params:
            for kind, value in absurd_values(p):
                parts = dict(base)
                parts[p.name] = [value] if p.param_type_name == "argument" else [p.opts[0], value]
                args = [x for q in params if q.param_type_name == "argument" and q.name in parts for x in parts[q.name]]
                opts = [x for q in params if q.param_type_name != "argument" and q.name in parts for x in parts[q.name]]
                out.append(Case(path, p.name, (*path, *opts, "--", *args) if args else (*path, *opts), value, kind))
    for opt, kind, value in (("--db", "text", "/nonexistent/\u202e.db"), ("--lang", "enum", "klingon"),
                             ("--as", "enum", "no-such-user-😀"), ("--as", "text", LONG)):
        out.append(Case(("(root)",), opt, (opt, value, "area", "list"), value, kind))
    return out


def must_hold(case: Case, exit_code: int, stderr: str) -> str | None:
    """What is wrong with how `grid` answered, or None.

    Never a traceback or an internal error; a negative number is refused (exit 1 or 2); any
    refusal is one line (typer's usage panel for exit 2). A filter or free text that merely
    matches nothing or is stored as typed may be accepted (exit 0)."""
    if "Traceback" in stderr:
        return "traceback"
    if "内部错误" in stderr or "Internal error" in stderr:
        return "internal error: " + stderr.strip()[-300:]
    lines = [ln for ln in stderr.splitlines() if ln.startswith("grid: ")]
    if exit_code == 0:
        if case.kind == "int" and case.value.startswith("-"):
            return f"negative value accepted (exit 0): {case.value}"
        return None
    if exit_code == 2:
        return None if len(lines) == 1 or (not lines and ("Usage" in stderr or "用法" in stderr)) else \
            f"usage error not in one message: {stderr[-400:]}"
    if exit_code in (1, 3, 4, 5):
        return None if len(lines) == 1 else f"exit {exit_code} with {len(lines)} lines: {stderr[-400:]}"
    return f"exit {exit_code}: {stderr[-300:]}"
