"""`?`: every key of the app, from the one table in keys.py."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from baiyin_cli.i18n import L
from baiyin_cli.tui import keys


def _section(title: str, rows: list[tuple[str, str]]) -> Group:
    table = Table(box=None, show_header=False, padding=(0, 1), expand=False)
    table.add_column(style="bold cyan", no_wrap=True, min_width=9)
    table.add_column()
    for key_text, label in rows:
        table.add_row(key_text, label)
    return Group(Text(title, style="bold underline"), table, Text(""))


def help_renderable() -> Group:
    """Two columns: the app and the queue on the left, the detail and the actions on the right."""
    sections = [_section(title, rows) for title, rows in keys.help_sections()]
    half = (len(sections) + 1) // 2
    grid = Table.grid(padding=(0, 4))
    grid.add_column()
    grid.add_column()
    grid.add_row(Group(*sections[:half]), Group(*sections[half:]))
    parts: list = [grid]
    parts.append(
        Text(
            L(
                "不能执行的操作不会显示在底栏；命令面板（Ctrl+P）列出当前所有可用的操作。",
                "Actions that are not possible are not shown in the footer; the command palette "
                "(Ctrl+P) lists every action available now.",
            ),
            style="dim",
        )
    )
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._bindings.bind("escape,q,question_mark", "close", L("关闭", "Close"), key_display="esc")

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Static(L("快捷键", "Keys"), classes="dialog-title")
            with VerticalScroll():
                yield Static(help_renderable(), id="help-body")

    def action_close(self) -> None:
        self.dismiss(None)
