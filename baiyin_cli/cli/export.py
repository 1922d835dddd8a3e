"""grid export: CSV (UTF-8 with BOM, for Excel and WPS), XLSX and JSON Lines; masked unless revealed."""

from typing import Annotated, Any

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L

LEVELS = "district|street|community|grid"
ROLES = "admin|secretary|grid_worker|department|viewer"


def _what(entity: str) -> str:
    zh = {"areas": "区域", "workers": "人员", "households": "住户", "residents": "居民", "visits": "走访记录",
          "petitions": "诉求"}
    return L(zh[entity], entity)


def run_export(entity: str, output: str, fmt: str | None, reveal: bool, filters: dict[str, Any]) -> None:
    """Stream the rows into the file; audit the export of personal data; then move the file into place."""
    from baiyin_cli.io.writers import OutColumn, open_writer, output_format
    from baiyin_cli.services import bulk

    target = bulk.target(entity)
    kind = output_format(output, fmt)
    cols = target.export_columns()
    writer = open_writer(output, kind, [OutColumn(c.name, c.label(), c.width) for c in cols], sheet=_what(entity))
    try:
        with ctx.session() as (s, op):
            for rec in target.export(s, op, reveal=reveal, **filters):
                writer.write([bulk.render(rec.get(c.name), c, kind) for c in cols])
        writer.finish()
        if target.personal or reveal:
            with ctx.session(write=True) as (s, op):
                bulk.record_export(s, op, target, file=writer.display_name, fmt=kind, count=writer.count,
                                   revealed=reveal, filters=filters)
        writer.publish()
    except BaseException:
        writer.abort()
        raise
    if output != "-":
        masked = L("（个人信息已脱敏）", " (personal data masked)") if target.personal and not reveal else ""
        out.info(L(f"已导出 {writer.count} 条{_what(entity)}到 {output}{masked}",
                   f"Exported {writer.count} {entity} to {output}{masked}"))


