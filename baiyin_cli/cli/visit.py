"""grid visit: grid workers' rounds (走访): the log, the care schedule, the daily hour.

The rules live in services/visits.py; this module parses, calls, renders.
"""

from typing import Annotated, Any

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L

KINDS = "household|info_gathering|mediation|service"
DEFAULT_LIMIT = 100


def _kind_label(code: str | None) -> str:
    from baiyin_cli.services import visits

    return visits.kind_label(code)


def _care_labels(codes: list[str]) -> str:
    from baiyin_cli import config

    cfg = config.load()
    return L("、", ", ").join(cfg.label("care_tags", c) for c in codes)


def _short(text: str | None, n: int = 24) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _date(value: str | None):  # type: ignore[no-untyped-def]
    if not value:
        return None
    from baiyin_cli import timeutil

    return timeutil.parse_date(value)


def _when(iso: str | None) -> str:
    if not iso:
        return ""
    from baiyin_cli import timeutil

    return timeutil.fmt(timeutil.parse_time(iso))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _window_text(item: dict[str, Any]) -> str:
    if item["status"] == "overdue":
        return L(f"逾期 {item['days_overdue']} 天", f"{item['days_overdue']}d overdue")
    if item["status"] == "due":
        if item["days_left"] == 0:
            return L("今天到期", "due today")
        return L(f"剩 {item['days_left']} 天", f"{item['days_left']}d left")
    return L(f"{item['earliest']} 起", f"from {item['earliest']}")


