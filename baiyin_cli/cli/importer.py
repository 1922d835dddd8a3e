"""grid import: bring whole communities in from spreadsheets (CSV in GBK or UTF-8, XLSX) and JSON Lines."""

from typing import Annotated, Any

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L, M

# What can be imported (services/bulk.py TARGETS has the same names).
ENTITIES = ("areas", "workers", "households", "residents", "visits", "petitions")
SHOWN_ERRORS = 20

REJECTED_ALL = M(
    "import.rejected_all",
    "有 {count} 行被拒绝，未写入任何内容（--atomic all）；修正后重新导入，或用 --atomic object 先导入正确的行",
    "{count} row(s) rejected, nothing was written (--atomic all); fix them and import again, or use --atomic object",
)
REJECTED_SOME = M(
    "import.rejected_some",
    "有 {count} 行被拒绝，其余行已导入",
    "{count} row(s) rejected; the other rows were imported",
)
REJECTED_DRY = M(
    "import.rejected_dry",
    "试运行：有 {count} 行会被拒绝，未写入任何内容",
    "Dry run: {count} row(s) would be rejected; nothing was written",
)


def _what(entity: str) -> str:
    zh = {"areas": "区域", "workers": "人员", "households": "住户", "residents": "居民", "visits": "走访记录",
          "petitions": "诉求"}
    return L(zh[entity], entity)


