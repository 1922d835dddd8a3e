"""grid triage: the secretary's live petition queue in the terminal (a Textual app).

Textual is imported only when the command runs, so `grid --help` stays fast.
"""

from typing import Annotated

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.i18n import L, M, normalise_lang, set_lang

NEEDS_TERMINAL = M(
    "triage.needs_terminal",
    "分拣台须在终端中打开（标准输入和输出都须是终端）；脚本请用 grid petition list --json",
    "The triage screen needs a terminal (standard input and output); scripts can use grid petition list --json",
)


def register(app: typer.Typer) -> None:
    @app.command(
        "triage",
        help=L(
            "诉求分拣台：实时队列（超期优先）、筛选、详情、派单回访上报办结等操作"
            "（键盘操作，? 查看快捷键）。没有有效会话时先输入 PIN；无操作一段时间后锁屏"
            "（auth.idle_lock_minutes）",
            "Petition triage: a live queue (overdue first), filters, details and every action, "
            "keyboard-first (? lists the keys). Asks for the PIN when no session is valid; locks "
            "after idle time (auth.idle_lock_minutes)",
        ),
    )
    def triage(
        area: Annotated[
            str | None,
            typer.Option(
                "--area",
                help=L(
                    "只看此区域（管理员可选任一区域；书记默认本社区）",
                    "Only this area (admins may pick any; a secretary sees their community)",
                ),
            ),
        ] = None,
        demo: Annotated[
            bool,
            typer.Option(
                "--demo", help=L("使用演示数据库（同 grid --demo）", "Use the demo database (as grid --demo)")
            ),
        ] = False,
        lang: Annotated[
            str | None, typer.Option("--lang", help=L("界面语言：zh 或 en", "Interface language: zh or en"))
        ] = None,
        refresh: Annotated[
            float | None,
            typer.Option(
                "--refresh",
                min=1,
                help=L(
                    "刷新间隔（秒，默认配置 tui.refresh_seconds）",
                    "Seconds between refreshes (default: config tui.refresh_seconds)",
                ),
            ),
        ] = None,
    ) -> None:
        from baiyin_cli import store

        if lang is not None:
            if normalise_lang(lang) is None:
                raise typer.BadParameter(
                    L(f"不支持的语言：{lang}（zh 或 en）", f"unsupported language: {lang} (zh or en)")
                )
            set_lang(lang)
        if demo:  # as the global --demo: the demo database unless --db names another
            ctx.state.demo = True
            if not ctx.state.db:
                ctx.state.db = str(store.demo_sqlite_path())
                store.set_url(ctx.state.db)
        # Who is working, checked before the screen opens. On a terminal, no valid session (none,
        # expired, revoked, another operator's) opens the app at its PIN screen, which logs in as
        # `grid login` does; off a terminal nobody can type a PIN: one line and exit 4. An unknown
        # operator, an unsafe token file or an area out of scope are refused here either way.
        # Every database call of the app then authenticates the same way again, so a session
        # revoked meanwhile (grid logout, deactivation) stops the screen's next call.
        from baiyin_cli.cli._prompt import interactive
        from baiyin_cli.errors import NotPermitted
        from baiyin_cli.services import auth
        from baiyin_cli.services.access import load_operator, require
        from baiyin_cli.tui.gateway import Credentials

        token, source = ctx.token()
        credentials = Credentials(ctx.username(), token, source, ctx.state.demo)
        with store.session() as s:
            try:
                op = require(credentials.identify(s))
            except NotPermitted as exc:
                if not (auth.login_required(exc) and interactive()):
                    raise
                op = None
            # The area is checked before the screen opens, also when the PIN screen comes first:
            # against the operator who claims the terminal (the PIN then proves it is them).
            scoped = op if op is not None else load_operator(s, credentials.claimed)
            if scoped is not None and area:
                from baiyin_cli.services import petitions

                petitions.count_petitions(s, scoped, area=area)

        if not interactive():
            # Off a terminal the screen drew into a pipe and never ended, at full CPU.
            from baiyin_cli.errors import UsageError

            raise UsageError(NEEDS_TERMINAL)
        from baiyin_cli.tui.app import TriageApp

        app = TriageApp(
            op.username if op is not None else None,
            credentials=credentials,
            url=store.database_url(),
            area=area,
            refresh_seconds=refresh,
        )
        app.run()
        raise typer.Exit(app.return_code or 0)
