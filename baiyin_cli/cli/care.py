"""grid care: the care tags (重点关爱对象) and the visit interval each one sets."""

from typing import Annotated

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)

    @app.command("list", help=L("列出关爱标签、走访间隔，以及管辖范围内的户数和人数", "List care tags, their visit intervals, and how many households and people in your area have them"))
    def list_(json_: Annotated[bool, typer.Option("--json", help=L("以 JSON 输出", "Output JSON"))] = False) -> None:
        from baiyin_cli.services import registry

        with ctx.session() as (s, op):
            rows = registry.care_list(s, op)
        if json_:
            out.print_json(rows)
            return
        counted = any(r["residents"] is not None for r in rows)
        cols = [L("代码", "Code"), L("名称", "Name"), L("走访间隔（天）", "Visit every (days)")]
        if counted:
            cols += [L("户（本户标签）", "Households (own tag)"), L("居民", "Residents")]
        out.table(
            cols,
            ([r["code"], L(r["zh"], r["en"]), r["interval_days"]] + ([r["households"], r["residents"]] if counted else [])
             for r in rows),
            empty=L("没有关爱标签", "No care tags"),
        )

    return app


def register(app: typer.Typer) -> None:
    app.add_typer(build(), name="care", help=L("重点关爱对象标签", "Care tags for vulnerable people"))