def register(app: typer.Typer) -> None:
    sub = typer.Typer(no_args_is_help=True)
    fmt_help = L("csv|xlsx|jsonl（默认按 -o 的扩展名；标准输出默认 csv）", "csv|xlsx|jsonl (default: from -o's extension; csv on stdout)")
    out_help = L("输出文件；- 为标准输出（默认）", "Output file; - for stdout (default)")
    reveal_help = L("导出完整的个人信息（需有权限，记入审计）", "Export personal data in full (if permitted; audited)")

    @sub.command("areas", help=L("导出区域", "Export areas"))
    def areas(
        level: Annotated[str | None, typer.Option("--level", "-l", help=L(f"级别：{LEVELS}", f"Level: {LEVELS}"))] = None,
        parent: Annotated[str | None, typer.Option("--parent", help=L("只导出此区域的直接下级", "Only direct children of this area"))] = None,
        under: Annotated[str | None, typer.Option("--under", help=L("只导出此区域及其下级", "Only this area and everything under it"))] = None,
        fmt: Annotated[str | None, typer.Option("--format", help=fmt_help)] = None,
        output: Annotated[str, typer.Option("--output", "-o", metavar="FILE|-", help=out_help)] = "-",
    ) -> None:
        run_export("areas", output, fmt, False, {"level": level, "parent": parent, "under": under})

    @sub.command("workers", help=L("导出人员（电话默认脱敏）", "Export people (phones masked unless revealed)"))
    def workers(
        area: Annotated[str | None, typer.Option("--area", help=L("此区域内的人员", "People inside this area"))] = None,
        role: Annotated[str | None, typer.Option("--role", help=L(f"角色：{ROLES}", f"Role: {ROLES}"))] = None,
        all_: Annotated[bool, typer.Option("--all", help=L("包括已停用的", "Include inactive people"))] = False,
        fmt: Annotated[str | None, typer.Option("--format", help=fmt_help)] = None,
        output: Annotated[str, typer.Option("--output", "-o", metavar="FILE|-", help=out_help)] = "-",
        reveal: Annotated[bool, typer.Option("--reveal", help=reveal_help)] = False,
    ) -> None:
        run_export("workers", output, fmt, reveal, {"area": area, "role": role, "include_inactive": all_})

    # `grid export open311`: the GeoReport v2 feed (cli/open311.py, services/open311.py).
    from baiyin_cli.cli import open311

    open311.add_to(sub)

    grid_help = L("只导出此网格", "Only this grid")
    community_help = L("只导出此社区", "Only this community")
    care_help = L("只导出有此关爱标签的（本人或所在户）", "Only those with this care tag (their own or their household's)")
    archived_help = L("包括已注销的", "Include archived records")

    @sub.command("households", help=L("导出住户（备注中的号码默认脱敏）", "Export households (numbers in notes masked unless revealed)"))
    def households(
        grid: Annotated[str | None, typer.Option("--grid", help=grid_help)] = None,
        community: Annotated[str | None, typer.Option("--community", help=community_help)] = None,
        care: Annotated[str | None, typer.Option("--care", help=care_help)] = None,
        address: Annotated[str | None, typer.Option("--address", help=L("地址包含此文字", "Address contains this text"))] = None,
        archived: Annotated[bool, typer.Option("--archived", help=archived_help)] = False,
        fmt: Annotated[str | None, typer.Option("--format", help=fmt_help)] = None,
        output: Annotated[str, typer.Option("--output", "-o", metavar="FILE|-", help=out_help)] = "-",
        reveal: Annotated[bool, typer.Option("--reveal", help=reveal_help)] = False,
    ) -> None:
        run_export("households", output, fmt, reveal,
                   {"grid": grid, "community": community, "care": care, "address": address, "archived": archived})

    @sub.command("residents", help=L("导出居民（身份证号、电话、出生日期默认脱敏）", "Export residents (ID numbers, phones, birth dates masked unless revealed)"))
    def residents(
        household: Annotated[str | None, typer.Option("--household", help=L("只导出此户", "Only this household"))] = None,
        grid: Annotated[str | None, typer.Option("--grid", help=grid_help)] = None,
        community: Annotated[str | None, typer.Option("--community", help=community_help)] = None,
        care: Annotated[str | None, typer.Option("--care", help=care_help)] = None,
        archived: Annotated[bool, typer.Option("--archived", help=archived_help)] = False,
        fmt: Annotated[str | None, typer.Option("--format", help=fmt_help)] = None,
        output: Annotated[str, typer.Option("--output", "-o", metavar="FILE|-", help=out_help)] = "-",
        reveal: Annotated[bool, typer.Option("--reveal", help=reveal_help)] = False,
    ) -> None:
        run_export("residents", output, fmt, reveal,
                   {"household": household, "grid": grid, "community": community, "care": care, "archived": archived})

    @sub.command("visits", help=L("导出走访记录（备注中的号码默认脱敏）", "Export visits (numbers in notes masked unless revealed)"))
    def visits(
        worker: Annotated[str | None, typer.Option("--worker", help=L("网格员用户名", "Grid worker"))] = None,
        grid: Annotated[str | None, typer.Option("--grid", help=grid_help)] = None,
        community: Annotated[str | None, typer.Option("--community", help=community_help)] = None,
        household: Annotated[str | None, typer.Option("--household", help=L("只导出此户", "Only this household"))] = None,
        kind: Annotated[str | None, typer.Option("--kind", help=L("走访类型：household|info_gathering|mediation|service", "Kind: household|info_gathering|mediation|service"))] = None,
        from_: Annotated[str | None, typer.Option("--from", help=L("起始日期 YYYY-MM-DD（含）", "First day YYYY-MM-DD (inclusive)"))] = None,
        to: Annotated[str | None, typer.Option("--to", help=L("结束日期 YYYY-MM-DD（含）", "Last day YYYY-MM-DD (inclusive)"))] = None,
        all_: Annotated[bool, typer.Option("--all", help=L("包括已作废的记录", "Include voided visits"))] = False,
        fmt: Annotated[str | None, typer.Option("--format", help=fmt_help)] = None,
        output: Annotated[str, typer.Option("--output", "-o", metavar="FILE|-", help=out_help)] = "-",
        reveal: Annotated[bool, typer.Option("--reveal", help=reveal_help)] = False,
    ) -> None:
        from baiyin_cli import timeutil
        from baiyin_cli.errors import only_one
        from baiyin_cli.services.visits import WORKER_AND_AREA

        only_one(WORKER_AND_AREA, {"--grid": grid, "--community": community})
        run_export("visits", output, fmt, reveal, {
            "worker": worker, "area": grid or community, "household": household, "kind": kind,
            "start": timeutil.parse_date(from_) if from_ else None, "end": timeutil.parse_date(to) if to else None,
            "include_voided": all_})

    @sub.command("petitions", help=L("导出诉求（反映人、电话、内容中的号码默认脱敏）", "Export petitions (reporters, phones, numbers in texts masked unless revealed)"))
    def petitions(
        status: Annotated[list[str] | None, typer.Option("--status", help=L("状态（可重复；all 为全部；默认未结束的）", "Status (repeatable; all for every state; default: not finished)"))] = None,
        community: Annotated[str | None, typer.Option("--community", help=community_help)] = None,
        grid: Annotated[str | None, typer.Option("--grid", help=grid_help)] = None,
        area: Annotated[str | None, typer.Option("--area", help=L("任一级区域代码", "Any area code"))] = None,
        assignee: Annotated[str | None, typer.Option("--assignee", help=L("承办网格员用户名", "Assigned grid worker"))] = None,
        category: Annotated[str | None, typer.Option("--category", help=L("类别或类别组（如 hazard、dispute）", "Category or group (e.g. hazard, dispute)"))] = None,
        overdue: Annotated[bool, typer.Option("--overdue", help=L("只导出已超时的", "Only overdue ones"))] = False,
        mine: Annotated[bool, typer.Option("--mine", help=L("只导出等我处理的", "Only those waiting on me"))] = False,
        search: Annotated[str | None, typer.Option("--search", help=L("按内容或编号查找", "Find by text or number"))] = None,
        fmt: Annotated[str | None, typer.Option("--format", help=fmt_help)] = None,
        output: Annotated[str, typer.Option("--output", "-o", metavar="FILE|-", help=out_help)] = "-",
        reveal: Annotated[bool, typer.Option("--reveal", help=reveal_help)] = False,
    ) -> None:
        chosen = [a for a in (community, grid, area) if a]
        if len(chosen) > 1:
            raise typer.BadParameter(L("--community、--grid、--area 只能用一个", "use one of --community, --grid, --area"))
        run_export("petitions", output, fmt, reveal, {
            "statuses": status, "area": chosen[0] if chosen else None, "assignee": assignee, "category": category,
            "overdue": overdue, "mine": mine, "text": search})

    app.add_typer(
        sub,
        name="export",
        help=L(
            "批量导出：CSV（带 BOM，Excel/WPS 直接打开）、XLSX、JSONL；个人信息默认脱敏",
            "Bulk export to CSV (with BOM for Excel/WPS), XLSX, JSON Lines; personal data masked by default",
        ),
    )
