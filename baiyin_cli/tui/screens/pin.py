"""The PIN screen: at start when no valid session exists, and as the idle lock.

It is a full screen, not a dialog: nothing behind it is drawn, so no personal data shows
while it is up. The PIN is checked by the same auth service as `grid login`
(`Gateway.login` -> auth.sign_in; `Gateway.unlock` -> auth.unlock): the same lockout after
too many wrong PINs, the same audit entries, the same message whatever went wrong (it never
says whether the user exists). The check runs in a thread worker (argon2 takes a moment).
Esc or Ctrl+Q leaves the app.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from baiyin_cli.i18n import L
from baiyin_cli.tui import keys
from baiyin_cli.tui.gateway import Gateway, error_text


class PinScreen(Screen[dict[str, Any]]):
    """Dismisses with the sign-in result once the PIN is right; there is no other way out
    but leaving the app."""

    DEFAULT_CSS = """
    PinScreen { align: center middle; }
    PinScreen #pin-box { width: 60; max-width: 95%; height: auto; }
    PinScreen Input { margin: 0 0 0 0; }
    """

    def __init__(self, gateway: Gateway, *, username: str | None, lock: bool, reason: str = "idle") -> None:
        super().__init__(id="lock-screen" if lock else "login-screen")
        keys.install(self, "pin")
        self.gateway = gateway
        self.username = username or ""
        self.lock = lock
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="pin-box", classes="dialog"):
            if self.lock:
                yield Static(L("grid 诉求分拣 · 已锁定", "grid triage · locked"), classes="dialog-title")
                why = (
                    L(f"会话已结束。请 {self.username} 输入 PIN 继续。",
                      f"The session has ended. {self.username}, type your PIN to go on.")
                    if self.reason == "session"
                    else L(f"长时间无操作，屏幕已锁定。请 {self.username} 输入 PIN 解锁。",
                           f"Locked after idle time. {self.username}, type your PIN to unlock.")
                )
                yield Static(why, classes="dialog-subtitle", markup=False)
            else:
                yield Static(L("grid 诉求分拣 · 登录", "grid triage · log in"), classes="dialog-title")
                yield Static(
                    L("没有有效的会话，请输入用户名和 PIN。", "No valid session: type your username and PIN."),
                    classes="dialog-subtitle",
                )
                yield Static(L("用户名", "Username"), classes="field-label")
                yield Input(value=self.username, id="pin-user", max_length=64)
            yield Static("PIN", classes="field-label")
            yield Input(password=True, id="pin", max_length=128, placeholder=L("PIN（不回显）", "PIN (not shown)"))
            yield Static("", id="pin-message", classes="dialog-error", markup=False)
            yield Static(
                L("⏎ 确定 · Esc 或 Ctrl+Q 退出", "⏎ OK · Esc or Ctrl+Q quits"), classes="dialog-hint"
            )

    def on_mount(self) -> None:
        if self.lock or self.username:
            self.query_one("#pin", Input).focus()
        else:
            self.query_one("#pin-user", Input).focus()

    # ------------------------------------------------------------ typing

    @on(Input.Submitted, "#pin-user")
    def _user_done(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.query_one("#pin", Input).focus()

    @on(Input.Submitted, "#pin")
    def _pin_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def submit(self) -> None:
        pin_box = self.query_one("#pin", Input)
        secret = pin_box.value
        if self.lock:
            username = self.username
        else:
            user_box = self.query_one("#pin-user", Input)
            username = user_box.value.strip()
            if not username:
                user_box.focus()
                return
        if not secret or self.is_checking:
            return
        self.query_one("#pin-message", Static).update(L("正在验证…", "Checking…"))
        for box in self.query(Input):
            box.disabled = True
        if self.lock:
            job = partial(self.gateway.unlock, secret)
        else:
            job = partial(self.gateway.login, username, secret)
        self.run_worker(job, name="pin", group="pin", thread=True, exclusive=True, exit_on_error=False)

    @property
    def is_checking(self) -> bool:
        return any(w.group == "pin" and w.is_running for w in self.workers)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "pin":
            return
        event.stop()
        if event.state == WorkerState.SUCCESS:
            self.dismiss(event.worker.result)
        elif event.state == WorkerState.ERROR:
            self.failed(error_text(event.worker.error))

    def failed(self, text: str) -> None:
        self.query_one("#pin-message", Static).update(text)
        for box in self.query(Input):
            box.disabled = False
        pin_box = self.query_one("#pin", Input)
        pin_box.value = ""
        pin_box.focus()

    # ------------------------------------------------------------ keys

    def action_leave(self) -> None:
        self.app.exit(0)
