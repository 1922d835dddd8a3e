"""The footer: the current screen's keys on one line.

Textual's Footer builds a widget per key and rebuilds them all whenever the offered keys
change (here: whenever the cursor reaches a petition in another state), which costs a layout
pass. This bar draws the same information as one line of text, so a keypress that changes the
offered actions still answers at once. Keys of one group (the filters) share one label.
"""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widget import Widget


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    """

    COMPONENT_CLASSES = {"keybar--key", "keybar--description", "keybar--disabled"}

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _changed(self, screen: Screen) -> None:
        if screen is self.screen:
            self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("keybar--key", partial=True)
        desc_style = self.get_component_rich_style("keybar--description", partial=True)
        off_style = self.get_component_rich_style("keybar--disabled", partial=True)
        out = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        entries: list[tuple[list[str], str, bool, object]] = []
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            if entries and binding.group is not None and entries[-1][3] is binding.group:
                entries[-1][0].append(key)
                continue
            label = binding.group.description if binding.group is not None else binding.description
            entries.append(([key], label, enabled, binding.group))
        for keys_, label, enabled, _group in entries:
            out.append(" ")
            out.append(" ".join(keys_), style=key_style if enabled else off_style)
            out.append(" ")
            out.append(label, style=desc_style if enabled else off_style)
            out.append(" ")
        if self.app.ENABLE_COMMAND_PALETTE:
            from baiyin_cli.i18n import L

            out.append(" ^p", style=key_style)
            out.append(" " + L("命令面板", "commands"), style=desc_style)
        return out
