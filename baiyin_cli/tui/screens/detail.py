"""One petition: every field, both deadlines ticking, the history, the household, duplicate candidates."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from baiyin_cli import timeutil
from baiyin_cli.i18n import L
from baiyin_cli.tui import fmt, keys
from baiyin_cli.tui.gateway import Gateway, error_text
from baiyin_cli.tui.screens import actions
from baiyin_cli.tui.widgets.keybar import KeyBar

STATE_STYLES = {
    "overdue": "bold red",
    "due_soon": "bold yellow",
    "on_time": "green",
    "met": "green",
    "late": "red",
    "stopped": "dim",
}


def state_label(state: str | None) -> str:
    return {
        "overdue": L("已超期", "overdue"),
        "due_soon": L("即将到期", "due soon"),
        "on_time": L("未到期", "on time"),
        "met": L("按时完成", "met"),
        "late": L("超期完成", "late"),
        "stopped": L("已停止", "stopped"),
    }.get(state or "", state or "")


def _t(value: str | None) -> str:
    """An ISO time from the service as local 'YYYY-MM-DD HH:MM'."""
    if not value:
        return "—"
    return timeutil.fmt(datetime.fromisoformat(value))


def _kv_table(rows: list[tuple[str, Any]], columns: int = 2) -> Table:
    table = Table.grid(padding=(0, 2), expand=True)
    for _ in range(columns):
        table.add_column(style="dim", no_wrap=True)
        table.add_column(ratio=1)
    for i in range(0, len(rows), columns):
        cells: list[Any] = []
        for label, value in rows[i : i + columns]:
            cells += [
                label,
                value if isinstance(value, Text) else Text(str(value) if value not in (None, "") else "—"),
            ]
        table.add_row(*cells)
    return table


class DetailScreen(Screen):
    """Opened with Enter from the queue; Esc goes back."""

    AUTO_FOCUS = "#detail-body"

    def __init__(self, gateway: Gateway, number: str) -> None:
        super().__init__(id="detail-screen")
        keys.install(self, "detail")
        self.gateway = gateway
        self.number = number
        self.data: dict[str, Any] | None = None
        self.reveal = False

    def compose(self) -> ComposeResult:
        yield Static(self.number, id="detail-title")
        with VerticalScroll(id="detail-body"):
            yield Static(L("正在加载…", "Loading…"), id="detail-fields", classes="section")
            yield Static("", id="detail-deadlines", classes="section")
            yield Static(L("办理经过", "History"), classes="section-title")
            yield Static("", id="detail-history", classes="section")
            yield Static(L("住户", "Household"), classes="section-title")
            yield Static("", id="detail-household", classes="section")
            yield Static(
                L("相似的在办诉求（可能重复）", "Similar open petitions (possible duplicates)"),
                classes="section-title",
            )
            yield OptionList(id="detail-similar")
        yield KeyBar()

    def on_mount(self) -> None:
        self.load()

    def load(self) -> None:
        number, reveal = self.number, self.reveal
        self.run_worker(
            lambda: self.gateway.detail(number, reveal=reveal),
            group="detail",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def reload(self) -> None:
        """The refresh timer: read again, unless personal data is shown in full (reading it again
        would audit another reveal every few seconds; an action reloads it, as it should)."""
        if not self.reveal:
            self.load()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        group = event.worker.group
        if group == "detail":
            if event.state == WorkerState.SUCCESS:
                self.data = event.worker.result
                self._render_all()
                self.refresh_bindings()
            elif event.state == WorkerState.ERROR:
                self.reveal = False
                self.notify(error_text(event.worker.error), severity="error", timeout=8)
                if self.data is None:
                    self.query_one("#detail-fields", Static).update(error_text(event.worker.error))
        elif group == "action":
            if event.state == WorkerState.SUCCESS:
                outcome: actions.Outcome = event.worker.result
                self.notify(
                    outcome.text,
                    severity="information" if outcome.ok else "warning",
                    timeout=4 if outcome.ok else 10,
                )
            elif event.state == WorkerState.ERROR:
                self.notify(error_text(event.worker.error), severity="error", timeout=10)
            if event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
                self.load()
                self._reload_queue()

    def _reload_queue(self) -> None:
        from baiyin_cli.tui.screens.queue import QueueScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, QueueScreen):
                screen.reload()

    # ------------------------------------------------------------ drawing

    def _render_all(self) -> None:
        d = self.data
        if d is None:
            return
        from baiyin_cli import config
        from baiyin_cli.services import petition_workflow as wf

        cfg = config.load()
        names = self.gateway.names
        title = Text()
        title.append(d["number"], style="bold")
        title.append("  ")
        title.append(wf.status_label(d["status"]), style="bold reverse")
        title.append("  " + cfg.label("categories", d["category"]))
        if d.get("revealed"):
            title.append(
                "  " + L("（已显示完整信息，已记入审计）", "(shown in full; audited)"), style="bold magenta"
            )
        self.query_one("#detail-title", Static).update(title)

        def area(code: str | None) -> str:
            return f"{names.areas.get(code, code)} {code}" if code else "—"

        def person(username: str | None) -> str:
            return f"{names.workers.get(username, username)}（{username}）" if username else "—"

        rating = wf.label(d["rating"], wf.RATING_LABELS) if d.get("rating") else None
        rows: list[tuple[str, Any]] = [
            (L("内容", "Text"), Text(d.get("text") or "")),
            (L("渠道", "Channel"), cfg.label("channels", d["channel"])),
            (L("社区", "Community"), area(d.get("community"))),
            (L("网格", "Grid"), area(d.get("grid"))),
            (L("地址", "Address"), d.get("address")),
            (
                L("反映人", "Reporter"),
                L("匿名", "anonymous") if d.get("anonymous") else d.get("reporter_name"),
            ),
            (L("联系电话", "Phone"), d.get("reporter_phone")),
            (L("承办网格员", "Assignee"), person(d.get("assignee"))),
            (L("承办部门", "Department"), names.depts.get(d.get("dept") or "", d.get("dept"))),
            (L("受理时间", "Filed"), f"{_t(d.get('filed_at'))}（{d.get('filed_by') or '-'}）"),
            (L("回访时间", "Called back"), _t(d.get("contacted_at"))),
            (L("办结时间", "Resolved"), _t(d.get("resolved_at"))),
            (L("办理结果", "Result"), d.get("result")),
            (
                L("群众评价", "Rating"),
                f"{rating}  {d.get('rating_comment') or ''}".strip() if rating else None,
            ),
            (L("合并到", "Merged into"), d.get("merged_into")),
            (L("不予受理理由", "Reject reason"), d.get("reject_reason")),
            (
                L("版本", "Version"),
                f"{d.get('version')}（{d.get('updated_by') or '-'} {_t(d.get('updated_at'))}）",
            ),
        ]
        if d.get("reporters") and len(d["reporters"]) > 1:
            who = "、".join(f"{r.get('name') or '—'} {r.get('phone') or ''}".strip() for r in d["reporters"])
            rows.append((L("全部反映人", "All reporters"), who))
        self.query_one("#detail-fields", Static).update(_kv_table(rows))
        self._render_deadlines()
        self._render_history(d)
        self._render_household(d)
        self._render_similar(d)

    def _render_deadlines(self, now: datetime | None = None) -> None:
        d = self.data
        boxes = self.query("#detail-deadlines")
        if d is None or not boxes:
            return
        from baiyin_cli.services import petitions

        now = now or timeutil.now()
        c = petitions.clock(d, now)
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim")
        table.add_column()
        table.add_column()
        table.add_column()
        for key, label in (
            ("contact", L("回访时限", "Callback due")),
            ("resolve", L("办结时限", "Resolution due")),
        ):
            one = c[key]
            state = one["state"]
            left = ""
            if one.get("seconds_left") is not None:
                left = fmt.clock_text(datetime.fromisoformat(one["due"]) - now)
            elif one.get("done_at"):
                left = L("完成于 ", "done ") + _t(one["done_at"])
            est = L("（按推算日历）", " (estimated calendar)") if one.get("estimated") else ""
            table.add_row(
                label,
                _t(one["due"]) + est,
                Text(state_label(state), style=STATE_STYLES.get(state, "")),
                Text(left, style=STATE_STYLES.get(state, "")),
            )
        boxes.first(Static).update(table)

    def _render_history(self, d: dict[str, Any]) -> None:
        from baiyin_cli.services import petition_workflow as wf

        table = Table(box=None, show_header=True, header_style="dim", padding=(0, 1), expand=True)
        table.add_column(L("时间", "When"), no_wrap=True)
        table.add_column(L("操作", "Step"), no_wrap=True)
        table.add_column(L("经办", "By"), no_wrap=True)
        table.add_column(L("状态", "State"), no_wrap=True)
        table.add_column(L("说明", "Details"), ratio=1)
        for h in d.get("history") or []:
            moved = wf.status_label(h.get("to"))
            if h.get("from") and h.get("from") != h.get("to"):
                moved = f"{wf.status_label(h.get('from'))} → {moved}"
            details = _history_details(h, self.gateway)
            table.add_row(
                _t(h.get("at")),
                wf.event_label(h["event"]),
                self.gateway.names.workers.get(h.get("actor") or "", h.get("actor") or "—"),
                moved,
                Text(details),
            )
        self.query_one("#detail-history", Static).update(table)

    def _render_household(self, d: dict[str, Any]) -> None:
        box = self.query_one("#detail-household", Static)
        hh = d.get("household_detail")
        if not d.get("household"):
            box.update(Text(L("未关联住户", "No household linked"), style="dim"))
            return
        if hh is None:
            box.update(Text(d.get("household_error") or d["household"], style="dim"))
            return
        from baiyin_cli.services import registry

        head = [
            (L("户编号", "Code"), hh["code"]),
            (L("地址", "Address"), hh.get("full_address") or hh.get("address")),
            (
                L("关爱标签", "Care"),
                "、".join(registry.care_label(c) for c in hh.get("care_all") or []) or "—",
            ),
            (L("上次走访", "Last visit"), _t((hh.get("last_visit") or {}).get("started_at"))),
        ]
        members = Table(box=None, show_header=True, header_style="dim", padding=(0, 1))
        for col in (
            L("姓名", "Name"),
            L("关系", "Relation"),
            L("年龄", "Age"),
            L("身份证号", "ID number"),
            L("电话", "Phone"),
            L("关爱", "Care"),
        ):
            members.add_column(col, no_wrap=True)
        for m in hh.get("members") or []:
            if m.get("archived"):
                continue
            members.add_row(
                m.get("name") or "",
                registry.relation_label(m.get("relation")),
                str(m.get("age") or ""),
                m.get("id_number") or "",
                m.get("phone") or "",
                "、".join(registry.care_label(c) for c in m.get("care") or []),
            )
        box.update(Group(_kv_table(head), members))

    def _render_similar(self, d: dict[str, Any]) -> None:
        ol = self.query_one("#detail-similar", OptionList)
        ol.clear_options()
        similar = d.get("similar") or []
        if not similar:
            ol.add_option(Option(Text(L("没有", "None"), style="dim"), id="\x00none", disabled=True))
            return
        from baiyin_cli.services import petition_workflow as wf

        for s in similar:
            score = f"{round(float(s.get('score') or 0) * 100)}%"
            why = "、".join(
                {"text": L("内容相似", "similar text"), "phone": L("同一电话", "same phone")}.get(r, r)
                for r in s.get("reasons") or []
            )
            ol.add_option(
                Option(
                    f"{s['number']}  {wf.status_label(s['status'])}  {score} {why}  {s.get('text') or ''}",
                    id=s["number"],
                )
            )

    def tick(self, now: datetime) -> None:
        self._render_deadlines(now)

    # ------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        d = self.data
        if action == "act":
            return d is not None and parameters[0] in (d.get("allowed_events") or [])
        if action == "reveal":
            return d is not None and bool(d.get("may_reveal")) and not d.get("revealed")
        if action == "open_similar":
            lists = self.query("#detail-similar")
            return bool(lists) and lists.first().has_focus
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reveal(self) -> None:
        if self.data is None or not self.data.get("may_reveal"):
            self.app.bell()
            return
        self.reveal = True
        self.load()

    @on(OptionList.OptionSelected, "#detail-similar")
    def _similar_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id and not event.option.id.startswith("\x00"):
            self.app.push_screen(DetailScreen(self.gateway, event.option.id))

    def action_open_similar(self) -> None:
        ol = self.query_one("#detail-similar", OptionList)
        if ol.highlighted is not None:
            ol.action_select()

    def action_act(self, event: str) -> None:
        d = self.data
        if d is None or event not in (d.get("allowed_events") or []):
            self.app.bell()
            return
        self.app.push_screen(
            actions.make_form(self.gateway, event, d), callback=partial(self._submit, d, event)
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


def _history_details(h: dict[str, Any], gateway: Gateway) -> str:
    """The details of one step in words: to whom, how, why, the result."""
    from baiyin_cli.services import petition_workflow as wf

    data = h.get("data") or {}
    names = gateway.names
    parts: list[str] = []
    if "to" in data:
        parts.append(L("派给 ", "to ") + names.workers.get(data["to"], data["to"]))
    if "how" in data:
        from baiyin_cli.services.petitions import contact_way_label

        parts.append(contact_way_label(data["how"]))
    if "outcome" in data:
        parts.append(str(data["outcome"]))
    if "dept" in data and h.get("event") in ("escalate", "send_back"):
        parts.append(names.depts.get(data["dept"], data["dept"]))
    for key in ("reason", "result", "comment"):
        if data.get(key):
            parts.append(str(data[key]))
    if "rating" in data:
        parts.append(wf.label(data["rating"], wf.RATING_LABELS))
    if "into" in data:
        parts.append(L("并入 ", "into ") + str(data["into"]))
    if "from" in data:
        parts.append(L("来自 ", "from ") + str(data["from"]))
    if data.get("late"):
        parts.append(L("（超时）", "(late)"))
    if h.get("note"):
        parts.append(L("备注：", "note: ") + str(h["note"]))
    return "；".join(parts) if parts else ""
