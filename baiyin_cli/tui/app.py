"""`grid triage`: the community secretary's live petition queue (Textual).

Screens: the queue (screens/queue.py) with its virtual list (widgets/queue.py), the detail
(screens/detail.py), the help (screens/help.py), and small forms and pickers
(screens/forms.py). Every key is declared once in keys.py. Every database call goes through
gateway.py in a thread worker; this module only keeps time:

* each second the countdowns tick (no query);
* every `tui.refresh_seconds` an exclusive worker reads the change marker (the newest
  history entry of any petition); when it moved, or a minute passed (overdue is a matter
  of time), the screens reload, so two terminals see each other's work.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from baiyin_cli import timeutil
from baiyin_cli.i18n import L, set_lang
from baiyin_cli.tui import keys
from baiyin_cli.tui.gateway import Filters, Gateway, Identify

STALE_AFTER = 60.0  # seconds: reload even without changes, since "overdue" moves with the clock


class TriageApp(App[int]):
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        username: str | None,
        *,
        identify: Identify | None = None,
        url: str | None = None,
        area: str | None = None,
        lang: str | None = None,
        refresh_seconds: float | None = None,
    ) -> None:
        if lang:
            set_lang(lang)
        super().__init__()
        keys.install(self, "app")
        from baiyin_cli import config

        self.gateway = Gateway(username, url, identify)
        self.initial_filters = Filters(area=area or None)
        self.refresh_seconds = float(refresh_seconds or config.load().get("tui.refresh_seconds", 5) or 5)
        self.marker: Any = None
        self.loaded_at = time.monotonic()
        self.title = L("grid 诉求分拣", "grid triage")

    def on_mount(self) -> None:
        from baiyin_cli.tui.screens.queue import QueueScreen

        self.push_screen(QueueScreen(self.gateway, self.initial_filters))
        self.set_interval(1.0, self._tick, name="countdown")
        self.set_interval(self.refresh_seconds, self._poll, name="refresh")

    # ------------------------------------------------------------ time

    def _tick(self) -> None:
        now = timeutil.now()
        for screen in self.screen_stack:
            tick = getattr(screen, "tick", None)
            if tick is not None and screen.is_attached:
                tick(now)

    def _poll(self) -> None:
        self.run_worker(
            self.gateway.marker, name="marker", group="poll", thread=True, exclusive=True, exit_on_error=False
        )

    def saw(self, marker: Any) -> None:
        """A screen loaded data as of `marker`."""
        self.marker = marker
        self.loaded_at = time.monotonic()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "poll" or event.state != WorkerState.SUCCESS:
            return
        marker = event.worker.result
        if marker != self.marker or time.monotonic() - self.loaded_at >= STALE_AFTER:
            self.reload_all()

    def reload_all(self) -> None:
        for screen in self.screen_stack:
            reload = getattr(screen, "reload", None)
            if reload is not None:
                reload()

    # ------------------------------------------------------------ app keys

    def action_refresh_now(self) -> None:
        self.reload_all()

    def action_help(self) -> None:
        from baiyin_cli.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_quit_app(self) -> None:
        self.exit(0)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # `q` in a form or picker must not throw the form away with the app: Esc closes those.
        if action == "quit_app":
            from textual.screen import ModalScreen

            return not isinstance(self.screen, ModalScreen)
        return True

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette offers every action possible now: the screen's keys, then the app's."""
        scope = {"queue-screen": "queue", "detail-screen": "detail"}.get(screen.id or "")
        if scope:
            for k in keys.in_scope(scope):
                name, params = _parse(k.action)
                if screen.check_action(name, params) is not True:
                    continue
                yield SystemCommand(k.label, f"{keys.display(k)}", partial(self.run_action, k.action, screen))
        for k in keys.in_scope("app"):
            if k.id == "palette":
                continue
            yield SystemCommand(k.label, keys.display(k), partial(self.run_action, k.action))
        yield from super().get_system_commands(screen)


def _parse(action: str) -> tuple[str, tuple[object, ...]]:
    from textual.actions import parse

    _ns, name, params = parse(action)
    return name, params
