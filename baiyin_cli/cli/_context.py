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
    """The operator claimed by --as / GRID_USER (a claim; `session` checks it)."""
    from baiyin_cli.services.access import resolve_username

    return resolve_username(state.username)


def token() -> tuple[str | None, str | None]:
    """The session token this command presents, and where it came from ("env" or "file")."""
    from baiyin_cli import store
    from baiyin_cli.services import auth

    return auth.presented_token(store.database_url())


@contextmanager
def session(write: bool = False) -> Iterator[tuple["Session", "Operator | None"]]:
    """One transaction and the operator authenticated inside it (services/access.authenticate)."""
    from baiyin_cli import config, store
    from baiyin_cli.services.access import authenticate

    config.load()  # a broken config file is reported before anything else happens
    tok, source = token()
    with store.session(write=write) as s:
        op = authenticate(s, claimed=username(), token=tok, source=source, demo=state.demo)
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
