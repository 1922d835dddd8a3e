"""grid area: the grid tree (区县 → 街道 → 社区 → 网格)."""

from typing import Annotated

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L

LEVELS = "district|street|community|grid"


def level_label(level: str) -> str:
    zh = {"district": "区县", "street": "街道", "community": "社区", "grid": "网格"}
    return L(zh.get(level, level), level)


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)
    json_help = L("以 JSON 输出", "Output JSON")
    at_help = L("实际发生时间（补录纸质记录）YYYY-MM-DD HH:MM", "When it happened (entering paper records) YYYY-MM-DD HH:MM")

    @app.command("add", help=L("添加区域；省略 --parent 时按代码前缀推断上级", "Add an area; the parent is inferred from the code prefix when omitted"))
    def add(
        code: Annotated[str, typer.Argument(help=L("区域代码（区县6位、街道9位、社区12位、网格15位）", "Area code (district 6, street 9, community 12, grid 15 digits)"))],
        name: Annotated[str, typer.Argument(help=L("名称", "Name"))],
        level: Annotated[str, typer.Option("--level", "-l", help=L(f"级别：{LEVELS}", f"Level: {LEVELS}"))],
        parent: Annotated[str | None, typer.Option("--parent", help=L("上级区域代码", "Parent area code"))] = None,
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import org

        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            area = org.add_area(s, op, code, name, level, parent, at=when)
        if json_:
            out.print_json(area)
        else:
            out.info(L(f"已添加{level_label(area['level'])} {area['code']} {area['name']}", f"Added {area['level']} {area['code']} {area['name']}"))

    @app.command("list", help=L("列出区域", "List areas"))
    def list_(
        level: Annotated[str | None, typer.Option("--level", "-l", help=L(f"级别：{LEVELS}", f"Level: {LEVELS}"))] = None,
        parent: Annotated[str | None, typer.Option("--parent", help=L("只列此区域的直接下级", "Only direct children of this area"))] = None,
        limit: Annotated[int | None, typer.Option("--limit", min=1, help=L("最多显示条数", "At most this many rows"))] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import org

        with ctx.session() as (s, _op):
            rows = org.list_areas(s, level=level, parent=parent, limit=limit)
        if json_:
            out.print_json(rows)
            return
        out.table(
            [L("代码", "Code"), L("名称", "Name"), L("级别", "Level"), L("上级", "Parent")],
            ([r["code"], r["name"], level_label(r["level"]), r["parent"]] for r in rows),
            empty=L("没有区域", "No areas"),
        )

    @app.command("show", help=L("查看区域及其下级数量", "Show an area with counts of what is under it"))
    def show(
        code: Annotated[str, typer.Argument(help=L("区域代码", "Area code"))],
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import org

        with ctx.session() as (s, _op):
            a = org.show_area(s, code)
        if json_:
            out.print_json(a)
            return
        path = " / ".join(p["name"] for p in a["ancestors"])
        out.kv(
            [
                (L("代码", "Code"), a["code"]),
                (L("名称", "Name"), a["name"]),
                (L("级别", "Level"), level_label(a["level"])),
                (L("上级", "Parents"), path),
                (L("直接下级", "Children"), a["children"]),
                *[(level_label(k), v) for k, v in a["descendants"].items()],
                (L("在岗人员", "Active workers"), a["workers"]),
                (L("住户", "Households"), a["households"]),
            ]
        )

    @app.command("tree", help=L("以树形显示区域", "Show areas as a tree"))
    def tree(
        code: Annotated[str | None, typer.Argument(help=L("从此区域开始（默认全部）", "Start at this area (default: all)"))] = None,
        depth: Annotated[int | None, typer.Option("--depth", min=1, help=L("显示层数", "Levels to show"))] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import org

        with ctx.session() as (s, _op):
            roots = org.area_tree(s, code)
        if json_:
            out.print_json(roots)
            return
        from rich.tree import Tree

        top = Tree(L("白银市网格", "Grid tree"), guide_style="dim")

        def add(node_tree, node, d):  # type: ignore[no-untyped-def]
            label = f"{node['name']} [dim]{node['code']} {level_label(node['level'])}[/dim]"
            child = node_tree.add(label)
            if depth is None or d < depth:
                for c in node["children"]:
                    add(child, c, d + 1)

        for r in roots:
            add(top, r, 1)
        out.console().print(top)

    @app.command("rename", help=L("修改区域名称", "Rename an area"))
    def rename(
        code: Annotated[str, typer.Argument(help=L("区域代码", "Area code"))],
        name: Annotated[str, typer.Argument(help=L("新名称", "New name"))],
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import org

        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            a = org.rename_area(s, op, code, name, at=when)
        if json_:
            out.print_json(a)
        else:
            out.info(L(f"已改名：{a['code']} {a['name']}", f"Renamed: {a['code']} {a['name']}"))

    return app
