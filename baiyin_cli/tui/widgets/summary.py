"""The two lines above the queue: who and where, the clock; the counts and the active filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widget import Widget

from baiyin_cli import timeutil
from baiyin_cli.i18n import L
from baiyin_cli.tui import fmt
from baiyin_cli.tui.gateway import Filters


def filter_chips(filters: Filters, names: dict[str, str]) -> list[str]:
    from baiyin_cli import config

    cfg = config.load()
    chips = []
    if filters.area:
        chips.append(names.get(filters.area, filters.area))
    if filters.overdue:
        chips.append(L("超期", "overdue"))
    if filters.awaiting_callback:
        chips.append(L("待回访", "awaiting callback"))
    if filters.escalated:
        chips.append(L("已上报", "escalated"))
    if filters.mine:
        chips.append(L("我的", "mine"))
    if filters.category:
        chips.append(cfg.label("categories", filters.category))
    if filters.grid:
        chips.append(names.get(filters.grid, filters.grid))
    if filters.text:
        chips.append(L(f"“{filters.text}”", f"“{filters.text}”"))
    return chips


class SummaryBar(Widget):
    """Operator, scope and clock; open / overdue / awaiting callback / escalated; filters and total."""

    DEFAULT_CSS = """
    SummaryBar {
        height: 2;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.operator: dict[str, Any] | None = None
        self.counts: dict[str, int] | None = None
        self.total: int | None = None
        self.filters = Filters()
        self.names: dict[str, str] = {}
        self.now: datetime = timeutil.now()

    def show(
        self,
        *,
        operator: dict[str, Any] | None = None,
        counts: dict[str, int] | None = None,
        total: int | None = None,
        filters: Filters | None = None,
        names: dict[str, str] | None = None,
    ) -> None:
        if operator is not None:
            self.operator = operator
        if counts is not None:
            self.counts = counts
        self.total = total if total is not None else self.total
        if filters is not None:
            self.filters = filters
        if names is not None:
            self.names = names
        self.refresh()

    def tick(self, now: datetime) -> None:
        self.now = now
        self.refresh()

    def render(self) -> Text:
        width = self.content_size.width or 120
        title = Text(L("诉求分拣台", "Petition triage"), style="bold")
        op = self.operator
        if op:
            title.append("  ")
            title.append(L(f"{op['name']}（{op['role_label']}）", f"{op['name']} ({op['role_label']})"))
            title.append(" · ")
            title.append(op.get("scope_name") or "", style="bold")
        clock = timeutil.fmt(self.now, seconds=True)
        pad = max(width - title.cell_len - len(clock), 1)
        line1 = title + Text(" " * pad) + Text(clock, style="bold")

        c = self.counts or {}
        line2 = Text()

        def chip(label: str, key: str, style: str) -> None:
            n = c.get(key)
            line2.append(f"{label} ", style="dim")
            line2.append(fmt.number(n), style=style if n else "")
            line2.append("   ")

        chip(L("在办", "Open"), "open", "bold")
        chip(L("超期", "Overdue"), "overdue", "bold red")
        chip(L("待回访", "Awaiting callback"), "awaiting_callback", "bold yellow")
        chip(L("已上报", "Escalated"), "escalated", "bold cyan")
        chips = filter_chips(self.filters, self.names)
        right = Text()
        if chips:
            right.append(L("筛选：", "Filter: "), style="dim")
            right.append(" · ".join(chips), style="bold")
            right.append("   ")
        right.append(L("共 ", "") + fmt.number(self.total) + L(" 条", " shown"), style="dim")
        pad2 = max(width - line2.cell_len - right.cell_len, 1)
        return Text("\n").join([line1, line2 + Text(" " * pad2) + right])
