"""Small modal forms and pickers: the body of every action key.

A form is a list of fields (a choice from a list, or a line of text). Choices may come from
a loader (workers with their load, departments, duplicate candidates); loaders block, so the
form runs them in a thread worker and shows the list when it arrives. Enter moves to the
next field and submits on the last; Esc cancels; Ctrl+S submits from anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from baiyin_cli.i18n import L
from baiyin_cli.tui.gateway import error_text


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass
class FormField:
    name: str
    label: str
    kind: str = "text"  # "text" | "choice"
    required: bool = True
    choices: list[Choice] = field(default_factory=list)
    loader: Callable[[], list[Choice]] | None = None
    placeholder: str = ""
    value: str = ""


LOADING = "\x00loading"


def _option_list_id(name: str) -> str:
    return f"field-{name}"


class ActionForm(ModalScreen[dict[str, Any] | None]):
    """A titled form; dismisses with {field: value} or None."""

    DEFAULT_CSS = """
    ActionForm { align: center middle; }
    """

    def __init__(self, title: str, subtitle: str, fields: list[FormField]) -> None:
        super().__init__()
        self.form_title = title
        self.subtitle = subtitle
        self.fields = fields
        self._bindings.bind("escape", "cancel", L("取消", "Cancel"))
        self._bindings.bind("ctrl+s", "submit", L("提交", "Submit"), key_display="^s")

    def compose(self) -> ComposeResult:
        with Vertical(id="form", classes="dialog"):
            yield Static(self.form_title, classes="dialog-title")
            yield Static(self.subtitle, classes="dialog-subtitle", markup=False)
            for f in self.fields:
                star = " *" if f.required else ""
                yield Label(f.label + star, classes="field-label")
                if f.kind == "choice":
                    options = [Option(c.label, id=c.value) for c in f.choices]
                    if f.loader is not None:
                        # Not `loading`: a loading widget cannot take the focus the form gives it.
                        options = [Option(L("正在加载…", "Loading…"), id=LOADING, disabled=True)]
                    yield OptionList(*options, id=_option_list_id(f.name), classes="field-choice")
                else:
                    yield Input(
                        value=f.value,
                        placeholder=f.placeholder,
                        id=_option_list_id(f.name),
                        classes="field-text",
                    )
            yield Static("", id="form-error", classes="dialog-error")
            yield Static(
                L(
                    "⏎ 下一项/提交   Tab 切换   Ctrl+S 提交   Esc 取消",
                    "⏎ next/submit   Tab move   Ctrl+S submit   Esc cancel",
                ),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        for f in self.fields:
            if f.loader is not None:
                self.run_worker(f.loader, name=f.name, group="form-choices", thread=True, exit_on_error=False)
        if self.fields:
            self.query_one(f"#{_option_list_id(self.fields[0].name)}").focus()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "form-choices":
            return
        ol = self.query_one(f"#{_option_list_id(event.worker.name)}", OptionList)
        if event.state == WorkerState.SUCCESS:
            choices: list[Choice] = event.worker.result or []
            ol.clear_options()
            if choices:
                ol.add_options([Option(c.label, id=c.value) for c in choices])
                ol.highlighted = 0
            else:
                ol.add_option(Option(L("（没有可选项）", "(nothing to choose)"), id=LOADING, disabled=True))
        elif event.state == WorkerState.ERROR:
            ol.clear_options()
            self._error(error_text(event.worker.error))

    def _error(self, text: str) -> None:
        self.query_one("#form-error", Static).update(text)

    def _index(self, widget_id: str | None) -> int:
        for i, f in enumerate(self.fields):
            if _option_list_id(f.name) == widget_id:
                return i
        return -1

    def _advance(self, widget_id: str | None) -> None:
        i = self._index(widget_id)
        if 0 <= i < len(self.fields) - 1:
            self.query_one(f"#{_option_list_id(self.fields[i + 1].name)}").focus()
        else:
            self.action_submit()

    @on(OptionList.OptionSelected)
    def _choice_made(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._advance(event.option_list.id)

    @on(Input.Submitted)
    def _text_entered(self, event: Input.Submitted) -> None:
        event.stop()
        self._advance(event.input.id)

    def values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in self.fields:
            widget = self.query_one(f"#{_option_list_id(f.name)}")
            if isinstance(widget, OptionList):
                idx = widget.highlighted
                value = (widget.get_option_at_index(idx).id or "") if idx is not None else ""
                out[f.name] = "" if value == LOADING else value
            elif isinstance(widget, Input):
                out[f.name] = widget.value.strip()
        return out

    def action_submit(self) -> None:
        values = self.values()
        for f in self.fields:
            if f.required and not values.get(f.name):
                self._error(L(f"请填写：{f.label}", f"Please fill in: {f.label}"))
                self.query_one(f"#{_option_list_id(f.name)}").focus()
                return
        self.dismiss({k: v for k, v in values.items() if v})

    def action_cancel(self) -> None:
        self.dismiss(None)


class Picker(ModalScreen[str | None]):
    """Pick one code from a list (typing narrows it). Dismisses with the code, "" for "all", or None."""

    DEFAULT_CSS = """
    Picker { align: center middle; }
    """

    def __init__(
        self,
        title: str,
        loader: Callable[[], list[Choice]],
        *,
        allow_all: bool = True,
        current: str | None = None,
    ) -> None:
        super().__init__()
        self.picker_title = title
        self.loader = loader
        self.allow_all = allow_all
        self.current = current
        self.choices: list[Choice] = []
        self._bindings.bind("escape", "cancel", L("取消", "Cancel"))
        self._bindings.bind("down", "down", show=False, priority=True)
        self._bindings.bind("up", "up", show=False, priority=True)

    def compose(self) -> ComposeResult:
        with Vertical(id="picker", classes="dialog"):
            yield Static(self.picker_title, classes="dialog-title")
            yield Input(placeholder=L("输入以筛选", "Type to narrow"), id="picker-filter")
            ol = OptionList(id="picker-options")
            ol.loading = True
            yield ol
            yield Static(
                L("⏎ 选择   ↑↓ 移动   Esc 取消", "⏎ pick   ↑↓ move   Esc cancel"), classes="dialog-hint"
            )

    def on_mount(self) -> None:
        self.run_worker(self.loader, name="picker", group="picker", thread=True, exit_on_error=False)
        self.query_one("#picker-filter", Input).focus()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "picker":
            return
        ol = self.query_one("#picker-options", OptionList)
        if event.state == WorkerState.SUCCESS:
            self.choices = event.worker.result or []
            ol.loading = False
            self._show("")
        elif event.state == WorkerState.ERROR:
            ol.loading = False
            self.app.notify(error_text(event.worker.error), severity="error")
            self.dismiss(None)

    def _show(self, needle: str) -> None:
        ol = self.query_one("#picker-options", OptionList)
        ol.clear_options()
        options = []
        if self.allow_all and not needle:
            options.append(Option(L("（全部）", "(all)"), id="\x00all"))
        n = needle.strip().lower()
        for c in self.choices:
            if not n or n in c.label.lower() or n in c.value.lower():
                options.append(Option(c.label, id=c.value))
        ol.add_options(options)
        if options:
            index = next((i for i, o in enumerate(options) if o.id == self.current), 0)
            ol.highlighted = index

    @on(Input.Changed, "#picker-filter")
    def _narrow(self, event: Input.Changed) -> None:
        self._show(event.value)

    @on(Input.Submitted, "#picker-filter")
    def _enter(self, event: Input.Submitted) -> None:
        event.stop()
        ol = self.query_one("#picker-options", OptionList)
        if ol.highlighted is not None:
            self._pick(ol.get_option_at_index(ol.highlighted).id)

    @on(OptionList.OptionSelected, "#picker-options")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._pick(event.option.id)

    def _pick(self, value: str | None) -> None:
        self.dismiss("" if value == "\x00all" else value)

    def action_down(self) -> None:
        self.query_one("#picker-options", OptionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one("#picker-options", OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
