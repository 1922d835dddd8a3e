"""The root of `grid`: global options, error mapping and the noun sub-commands.

Errors are mapped once here: a GridError from any service becomes one localised
line on stderr (personal data scrubbed) and its exit code; Ctrl-C exits 130;
anything unexpected is one line too, with the traceback only under GRID_DEBUG=1.
"""

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from baiyin_cli import __version__
from baiyin_cli.i18n import L, M, normalise_lang, set_lang

INTERNAL = M(
    "cli.internal",
    "内部错误：{error}（设置 GRID_DEBUG=1 查看详情）",
    "Internal error: {error} (set GRID_DEBUG=1 for details)",
)
INTERRUPTED = M("cli.interrupted", "已中断，未写入任何内容", "Interrupted; nothing was written")
BAD_LANG = M("cli.bad_lang", "不支持的语言：{value}（zh 或 en）", "Unsupported language: {value} (zh or en)")


def _error_line(text: str) -> None:
    from baiyin_cli.services.privacy import scrub

    prefix = L("grid: 错误：", "grid: error: ")
    # One line, whatever the message quotes back (a header cell or a value with a line break in it).
    one = " ".join((scrub(text) or "").splitlines())
    sys.stderr.write(prefix + one + "\n")
    sys.stderr.flush()


def _click_error(exc: Exception) -> None:
    """A click usage error (bad flag, missing argument, unknown command) as grid's one line."""
    code = getattr(exc, "exit_code", None)
    if not isinstance(code, int) or not hasattr(exc, "format_message"):
        return
    if type(exc).__name__ == "NoArgsIsHelpError":  # `grid household`: typer has shown the help
        return
    from baiyin_cli.cli import _help_i18n

    try:
        text = _help_i18n.usage_error_text(exc)
    except Exception:  # noqa: BLE001 - typer internals changed: click's own words, still one line
        text = exc.format_message()
    _error_line(text)
    raise typer.Exit(code) from None


class GridGroup(TyperGroup):
    """Maps GridError (and Ctrl-C, and surprises) to one line and an exit code."""

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        # The root's own options (`grid --lang`, `grid --bogus`) are parsed here, before invoke.
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except Exception as exc:
            if type(exc).__module__.startswith(("click", "typer")):
                _click_error(exc)
            raise

    def invoke(self, ctx: Any) -> Any:
        from baiyin_cli.errors import ExitCode, GridError

        try:
            return super().invoke(ctx)
        except GridError as exc:
            if os.environ.get("GRID_DEBUG", "") not in ("", "0"):
                raise
            _error_line(exc.text())
            raise typer.Exit(int(exc.code)) from None
        except KeyboardInterrupt:
            from baiyin_cli.i18n import t

            _error_line(t(INTERRUPTED))
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BrokenPipeError:
            # `grid … | head`: the reader went away. Click ends quietly (exit 1), as for --help.
            raise
        except Exception as exc:
            # Usage errors from typer's vendored click: one line in the interface language (exit 2).
            if type(exc).__module__.startswith(("click", "typer")):
                _click_error(exc)
                raise
            if os.environ.get("GRID_DEBUG", "") not in ("", "0"):
                raise
            from baiyin_cli.i18n import t

            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            _error_line(t(INTERNAL, error=f"{type(exc).__name__}: {first}"[:300]))
            raise typer.Exit(1) from None


def _lang_from_argv(argv: list[str]) -> str | None:
    for i, a in enumerate(argv):
        if a == "--":
            break
        if a == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--lang="):
            return a.split("=", 1)[1]
    return None


def choose_language(argv: list[str]) -> str:
    """--lang, else GRID_LANG, else config `language`, else Chinese."""
    lang = normalise_lang(_lang_from_argv(argv)) or normalise_lang(os.environ.get("GRID_LANG"))
    if lang is None:
        try:
            from baiyin_cli import config

            lang = normalise_lang(config.load().get("language"))
        except Exception:
            lang = None
    return lang or "zh"