def _last_text(last: dict[str, Any] | None, registered: str) -> str:
    if not last:
        return L(f"从未走访（{registered} 登记）", f"never (registered {registered})")
    who = last.get("worker_name") or last["worker"]
    return f"{last['day']} {who}"


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)
    json_help = L("以 JSON 输出", "Output JSON")
    Json = Annotated[bool, typer.Option("--json", help=json_help)]
    Limit = Annotated[int | None, typer.Option("--limit", min=1, help=L("最多显示条数", "At most this many rows"))]
    From = Annotated[str | None, typer.Option("--from", help=L("起始日期 YYYY-MM-DD（含）", "First day YYYY-MM-DD (inclusive)"))]
    To = Annotated[str | None, typer.Option("--to", help=L("结束日期 YYYY-MM-DD（含）", "Last day YYYY-MM-DD (inclusive)"))]

    @app.command("log", help=L(
        "登记一次走访；每个 --finding（配一个 --category）立即生成一件诉求并输出其编号（缺少的必填项在终端上逐项询问）",
        "Log a visit; each --finding (with its --category) is filed as a petition whose number is printed "
        "(asks for missing fields on a terminal)",
    ))
    def log(
        kind: Annotated[str | None, typer.Option("--kind", help=L(f"走访类型：{KINDS}", f"Kind: {KINDS}"))] = None,
        household: Annotated[str | None, typer.Option("--household", help=L("住户编号（入户走访必填）", "Household code (required for a household visit)"))] = None,
        minutes: Annotated[int | None, typer.Option("--minutes", help=L("时长（分钟）", "Duration in minutes"))] = None,
        at: Annotated[str | None, typer.Option("--at", help=L(
            "走访开始时间 YYYY-MM-DD HH:MM（默认：刚刚结束，即现在减去时长）",
            "When the visit started YYYY-MM-DD HH:MM (default: it just ended, now minus its minutes)"))] = None,
        note: Annotated[str | None, typer.Option("--note", help=L("走访情况", "What happened"))] = None,
        finding: Annotated[list[str] | None, typer.Option("--finding", help=L(
            "走访中发现的问题（可重复，每个配一个 --category），生成网格员上报的诉求",
            "Something found on the way (repeatable, each with a --category): filed as a grid_report petition"))] = None,
        category: Annotated[list[str] | None, typer.Option("--category", help=L(
            "对应 --finding 的诉求类别（按顺序配对）", "Petition category of each --finding, in order"))] = None,
        petition: Annotated[str | None, typer.Option("--petition", help=L(
            "本次调解所涉的纠纷诉求编号（仅 mediation）", "The dispute petition this mediation worked on (mediation only)"))] = None,
        worker: Annotated[str | None, typer.Option("--worker", help=L(
            "网格员用户名（默认本人；书记、管理员补录时指定）", "Grid worker (default: yourself; secretaries and admins entering records name one)"))] = None,
        json_: Json = False,
    ) -> None:
        import sys

        from baiyin_cli import config
        from baiyin_cli.cli._prompt import ask
        from baiyin_cli.errors import UsageError
        from baiyin_cli.services import visits

        findings = list(finding or [])
        categories = list(category or [])
        if len(findings) != len(categories):
            raise UsageError(visits.FINDING_CATEGORY, findings=len(findings), categories=len(categories))
        if kind:
            kind = visits.kind_of(kind)
        kind = ask(kind, flag="--kind", label=L("走访类型", "Kind of visit"),
                   choices=[(k, visits.kind_label(k)) for k in visits.KINDS], validate=visits.kind_of)
        if kind == "household":
            household = ask(household, flag="--household", label=L("住户编号", "Household code"))
        max_minutes = visits.settings()["max_minutes"]

        def _minutes(v: str) -> int:
            from baiyin_cli.errors import InvalidInput

            try:
                n = int(v)
            except ValueError:
                raise InvalidInput(visits.BAD_MINUTES, value=v, max=max_minutes) from None
            if not 1 <= n <= max_minutes:
                raise InvalidInput(visits.BAD_MINUTES, value=n, max=max_minutes)
            return n

        minutes = ask(minutes, flag="--minutes", label=L("时长（分钟）", "Minutes"), validate=_minutes)
        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            v = visits.log_visit(
                s, op, kind=kind, minutes=int(minutes), household=household, note=note,
                findings=list(zip(findings, categories)), petition=petition, worker=worker, at=when,
            )
        if json_:
            out.print_json(v)
            return
        cfg = config.load()
        where = L(f"，住户 {v['household']}", f", household {v['household']}") if v["household"] else ""
        out.info(L(
            f"已登记走访 #{v['id']}：{v['worker']} {_kind_label(v['kind'])} {v['minutes']} 分钟（{_when(v['started_at'])} 起）{where}",
            f"Logged visit #{v['id']}: {v['worker']} {_kind_label(v['kind'])} {v['minutes']} min (from {_when(v['started_at'])}){where}",
        ))
        if v["petition"]:
            out.info(L(f"已记入纠纷诉求 {v['petition']} 的办理记录", f"Recorded in the history of dispute petition {v['petition']}"))
        for f in v["findings"]:
            sys.stdout.write(f["number"] + "\n")
        if v["findings"]:
            out.info(L(
                f"发现的 {len(v['findings'])} 个问题已上报为诉求：" + "、".join(
                    f"{f['number']}（{cfg.label('categories', f['category'])}）" for f in v["findings"]),
                f"{len(v['findings'])} finding(s) filed as petitions: " + ", ".join(
                    f"{f['number']} ({cfg.label('categories', f['category'])})" for f in v["findings"]),
            ))

    @app.command("list", help=L("列出走访记录（新的在前）", "List visits, newest first"))
    def list_(
        worker: Annotated[str | None, typer.Option("--worker", help=L("网格员用户名", "Grid worker"))] = None,
        grid: Annotated[str | None, typer.Option("--grid", help=L("网格代码", "Grid code"))] = None,
        community: Annotated[str | None, typer.Option("--community", help=L("社区代码", "Community code"))] = None,
        household: Annotated[str | None, typer.Option("--household", help=L("住户编号", "Household code"))] = None,
        kind: Annotated[str | None, typer.Option("--kind", help=L(f"走访类型：{KINDS}", f"Kind: {KINDS}"))] = None,
        from_: From = None,
        to: To = None,
        all_: Annotated[bool, typer.Option("--all", help=L("包括已作废的记录", "Include voided visits"))] = False,
        limit: Limit = DEFAULT_LIMIT,
        json_: Json = False,
    ) -> None:
        from baiyin_cli.errors import only_one
        from baiyin_cli.services import visits

        only_one(visits.WORKER_AND_AREA, {"--grid": grid, "--community": community})
        with ctx.session() as (s, op):
            rows = visits.list_visits(
                s, op, worker=worker, area=grid or community, household=household, kind=kind,
                start=_date(from_), end=_date(to), include_voided=all_, limit=limit,
            )
        if json_:
            out.print_json(rows)
            return
        out.table(
            [L("编号", "ID"), L("开始", "Started"), L("网格员", "Worker"), L("类型", "Kind"), L("住户", "Household"),
             L("分钟", "Min"), L("发现", "Findings"), L("备注", "Note"), L("状态", "State")],
            (
                [r["id"], _when(r["started_at"]), r["worker"], _kind_label(r["kind"]), r["household"] or "",
                 r["minutes"], " ".join(f["number"] for f in r["findings"]) or (r["petition"] or ""), _short(r["note"]),
                 L("作废", "voided") if r["voided"] else ""]
                for r in rows
            ),
            empty=L("没有走访记录", "No visits"),
            drop=(2, 8, 6),  # on a narrow terminal: the worker, the state, the findings
        )

    @app.command("show", help=L("查看一条走访记录", "Show one visit"))
    def show(
        visit_id: Annotated[str, typer.Argument(metavar="ID", help=L("走访记录编号", "Visit ID"))],
        reveal: Annotated[bool, typer.Option("--reveal", help=L("备注中的身份证号、电话不打码（记入审计）", "Show ID and phone numbers in the note unmasked (audited)"))] = False,
        json_: Json = False,
    ) -> None:
        from baiyin_cli import config
        from baiyin_cli.services import visits

        with ctx.session(write=reveal) as (s, op):
            v = visits.show_visit(s, op, visit_id, reveal=reveal)
        if json_:
            out.print_json(v)
            return
        cfg = config.load()
        out.kv([
            (L("编号", "ID"), v["id"]),
            (L("网格员", "Worker"), f"{v['worker']} {v.get('worker_name') or ''}".strip()),
            (L("网格", "Grid"), v["grid"]),
            (L("类型", "Kind"), _kind_label(v["kind"])),
            (L("时间", "When"), f"{_when(v['started_at'])} – {_when(v['ended_at'])[-5:]}" + _paren(f"{v['minutes']} {L('分钟', 'min')}")),
            (L("计入日期", "Counts on"), v["day"]),
            (L("住户", "Household"), f"{v['household']} {v.get('address') or ''}".strip() if v["household"] else ""),
            (L("走访情况", "Note"), v["note"]),
            (L("调解的纠纷", "Dispute mediated"), v["petition"]),
            (L("发现并上报", "Findings filed"), L("、", ", ").join(
                f["number"] + _paren(cfg.label("categories", f["category"])) for f in v["findings"])),
            (L("登记", "Recorded"), f"{_when(v['recorded_at'])} {v['recorded_by'] or ''}".strip()),
            (L("状态", "State"), L(f"已作废：{v['void_reason']}（{v['voided_by']} {_when(v['voided_at'])}）",
                                  f"voided: {v['void_reason']} ({v['voided_by']} {_when(v['voided_at'])})")
             if v["voided"] else L("有效", "valid")),
        ])

    @app.command("void", help=L("作废一条走访记录（记录保留，不再计入统计；记入审计）",
                               "Void a visit (the record stays but no longer counts; audited)"))
    def void(
        visit_id: Annotated[str, typer.Argument(metavar="ID", help=L("走访记录编号", "Visit ID"))],
        reason: Annotated[str | None, typer.Option("--reason", help=L("作废原因", "Why"))] = None,
        at: Annotated[str | None, typer.Option("--at", help=L("实际发生时间 YYYY-MM-DD HH:MM", "When it happened YYYY-MM-DD HH:MM"))] = None,
        json_: Json = False,
    ) -> None:
        from baiyin_cli.cli._prompt import ask
        from baiyin_cli.services import validate, visits

        reason = ask(reason, flag="--reason", label=L("作废原因", "Reason"),
                     validate=lambda v: validate.text(v, "reason", max_len=500))
        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            v = visits.void_visit(s, op, visit_id, reason=reason, at=when)
        if json_:
            out.print_json(v)
            return
        out.info(L(f"已作废走访 #{v['id']}", f"Voided visit #{v['id']}"))
        if v["findings"]:
            nums = ", ".join(f["number"] for f in v["findings"])
            out.warn(L(f"由此走访上报的诉求 {nums} 不受影响，如需处理请用 grid petition",
                       f"petitions filed from this visit ({nums}) are unchanged; handle them with grid petition"))

    @app.command("due", help=L(
        "走访计划：某网格员（或网格）当天应走访的住户及时间窗口（最早、到期、逾期），最紧急的在前",
        "The visit queue of a grid worker (or grid) for a day: households with their window "
        "(earliest, due, overdue), most urgent first",
    ))
    def due(
        worker: Annotated[str | None, typer.Option("--worker", help=L("网格员用户名（网格员默认本人）", "Grid worker (grid workers: yourself by default)"))] = None,
        grid: Annotated[str | None, typer.Option("--grid", help=L("网格代码", "Grid code"))] = None,
        date_: Annotated[str | None, typer.Option("--date", help=L("日期 YYYY-MM-DD（默认今天）", "Day YYYY-MM-DD (default today)"))] = None,
        all_: Annotated[bool, typer.Option("--all", help=L("也列出尚未到走访窗口的住户", "Also list households whose window is not open yet"))] = False,
        care_only: Annotated[bool, typer.Option("--care-only", help=L("只看有关爱标签的住户", "Only households with care tags"))] = False,
        limit: Limit = None,
        json_: Json = False,
    ) -> None:
        from baiyin_cli.errors import only_one
        from baiyin_cli.services import visits

        only_one(visits.WORKER_AND_AREA, {"--worker": worker, "--grid": grid})
        with ctx.session() as (s, op):
            q = visits.due_queue(s, op, worker=worker, grid=grid, on=_date(date_), include_early=all_,
                                 care_only=care_only, limit=limit)
        if json_:
            out.print_json(q)
            return
        _render_due(q)

    @app.command("stats", help=L(
        "走访统计：每位网格员每天的走访时长、各类走访数、走访户数、是否达到每日一小时（一次走访的时长全部计入开始的那一天，"
        "跨零点也不拆分）；关爱对象按期走访覆盖率；上报问题数",
        "Rounds statistics: per worker and day minutes walked, visits by kind, households, whether the "
        "daily hour was met (a visit's minutes all count on the day it started, even across midnight); "
        "coverage of care households within their interval; findings filed",
    ))
    def stats(
        worker: Annotated[str | None, typer.Option("--worker", help=L("网格员用户名", "Grid worker"))] = None,
        grid: Annotated[str | None, typer.Option("--grid", help=L("网格代码", "Grid code"))] = None,
        community: Annotated[str | None, typer.Option("--community", help=L("社区代码（或街道、区县代码）", "Community code (or a street or district code)"))] = None,
        from_: From = None,
        to: To = None,
        daily: Annotated[bool | None, typer.Option("--daily/--no-daily", help=L(
            "逐日明细（默认：单个网格员或网格时显示）", "One row per worker and day (default: for one worker or grid)"))] = None,
        json_: Json = False,
    ) -> None:
        from baiyin_cli.errors import only_one
        from baiyin_cli.services import visits

        only_one(visits.WORKER_AND_AREA, {"--worker": worker, "--grid": grid, "--community": community})
        with ctx.session() as (s, op):
            r = visits.visit_stats(s, op, worker=worker, area=grid or community, start=_date(from_), end=_date(to),
                                   daily=daily)
        if json_:
            out.print_json(r)
            return
        _render_stats(r)

    @app.command("ledger", help=L(
        "核对走访日台账（统计所读的每人每日合计）与走访记录是否一致；--rebuild 按记录重建不一致的日期（管理员）",
        "Check that the day ledger (the per-worker-day sums statistics read) equals the visit records; "
        "--rebuild rebuilds the days that differ from the records (admin)",
    ))
    def ledger(
        rebuild: Annotated[bool, typer.Option("--rebuild", help=L(
            "按走访记录重建不一致的日期（如更改了时区）", "Rebuild the days that differ (e.g. after a time zone change)"))] = False,
        json_: Json = False,
    ) -> None:
        from baiyin_cli.services import visits

        with ctx.session(write=rebuild) as (s, op):
            r = visits.check_ledger(s, op, rebuild=rebuild)
        if json_:
            out.print_json(r)
        elif not r["differ"]:
            out.info(L(f"走访日台账与 {r['visits']} 条有效走访记录一致（{r['worker_days']} 个人日）",
                       f"The day ledger agrees with the {r['visits']} valid visit records ({r['worker_days']} worker-days)"))
        elif r["rebuilt"]:
            out.info(L(f"已按走访记录重建 {r['differ']} 个人日的台账", f"Rebuilt {r['differ']} worker-days from the visit records"))
        if r["differ"] and not r["rebuilt"]:
            from baiyin_cli.errors import GridError

            days = L("、", ", ").join(f"{e['worker']} {e['day']}" for e in r["examples"][:5])
            raise GridError(visits.LEDGER_DIFFERS, n=r["differ"], days=days + (" …" if r["differ"] > 5 else ""))

    return app


