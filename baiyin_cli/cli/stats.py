"""grid stats: the figures a street office reports (受理、办结、办结率、30分钟回访、满意率 …).

Every figure is defined once, in services/stats.py (README: "What the figures mean"), and can
be checked by hand against `grid checklist export petitions` for the same area and period.
"""

from typing import Annotated, Any

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L, get_lang

BY = "community|grid|category|channel|month"


def _pct(v: Any) -> str:
    return "—" if v is None else f"{v:.2f}%"


def _val(v: Any) -> str:
    return "—" if v is None else str(v)


def _period(from_: str | None, to: str | None):  # type: ignore[no-untyped-def]
    from baiyin_cli import timeutil
    from baiyin_cli.services import stats

    return stats.Period(timeutil.parse_date(from_) if from_ else None, timeutil.parse_date(to) if to else None)


def _area_title(r: dict[str, Any]) -> str:
    a = r.get("area")
    if not a:
        return L("全市", "Whole city")
    if get_lang() == "en":
        return f"{a['name']} ({a['code']})"
    return f"{a['full_name']}（{a['code']}）"


def _period_title(r: dict[str, Any]) -> str:
    f, t = r.get("from"), r.get("to")
    if f and t:
        return f"{f} ~ {t}"
    if f:
        return L(f"{f} 起", f"since {f}")
    if t:
        return L(f"截至 {t}", f"up to {t}")
    return L("全部时间", "all time")


