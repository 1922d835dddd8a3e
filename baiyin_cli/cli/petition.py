"""grid petition: 诉求 from filing to closing (码上反映·马上办理).

file → assign (派单) → contact (30-minute callback, 回访) → start → escalate (上报) ⇄ send-back (退回)
→ resolve (办结) → rate (群众来评) → close (结案); also reject (不予受理), merge (duplicates), reopen.
The rules live in services/petition_workflow.py; this module parses, calls, renders.
"""

from typing import Annotated, Any

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L, get_lang

CHANNELS = "qr|mini_program|hotline_12345|grid_report|walk_in|phone"
DEFAULT_LIMIT = 100


# ---------------------------------------------------------------- labels and cells


def _cfg_label(table: str, code: str | None) -> str:
    if not code:
        return ""
    from baiyin_cli import config

    return config.load().label(table, code)


def status_label(code: str | None) -> str:
    from baiyin_cli.services import petition_workflow as wf

    return wf.status_label(code)


def event_label(code: str) -> str:
    from baiyin_cli.services import petition_workflow as wf

    return wf.event_label(code)


def rating_label(code: str | None) -> str:
    if not code:
        return ""
    from baiyin_cli.services import petition_workflow as wf

    return wf.label(code, wf.RATING_LABELS)


def span(seconds: float) -> str:
    """1d 3h / 2h 5m / 12m: the two largest units of a duration."""
    s = int(abs(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    zh = [(d, "天"), (h, "小时"), (m, "分")]
    en = [(d, "d"), (h, "h"), (m, "m")]
    parts = en if get_lang() == "en" else zh
    first = next((i for i, (n, _u) in enumerate(parts) if n), len(parts) - 1)
    chosen = [f"{n}{u}" for n, u in parts[first : first + 2] if n] or [f"0{parts[-1][1]}"]
    return (" " if get_lang() == "en" else "").join(chosen)


STATE_STYLE = {
    "overdue": "red",
    "due_soon": "yellow",
    "on_time": "green",
    "late": "red",
    "met": "",
    "stopped": "dim",
}


def deadline_text(dl: dict[str, Any]) -> str:
    """'剩 2小时5分' / '超时 1天2小时' / '按时' / '超时完成' for one deadline of a clock."""
    state = dl["state"]
    if state in ("on_time", "due_soon"):
        return L(f"剩 {span(dl['seconds_left'])}", f"{span(dl['seconds_left'])} left")
    if state == "overdue":
        return L(f"超时 {span(dl['seconds_left'])}", f"overdue {span(dl['seconds_left'])}")
    if state == "met":
        return L("按时", "met")
    if state == "late":
        return L("超时完成", "late")
    return L("—", "-")


def _dept_text(p: dict[str, Any]) -> str | None:
    """The department, marked when it sent the case back (services/petitions.show_petition)."""
    if p.get("dept") and p.get("dept_sent_back"):
        return L(f"{p['dept']}（已退回网格）", f"{p['dept']} (sent back to the grid)")
    return p.get("dept")


def _cell(text: str, style: str = ""):  # type: ignore[no-untyped-def]
    from rich.text import Text

    return Text(text, style=style)


def _table(columns: list[str], rows: list[list[Any]], *, title: str | None = None, drop: tuple[int, ...] = ()) -> None:
    """_output.table (cells may be styled rich Text)."""
    out.table(columns, rows, title=title, drop=drop)


def _due_cell(p: dict[str, Any]):  # type: ignore[no-untyped-def]
    from baiyin_cli import timeutil

    c = p["clock"]
    dl = c["contact"] if c["contact"]["state"] in ("on_time", "due_soon", "overdue") else c["resolve"]
    which = L("回访", "callback") if dl is c["contact"] else L("办结", "resolve")
    due = timeutil.fmt(timeutil.parse_time(dl["due"]))
    mark = "≈" if dl.get("estimated") else ""
    return _cell(f"{which} {mark}{due}"), _cell(deadline_text(dl), STATE_STYLE.get(dl["state"], ""))


def _short(text: str | None, n: int = 28) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _render_row(p: dict[str, Any]) -> list[Any]:
    due, left = _due_cell(p)
    return [
        p["number"],
        status_label(p["status"]),
        _cfg_label("categories", p["category"]),
        p["grid"] or p["community"],
        p["assignee"] or (p["dept"] if p["status"] == "escalated" else ""),
        due,
        left,
        _short(p["text"]),
    ]


def _after(p: dict[str, Any], json_: bool, event: str) -> None:
    if json_:
        out.print_json(p)
        return
    out.info(
        L(
            f"{p['number']}：{event_label(event)} → {status_label(p['status'])}（版本 {p['version']}）",
            f"{p['number']}: {event_label(event)} -> {status_label(p['status'])} (version {p['version']})",
        )
    )
    nxt = p.get("allowed_events") or []
    if nxt:
        sep = L("、", ", ")
        out.info(
            L("下一步可以：", "Next: ") + sep.join(f"{event_label(e)} ({e.replace('_', '-')})" for e in nxt)
        )


def _do(
    number: str,
    event: str,
    *,
    at: str | None,
    note: str | None,
    if_version: int | None,
    json_: bool,
    **data: Any,
) -> None:
    from baiyin_cli.services import petitions

    when = ctx.at_option(at)
    with ctx.session(write=True) as (s, op):
        p = petitions.apply(s, op, number, event, at=when, note=note, expected_version=if_version, **data)
    _after(p, json_, event)


# ---------------------------------------------------------------- commands


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)
    json_help = L("以 JSON 输出", "Output JSON")
    at_help = L(
        "实际发生时间（补录纸质记录）YYYY-MM-DD HH:MM",
        "When it happened (entering paper records) YYYY-MM-DD HH:MM",
    )
    note_help = L("备注（记入办理记录）", "A note for the history")
    ver_help = L(
        "仅当诉求仍是此版本时执行（版本见 show --json），否则退出码 5",
        "Only if the petition is still at this version (see show --json); else exit 5",
    )
    number_help = L("诉求编号 BY-YYYYMMDD-NNNN", "Petition number BY-YYYYMMDD-NNNN")

    Number = Annotated[str, typer.Argument(metavar="NUMBER", help=number_help)]
    At = Annotated[str | None, typer.Option("--at", help=at_help)]
    Note = Annotated[str | None, typer.Option("--note", help=note_help)]
    IfVersion = Annotated[int | None, typer.Option("--if-version", min=1, help=ver_help)]
    Json = Annotated[bool, typer.Option("--json", help=json_help)]

    @app.command(
        "file",
        help=L(
            "受理一件诉求，输出诉求编号（缺少的必填项在终端上逐项询问）",
            "File a petition and print its number (asks for missing fields on a terminal)",
        ),
    )
    def file(
        text: Annotated[
            str | None, typer.Option("--text", help=L("诉求内容", "What the resident raises"))
        ] = None,
        category: Annotated[
            str | None,
            typer.Option(
                "--category",
                help=L(
                    "类别（见 grid config show 的 categories）",
                    "Category (see categories in grid config show)",
                ),
            ),
        ] = None,
        channel: Annotated[
            str | None, typer.Option("--channel", help=L(f"渠道：{CHANNELS}", f"Channel: {CHANNELS}"))
        ] = None,
        grid: Annotated[
            str | None,
            typer.Option(
                "--grid",
                help=L("所在网格代码（网格员默认本网格）", "Grid code (a grid worker's own grid by default)"),
            ),
        ] = None,
        community: Annotated[
            str | None,
            typer.Option(
                "--community",
                help=L("所在社区代码（书记默认本社区）", "Community code (a secretary's own by default)"),
            ),
        ] = None,
        name: Annotated[str | None, typer.Option("--name", help=L("反映人姓名", "Reporter's name"))] = None,
        phone: Annotated[
            str | None,
            typer.Option("--phone", help=L("反映人电话（用于回访）", "Reporter's phone (for the callback)")),
        ] = None,
        household: Annotated[
            str | None, typer.Option("--household", help=L("关联住户编号", "Household code"))
        ] = None,
        address: Annotated[str | None, typer.Option("--address", help=L("地点", "Where"))] = None,
        anonymous: Annotated[
            bool, typer.Option("--anonymous", help=L("匿名反映（不记录姓名）", "Anonymous (no name kept)"))
        ] = False,
        at: At = None,
        json_: Json = False,
    ) -> None:
        import sys

        from baiyin_cli import config, timeutil
        from baiyin_cli.cli._prompt import ask
        from baiyin_cli.services import petitions, validate

        cfg = config.load()
        text = ask(
            text,
            flag="--text",
            label=L("诉求内容", "Petition text"),
            validate=lambda v: validate.text(v, "text", max_len=2000),
        )
        category = ask(
            category,
            flag="--category",
            label=L("类别", "Category"),
            choices=[(k, cfg.label("categories", k)) for k in petitions.categories()],
        )
        channel = ask(
            channel,
            flag="--channel",
            label=L("反映渠道", "Channel"),
            choices=[(k, cfg.label("channels", k)) for k in petitions.channels()],
        )
        if not (grid or community or household):
            with ctx.session() as (_s, op):
                role = op.role if op else None
            if role not in ("grid_worker", "secretary"):
                grid = ask(grid, flag="--grid", label=L("网格代码（15位）", "Grid code (15 digits)"))
        phone = ask(
            phone,
            flag="--phone",
            label=L("联系电话（可空）", "Phone (optional)"),
            validate=validate.phone,
            required=False,
        )
        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            p = petitions.file_petition(
                s,
                op,
                text=text,
                category=category,
                channel=channel,
                community=community,
                grid=grid,
                household=household,
                name=name,
                phone=phone,
                address=address,
                anonymous=anonymous,
                at=when,
            )
        if json_:
            out.print_json(p)
        else:
            sys.stdout.write(p["number"] + "\n")
            days = cfg.get(f"categories.{p['category']}.days")
            out.info(
                L(
                    f"已受理：回访时限 {timeutil.fmt(timeutil.parse_time(p['contact_due']))}，"
                    f"办结时限 {timeutil.fmt(timeutil.parse_time(p['resolve_due']))}（{days} 个工作日）",
                    f"Filed: call back by {timeutil.fmt(timeutil.parse_time(p['contact_due']))}, "
                    f"resolve by {timeutil.fmt(timeutil.parse_time(p['resolve_due']))} ({days} working days)",
                )
            )
        if p["due_estimated"]:
            out.warn(
                L(
                    "办结时限所跨年份的调休安排尚未公布，按法定节假日推算，公布后请核对（可用 calendar.extra_workdays 修正）",
                    "the resolve deadline crosses a year whose adjusted working days are not published yet; "
                    "it is estimated from the statutory holidays (correct with calendar.extra_workdays)",
                )
            )
        if p["similar"]:
            sims = L("、", ", ").join(f"{c['number']}（{_short(c['text'], 16)}）" for c in p["similar"][:5])
            out.warn(
                L(
                    f"本社区有 {len(p['similar'])} 件相似或同一电话的在办诉求：{sims}；如为重复，可用 grid petition merge {p['number']} --into 编号",
                    f"{len(p['similar'])} running petition(s) of this community look similar or share the phone: {sims}; "
                    f"if it is a duplicate: grid petition merge {p['number']} --into NUMBER",
                )
            )

    @app.command(
        "list",
        help=L(
            "列出诉求：超时的在前，其余按最近的时限排序",
            "List petitions, most urgent first (overdue, then nearest deadline)",
        ),
    )
    def list_(
        status: Annotated[
            list[str] | None,
            typer.Option(
                "--status",
                help=L(
                    "状态（可重复；all 为全部；默认未结束的）",
                    "Status (repeatable; all for every state; default: not finished)",
                ),
            ),
        ] = None,
        community: Annotated[
            str | None, typer.Option("--community", help=L("社区代码", "Community code"))
        ] = None,
        grid: Annotated[str | None, typer.Option("--grid", help=L("网格代码", "Grid code"))] = None,
        area: Annotated[str | None, typer.Option("--area", help=L("任一级区域代码", "Any area code"))] = None,
        assignee: Annotated[
            str | None, typer.Option("--assignee", help=L("承办网格员用户名", "Assigned grid worker"))
        ] = None,
        category: Annotated[
            str | None,
            typer.Option(
                "--category",
                help=L("类别或类别组（如 hazard、dispute）", "Category or group (e.g. hazard, dispute)"),
            ),
        ] = None,
        overdue: Annotated[
            bool, typer.Option("--overdue", help=L("只列已超时的", "Only overdue ones"))
        ] = False,
        due_within: Annotated[
            str | None,
            typer.Option(
                "--due-within",
                help=L(
                    "只列此时长内到期、尚未超时的（如 2h、1d）",
                    "Only those falling due within this time, not yet overdue (e.g. 2h, 1d)",
                ),
            ),
        ] = None,
        mine: Annotated[
            bool, typer.Option("--mine", help=L("只列等我处理的", "Only those waiting on me"))
        ] = False,
        search: Annotated[
            str | None, typer.Option("--search", help=L("按内容或编号查找", "Find by text or number"))
        ] = None,
        limit: Annotated[
            int, typer.Option("--limit", min=1, help=L("最多显示条数", "At most this many rows"))
        ] = DEFAULT_LIMIT,
        offset: Annotated[
            int,
            typer.Option("--offset", min=0, help=L("跳过前若干条（翻页）", "Skip this many rows (paging)")),
        ] = 0,
        json_: Json = False,
    ) -> None:
        from baiyin_cli import timeutil
        from baiyin_cli.services import petitions

        chosen = [a for a in (community, grid, area) if a]
        if len(chosen) > 1:
            raise typer.BadParameter(
                L("--community、--grid、--area 只能用一个", "use one of --community, --grid, --area")
            )
        within = timeutil.parse_duration(due_within) if due_within else None
        with ctx.session() as (s, op):
            rows = petitions.list_petitions(
                s,
                op,
                statuses=status,
                area=chosen[0] if chosen else None,
                assignee=assignee,
                category=category,
                overdue=overdue,
                due_within=within,
                mine=mine,
                text=search,
                limit=limit,
                offset=offset or None,
            )
        if json_:
            out.print_json(rows)
            return
        if not rows:
            out.info(L("没有符合条件的诉求", "No petitions match"))
            return
        _table(
            [
                L("编号", "Number"),
                L("状态", "Status"),
                L("类别", "Category"),
                L("网格/社区", "Grid/community"),
                L("承办", "With"),
                L("时限", "Deadline"),
                L("剩余", "Left"),
                L("诉求", "Petition"),
            ],
            [_render_row(p) for p in rows],
            drop=(5, 3, 2),  # on a narrow terminal: the deadline (剩余 says it), the area, the category
        )
        if len(rows) == limit:
            out.info(
                L(
                    f"只显示前 {limit} 条（--limit / --offset 翻页）",
                    f"Showing the first {limit} (--limit / --offset to page)",
                )
            )

    @app.command(
        "show",
        help=L(
            "查看诉求：全部信息、两个时限和完整办理记录",
            "Show a petition: every field, both deadlines and the full history",
        ),
    )
    def show(
        number: Number,
        reveal: Annotated[
            bool,
            typer.Option(
                "--reveal",
                help=L(
                    "显示反映人完整姓名电话（记入审计）",
                    "Show the reporter's name and phone in full (audited)",
                ),
            ),
        ] = False,
        json_: Json = False,
    ) -> None:
        from baiyin_cli.services import petitions

        with ctx.session(write=reveal) as (s, op):
            p = petitions.show_petition(s, op, number, reveal=reveal)
        if json_:
            out.print_json(p)
            return
        _show(p)

    @app.command(
        "assign",
        help=L(
            "派单：交给本社区的一名网格员（书记、管理员）",
            "Dispatch to a grid worker of the community (secretary, admin)",
        ),
    )
    def assign(
        number: Number,
        to: Annotated[str, typer.Option("--to", help=L("网格员用户名", "Grid worker's username"))],
        note: Note = None,
        at: At = None,
        if_version: IfVersion = None,
        json_: Json = False,
    ) -> None:
        _do(number, "assign", at=at, note=note, if_version=if_version, json_=json_, to=to)

    @app.command(
        "contact",
        help=L(
            "回访：记录给群众的回电（承办网格员，30 分钟内）",
            "Log the callback to the resident (the assignee, within 30 minutes)",
        ),
    )
    def contact(
        number: Number,
        how: Annotated[str, typer.Option("--how", help=L("方式：phone|visit|sms", "How: phone|visit|sms"))],
        outcome: Annotated[str, typer.Option("--outcome", help=L("沟通结果", "What was agreed"))],
        note: Note = None,
        at: At = None,
        if_version: IfVersion = None,
        json_: Json = False,
    ) -> None:
        _do(number, "contact", at=at, note=note, if_version=if_version, json_=json_, how=how, outcome=outcome)

    @app.command("start", help=L("开始办理（承办网格员）", "Start work on it (the assignee)"))
    def start(
        number: Number, note: Note = None, at: At = None, if_version: IfVersion = None, json_: Json = False
    ) -> None:
        _do(number, "start", at=at, note=note, if_version=if_version, json_=json_)

    @app.command(
        "escalate", help=L("上报/转办到部门（网格办小事、报大事）", "Escalate (or transfer) to a department")
    )
    def escalate(
        number: Number,
        dept: Annotated[str, typer.Option("--dept", help=L("部门代码", "Department code"))],
        reason: Annotated[str, typer.Option("--reason", help=L("上报理由", "Why"))],
        note: Note = None,
        at: At = None,
        if_version: IfVersion = None,
        json_: Json = False,
    ) -> None:
        _do(
            number, "escalate", at=at, note=note, if_version=if_version, json_=json_, dept=dept, reason=reason
        )

    @app.command("send-back", help=L("退回网格（承办部门）", "Send back to the grid (the department)"))
    def send_back(
        number: Number,
        reason: Annotated[str, typer.Option("--reason", help=L("退回理由", "Why"))],
        note: Note = None,
        at: At = None,
        if_version: IfVersion = None,
        json_: Json = False,
    ) -> None:
        _do(number, "send_back", at=at, note=note, if_version=if_version, json_=json_, reason=reason)

    @app.command("resolve", help=L("办结：记录办理结果", "Resolve: record what was done"))
    def resolve(
        number: Number,
        result: Annotated[str, typer.Option("--result", help=L("办理结果", "What was done"))],
        note: Note = None,
        at: At = None,
        if_version: IfVersion = None,
        json_: Json = False,
    ) -> None:
        _do(number, "resolve", at=at, note=note, if_version=if_version, json_=json_, result=result)

    @app.command(
        "rate",
        help=L(
            "群众来评：代群众记录评价；不满意则退回承办人重新办理",
            "Record the resident's rating; unsatisfied reopens it to the assignee",
        ),
    )
    def rate(
        number: Number,
        rating: Annotated[
            str,
            typer.Argument(
                metavar="satisfied|basically_satisfied|unsatisfied",
                help=L("满意 / 基本满意 / 不满意", "Satisfied / basically satisfied / unsatisfied"),
            ),
        ],
        comment: Annotated[
            str | None, typer.Option("--comment", help=L("群众意见", "The resident's words"))
        ] = None,
        note: Note = None,
        at: At = None,
        if_version: IfVersion = None,
        json_: Json = False,
    ) -> None:
        _do(
            number,
            "rate",
            at=at,
            note=note,
            if_version=if_version,
            json_=json_,
            rating=rating.strip(),
            comment=comment,
        )

    @app.command(
        "close",
        help=L("结案：评价后，或评价期满后", "Close: after the rating, or once the evaluation period lapsed"),
    )
    def close(
        number: Number, note: Note = None, at: At = None, if_version: IfVersion = None, json_: Json = False
    ) -> None:
        _do(number, "close", at=at, note=note, if_version=if_version, json_=json_)

    @app.command("reject", help=L("不予受理（须说明理由）", "Reject (with a reason)"))
    def reject(
        number: Number,
        reason: Annotated[str, typer.Option("--reason", help=L("理由", "Why"))],
        note: Note = None,
        at: At = None,
        if_version: IfVersion = None,
        json_: Json = False,
    ) -> None:
        _do(number, "reject", at=at, note=note, if_version=if_version, json_=json_, reason=reason)

    @app.command(
        "merge",
        help=L(
            "重复诉求：并入另一件，反映人一并保留以便回访",
            "Merge a duplicate into another; its reporters are kept for the callback",
        ),
    )
    def merge(
        number: Number,
        into: Annotated[str, typer.Option("--into", help=L("保留的诉求编号", "The petition to keep"))],
        note: Note = None,
        at: At = None,
        if_version: IfVersion = None,
        json_: Json = False,
    ) -> None:
        _do(number, "merge", at=at, note=note, if_version=if_version, json_=json_, into=into)

    @app.command(
        "reopen",
        help=L(
            "重新办理（已办结、已结案、不予受理或已合并的）", "Reopen (resolved, closed, rejected or merged)"
        ),
    )
    def reopen(
        number: Number,
        reason: Annotated[str, typer.Option("--reason", help=L("理由", "Why"))],
        note: Note = None,
        at: At = None,
        if_version: IfVersion = None,
        json_: Json = False,
    ) -> None:
        _do(number, "reopen", at=at, note=note, if_version=if_version, json_=json_, reason=reason)

    return app


# ---------------------------------------------------------------- show


DETAIL_LABELS = {
    "to": ("派给", "to"),
    "previous": ("原", "was"),
    "how": ("方式", "how"),
    "outcome": ("结果", "outcome"),
    "late": ("超时", "late"),
    "dept": ("部门", "dept"),
    "reason": ("理由", "reason"),
    "result": ("办理结果", "result"),
    "on_time": ("按时", "on time"),
    "rating": ("评价", "rating"),
    "comment": ("意见", "comment"),
    "lapsed": ("评价期满", "evaluation lapsed"),
    "into": ("并入", "into"),
    "from": ("来自", "from"),
    "reporters": ("反映人", "reporters"),
    "visit_id": ("走访", "visit"),
    "channel": ("渠道", "channel"),
    "similar": ("相似", "similar"),
    "previous_assignee": ("原承办", "was with"),
}


def _details(data: dict[str, Any]) -> str:
    parts = []
    for k, v in data.items():
        if v in (None, [], ""):
            continue
        if isinstance(v, bool):
            v = L("是", "yes") if v else L("否", "no")
        elif k == "rating":
            v = rating_label(v)
        elif k == "channel":
            v = _cfg_label("channels", v)
        elif k == "how":
            from baiyin_cli.services.petitions import contact_way_label

            v = contact_way_label(v)
        elif isinstance(v, list):
            v = ",".join(str(x) for x in v)
        pair = DETAIL_LABELS.get(k)
        name = (pair[1] if get_lang() == "en" else pair[0]) if pair else k
        parts.append(f"{name}: {v}")
    return "; ".join(parts)


def _show(p: dict[str, Any]) -> None:
    from rich.text import Text

    from baiyin_cli import timeutil

    def t(v: str | None) -> str:
        return timeutil.fmt(timeutil.parse_time(v)) if v else ""

    c = p["clock"]

    def deadline(dl: dict[str, Any]) -> Text:
        mark = L("（估算）", " (estimated)") if dl.get("estimated") else ""
        return Text.assemble(f"{t(dl['due'])}{mark}  ", (deadline_text(dl), STATE_STYLE.get(dl["state"], "")))

    group = _cfg_label("category_groups", p.get("category_group"))
    rows: list[tuple[str, Any]] = [
        (L("编号", "Number"), p["number"]),
        (L("状态", "Status"), f"{status_label(p['status'])} ({p['status']}, open311: {p['open311_status']})"),
        (L("类别", "Category"), _with_group(_cfg_label("categories", p["category"]), group)),
        (L("渠道", "Channel"), _cfg_label("channels", p["channel"])),
        (L("社区", "Community"), p["community"]),
        (L("网格", "Grid"), p["grid"]),
        (L("住户", "Household"), p["household"]),
        (L("承办网格员", "Assignee"), p["assignee"]),
        (L("部门", "Department"), _dept_text(p)),
        (L("反映人", "Reporter"), L("（匿名）", "(anonymous)") if p["anonymous"] else p["reporter_name"]),
        (L("电话", "Phone"), p["reporter_phone"]),
        (L("地点", "Address"), p["address"]),
        (L("诉求内容", "Text"), p["text"]),
        (L("受理时间", "Filed"), f"{t(p['filed_at'])}  {p['filed_by'] or ''}"),
        (L("回访时限", "Callback due"), deadline(c["contact"])),
        (L("办结时限", "Resolve due"), deadline(c["resolve"])),
        (L("回访时间", "Called back"), t(p["contacted_at"])),
        (L("办结时间", "Resolved"), t(p["resolved_at"])),
        (L("办理结果", "Result"), p["result"]),
        (
            L("评价", "Rating"),
            " ".join(x for x in (rating_label(p["rating"]), p["rating_comment"] or "") if x),
        ),
        (L("结案时间", "Closed"), t(p["closed_at"])),
        (L("不予受理理由", "Rejected because"), p["reject_reason"]),
        (L("已并入", "Merged into"), p["merged_into"]),
        (L("并入本件的", "Merged here"), ", ".join(p.get("merged") or [])),
        (L("版本", "Version"), f"{p['version']}  {t(p['updated_at'])} {p['updated_by'] or ''}"),
        (
            L("可执行", "You may"),
            L("、", ", ").join(_verb_text(e) for e in p["allowed_events"])
            or L("（无）", "(nothing)"),
        ),
    ]
    from rich import box
    from rich.table import Table

    kv = Table(box=box.SIMPLE, show_header=False)
    kv.add_column(style="bold")
    kv.add_column(overflow="fold")
    for k, v in rows:
        if v in (None, "", "（）", "()"):
            continue
        kv.add_row(k, v if isinstance(v, Text) else Text(str(v)))
    out.console().print(kv)
    _table(
        [
            "#",
            L("时间", "When"),
            L("操作", "Action"),
            L("状态", "Status"),
            L("操作人", "By"),
            L("说明", "Details"),
        ],
        [
            [
                h["seq"],
                t(h["at"]),
                event_label(h["event"]),
                f"{status_label(h['from']) or '·'} → {status_label(h['to'])}"
                if h["from"] != h["to"]
                else status_label(h["to"]),
                h["actor"] or "",
                "; ".join(x for x in (_details(h["data"]), _note_text(h["note"])) if x),
            ]
            for h in p["history"]
        ],
        title=L("办理记录", "History"),
    )
    if len(p["reporters"]) > 1:
        _table(
            [L("反映人", "Reporter"), L("电话", "Phone"), L("来自", "From"), L("加入时间", "Added")],
            [
                [r["name"] or "", r["phone"] or "", r["from_number"] or "", t(r["added_at"])]
                for r in p["reporters"]
            ],
            title=L("反映人（均需回访）", "Reporters (all to be called back)"),
        )


def _with_group(label: str, group: str | None) -> str:
    """A category with its group, once when they are the same word (投诉 is its own group)."""
    return label if not group or group == label else L(f"{label}（{group}）", f"{label} ({group})")


def _verb_text(event: str) -> str:
    """A verb as the user may type it: its label, and the command when that reads differently."""
    label, command = event_label(event), event.replace("_", "-")
    return label if label.replace(" ", "-") == command else f"{label} ({command})"


def _note_text(note: str | None) -> str:
    return f"{L('备注', 'note')}: {note}" if note else ""


def register(app: typer.Typer) -> None:
    app.add_typer(
        build(),
        name="petition",
        help=L(
            "诉求：受理、派单、回访、上报、办结、评价、结案",
            "Petitions: file, dispatch, call back, escalate, resolve, rate, close",
        ),
    )
