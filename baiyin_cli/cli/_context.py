"""Per-process state set by the root callback (--as, --db, --demo), and the session helper."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from baiyin_cli.services.access import Operator


@dataclass
class State:
    username: str | None = None
    db: str | None = None
    demo: bool = False


state = State()


def reset() -> None:
    global state
    state.username = None
    state.db = None
    state.demo = False


def username() -> str | None:
    from baiyin_cli.services.access import resolve_username

    name = resolve_username(state.username)
    if name is None and state.demo:
        return "admin"
    return name


@contextmanager
def session(write: bool = False) -> Iterator[tuple["Session", "Operator | None"]]:
    """One transaction and the operator loaded inside it."""
    from baiyin_cli import store
    from baiyin_cli.services.access import load_operator

    with store.session(write=write) as s:
        op = load_operator(s, username())
        yield s, op


def at_option(value: str | None) -> Any:
    """Parse `--at` (local time, not in the future) into aware UTC, or None."""
    if not value:
        return None
    from baiyin_cli import timeutil

    return timeutil.parse_time(value, allow_future=False)


def is_tty(stream: str = "stdout") -> bool:
    import sys

    s = sys.stdout if stream == "stdout" else sys.stdin
    try:
        return s.isatty()
    except (AttributeError, ValueError):
        return False


def debug() -> bool:
    return os.environ.get("GRID_DEBUG", "") not in ("", "0")
