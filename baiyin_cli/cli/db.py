"""grid db: path, check, migrate, backup."""

from pathlib import Path
from typing import Annotated

import typer

from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)
    json_help = L("以 JSON 输出", "Output JSON")

    @app.command("path", help=L("显示数据库位置", "Print where the database is"))
    def path() -> None:
        from baiyin_cli import store

        p = store.sqlite_path()
        typer.echo(str(p) if p else store.redact(store.database_url()))

    @app.command("check", help=L("检查数据库结构版本与完整性", "Check the schema version and integrity"))
    def check(json_: Annotated[bool, typer.Option("--json", help=json_help)] = False) -> None:
        from baiyin_cli.services import system

        r = system.check()
        if json_:
            out.print_json(r)
        else:
            out.kv(
                [
                    (L("数据库", "Database"), r["url"]),
                    (L("结构版本", "Schema"), f"{r['revision']} (head {r['head']})"),
                    (L("完整性", "Integrity"), r["integrity"]),
                    (L("结果", "Result"), L("正常", "OK") if r["ok"] else "; ".join(r["problems"])),
                ]
            )
        if not r["ok"]:
            from baiyin_cli.errors import InvalidInput

            raise InvalidInput(system.CHECK_FAILED, problems="; ".join(r["problems"]))

    @app.command("migrate", help=L("把数据库升级到最新结构", "Upgrade the database to the current schema"))
    def migrate(json_: Annotated[bool, typer.Option("--json", help=json_help)] = False) -> None:
        from baiyin_cli.services import system

        r = system.migrate()
        if json_:
            out.print_json(r)
        elif r["changed"]:
            out.info(L(f"已从 {r['before']} 升级到 {r['revision']}", f"Upgraded from {r['before']} to {r['revision']}"))
        else:
            out.info(L(f"已是最新结构 {r['revision']}，无需升级", f"Already at {r['revision']}; nothing to do"))

    @app.command("backup", help=L("在线备份 SQLite 数据库到文件", "Back up the SQLite database to a file (online)"))
    def backup(
        file: Annotated[Path, typer.Argument(help=L("备份文件", "Backup file"))],
        force: Annotated[bool, typer.Option("--force", help=L("覆盖已存在的文件", "Overwrite an existing file"))] = False,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import system

        r = system.backup(file, force=force)
        if json_:
            out.print_json(r)
        else:
            out.info(L(f"已备份到 {r['target']}（{r['bytes']} 字节）", f"Backed up to {r['target']} ({r['bytes']} bytes)"))

    app.add_typer(_roles(), name="roles", help=L("PostgreSQL 终端角色与行级安全（每个社区、部门一个登录）", "PostgreSQL terminal roles and row-level security (one login per community and department)"))
    return app


def _roles() -> typer.Typer:
    from baiyin_cli.cli import _context as ctx

    app = typer.Typer(no_args_is_help=True)
    json_help = L("以 JSON 输出", "Output JSON")
    prefix_help = L("角色名前缀（同一服务器上多个数据库时区分）", "Role name prefix (tells apart several databases on one server)")

    @app.command("apply", help=L("创建/更新角色与行级安全策略（可重复运行；须以表所有者连接）", "Create or update the roles and row-level security policies (idempotent; connect as the table owner)"))
    def apply(
        prefix: Annotated[str, typer.Option("--prefix", help=prefix_help)] = "grid",
        out_dir: Annotated[Path | None, typer.Option("--out", help=L("为新角色生成密码，并把每台终端的连接地址写入此目录（权限 0600）", "Give new roles a password and write each terminal's connection URL into this directory (mode 0600)"))] = None,
        reset_passwords: Annotated[bool, typer.Option("--reset-passwords", help=L("为所有角色重新生成密码（需 --out）", "New passwords for every role (needs --out)"))] = False,
        host_url: Annotated[str | None, typer.Option("--host-url", help=L("终端使用的服务器地址（默认与当前连接相同）", "Server URL the terminals use (default: the current connection's)"))] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import dbroles

        with ctx.session(write=True) as (s, op):
            r = dbroles.apply(s, op, prefix=prefix, out_dir=out_dir, reset_passwords=reset_passwords and out_dir is not None, host_url=host_url)
        if json_:
            out.print_json(r)
            return
        out.table(
            [L("角色", "Role"), L("类型", "Kind"), L("社区", "Community"), L("部门", "Dept"), L("连接地址文件", "URL file")],
            ([x["role"], x["kind"], x["area"], x["dept"], x["url_file"]] for x in r["roles"]),
        )
        out.info(L(f"已应用 {len(r['roles'])} 个角色（新建 {len(r['created'])} 个）与行级安全策略",
                   f"Applied {len(r['roles'])} roles ({len(r['created'])} new) and the row-level security policies"))

    @app.command("drop", help=L("删除某前缀的全部终端角色", "Drop every terminal role of a prefix"))
    def drop(
        prefix: Annotated[str, typer.Option("--prefix", help=prefix_help)] = "grid",
        yes: Annotated[bool, typer.Option("--yes", help=L("确认删除", "Confirm"))] = False,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.errors import UsageError
        from baiyin_cli.services import dbroles

        if not yes:
            raise UsageError(dbroles.CONFIRM_DROP, prefix=prefix)
        with ctx.session(write=True) as (s, op):
            r = dbroles.drop(s, op, prefix=prefix)
        if json_:
            out.print_json(r)
        else:
            out.info(L(f"已删除 {len(r['dropped'])} 个角色", f"Dropped {len(r['dropped'])} roles"))

    return app