def _paren(text: str) -> str:
    """An aside in brackets: full-width in Chinese, ' (...)' in English."""
    return L(f"（{text}）", f" ({text})")


def _render_due(q: dict[str, Any]) -> None:
    from baiyin_cli.services import visits

    who = f"{q['worker']} " if q["worker"] else ""
    out.info(L(
        f"{who}网格 {q['grid']}，{q['date']}：逾期 {q['overdue']} 户，应走访 {q['due']} 户，未到期 {q['early']} 户"
        f"（共 {q['households']} 户，关爱对象 {q['care_households']} 户）",
        f"{who}grid {q['grid']}, {q['date']}: {q['overdue']} overdue, {q['due']} due, {q['early']} not yet "
        f"({q['households']} households, {q['care_households']} with care tags)",
    ))
    out.table(
        [L("状态", "Status"), L("窗口", "Window"), L("住户", "Household"), L("地址", "Address"), L("关爱", "Care"),
         L("周期", "Every"), L("最早", "Earliest"), L("到期", "Due"), L("上次走访", "Last visit")],
        (
            [visits.status_label(i["status"]), _window_text(i), i["household"], i["address"], _care_labels(i["care"]),
             L(f"{i['interval_days']}天", f"{i['interval_days']}d"), i["earliest"], i["due"],
             _last_text(i["last_visit"], i["registered"])]
            for i in q["items"]
        ),
        empty=L("今天没有需要走访的住户", "Nobody is due for a visit"),
    )


