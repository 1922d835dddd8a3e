"""Workflow actions from the queue and the detail screen: the key, the form, the call.

Which actions exist is the workflow's business: a key is offered only if
`petitions.allowed_events` lists its event for the petition in focus (check_action hides the
rest). The form asks for the details the event needs; the call runs in a thread worker with
the version the operator was looking at, so a change made meanwhile in another terminal is
refused by the service (Conflict), shown (who did what, when) and reloaded: never a lost update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from baiyin_cli.i18n import L, M, t
from baiyin_cli.tui.gateway import Gateway, error_text
from baiyin_cli.tui.screens.forms import ActionForm, Choice, FormField

DONE = M("triage.done", "{number}：{event}完成", "{number}: {event} done")
NOW_IS = M(
    "triage.now_is",
    "现在是：{actor} 于 {at} {event}（{status}）。已重新加载，请再看一眼。",
    "Now: {actor} at {at}: {event} ({status}). Reloaded; have another look.",
)
NOT_OFFERED = M(
    "triage.not_offered",
    "{number} 当前不能{event}（可以：{allowed}）",
    "{number}: cannot {event} now (you may: {allowed})",
)

@dataclass(frozen=True)
class Outcome:
    """What an action came to: done (the new petition), refused (why, and what is there now)."""

    ok: bool
    number: str
    event: str
    text: str
    petition: dict[str, Any] | None = None


def event_label(event: str) -> str:
    from baiyin_cli.services import petition_workflow as wf

    return wf.event_label(event)


def _note() -> FormField:
    return FormField("note", L("备注", "Note"), required=False, placeholder=L("可空", "optional"))


def _worker_choices(gateway: Gateway, data: dict[str, Any]) -> list[Choice]:
    rows = gateway.workers(area=data.get("community"), grid_first=data.get("grid"))
    out = []
    for w in rows:
        if w["username"] == data.get("assignee"):
            continue
        here = "★ " if w["grid"] == data.get("grid") else "  "
        label = L(
            f"{here}{w['name']}（{w['username']}）· {w['grid_name']} · 在办 {w['open']} · 超期 {w['overdue']}"
            f" · 今日走访 {w['minutes_today']} 分钟",
            f"{here}{w['name']} ({w['username']}) · {w['grid_name']} · open {w['open']}"
            f" · overdue {w['overdue']} · walked {w['minutes_today']} min today",
        )
        out.append(Choice(w["username"], label))
    return out


def _dept_choices(gateway: Gateway, data: dict[str, Any]) -> list[Choice]:
    current = data.get("dept") if data.get("status") == "escalated" else None
    return [
        Choice(d["code"], f"{d['name']}（{d['code']}）")
        for d in gateway.departments()
        if d["code"] != current
    ]


def _similar_choices(gateway: Gateway, data: dict[str, Any]) -> list[Choice]:
    rows = gateway.similar(data["number"])
    return [Choice(r["number"], f"{r['number']}  {r['text']}") for r in rows]


def form_fields(gateway: Gateway, event: str, data: dict[str, Any]) -> list[FormField]:
    """The details `event` needs, as form fields (the names are the service's keyword arguments)."""
    from baiyin_cli.services import petition_workflow as wf
    from baiyin_cli.services import petitions

    if event == "assign":
        return [
            FormField(
                "to",
                L("承办网格员（★ 本网格）", "Grid worker (★ this grid)"),
                "choice",
                loader=lambda: _worker_choices(gateway, data),
            ),
            _note(),
        ]
    if event == "contact":
        ways = [Choice(w, petitions.contact_way_label(w)) for w in petitions.CONTACT_WAYS]
        return [
            FormField("how", L("回访方式", "How"), "choice", choices=ways),
            FormField("outcome", L("回访情况", "Outcome")),
            _note(),
        ]
    if event == "escalate":
        return [
            FormField(
                "dept", L("上报部门", "Department"), "choice", loader=lambda: _dept_choices(gateway, data)
            ),
            FormField("reason", L("上报原因", "Reason")),
            _note(),
        ]
    if event in ("send_back", "reject", "reopen"):
        label = {
            "send_back": L("退回原因", "Reason"),
            "reject": L("不予受理的理由", "Reason"),
            "reopen": L("重新办理的原因", "Reason"),
        }[event]
        return [FormField("reason", label), _note()]
    if event == "resolve":
        return [FormField("result", L("办理结果", "Result")), _note()]
    if event == "rate":
        ratings = [Choice(r, wf.label(r, wf.RATING_LABELS)) for r in wf.RATINGS]
        return [
            FormField(
                "rating",
                L("群众评价（不满意将重新办理）", "Rating (unsatisfied reopens)"),
                "choice",
                choices=ratings,
            ),
            FormField("comment", L("评价意见", "Comment"), required=False, placeholder=L("可空", "optional")),
            _note(),
        ]
    if event == "merge":
        return [
            FormField(
                "into",
                L("并入哪条诉求（相似的在办诉求）", "Merge into (similar open petitions)"),
                "choice",
                required=False,
                loader=lambda: _similar_choices(gateway, data),
            ),
            FormField(
                "into_number",
                L("或输入诉求编号", "Or type its number"),
                required=False,
                placeholder="BY-YYYYMMDD-NNNN",
            ),
            _note(),
        ]
    return [_note()]


def make_form(gateway: Gateway, event: str, data: dict[str, Any]) -> ActionForm:
    from baiyin_cli.tui.keys import EVENT_KEYS

    key = EVENT_KEYS.get(event)
    title = f"{key.label if key else event_label(event)}  {data['number']}"
    subtitle = (data.get("text") or "")[:100]
    return ActionForm(title, subtitle, form_fields(gateway, event, data))


def prepare(event: str, values: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The form's values as the service's arguments: (note, data)."""
    values = dict(values)
    note = values.pop("note", None)
    if event == "merge":
        typed = values.pop("into_number", None)
        if typed:
            values["into"] = typed.strip().upper()
        if not values.get("into"):
            values["into"] = ""
    return note, values


def run(gateway: Gateway, data: dict[str, Any], event: str, values: dict[str, Any]) -> Outcome:
    """Blocking: fire the event. A refusal comes back as an Outcome (with what is there now)."""
    from baiyin_cli.errors import Conflict, GridError

    number = data["number"]
    note, args = prepare(event, values)
    try:
        after = gateway.apply(number, event, expected_version=data.get("version"), note=note, **args)
    except Conflict as exc:
        text = error_text(exc)
        try:
            now = gateway.current(number)
        except GridError:
            return Outcome(False, number, event, text)
        return Outcome(False, number, event, text + "\n" + describe_now(now), now)
    except GridError as exc:
        return Outcome(False, number, event, error_text(exc))
    return Outcome(True, number, event, t(DONE, number=number, event=event_label(event)), after)


def describe_now(p: dict[str, Any]) -> str:
    """The latest step of a petition, for the conflict notice."""
    from baiyin_cli import timeutil
    from baiyin_cli.services import petition_workflow as wf

    last = (p.get("history") or [{}])[-1]
    at = last.get("at")
    when = timeutil.fmt(timeutil.parse_time(at)) if at else "-"
    return t(
        NOW_IS,
        actor=last.get("actor") or "-",
        at=when,
        event=wf.event_label(last.get("event") or ""),
        status=wf.status_label(p.get("status")),
    )
