"""Text for the screen: cell-width-aware padding (CJK is two cells wide) and countdowns."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.cells import cell_len, set_cell_size

from baiyin_cli.i18n import L


def fit(text: str | None, width: int, *, right: bool = False) -> str:
    """`text` cut or padded to exactly `width` terminal cells (a cut ends in an ellipsis)."""
    if width <= 0:
        return ""
    s = (text or "").replace("\n", " ")
    n = cell_len(s)
    if n > width:
        s = set_cell_size(s, width - 1) + "…"
        return set_cell_size(s, width)
    if right:
        return " " * (width - n) + s
    return s + " " * (width - n)


def clock_text(remaining: timedelta) -> str:
    """A countdown: `05:12:33` under a day, `2天05:12` / `2d 05:12` beyond; late ones get a minus."""
    secs = int(remaining.total_seconds())
    sign = "-" if secs < 0 else ""
    secs = abs(secs)
    days, rest = divmod(secs, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{sign}{days}{L('天', 'd ')}{hours:02d}:{minutes:02d}"
    return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"


def due_kind_label(kind: str | None) -> str:
    if kind == "contact":
        return L("回访", "call")
    if kind == "resolve":
        return L("办结", "fix")
    return ""


def countdown(kind: str | None, due: datetime | None, now: datetime) -> str:
    if due is None:
        return ""
    return f"{due_kind_label(kind)} {clock_text(due - now)}"


def number(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"