def make_app(argv: list[str] | None = None) -> typer.Typer:
    """Build the command tree in the language chosen from argv/env/config."""
    from baiyin_cli.cli import _context

    from baiyin_cli import store
    from baiyin_cli.cli import _help_i18n, _output

    set_lang(choose_language(sys.argv[1:] if argv is None else argv))
    _context.reset()
    _output.reset()
    _help_i18n.install()
    store.set_url(None)

    app = typer.Typer(
        cls=GridGroup,
        name="grid",
        help=L(
            "grid：网格化基层治理工具。网格、住户、诉求、走访、台账，一条命令搞定。",
            "grid: grid-based community governance from the terminal: areas, households, petitions, visits, ledgers.",
        ),
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    def _version(value: bool) -> None:
        if value:
            typer.echo(f"grid {__version__}")
            raise typer.Exit()

    def _lang(value: str | None) -> str | None:
        if value is not None and normalise_lang(value) is None:
            raise typer.BadParameter(L(f"不支持的语言：{value}（zh 或 en）", f"unsupported language: {value} (zh or en)"))
        return value

    @app.callback()
    def root(
        version: Annotated[
            bool,
            typer.Option("--version", "-V", callback=_version, is_eager=True, help=L("显示版本并退出", "Show the version and exit")),
        ] = False,
        lang: Annotated[
            str | None,
            typer.Option("--lang", callback=_lang, is_eager=True, help=L("界面语言：zh 或 en（环境变量 GRID_LANG）", "Interface language: zh or en (env GRID_LANG)")),
        ] = None,
        as_user: Annotated[
            str | None,
            typer.Option("--as", metavar="USERNAME", help=L("以此操作员身份执行（或 GRID_USER）；须已登录（grid login）", "Act as this operator (or GRID_USER); needs a live session (grid login)")),
        ] = None,
        db: Annotated[
            str | None,
            typer.Option("--db", metavar="PATH|URL", help=L("数据库文件或地址（或 GRID_DATABASE_URL）", "Database file or URL (or GRID_DATABASE_URL)")),
        ] = None,
        demo: Annotated[
            bool,
            typer.Option("--demo", help=L("使用演示数据库（grid demo 生成，合成数据），无需登录，默认操作员 admin", "Use the demo database (made by grid demo, synthetic data) without a login; operator admin by default")),
        ] = False,
    ) -> None:
        from baiyin_cli import store

        _context.state.username = as_user
        _context.state.demo = demo
        if demo and not db:
            db = str(store.demo_sqlite_path())
        _context.state.db = db
        store.set_url(db)

    from baiyin_cli.cli import area, audit_cmd, config_cmd, db as db_cmd, dept, system, worker

    system.register(app)
    app.add_typer(config_cmd.build(), name="config", help=L("查看和修改配置", "Show and change configuration"))
    app.add_typer(db_cmd.build(), name="db", help=L("数据库：路径、检查、迁移、备份", "Database: path, check, migrate, backup"))
    app.add_typer(area.build(), name="area", help=L("区域（区县、街道、社区、网格）", "Areas (district, street, community, grid)"))
    app.add_typer(worker.build(), name="worker", help=L("人员：网格员、书记、部门人员、管理员", "People: grid workers, secretaries, department users, admins"))
    app.add_typer(dept.build(), name="dept", help=L("部门（司法、住建、水务…）", "Departments (justice, housing, water...)"))
    app.add_typer(audit_cmd.build(), name="audit", help=L("审计日志", "The audit log"))
    for extra in _optional_nouns():
        extra(app)
    return app


def _optional_nouns() -> list[Any]:
    """Nouns added by later capabilities register themselves here (households, petitions, ...)."""
    import importlib

    out = []
    for name in NOUN_MODULES:
        mod = importlib.import_module(f"baiyin_cli.cli.{name}")
        out.append(mod.register)
    return out


# Each module has register(app): add its typer(s) to the root.
NOUN_MODULES: list[str] = ["household", "resident", "care", "petition", "visit", "stats", "checklist", "importer", "export", "triage", "auth", "key"]


def run() -> None:
    """Console-script entry point."""
    app = make_app()
    app(prog_name="grid")


if __name__ == "__main__":  # pragma: no cover
    run()
