"""grid worker: operators and grid workers (网格员), secretaries, department users."""

from typing import Annotated

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L

ROLES = "admin|secretary|grid_worker|department|viewer"
KINDS = "full_time|red|mobile|liaison"


def role_label(role: str | None) -> str:
    if not role:
        return ""
    from baiyin_cli import config

    return config.load().label("roles", role)


def kind_label(kind: str | None) -> str:
    if not kind:
        return ""
    from baiyin_cli import config

    return config.load().label("worker_kinds", kind)


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)
    json_help = L("以 JSON 输出", "Output JSON")
    at_help = L("实际发生时间 YYYY-MM-DD HH:MM", "When it happened YYYY-MM-DD HH:MM")

    @app.command("add", help=L("添加人员", "Add a person"))
    def add(
        username: Annotated[str | None, typer.Option("--username", "-u", help=L("登录用户名", "Username"))] = None,
        name: Annotated[str | None, typer.Option("--name", help=L("姓名", "Full name"))] = None,
        phone: Annotated[str | None, typer.Option("--phone", help=L("联系电话", "Phone"))] = None,
        role: Annotated[str | None, typer.Option("--role", help=L(f"角色：{ROLES}", f"Role: {ROLES}"))] = None,
        kind: Annotated[str | None, typer.Option("--kind", help=L(f"网格员类型：{KINDS}", f"Grid worker kind: {KINDS}"))] = None,
        area: Annotated[str | None, typer.Option("--area", help=L("所属区域代码（书记：社区；网格员：网格）", "Area code (secretary: community; grid worker: grid)"))] = None,
        dept: Annotated[str | None, typer.Option("--dept", help=L("所属部门代码（部门人员）", "Department code (department users)"))] = None,
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli import config
        from baiyin_cli.cli._prompt import ask
        from baiyin_cli.services import org, validate

        cfg = config.load()
        username = ask(username, flag="--username", label=L("用户名", "Username"), validate=validate.username)
        name = ask(name, flag="--name", label=L("姓名", "Name"), validate=lambda v: validate.text(v, "name", max_len=50))
        role = ask(
            role,
            flag="--role",
            label=L("角色", "Role"),
            choices=[(k, cfg.label("roles", k)) for k in cfg.data["roles"]],
        )
        phone = ask(phone, flag="--phone", label=L("联系电话（可空）", "Phone (optional)"), validate=validate.phone, required=False)
        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            w = org.add_worker(s, op, username=username, name=name, phone=phone, role=role, kind=kind, area=area, dept=dept, at=when)
        if json_:
            out.print_json(w)
        else:
            out.info(L(f"已添加{role_label(w['role'])} {w['username']}（{w['name']}）", f"Added {w['role']} {w['username']} ({w['name']})"))

    @app.command("list", help=L("列出人员", "List people"))
    def list_(
        area: Annotated[str | None, typer.Option("--area", help=L("此区域内的人员", "People inside this area"))] = None,
        role: Annotated[str | None, typer.Option("--role", help=L(f"角色：{ROLES}", f"Role: {ROLES}"))] = None,
        all_: Annotated[bool, typer.Option("--all", help=L("包括已停用的", "Include inactive people"))] = False,
        limit: Annotated[int | None, typer.Option("--limit", min=1, help=L("最多显示条数", "At most this many rows"))] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import org

        with ctx.session() as (s, _op):
            rows = org.list_workers(s, area=area, role=role, include_inactive=all_, limit=limit)
        if json_:
            out.print_json(rows)
            return
        out.table(
            [L("用户名", "Username"), L("姓名", "Name"), L("角色", "Role"), L("类型", "Kind"), L("区域", "Area"), L("部门", "Dept"), L("电话", "Phone"), L("状态", "Status")],
            (
                [r["username"], r["name"], role_label(r["role"]), kind_label(r["kind"]), r["area"], r["dept"], r["phone"],
                 L("在岗", "active") if r["active"] else L("停用", "inactive")]
                for r in rows
            ),
            empty=L("没有人员", "No people"),
        )

    @app.command("show", help=L("查看人员", "Show a person"))
    def show(
        username: Annotated[str, typer.Argument(help=L("用户名", "Username"))],
        reveal: Annotated[bool, typer.Option("--reveal", help=L("显示完整电话（记入审计）", "Show the full phone (audited)"))] = False,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import org

        with ctx.session(write=reveal) as (s, op):
            w = org.show_worker(s, op, username, reveal=reveal)
        if json_:
            out.print_json(w)
            return
        out.kv(
            [
                (L("用户名", "Username"), w["username"]),
                (L("姓名", "Name"), w["name"]),
                (L("角色", "Role"), role_label(w["role"])),
                (L("类型", "Kind"), kind_label(w["kind"])),
                (L("区域", "Area"), w["area"]),
                (L("部门", "Dept"), w["dept"]),
                (L("电话", "Phone"), w["phone"]),
                (L("状态", "Status"), L("在岗", "active") if w["active"] else L("停用", "inactive")),
            ]
        )

    @app.command("assign", help=L("调整人员所属区域", "Move a person to another area"))
    def assign(
        username: Annotated[str, typer.Argument(help=L("用户名", "Username"))],
        area: Annotated[str, typer.Option("--area", help=L("新的区域代码", "New area code"))],
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import org

        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            w = org.assign_worker(s, op, username, area, at=when)
        if json_:
            out.print_json(w)
        else:
            out.info(L(f"{w['username']} 已调整到 {w['area']}", f"{w['username']} now belongs to {w['area']}"))

    @app.command("deactivate", help=L("停用人员（记录保留）", "Deactivate a person (records are kept)"))
    def deactivate(
        username: Annotated[str, typer.Argument(help=L("用户名", "Username"))],
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import org

        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            w = org.deactivate_worker(s, op, username, at=when)
        if json_:
            out.print_json(w)
        else:
            out.info(L(f"已停用 {w['username']}", f"Deactivated {w['username']}"))

    @app.command("set-pin", help=L("设置 PIN 或密码（管理员为任何人；本人修改需原 PIN）", "Set a PIN or password (an admin for anyone; yourself with the old one)"))
    def set_pin(
        username: Annotated[str, typer.Argument(help=L("用户名", "Username"))],
        pin_file: Annotated[str | None, typer.Option("--pin-file", help=L("从文件读取新 PIN（首行；- 表示标准输入）", "Read the new PIN from a file (first line; '-' = stdin)"))] = None,
        old_pin_file: Annotated[str | None, typer.Option("--old-pin-file", help=L("从文件读取原 PIN（修改自己的 PIN 时）", "Read the old PIN from a file (changing your own)"))] = None,
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
    ) -> None:
        from baiyin_cli.cli.auth import read_secret
        from baiyin_cli.services import auth

        when = ctx.at_option(at)
        with ctx.session() as (s, op):
            needs_old = op is not None and op.username == username and auth.has_secret(s, username)
        old = read_secret(old_pin_file, L("原 PIN", "Old PIN"), old=True) if needs_old else None
        new = read_secret(pin_file, L(f"{username} 的新 PIN", f"New PIN for {username}"), confirm=True, check=True)
        with ctx.session(write=True) as (s, op):
            r = auth.set_secret(s, op, username, new, old=old, at=when)
        out.info(L(f"已为 {r['username']} 设置 PIN（结束了 {r['sessions_ended']} 个会话）",
                   f"PIN set for {r['username']} (sessions ended: {r['sessions_ended']})"))

    return app
