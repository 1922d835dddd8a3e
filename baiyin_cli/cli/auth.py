"""grid login / logout / whoami: operators prove who they are.

The PIN is read without echo on a TTY, or from `--pin-file FILE` ('-' = stdin) for scripts;
never from a command-line argument (it would sit in the shell history and in `ps`).
"""

from typing import Annotated

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.errors import UsageError
from baiyin_cli.i18n import L, M

NEED_PIN = M(
    "auth.need_pin",
    "需要{what}：在终端上运行以输入，或用 {flag} 文件（- 表示标准输入）",
    "{what} is needed: run this on a terminal to type it, or give {flag} FILE ('-' for stdin)",
)
NEED_USERNAME = M(
    "auth.need_username",
    "请指定用户名：grid login 用户名（或设置 GRID_USER / 配置项 operator）",
    "Name the operator: grid login USERNAME (or set GRID_USER / config key operator)",
)
PIN_MISMATCH = M("auth.pin_mismatch", "两次输入的 PIN 不一致", "The two PINs do not match")


def read_secret(
    pin_file: str | None, prompt: str, *, confirm: bool = False, check: bool = False, old: bool = False
) -> str:
    """A PIN from --pin-file (`old`: the current PIN, from --old-pin-file), else typed twice
    (confirm) without echo on a TTY, else exit 2 naming the option that was missing."""
    from baiyin_cli.cli._prompt import interactive
    from baiyin_cli.services import auth

    if pin_file:
        value = auth.read_secret_file(pin_file)
        if check:
            auth.check_secret(value)
        return value
    if not interactive():
        raise UsageError(NEED_PIN, what=L("原 PIN", "The old PIN") if old else L(" PIN", "A PIN"),
                         flag="--old-pin-file" if old else "--pin-file")
    import getpass

    from baiyin_cli.errors import GridError, InvalidInput

    while True:
        value = getpass.getpass(prompt + ": ")
        if check:
            try:
                auth.check_secret(value)
            except GridError as exc:
                out.err_console().print("✗ " + exc.text(), style="red", markup=False)
                continue
        if confirm and getpass.getpass(L("再输入一次", "Once more") + ": ") != value:
            raise InvalidInput(PIN_MISMATCH)
        return value


def register(app: typer.Typer) -> None:
    json_help = L("以 JSON 输出", "Output JSON")
    pin_file_help = L("从文件读取 PIN（首行；- 表示标准输入），供脚本使用", "Read the PIN from a file (first line; '-' = stdin), for scripts")

    @app.command("login", help=L("登录：输入 PIN，开启一个班次的会话（默认 8 小时）", "Log in: type your PIN and open a session for a shift (8 h by default)"))
    def login(
        username: Annotated[str | None, typer.Argument(help=L("用户名", "Username"))] = None,
        pin_file: Annotated[str | None, typer.Option("--pin-file", help=pin_file_help)] = None,
        print_token: Annotated[bool, typer.Option("--print-token", help=L("把会话令牌打印到标准输出（供脚本设 GRID_TOKEN），不保存到本机", "Print the session token on stdout (for a script's GRID_TOKEN) instead of saving it"))] = False,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli import store, timeutil
        from baiyin_cli.cli._prompt import ask
        from baiyin_cli.services import access, auth

        name = username or ctx.username() or access.default_username()
        if not name:
            from baiyin_cli.cli._prompt import interactive

            if not interactive():
                raise UsageError(NEED_USERNAME)
            name = ask(None, flag="USERNAME", label=L("用户名", "Username"))
        secret = read_secret(pin_file, L(f"{name} 的 PIN", f"PIN for {name}"))
        r = auth.sign_in(store.database_url(), name, secret, save=not print_token)
        if print_token:
            typer.echo(r["token"])
        if json_ and not print_token:
            out.print_json({**r["operator"], "expires_at": timeutil.iso(r["expires_at"])})
            return
        out.info(L(f"已登录：{r['operator']['name']}（{name}），有效至 {timeutil.fmt(r['expires_at'])}",
                   f"Logged in as {name} ({r['operator']['name']}) until {timeutil.fmt(r['expires_at'])}"))

    @app.command("logout", help=L("退出登录：结束本机的会话", "Log out: end this terminal's session"))
    def logout() -> None:
        from baiyin_cli import store
        from baiyin_cli.services import auth

        url = store.database_url()
        tok, _source = ctx.token()
        ended = None
        if tok:
            with store.session(write=True) as s:
                ended = auth.logout(s, tok)
        auth.forget_token(url)
        if ended:
            out.info(L(f"{ended['username']} 已退出登录", f"{ended['username']} logged out"))
        else:
            out.info(L("本来就没有有效的会话", "There was no live session"))

    @app.command("whoami", help=L("当前登录的操作员与会话有效期", "Who is logged in, and until when"))
    def whoami(json_: Annotated[bool, typer.Option("--json", help=json_help)] = False) -> None:
        from baiyin_cli.cli.worker import role_label
        from baiyin_cli.services import auth

        with ctx.session() as (s, op):
            r = auth.whoami(s, op)
        if json_:
            out.print_json(r)
            return
        sess = r.get("session") or {}
        out.kv(
            [
                (L("用户名", "Username"), r["username"]),
                (L("姓名", "Name"), r["name"]),
                (L("角色", "Role"), role_label(r["role"])),
                (L("区域", "Area"), r["area"]),
                (L("部门", "Dept"), r["dept"]),
                (L("会话有效至", "Session until"), (sess.get("expires_at") or "")[:16].replace("T", " ")),
            ]
        )
