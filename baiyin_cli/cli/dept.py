"""grid dept: departments that receive escalated petitions."""

from typing import Annotated

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)
    json_help = L("以 JSON 输出", "Output JSON")

    @app.command("add", help=L("添加部门", "Add a department"))
    def add(
        code: Annotated[str, typer.Argument(help=L("部门代码，如 sifa", "Department code, e.g. sifa"))],
        name: Annotated[str, typer.Argument(help=L("名称，如 司法所", "Name, e.g. 司法所"))],
        at: Annotated[str | None, typer.Option("--at", help=L("实际发生时间", "When it happened"))] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import org

        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            d = org.add_dept(s, op, code, name, at=when)
        if json_:
            out.print_json(d)
        else:
            out.info(L(f"已添加部门 {d['code']} {d['name']}", f"Added department {d['code']} {d['name']}"))

    @app.command("list", help=L("列出部门", "List departments"))
    def list_(json_: Annotated[bool, typer.Option("--json", help=json_help)] = False) -> None:
        from baiyin_cli.services import org

        with ctx.session() as (s, _op):
            rows = org.list_depts(s)
        if json_:
            out.print_json(rows)
            return
        out.table(
            [L("代码", "Code"), L("名称", "Name"), L("状态", "Status")],
            ([r["code"], r["name"], L("启用", "active") if r["active"] else L("停用", "inactive")] for r in rows),
            empty=L("没有部门", "No departments"),
        )

    return app
