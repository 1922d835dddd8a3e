"""The workers panel: each grid worker's open load, overdue petitions and today's walking."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from baiyin_cli.i18n import L
from baiyin_cli.tui import fmt
from baiyin_cli.tui.gateway import Gateway, error_text


class WorkersPanel(Vertical):
    """A side panel; loads in a thread worker whenever it is shown or the queue refreshes."""

    DEFAULT_CSS = """
    WorkersPanel { width: 56; display: none; border-left: vkey $foreground 20%; }
    WorkersPanel.-shown { display: block; }
    WorkersPanel > DataTable { height: 1fr; }
    """

    def __init__(self, gateway: Gateway, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.gateway = gateway
        self.area: str | None = None
        self.rows: list[dict] = []

    def compose(self) -> ComposeResult:
        yield Static(
            L("网格员（在办 / 超期 / 今日走访）", "Grid workers (open / overdue / walked today)"),
            classes="panel-title",
        )
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_column(L("网格员", "Worker"), key="name")
        table.add_column(L("网格", "Grid"), key="grid")
        table.add_column(L("在办", "Open"), key="open")
        table.add_column(L("超期", "Late"), key="overdue")
        table.add_column(L("走访", "Walked"), key="minutes")
        yield table

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")

    def toggle(self) -> None:
        self.toggle_class("-shown")
        if self.shown:
            self.load()

    def load(self, area: str | None = None) -> None:
        if area is not None:
            self.area = area or None
        if not self.shown:
            return
        area_ = self.area
        self.run_worker(
            lambda: self.gateway.workers(area=area_),
            group="workers",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "workers":
            return
        event.stop()
        if event.state == WorkerState.ERROR:
            self.app.notify(error_text(event.worker.error), severity="error")
        elif event.state == WorkerState.SUCCESS:
            self.rows = event.worker.result or []
            self._fill()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for w in self.rows:
            short = w["minutes_today"] < w["daily_minutes"]
            walked = f"{w['minutes_today']}/{w['daily_minutes']}" + L("分", "m")
            table.add_row(
                Text(fmt.fit(w["name"], 8)),
                Text(fmt.fit(w["grid_name"], 14)),
                Text(str(w["open"]), justify="right"),
                Text(str(w["overdue"]), style="bold red" if w["overdue"] else "", justify="right"),
                Text(walked, style="yellow" if short else "green", justify="right"),
                key=w["username"],
            )
