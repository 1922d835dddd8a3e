"""`grid export open311`: petitions as an Open311 GeoReport v2 feed for other civic systems.

This module defines the command; `cli/export.py` (the `grid export` noun) adds it with
`open311.add_to(app)`. The rules live in services/open311.py, the file formats in io/open311.py.
"""

from typing import Annotated

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L


def add_to(app: typer.Typer) -> None:
    @app.command("open311", help=L(
        "导出 Open311 GeoReport v2：诉求（requests）或服务目录（--services）；不含个人信息",
        "Export Open311 GeoReport v2: the service requests, or the service list (--services); no personal data",
    ))
    def open311(
        services: Annotated[bool, typer.Option("--services", help=L(
            "导出服务目录（由诉求类别生成）", "Write the service list (from the categories)"))] = False,
        from_: Annotated[str | None, typer.Option("--from", help=L("受理日期起 YYYY-MM-DD（含）", "Filed from YYYY-MM-DD (inclusive)"))] = None,
        to: Annotated[str | None, typer.Option("--to", help=L("受理日期止 YYYY-MM-DD（含）", "Filed up to YYYY-MM-DD (inclusive)"))] = None,
        area: Annotated[str | None, typer.Option("--area", help=L("区域代码", "Area code"))] = None,
        fmt: Annotated[str | None, typer.Option("--format", "-f", help=L(
            "格式：json|xml（默认按文件名后缀，否则 json）", "Format: json|xml (default: from -o's suffix, else json)"))] = None,
        output: Annotated[str, typer.Option("--output", "-o", metavar="FILE|-", help=L(
            "输出文件（- 为标准输出）", "Output file (- for stdout)"))] = "-",
    ) -> None:
        from baiyin_cli import timeutil
        from baiyin_cli.io import document
        from baiyin_cli.io import open311 as writer
        from baiyin_cli.services import open311 as svc
        from baiyin_cli.services import stats

        chosen = writer.format_of(fmt, output)
        period = stats.Period(timeutil.parse_date(from_) if from_ else None, timeutil.parse_date(to) if to else None)
        with ctx.session(write=True) as (s, op):
            if services:
                from baiyin_cli.services.access import require

                require(op)
                items = svc.services()
                data = writer.render(items, kind="services", fmt=chosen, fields=svc.SERVICE_FIELDS)
            else:
                items = svc.requests(s, op, period=period, area=area)
                data = writer.render(items, kind="requests", fmt=chosen, fields=svc.REQUEST_FIELDS)
            svc.record_export(s, op, what="services" if services else "requests", count=len(items), area=area,
                              period=None if services else period, target=output)
            document.write_output(output, data)
        if output != "-":
            what = L("服务", "services") if services else L("件诉求", "requests")
            out.info(L(f"已导出 {len(items)} {what}：{output}", f"Exported {len(items)} {what}: {output}"))