def _render_stats(r: dict[str, Any]) -> None:
    t = r["totals"]
    kinds = ("household", "info_gathering", "mediation", "service")
    scope = r["worker"] or r["area"] or L("全市", "whole city")
    out.kv(
        [
            (L("范围", "Scope"), scope),
            (L("期间", "Period"), f"{r['from']} ~ {r['to']}" + _paren(f"{r['days']} {L('天', 'days')}")),
            (L("网格员", "Grid workers"), t["workers"]),
            (L("达标人天", "Worker-days meeting the hour"),
             f"{t['days_met']} / {t['worker_days']}" + _paren(
                 f"{_pct(t['met_rate'])}{L('，每日', ', daily')} ≥ {r['daily_minutes']} {L('分钟', 'min')}")),
            (L("走访时长", "Time walked"),
             f"{t['minutes']} {L('分钟', 'min')}" + _paren(f"{round(t['minutes'] / 60, 1)} {L('小时', 'h')}")),
            (L("走访次数", "Visits"), f"{t['visits']}" + _paren(L("，", ", ").join(
                f"{_kind_label(k)} {t['by_kind'][k]}" for k in kinds))),
            (L("走访户次", "Household visits"), t["household_visits"]),
            (L("上报问题", "Findings filed"), t["findings"]),
            (L("关爱对象按期走访", "Care households within interval"),
             f"{t['care_within_interval']} / {t['care_households']}"
             + _paren(f"{_pct(t['coverage'])}{L('，', ', ')}{r['coverage_date']}")),
        ],
        title=L("走访统计", "Rounds"),
    )
    out.table(
        [L("网格员", "Worker"), L("姓名", "Name"), L("网格", "Grid"), L("走访天数", "Days walked"),
         L("达标天数", "Days met"), L("达标率", "Met"), L("分钟", "Minutes"), L("走访", "Visits"),
         L("户次", "Households"), L("发现", "Findings")],
        (
            [w["worker"], w["name"], w["grid"], w["days_walked"], w["days_met"], _pct(w["met_rate"]), w["minutes"],
             w["visits"], w["household_visits"], w["findings"]]
            for w in r["workers"]
        ),
        empty=L("范围内没有网格员", "No grid workers in scope"),
    )
    if len(r["grids"]) > 1:
        out.table(
            [L("网格", "Grid"), L("关爱对象", "Care households"), L("按期", "Within interval"),
             L("逾期", "Overdue"), L("覆盖率", "Coverage")],
            ([g["grid"], g["care_households"], g["within_interval"], g["overdue"], _pct(g["coverage"])]
             for g in r["grids"]),
        )
    if r.get("daily"):
        out.table(
            [L("日期", "Date"), L("网格员", "Worker"), L("分钟", "Minutes"), L("走访", "Visits"),
             *[_kind_label(k) for k in kinds], L("户数", "Households"), L("发现", "Findings"), L("一小时", "Hour")],
            (
                [d["date"], d["worker"], d["minutes"], d["visits"], *[d["by_kind"][k] for k in kinds], d["households"],
                 d["findings"], "✓" if d["met"] else "✗"]
                for d in r["daily"]
            ),
        )


def register(app: typer.Typer) -> None:
    app.add_typer(build(), name="visit", help=L("走访：登记、走访计划（到期/逾期）、每日一小时统计",
                                                "Visits: log rounds, the care schedule (due/overdue), the daily hour"))