def _progress_bar(source: Any) -> tuple[Any, Any]:
    """A progress bar on stderr when it is a terminal and the input is a file (none in a pipe)."""
    import sys

    if source.name == "-" or not sys.stderr.isatty():
        return None, None
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from baiyin_cli.cli._output import err_console

    columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
    columns.append(DownloadColumn() if source.format != "xlsx" else TextColumn("{task.completed}/{task.total}"))
    columns.append(TimeRemainingColumn())
    bar = Progress(*columns, console=err_console(), transient=True)
    task = bar.add_task(source.display_name, total=source.position()[1])

    def update(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


def _print_human(report: Any) -> None:
    from baiyin_cli.io.pipeline import summary_line

    out.info(L(f"导入{_what(report.entity)}", f"Import {report.entity}") + (L("（试运行）", " (dry run)") if report.dry_run else "")
             + " " + summary_line(report))
    for e in report.errors[:SHOWN_ERRORS]:
        where = L(f"第 {e.row} 行", f"row {e.row}") if e.row is not None else ""
        col = f" {e.column}" if e.column else ""
        val = f"「{e.value}」" if e.value not in (None, "") else ""
        out.info(f"  {where}{col}{val}：{e.text()}" if get_zh() else f"  {where}{col}{val}: {e.text()}")
    more = report.error_count - min(len(report.errors), SHOWN_ERRORS)
    if more > 0:
        out.info(L(f"  …… 另有 {more} 条错误（用 --errors 文件 或 --json 查看全部）",
                   f"  ... and {more} more (see them all with --errors FILE or --json)"))
    for w in report.warnings:
        out.warn(w.text())


def get_zh() -> bool:
    from baiyin_cli.i18n import get_lang

    return get_lang() != "en"


def _make(app: typer.Typer, entity: str) -> None:
    help_text = {
        "areas": L("导入区域（区县、街道、社区、网格），按区域代码新增或更新", "Import areas, created or updated by area code"),
        "workers": L("导入人员，按用户名新增或更新", "Import people, created or updated by username"),
        "households": L("导入住户，按户编号新增或更新", "Import households, created or updated by household code"),
        "residents": L("导入居民，按公民身份号码（或户编号+姓名）新增或更新",
                       "Import residents, created or updated by ID number (or household + name)"),
        "visits": L("导入走访记录（按网格员+开始时间+住户识别，重复导入不产生变化）",
                    "Import visits (identified by worker + start + household; re-running changes nothing)"),
        "petitions": L("导入诉求，按诉求编号新增或更新", "Import petitions, created or updated by petition number"),
    }[entity]

    @app.command(entity, help=help_text)
    def command(
        file: Annotated[str, typer.Argument(metavar="FILE|-", help=L("CSV、XLSX 或 JSONL 文件；- 为标准输入", "A CSV, XLSX or JSONL file; - for stdin"))],
        fmt: Annotated[str | None, typer.Option("--format", help=L("csv|xlsx|jsonl（默认按扩展名；标准输入必须指定）", "csv|xlsx|jsonl (default: from the extension; needed for stdin)"))] = None,
        encoding: Annotated[str, typer.Option("--encoding", help=L("auto|utf-8|gb18030（CSV；默认自动识别）", "auto|utf-8|gb18030 (CSV; detected by default)"))] = "auto",
        sheet: Annotated[str | None, typer.Option("--sheet", help=L("XLSX 工作表名（默认第一个）", "XLSX sheet name (default: the first)"))] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help=L("只校验并报告，不写入", "Validate and report; write nothing"))] = False,
        strategy: Annotated[str, typer.Option("--strategy", help=L("create（只新增）|update（只更新）|create_and_update", "create|update|create_and_update"))] = "create_and_update",
        atomic: Annotated[str, typer.Option("--atomic", help=L("all：有错则全部不写；object：写入正确的行", "all: any error and nothing is written; object: write the good rows"))] = "all",
        errors: Annotated[str | None, typer.Option("--errors", metavar="FILE", help=L("把被拒绝的行连同“错误说明”写入此文件（.xlsx 或 .csv），修正后可直接再导入", "Write the rejected rows with a column saying why to this .xlsx/.csv file, to fix and import again"))] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=100000, help=L("每批处理的行数", "Rows per batch"))] = 1000,
        at: Annotated[str | None, typer.Option("--at", help=L("实际发生时间（补录）YYYY-MM-DD HH:MM，记入审计", "When it happened (entering records later) YYYY-MM-DD HH:MM, for the audit log"))] = None,
        json_: Annotated[bool, typer.Option("--json", help=L("以 JSON 输出导入报告", "Output the import report as JSON"))] = False,
    ) -> None:
        from baiyin_cli.errors import InvalidInput
        from baiyin_cli.io import pipeline
        from baiyin_cli.services import bulk

        bulk.check_options(strategy, atomic)
        pipeline.check_errors_path(errors)
        target = bulk.target(entity)
        when = ctx.at_option(at)
        with pipeline.open_for(target, file, fmt=fmt, encoding=encoding, sheet=sheet) as source:
            bar, update = _progress_bar(source)
            try:
                if bar is not None:
                    bar.start()
                with ctx.session(write=not dry_run) as (s, op):
                    report = pipeline.run_import(
                        s, op, target, source, strategy=strategy, atomic=atomic, dry_run=dry_run,
                        batch_size=batch_size, errors_path=errors, progress=update, at=when,
                    )
            finally:
                if bar is not None:
                    bar.stop()
        if json_:
            out.print_json(report.to_dict())
        else:
            _print_human(report)
        if report.error_count:
            if dry_run:
                raise InvalidInput(REJECTED_DRY, count=report.rejected)
            if report.atomic == "all":
                raise InvalidInput(REJECTED_ALL, count=report.rejected)
            raise InvalidInput(REJECTED_SOME, count=report.rejected)

    command.__name__ = f"import_{entity}"


def register(app: typer.Typer) -> None:
    sub = typer.Typer(no_args_is_help=True)
    for entity in ENTITIES:
        _make(sub, entity)
    app.add_typer(
        sub,
        name="import",
        help=L(
            "批量导入：CSV（GBK/UTF-8）、XLSX、JSONL；先全部校验再写入，重复导入不产生变化",
            "Bulk import from CSV (GBK/UTF-8), XLSX, JSON Lines: validate everything, then write; re-running changes nothing",
        ),
    )
