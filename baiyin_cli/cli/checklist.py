"""grid checklist: the checklists and ledgers (清单 / 台账) a community prints, signs and files.

`grid checklist export KIND` builds the document (services/checklists.py), renders it
(io/document*.py: xlsx, csv, md, html, json) and records the export in the audit log, all in
one transaction: if the file cannot be written, no export is recorded.
"""

from datetime import date
from typing import Annotated

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L

KINDS = "visits|hazards|petitions|disputes|care|monthly"
FORMATS = "xlsx|csv|md|html|json"

# The period a kind covers when neither --date nor --month is given.
DEFAULT_PERIOD = {"visits": "day", "hazards": "all", "petitions": "month", "disputes": "month", "care": "day",
                  "monthly": "month"}


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)

    @app.command("export", help=L(
        "导出清单/台账：visits 走访清单、hazards 隐患清单、petitions 诉求台账、disputes 矛盾纠纷台账、"
        "care 重点关爱对象台账、monthly 月度报表（A4 打印版式；每次导出记入审计）",
        "Export a checklist or ledger: visits, hazards, petitions, disputes, care, monthly "
        "(laid out for A4; every export is audited)",
    ))
    def export(
        kind: Annotated[str, typer.Argument(metavar="KIND", help=L(f"类型：{KINDS}", f"Kind: {KINDS}"))],
        grid: Annotated[str | None, typer.Option("--grid", help=L("网格代码", "Grid code"))] = None,
        community: Annotated[str | None, typer.Option("--community", help=L("社区代码", "Community code"))] = None,
        street: Annotated[str | None, typer.Option("--street", help=L("街道代码", "Street code"))] = None,
        day: Annotated[str | None, typer.Option("--date", help=L("日期 YYYY-MM-DD", "Date YYYY-MM-DD"))] = None,
        month: Annotated[str | None, typer.Option("--month", help=L("月份 YYYY-MM", "Month YYYY-MM"))] = None,
        fmt: Annotated[str | None, typer.Option("--format", "-f", help=L(
            f"格式：{FORMATS}（默认按文件名后缀，否则 xlsx）", f"Format: {FORMATS} (default: from -o's suffix, else xlsx)"))] = None,
        output: Annotated[str | None, typer.Option("--output", "-o", metavar="FILE|-", help=L(
            "输出文件（- 为标准输出；默认按类型、区域、期间命名）", "Output file (- for stdout; default: named by kind, area, period)"))] = None,
        reveal: Annotated[bool, typer.Option("--reveal", help=L(
            "显示完整姓名（需有权限，记入审计）", "Show names in full (if your role may; audited)"))] = False,
    ) -> None:
        from baiyin_cli import timeutil
        from baiyin_cli.io import document
        from baiyin_cli.services import checklists

        kind = checklists.kind_of(kind)
        chosen = document.format_of(fmt, output)
        day_v: date | None = timeutil.parse_date(day) if day else None
        period = checklists.period_from_flags(day_v, month, default=DEFAULT_PERIOD[kind])
        with ctx.session(write=True) as (s, op):
            area = checklists.area_from_flags(s, grid=grid, community=community, street=street)
            doc = checklists.build(s, op, kind, area=area, period=period, reveal=reveal)
            data = document.render(doc, chosen)
            target = output or f"{doc.file_stem()}.{chosen}"
            checklists.record_export(s, op, doc, fmt=chosen, target="-" if target == "-" else target)
            document.write_output(target, data)
        if target != "-":
            rows = f"{doc.rows} row" + ("" if doc.rows == 1 else "s")
            out.info(L(f"已导出{doc.title}（{doc.rows} 行）：{target}", f"Exported {doc.title} ({rows}): {target}"))

    return app


def register(app: typer.Typer) -> None:
    app.add_typer(build(), name="checklist", help=L("清单与台账（打印、归档）", "Checklists and ledgers (to print and file)"))
