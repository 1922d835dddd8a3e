"""`grid triage`: the community secretary's live petition queue (Textual).

Screens: the queue (screens/queue.py) with its virtual list (widgets/queue.py), the detail
(screens/detail.py), the help (screens/help.py), and small forms and pickers
(screens/forms.py). Every key is declared once in keys.py. Every database call goes through
gateway.py in a thread worker; this module only keeps time:

* each second the countdowns tick (no query);
* every `tui.refresh_seconds` an exclusive worker reads the change marker (the newest
  history entry of any petition); when it moved, or a minute passed (overdue is a matter
  of time), the screens reload, so two terminals see each other's work;
* after `auth.idle_lock_minutes` without a key or mouse event the app locks: a full-screen
  PIN prompt (screens/pin.py) covers everything, notifications wait behind it, the timers
  go on underneath; the same operator's PIN opens it again.

Who works: given `credentials` (what `grid triage` presents, as every command), the app
first checks the session in a worker; when none holds it asks for the PIN (the same screen)
before anything else is read. Given only a username (tests of the screens, benchmarks), it
looks that worker up and opens the queue at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from textual import events
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from baiyin_cli import timeutil
from baiyin_cli.i18n import L, set_lang
from baiyin_cli.tui import keys
from baiyin_cli.tui.gateway import Credentials, Filters, Gateway, Identify, error_text

STALE_AFTER = 60.0  # seconds: reload even without changes, since "overdue" moves with the clock
HELD_NOTES = 20  # notifications kept while the screen is locked, shown after unlocking
# While nobody is signed in (or the screen is locked) only these app actions work.
LOCKED_ACTIONS = frozenset({"quit_app", "quit", "help_quit"})


class TriageApp(App[int]):
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True
    # Class defaults: Textual asks check_action before __init__ has run.
    signed_in = False  # the queue is open for an authenticated operator
    locked = False

    def __init__(
        self,
        username: str | None,
        *,
        identify: Identify | None = None,
        credentials: Credentials | None = None,
        url: str | None = None,
        area: str | None = None,
        lang: str | None = None,
        refresh_seconds: float | None = None,
        idle_minutes: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if lang:
            set_lang(lang)
        super().__init__()
        keys.install(self, "app")
        from baiyin_cli import config
        from baiyin_cli.services import auth

        self.gateway = Gateway(username, url, identify, credentials)
        self.initial_filters = Filters(area=area or None)
        self.refresh_seconds = float(refresh_seconds or config.load().get("tui.refresh_seconds", 5) or 5)
        self.marker: Any = None
        self.loaded_at = time.monotonic()
        self.title = L("grid 诉求分拣", "grid triage")
        # The idle lock: `clock` (monotonic seconds) is a seam for tests, which move it by hand.
        minutes = idle_minutes if idle_minutes is not None else auth.idle_lock_minutes()
        self.idle_seconds = 60.0 * float(minutes)
        self.clock = clock or time.monotonic
        self.last_input = self.clock()
        self._held: list[tuple[str, dict[str, Any]]] = []

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick, name="countdown")
        self.set_interval(self.refresh_seconds, self._poll, name="refresh")
        if self.gateway.credentials is None:
            self.open_queue()
        else:
            self.run_worker(self.gateway.start, name="start", group="start", thread=True, exit_on_error=False)

    def open_queue(self) -> None:
        from baiyin_cli.tui.screens.queue import QueueScreen

        self.signed_in = True
        self.last_input = self.clock()
        self.push_screen(QueueScreen(self.gateway, self.initial_filters))

    def ask_pin(self) -> None:
        """No valid session: the PIN first, then the queue."""
        from baiyin_cli.tui.screens.pin import PinScreen

        self.push_screen(
            PinScreen(self.gateway, username=self.gateway.login_name(), lock=False),
            callback=lambda _result: self.open_queue(),
        )

    # ------------------------------------------------------------ the idle lock

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.last_input = self.clock()
        await super().on_event(event)

    def check_idle(self) -> bool:
        """Lock when the operator has been away `auth.idle_lock_minutes`; True if locked now."""
        if not self.signed_in or self.locked:
            return False
        if self.clock() - self.last_input < self.idle_seconds:
            return False
        self.lock()
        return True

    def lock(self, reason: str = "idle") -> None:
        """Cover everything with the PIN prompt: after idle time, or when the session ended
        under the screen (`reason="session"`: the PIN then opens a new one)."""
        from baiyin_cli.tui.screens.pin import PinScreen

        if self.locked:
            return
        self.locked = True
        self.clear_notifications()
        self.push_screen(
            PinScreen(self.gateway, username=self.gateway.locked_by(), lock=True, reason=reason),
            callback=self._unlocked,
        )

    def _unlocked(self, _result: Any) -> None:
        self.locked = False
        self.last_input = self.clock()
        held, self._held = self._held, []
        for message, kw in held:
            self.notify(message, **kw)
        self.reload_all()

    def notify(self, message: str, **kw: Any) -> None:  # type: ignore[override]
        """Notifications wait while the screen is locked (they may name petitions)."""
        if self.locked:
            self._held = [*self._held, (message, kw)][-HELD_NOTES:]
            return
        super().notify(message, **kw)

    # ------------------------------------------------------------ time

    def _tick(self) -> None:
        now = timeutil.now()
        for screen in self.screen_stack:
            tick = getattr(screen, "tick", None)
            if tick is not None and screen.is_attached:
                tick(now)
        if self.gateway.session_lost and self.signed_in:
            self.lock("session")
        self.check_idle()

    def _poll(self) -> None:
        if not self.signed_in:
            return
        self.run_worker(
            self.gateway.marker, name="marker", group="poll", thread=True, exclusive=True, exit_on_error=False
        )

    def saw(self, marker: Any) -> None:
        """A screen loaded data as of `marker`."""
        self.marker = marker
        self.loaded_at = time.monotonic()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "start":
            if event.state == WorkerState.SUCCESS:
                if event.worker.result is None:
                    self.ask_pin()
                else:
                    self.open_queue()
            elif event.state == WorkerState.ERROR:  # e.g. the database cannot be reached
                error = event.worker.error
                code = int(getattr(error, "code", 1) or 1)
                self.exit(None, return_code=code, message=error_text(error))
            return
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
        if not self.signed_in or self.locked:
            return action in LOCKED_ACTIONS
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
