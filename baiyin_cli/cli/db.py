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
            raise typer.Exit(1)

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

    return app