FIGURE_ROWS = [
    ("received", "受理", "Received", _val),
    ("resolved", "办结", "Resolved", _val),
    ("resolution_rate", "办结率", "Resolution rate", _pct),
    ("contacted_in_time", "30分钟内回访", "Called back within 30 min", _val),
    ("contacted_in_time_rate", "30分钟回访率", "Callback rate (30 min)", _pct),
    ("resolved_in_time_rate", "按期办结率", "Resolved within deadline", _pct),
    ("escalated", "上报部门", "Escalated", _val),
    ("sent_back", "部门退回", "Sent back", _val),
    ("satisfaction_rate", "满意率（满意+基本满意）", "Satisfaction (satisfied + basically)", _pct),
    ("rated", "评价次数", "Evaluations", _val),
    ("avg_contact_minutes", "平均回访用时（分钟）", "Average callback (minutes)", _val),
    ("avg_resolve_hours", "平均办结用时（小时）", "Average resolution (hours)", _val),
    ("open", "未办结", "Not yet resolved", _val),
    ("overdue", "其中超期", "Of which overdue", _val),
    ("rejected", "不予受理（不计入受理）", "Rejected (not received)", _val),
    ("duplicate", "重复合并（不计入受理）", "Merged duplicates (not received)", _val),
]


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)
    json_help = L("以 JSON 输出", "Output JSON")
    from_help = L("起始日期 YYYY-MM-DD（含）", "From this date YYYY-MM-DD (inclusive)")
    to_help = L("结束日期 YYYY-MM-DD（含）", "To this date YYYY-MM-DD (inclusive)")
    area_help = L("区域代码（街道、社区或网格）", "Area code (street, community or grid)")

    @app.command("petitions", help=L(
        "诉求统计：受理、办结、办结率、30分钟回访、按期办结、上报、退回、满意率、平均用时",
        "Petition figures: received, resolved, rate, 30-minute callbacks, on time, escalated, sent back, "
        "satisfaction, average times",
    ))
    def petitions(
        by: Annotated[str | None, typer.Option("--by", help=L(f"分组：{BY}", f"Group by: {BY}"))] = None,
        from_: Annotated[str | None, typer.Option("--from", help=from_help)] = None,
        to: Annotated[str | None, typer.Option("--to", help=to_help)] = None,
        area: Annotated[str | None, typer.Option("--area", help=area_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import stats

        period = _period(from_, to)
        with ctx.session() as (s, op):
            r = stats.petition_stats(s, op, by=by.strip().lower() if by else None, period=period, area=area)
        if json_:
            out.print_json(r)
            return
        t = r["total"]
        out.kv(
            [(L(zh, en), fmt(t[key])) for key, zh, en, fmt in FIGURE_ROWS],
            title=L(f"诉求统计 · {_area_title(r)} · {_period_title(r)}",
                    f"Petitions · {_area_title(r)} · {_period_title(r)}"),
        )
        if r["by"]:
            head = {"community": L("社区", "Community"), "grid": L("网格", "Grid"), "category": L("类别", "Category"),
                    "channel": L("渠道", "Channel"), "month": L("月份", "Month")}[r["by"]]
            out.table(
                [head, L("受理", "Recv"), L("办结", "Done"), L("办结率", "Done %"), L("回访率", "≤30m %"),
                 L("按期率", "On time %"), L("上报", "Esc"), L("退回", "Back"), L("满意率", "Satisf %")],
                (
                    [g["label"] or L("（未分网格）", "(no grid)"), g["received"], g["resolved"], _pct(g["resolution_rate"]),
                     _pct(g["contacted_in_time_rate"]), _pct(g["resolved_in_time_rate"]), g["escalated"],
                     g["sent_back"], _pct(g["satisfaction_rate"])]
                    for g in r["groups"]
                ),
                empty=L("此期间没有诉求", "No petitions in this period"),
            )

    @app.command("visits", help=L(
        "走访统计（同 grid visit stats）：每日一小时、各类走访、入户户次、关爱对象按期走访覆盖率",
        "Rounds statistics (as grid visit stats): the daily hour, visits by kind, households, care coverage",
    ))
    def visits_(
        worker: Annotated[str | None, typer.Option("--worker", help=L("网格员用户名", "Grid worker"))] = None,
        area: Annotated[str | None, typer.Option("--area", help=area_help)] = None,
        from_: Annotated[str | None, typer.Option("--from", help=from_help)] = None,
        to: Annotated[str | None, typer.Option("--to", help=to_help)] = None,
        daily: Annotated[bool | None, typer.Option("--daily/--no-daily", help=L(
            "逐日明细（默认：单个网格员或网格时显示）", "One row per worker and day (default: for one worker or grid)"))] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli import timeutil
        from baiyin_cli.cli import visit as visit_cli
        from baiyin_cli.services import visits

        start = timeutil.parse_date(from_) if from_ else None
        end = timeutil.parse_date(to) if to else None
        with ctx.session() as (s, op):
            r = visits.visit_stats(s, op, worker=worker, area=area, start=start, end=end, daily=daily)
        if json_:
            out.print_json(r)
            return
        visit_cli._render_stats(r)

    @app.command("overview", help=L(
        "一屏总览：人口底数、诉求、当前队列、走访、隐患与矛盾纠纷",
        "One-screen dashboard: population, petitions, the queue now, visits, hazards and disputes",
    ))
    def overview(
        area: Annotated[str | None, typer.Option("--area", help=area_help)] = None,
        from_: Annotated[str | None, typer.Option("--from", help=from_help)] = None,
        to: Annotated[str | None, typer.Option("--to", help=to_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import stats

        period = _period(from_, to)
        with ctx.session() as (s, op):
            r = stats.overview(s, op, area=area, period=period)
        if json_:
            out.print_json(r)
            return
        _render_overview(r)

    return app


def _capital(label: str) -> str:
    """A workflow state's label as a row heading ("in progress" -> "In progress"; Chinese unchanged)."""
    return label[:1].upper() + label[1:]


def _render_overview(r: dict[str, Any]) -> None:
    from rich import box
    from rich.panel import Panel
    from rich.table import Table

    from baiyin_cli.services import petition_workflow as wf

    def panel(title: str, rows: list[tuple[str, Any]], style: str = "cyan") -> Panel:
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column(justify="right")
        for k, v in rows:
            t.add_row(k, v if isinstance(v, str) else _val(v))
        return Panel(t, title=title, border_style=style, box=box.ROUNDED, expand=True)

    p, q, pop = r["petitions"], r["queue"], r["population"]
    panels = [
        panel(L("诉求", "Petitions"), [
            (L("受理", "Received"), p["received"]),
            (L("办结", "Resolved"), p["resolved"]),
            (L("办结率", "Resolution rate"), _pct(p["resolution_rate"])),
            (L("30分钟回访率", "Callback ≤30 min"), _pct(p["contacted_in_time_rate"])),
            (L("按期办结率", "On time"), _pct(p["resolved_in_time_rate"])),
            (L("满意率", "Satisfaction"), _pct(p["satisfaction_rate"])),
            (L("平均回访", "Avg callback"), L(f"{_val(p['avg_contact_minutes'])} 分钟", f"{_val(p['avg_contact_minutes'])} min")),
            (L("平均办结", "Avg resolution"), L(f"{_val(p['avg_resolve_hours'])} 小时", f"{_val(p['avg_resolve_hours'])} h")),
        ], "green"),
        panel(L("当前队列", "The queue now"), [
            (L("未办结", "Open"), q["open"]),
            (L("超期", "Overdue"), q["overdue"]),
            (L("待回访", "Awaiting callback"), q["awaiting_callback"]),
            (L("回访超时", "Callback overdue"), q["callback_overdue"]),
            *[(_capital(wf.status_label(k)), v) for k, v in q["by_status"].items()],
        ], "red" if q["overdue"] else "yellow"),
    ]
    v = r.get("visits")
    if v is not None:
        vt = v["totals"]
        panels.append(panel(L(f"走访 {v['from'][5:]}~{v['to'][5:]}", f"Visits {v['from'][5:]}..{v['to'][5:]}"), [
            (L("走访", "Visits"), vt["visits"]),
            (L("走访时长", "Time walked"), L(f"{round(vt['minutes'] / 60, 1)} 小时", f"{round(vt['minutes'] / 60, 1)} h")),
            (L("入户走访（户次）", "Household visits"), vt["household_visits"]),
            (L("每日一小时达标率", "Daily hour met"), _pct(vt["met_rate"])),
            (L("关爱户按期走访", "Care on time"), _pct(vt["coverage"])),
            (L("关爱户逾期", "Care overdue"), vt["care_overdue"]),
            (L("走访发现问题", "Findings"), vt["findings"]),
        ], "magenta"))
    h, d = r["hazards"], r["disputes"]
    panels.append(panel(L("隐患 · 矛盾纠纷", "Hazards · disputes"), [
        (L("发现隐患", "Hazards found"), h["received"]),
        (L("已整改", "Fixed"), h["resolved"]),
        (L("未整改（现存）", "Open now"), r["hazards_open_now"]),
        (L("排查矛盾纠纷", "Disputes found"), d["received"]),
        (L("化解", "Resolved"), d["resolved"]),
        (L("化解率", "Resolution rate"), _pct(d["resolution_rate"])),
    ], "blue"))
    panels.append(panel(L("人口底数", "Population"), [
        (L("网格", "Grids"), pop["grids"]),
        (L("网格员", "Grid workers"), pop["grid_workers"]),
        (L("住户", "Households"), pop["households"]),
        (L("居民", "Residents"), pop["residents"]),
        (L("重点关爱对象（人）", "People with care tags"), pop["care_residents"]),
        (L("重点关爱户", "Households with care tags"), pop["care_households"]),
    ], "cyan"))
    if r["top_categories"]:
        panels.append(panel(L("类别前五（受理·办结率）", "Top categories"), [
            (c["label"], f"{c['received']} · {_pct(c['resolution_rate'])}") for c in r["top_categories"]
        ], "white"))
    con = out.console()
    width = 33 if get_lang() != "en" else 38  # English labels are longer: one line each
    per_row = max(1, min(3, (con.width or 100) // (width + 1)))
    con.print(Panel(
        f"[bold]{_area_title(r)}[/bold]\n{L('期间：', 'Period: ')}{_period_title(r)}   "
        f"[dim]{L('统计时间', 'as of')} {r['generated_at'][:16].replace('T', ' ')}[/dim]",
        box=box.HEAVY, border_style="white", width=per_row * (width + 1) - 1,
    ))
    layout = Table.grid(padding=(0, 1))
    for _ in range(per_row):
        layout.add_column(width=width)
    for i in range(0, len(panels), per_row):
        layout.add_row(*panels[i : i + per_row])
    con.print(layout)


def register(app: typer.Typer) -> None:
    app.add_typer(build(), name="stats", help=L("统计：诉求、走访、总览", "Statistics: petitions, visits, overview"))
