"""Every key of the triage app, declared once: the screens bind them, the footer shows them,
the help screen (`?`) and the command palette list them.

A key belongs to one or more *scopes* (the app, the queue, the detail screen, ...). Labels are
resolved in the current language when a screen is built, so `--lang en` and the Chinese
default share one table. Keys that fire a workflow event carry its name (`event`): a screen
offers them only when the petition workflow allows that event on the petition in focus
(`petitions.allowed_events`), so an action that is not possible is never shown.

Each binding has an `id` (as in posting's keymap), so a keymap can rebind it.
"""

from __future__ import annotations

from dataclasses import dataclass

from baiyin_cli.i18n import L


@dataclass(frozen=True)
class Key:
    id: str
    key: str
    action: str
    zh: str
    en: str
    scopes: tuple[str, ...]
    show: bool = True
    event: str | None = None  # the workflow event this key fires
    display: str | None = None  # how the key is shown (footer, help)
    priority: bool = False
    group: tuple[str, str] | None = None  # shown together in the footer under this label

    @property
    def label(self) -> str:
        return L(self.zh, self.en)


APP = ("app",)
QUEUE = ("queue",)
FILTER = ("筛选", "Filter")
DETAIL = ("detail",)
BOTH = ("queue", "detail")

KEYS: tuple[Key, ...] = (
    # -- everywhere
    Key("quit", "q", "app.quit_app", "退出", "Quit", APP),
    Key("help", "question_mark", "app.help", "帮助", "Help", APP, display="?"),
    Key("palette", "ctrl+p", "app.command_palette", "命令面板", "Commands", APP, show=False, display="^p"),
    Key("refresh", "ctrl+r,f5", "app.refresh_now", "刷新", "Refresh", APP, show=False, display="^r"),
    # -- the PIN screen (start without a session; idle lock)
    Key("pin_leave", "escape", "leave", "退出", "Quit", ("pin",), display="esc"),
    # -- moving in the queue
    Key("down", "j,down", "cursor(1)", "下移", "Down", QUEUE, show=False, display="j/↓"),
    Key("up", "k,up", "cursor(-1)", "上移", "Up", QUEUE, show=False, display="k/↑"),
    Key("page_down", "pagedown,ctrl+d", "page(1)", "下一页", "Page down", QUEUE, show=False, display="PgDn"),
    Key("page_up", "pageup,ctrl+u", "page(-1)", "上一页", "Page up", QUEUE, show=False, display="PgUp"),
    Key("first", "g,home", "edge(0)", "第一条", "First", QUEUE, show=False, display="g/Home"),
    Key("last", "G,end", "edge(1)", "最后一条", "Last", QUEUE, show=False, display="G/End"),
    Key("open", "enter", "open", "详情", "Details", QUEUE, display="⏎"),
    # -- filters
    Key("search", "slash", "search", "搜索", "Search", QUEUE, display="/"),
    Key("clear", "escape", "clear_filters", "清除筛选", "Clear filters", QUEUE, show=False, display="esc"),
    Key("f_overdue", "O", "toggle('overdue')", "超期", "Overdue", QUEUE, group=FILTER),
    Key("f_callback", "C", "toggle('awaiting_callback')", "待回访", "Awaiting callback", QUEUE, group=FILTER),
    Key("f_escalated", "E", "toggle('escalated')", "已上报", "Escalated", QUEUE, group=FILTER),
    Key("f_mine", "M", "toggle('mine')", "我的", "Mine", QUEUE, group=FILTER),
    Key("f_category", "K", "pick_category", "按类别", "By category", QUEUE, group=FILTER),
    Key("f_grid", "R", "pick_grid", "按网格", "By grid", QUEUE, group=FILTER),
    Key("f_area", "A", "pick_area", "选择区域", "Pick area", QUEUE, group=FILTER),
    Key("workers", "w", "toggle_workers", "网格员", "Workers", QUEUE),
    # -- the detail screen
    Key("back", "escape", "back", "返回", "Back", DETAIL, display="esc"),
    Key("reveal", "v", "reveal", "显示完整信息", "Reveal", DETAIL),
    Key(
        "open_similar",
        "enter",
        "open_similar",
        "打开相似诉求",
        "Open similar",
        DETAIL,
        show=False,
        display="⏎",
    ),
    # -- workflow actions (offered only when the workflow allows them)
    Key("assign", "a", "act('assign')", "派单", "Assign", BOTH, event="assign"),
    Key("contact", "c", "act('contact')", "回访", "Callback", BOTH, event="contact"),
    Key("start", "s", "act('start')", "开始办理", "Start", BOTH, event="start"),
    Key("escalate", "e", "act('escalate')", "上报", "Escalate", BOTH, event="escalate"),
    Key("send_back", "b", "act('send_back')", "退回", "Send back", BOTH, event="send_back"),
    Key("resolve", "d", "act('resolve')", "办结", "Resolve", BOTH, event="resolve"),
    Key("rate", "t", "act('rate')", "评价", "Rate", BOTH, event="rate"),
    Key("close", "x", "act('close')", "结案", "Close", BOTH, event="close"),
    Key("reject", "n", "act('reject')", "不予受理", "Reject", BOTH, event="reject"),
    Key("merge", "m", "act('merge')", "合并", "Merge", BOTH, event="merge"),
    Key("reopen", "o", "act('reopen')", "重新办理", "Reopen", BOTH, event="reopen"),
)

# Help screen sections, in order.
SCOPE_TITLES = {
    "app": ("全局", "Everywhere"),
    "queue": ("诉求队列", "Queue"),
    "detail": ("诉求详情", "Details"),
    "actions": ("办理操作（仅显示当前可用的）", "Actions (offered only when allowed)"),
}

EVENT_KEYS = {k.event: k for k in KEYS if k.event}


def in_scope(scope: str) -> list[Key]:
    return [k for k in KEYS if scope in k.scopes]


def bindings(scope: str) -> list:  # list[Binding]
    """Textual bindings for `scope`, labelled in the current language."""
    from textual.binding import Binding

    groups: dict[tuple[str, str], Binding.Group] = {}

    def group(k: Key) -> Binding.Group | None:
        if k.group is None:
            return None
        if k.group not in groups:
            groups[k.group] = Binding.Group(L(*k.group))
        return groups[k.group]

    return [
        Binding(
            k.key,
            k.action,
            k.label,
            show=k.show,
            key_display=k.display,
            id=k.id,
            priority=k.priority,
            group=group(k),
        )
        for k in in_scope(scope)
    ]


def install(node, scope: str) -> None:  # type: ignore[no-untyped-def]
    """Add the bindings of `scope` to a node (a screen or the app), keeping its own."""
    from textual.binding import BindingsMap

    node._bindings = BindingsMap.merge([node._bindings, BindingsMap(bindings(scope))])


def display(k: Key) -> str:
    if k.display:
        return k.display
    return " / ".join(part for part in k.key.split(","))


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """(title, [(keys, label)]) for the help screen, in the current language."""
    out = []
    for scope in ("app", "queue", "detail"):
        rows = [(display(k), k.label) for k in KEYS if scope in k.scopes and not k.event]
        out.append((L(*SCOPE_TITLES[scope]), rows))
    out.append((L(*SCOPE_TITLES["actions"]), [(display(k), k.label) for k in KEYS if k.event]))
    return out
