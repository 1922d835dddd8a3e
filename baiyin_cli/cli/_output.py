"""Output: JSON for scripts (stdout), rich tables for people, one-line messages on stderr."""

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    sys.stdout.write("\n")


def print_jsonl(rows: Iterable[Any]) -> None:
    for row in rows:
        sys.stdout.write(json.dumps(row, ensure_ascii=False, default=str))
        sys.stdout.write("\n")


_console = None
_err_console = None


def console():  # type: ignore[no-untyped-def]
    """stdout console: colour only on a TTY and without NO_COLOR; wide off a TTY (no wrapping)."""
    global _console
    if _console is None:
        import os

        from rich.console import Console

        tty = sys.stdout.isatty()
        width = None if tty else int(os.environ.get("COLUMNS", "0") or 0) or 200
        _console = Console(highlight=False, width=width, soft_wrap=not tty)
    return _console


def err_console():  # type: ignore[no-untyped-def]
    global _err_console
    if _err_console is None:
        from rich.console import Console

        _err_console = Console(stderr=True, highlight=False, soft_wrap=True)
    return _err_console


def reset() -> None:
    global _console, _err_console
    _console = None
    _err_console = None


def info(message: str) -> None:
    """A note for people on stderr (never mixed into data on stdout)."""
    err_console().print(message, markup=False)


def warn(message: str) -> None:
    from baiyin_cli.i18n import L

    err_console().print(L("警告：", "warning: ") + message, style="yellow", markup=False)


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    empty: str | None = None,
    drop: Sequence[int] = (),
) -> None:
    """A rich table; rich measures CJK characters as two cells so columns stay aligned.

    Cells are plain values (never read as rich markup: user text may hold brackets) or rich
    `Text` for styled cells. `drop`: columns (by index, the first to go first) that may be left
    out on a terminal too narrow to show the others readably; a line on stderr names them."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    tty = sys.stdout.isatty()
    cells = [[v if isinstance(v, Text) else Text("" if v is None else str(v)) for v in r] for r in rows]
    if not cells and empty:
        info(empty)
        return
    # Codes, numbers, dates and times (short, ASCII, no spaces) are kept whole when the terminal
    # leaves the other columns room (8 cells each): a grid code broken over two lines cannot be
    # read or copied. Text columns give way instead, and then the droppable columns go.
    from rich.cells import cell_len

    widths: list[int | None] = []
    needs: list[int] = []
    for i, header in enumerate(columns):
        column = [row[i].plain for row in cells if i < len(row) and row[i].plain]
        atomic = bool(column) and all(len(v) <= 24 and v.isascii() and " " not in v for v in column)
        widest = max(map(cell_len, column), default=0)
        widths.append(max(widest, cell_len(header)) if atomic else None)
        needs.append(3 + (widths[-1] if atomic else max(cell_len(header), min(widest, 12))))
    shown = list(range(len(columns)))
    width = console().width
    for i in drop:
        if 1 + sum(needs[j] for j in shown) <= width:
            break
        shown.remove(i)
    keep = 1 + sum(needs[j] for j in shown) <= width
    t = Table(title=title, box=box.SIMPLE_HEAD if tty else box.ASCII2, show_edge=tty, header_style="bold")
    for j in shown:
        w = widths[j]
        t.add_column(columns[j], overflow="fold", no_wrap=keep and w is not None, min_width=w if keep else None)
    for row in cells:
        t.add_row(*(row[j] for j in shown if j < len(row)))
    console().print(t)
    if len(shown) < len(columns):
        left_out = "、".join(columns[j] for j in range(len(columns)) if j not in shown)
        from baiyin_cli.i18n import L

        info(L(f"终端太窄，未显示：{left_out}（加宽终端，或用 --json 查看全部）",
               f"The terminal is too narrow to show: {left_out} (widen it, or use --json for everything)"))


def kv(pairs: Iterable[tuple[str, Any]], *, title: str | None = None) -> None:
    """A two-column key/value panel for `show` commands."""
    from rich import box
    from rich.table import Table

    t = Table(title=title, box=box.SIMPLE, show_header=False)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    for k, v in pairs:
        t.add_row(k, "" if v is None else str(v))
    console().print(t)
