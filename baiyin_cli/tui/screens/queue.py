"""The queue screen: counts, filters, the virtual petition list, the workers panel, the footer."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from baiyin_cli.i18n import L
from baiyin_cli.tui import keys
from baiyin_cli.tui.gateway import Filters, Gateway, Row
from baiyin_cli.tui.screens import actions
from baiyin_cli.tui.screens.forms import Choice, Picker
from baiyin_cli.tui.widgets.keybar import KeyBar
from baiyin_cli.tui.widgets.queue import PetitionQueue, header_text
from baiyin_cli.tui.widgets.summary import SummaryBar
from baiyin_cli.tui.widgets.workers import WorkersPanel

SEARCH_DELAY = 0.25  # seconds of quiet typing before the filter is applied


class ColumnHeader(Widget):
    DEFAULT_CSS = """
    ColumnHeader { height: 1; }
    """

    def render(self) -> str:
        # The queue below always keeps one column for its scrollbar.
        return header_text(self.size.width - 1)


class QueueScreen(Screen):
    """Open petitions of the operator's scope, most urgent first."""

    AUTO_FOCUS = "#queue"

    def __init__(self, gateway: Gateway, filters: Filters | None = None) -> None:
        super().__init__(id="queue-screen")
        keys.install(self, "queue")
        self.gateway = gateway
        self.filters = filters or Filters()
        self.row: Row | None = None
        self._offered: tuple[str, ...] | None = None
        self._search_timer: Any = None

    def compose(self) -> ComposeResult:
        yield SummaryBar(id="summary")
        search = Input(
            placeholder=L(
                "搜索：内容、编号、地址、电话后四位（⏎ 确定，Esc 清除）",
                "Search: text, number, address, last 4 phone digits (⏎ keep, Esc clear)",
            ),
            id="search",
            value=self.filters.text,
        )
        search.display = bool(self.filters.text)
        yield search
        with Horizontal(id="body"):
            with Vertical(id="list"):
                yield ColumnHeader(id="columns")
                yield PetitionQueue(self.gateway, self.filters, id="queue")
            yield WorkersPanel(self.gateway, id="workers")
        yield KeyBar()

    @property
    def queue(self) -> PetitionQueue:
        return self.query_one(PetitionQueue)

    def on_mount(self) -> None:
        self.queue.set_filters(self.filters)

    # ------------------------------------------------------------ data in

    @on(PetitionQueue.Windowed)
    def _windowed(self, event: PetitionQueue.Windowed) -> None:
        self.app.saw(event.window.marker)  # type: ignore[attr-defined]
        self.query_one(SummaryBar).show(operator=event.window.operator, filters=self.filters,
                                        names=self.gateway.names.areas)

    @on(PetitionQueue.Counted)
    def _counted(self, event: PetitionQueue.Counted) -> None:
        self.query_one(SummaryBar).show(counts=event.tally.counts, total=event.tally.total)
        self.query_one(WorkersPanel).load()

    @on(PetitionQueue.Highlighted)
    def _highlighted(self, event: PetitionQueue.Highlighted) -> None:
        self.row = event.row
        # The key bar is redrawn only when the offered actions change, not on every move.
        offered = tuple(self.gateway.allowed(self.row.data if self.row else None))
        if offered != self._offered:
            self._offered = offered
            self.refresh_bindings()

    @on(PetitionQueue.Selected)
    def _selected(self, event: PetitionQueue.Selected) -> None:
        self.open_detail(event.row.number)

    @on(PetitionQueue.Failed)
    def _failed(self, event: PetitionQueue.Failed) -> None:
        self.notify(event.text, severity="error", timeout=8)

    def tick(self, now: datetime) -> None:
        for widget in self.query("PetitionQueue, SummaryBar"):
            widget.tick(now)  # type: ignore[attr-defined]

    def reload(self) -> None:
        self.queue.reload()

    def apply_filters(self, filters: Filters) -> None:
        self.filters = filters
        summary = self.query_one(SummaryBar)
        summary.total = None  # until the new query is counted
        summary.show(filters=filters, names=self.gateway.names.areas)
        self.query_one(WorkersPanel).load(area=filters.grid or filters.area or "")
        self.queue.set_filters(filters)

    # ------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act":
            return bool(self.row) and parameters[0] in self.gateway.allowed(
                self.row.data if self.row else None
            )
        if action == "pick_area":
            op = self.gateway.operator
            return op is not None and op.scope is None and op.role != "department"
        if action in ("open", "cursor", "page", "edge"):
            return True
        return True

    def action_cursor(self, delta: int) -> None:
        self.queue.move(delta)

    def action_page(self, direction: int) -> None:
        self.queue.move_page(direction)

    def action_edge(self, end: int) -> None:
        self.queue.move_edge(bool(end))

    def action_open(self) -> None:
        self.queue.select_current()

    def open_detail(self, number: str) -> None:
        from baiyin_cli.tui.screens.detail import DetailScreen

        self.app.push_screen(DetailScreen(self.gateway, number))

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#search")
    def _typing(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        value = event.value.strip()
        self._search_timer = self.set_timer(SEARCH_DELAY, partial(self._search, value))

    def _search(self, value: str) -> None:
        self._search_timer = None
        if value != self.filters.text:
            self.apply_filters(replace(self.filters, text=value))

    @on(Input.Submitted, "#search")
    def _search_done(self, event: Input.Submitted) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        self._search(event.value.strip())
        if not event.value.strip():
            event.input.display = False
        self.queue.focus()

    def action_clear_filters(self) -> None:
        box = self.query_one("#search", Input)
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        if box.has_focus and box.value:
            box.value = ""
        box.display = False
        self.queue.focus()
        if self.filters.active:
            self.apply_filters(self.filters.cleared())

    def action_toggle(self, name: str) -> None:
        self.apply_filters(self.filters.toggled(name))

    def action_pick_category(self) -> None:
        choices = [Choice(code, label) for code, label in self.gateway.categories()]
        self.app.push_screen(
            Picker(L("按类别筛选", "Filter by category"), lambda: choices, current=self.filters.category),
            callback=lambda v: self._picked("category", v),
        )

    def action_pick_grid(self) -> None:
        under = self.filters.area

        def load() -> list[Choice]:
            return [Choice(a["code"], f"{a['name']}  {a['code']}") for a in self.gateway.areas("grid", under)]

        self.app.push_screen(
            Picker(L("按网格筛选", "Filter by grid"), load, current=self.filters.grid),
            callback=lambda v: self._picked("grid", v),
        )

    def action_pick_area(self) -> None:
        def load() -> list[Choice]:
            out = []
            for level in ("district", "street", "community"):
                out += [Choice(a["code"], f"{a['name']}  {a['code']}") for a in self.gateway.areas(level)]
            return out

        self.app.push_screen(
            Picker(
                L("选择区域（社区、街道或区县）", "Pick an area (community, street or district)"),
                load,
                current=self.filters.area,
            ),
            callback=lambda v: self._picked("area", v),
        )

    def _picked(self, name: str, value: str | None) -> None:
        if value is None:
            return
        changes: dict[str, Any] = {name: value or None}
        if name == "area":
            changes["grid"] = None
        self.apply_filters(replace(self.filters, **changes))

    def action_toggle_workers(self) -> None:
        panel = self.query_one(WorkersPanel)
        panel.area = self.filters.grid or self.filters.area
        panel.toggle()

    # ------------------------------------------------------------ workflow actions

    def action_act(self, event: str) -> None:
        row = self.row
        if row is None or event not in self.gateway.allowed(row.data):
            self.app.bell()
            return
        data = row.data
        self.app.push_screen(
            actions.make_form(self.gateway, event, data), callback=partial(self._submit, data, event)
        )

    def _submit(self, data: dict[str, Any], event: str, values: dict[str, Any] | None) -> None:
        if values is None:
            return
        self.run_worker(
            partial(actions.run, self.gateway, data, event, values),
            group="action",
            thread=True,
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "action":
            return
        if event.state == WorkerState.SUCCESS:
            outcome: actions.Outcome = event.worker.result
            self.notify(
                outcome.text,
                severity="information" if outcome.ok else "warning",
                timeout=4 if outcome.ok else 10,
            )
            self.reload()
        elif event.state == WorkerState.ERROR:
            from baiyin_cli.tui.gateway import error_text

            self.notify(error_text(event.worker.error), severity="error", timeout=10)
            self.reload()
