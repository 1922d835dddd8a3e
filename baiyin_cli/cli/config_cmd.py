"""grid config: where the config lives, what it says, and changing it."""

from typing import Annotated

import typer

from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)

    @app.command("path", help=L("显示用户配置文件路径", "Print the user config file path"))
    def path() -> None:
        from baiyin_cli import config

        typer.echo(str(config.user_config_path()))

    @app.command("show", help=L("显示生效的配置（默认值 + 用户文件 + 环境变量）", "Show the effective config (defaults + user file + env)"))
    def show(json_: Annotated[bool, typer.Option("--json", help=L("以 JSON 输出", "Output JSON"))] = False) -> None:
        from baiyin_cli import config

        data = config.load().data
        if json_:
            out.print_json(data)
            return
        import tomli_w

        out.console().print(tomli_w.dumps(data), markup=False, highlight=False)

    @app.command("get", help=L("读取一个配置项", "Print one config value"))
    def get(key: Annotated[str, typer.Argument(help=L("配置项，如 petition.contact_minutes", "Key, e.g. petition.contact_minutes"))]) -> None:
        import json

        from baiyin_cli import config

        value = config.load()[key]
        typer.echo(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))

    @app.command("set", help=L("写入用户配置文件中的一个配置项", "Write one key into the user config file"))
    def set_(
        key: Annotated[str, typer.Argument(help=L("配置项", "Key"))],
        value: Annotated[str, typer.Argument(help=L("值", "Value"))],
    ) -> None:
        from baiyin_cli import config

        path, v = config.set_value(key, value)
        out.info(L(f"已设置 {key} = {v!r}（{path}）", f"Set {key} = {v!r} ({path})"))

    return app
