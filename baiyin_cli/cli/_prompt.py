"""Asking for missing fields: one at a time on a TTY, a usage error (exit 2) off it.

Grid workers are not command-line people: `ask()` shows the Chinese label and the
choices, validates each answer at once with the same service validator, and asks
again on error. Ctrl-C anywhere exits 130 with nothing written (the transaction
has not begun while prompting).
"""

import sys
from collections.abc import Callable, Sequence
from typing import Any

from baiyin_cli.errors import GridError, UsageError
from baiyin_cli.i18n import M

MISSING = M("cli.missing", "缺少必填项 {flag}（{label}）", "Missing required {flag} ({label})")


def interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def ask(
    value: Any,
    *,
    flag: str,
    label: str,
    validate: Callable[[str], Any] | None = None,
    choices: Sequence[tuple[str, str]] | None = None,
    required: bool = True,
) -> Any:
    """Return `value` if given; else prompt on a TTY, else raise a usage error naming the flag."""
    if value not in (None, ""):
        return value
    if not required:
        return value
    if not interactive():
        raise UsageError(MISSING, flag=flag, label=label)
    from rich.prompt import Prompt

    from baiyin_cli.cli._output import err_console

    con = err_console()
    if choices:
        for i, (code, text) in enumerate(choices, 1):
            con.print(f"  [bold]{i}[/bold]. {text} ({code})")
    while True:
        answer = Prompt.ask(label, console=con).strip()
        if choices and answer.isdigit() and 1 <= int(answer) <= len(choices):
            answer = choices[int(answer) - 1][0]
        if choices and answer not in {c for c, _ in choices}:
            con.print("✗ " + ", ".join(c for c, _ in choices), style="red")
            continue
        if not answer:
            continue
        if validate is None:
            return answer
        try:
            result = validate(answer)
        except GridError as exc:
            con.print("✗ " + exc.text(), style="red", markup=False)
            continue
        return answer if result is None else result
