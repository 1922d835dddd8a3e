"""Typer's own help strings (panel titles, --help, completion) in the interface language.

Typer renders "Options", "Commands", "Show this message and exit." in English. Grid
workers read Chinese, so we translate those few strings. The hooks look at the current
language each time, and rich_utils is touched only when help is actually rendered.
These are typer internals: every hook is guarded, and a test checks the Chinese help.
"""

from baiyin_cli.i18n import L

_installed = False


def _panel_titles() -> None:
    try:
        from typer import rich_utils as ru
    except Exception:  # pragma: no cover - typer without rich
        return
    ru.ARGUMENTS_PANEL_TITLE = L("参数", "Arguments")
    ru.OPTIONS_PANEL_TITLE = L("选项", "Options")
    ru.COMMANDS_PANEL_TITLE = L("命令", "Commands")
    ru.ERRORS_PANEL_TITLE = L("错误", "Error")
    ru.ABORTED_TEXT = L("已取消。", "Aborted.")
    ru.REQUIRED_LONG_STRING = L("[必填]", "[required]")
    ru.DEFAULT_STRING = L("[默认：{}]", "[default: {}]")
    ru.RICH_HELP = L("用 [blue]'{command_path} {help_option}'[/] 查看帮助。", "Try [blue]'{command_path} {help_option}'[/] for help.")


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    try:
        from typer import completion
        from typer._click import core
    except Exception:  # pragma: no cover
        return

    original_get_help_option = core.Command.get_help_option
    original_get_help = core.Command.get_help

    def get_help_option(self, ctx):  # type: ignore[no-untyped-def]
        opt = original_get_help_option(self, ctx)
        if opt is not None:
            opt.help = L("显示此帮助并退出", "Show this message and exit.")
        return opt

    def get_help(self, ctx):  # type: ignore[no-untyped-def]
        _panel_titles()
        for param in getattr(self, "params", []):
            opts = getattr(param, "opts", [])
            if "--install-completion" in opts:
                param.help = L("为当前 shell 安装命令补全", "Install completion for the current shell.")
            elif "--show-completion" in opts:
                param.help = L("显示当前 shell 的补全脚本", "Show completion for the current shell, to copy it or customize the installation.")
        return original_get_help(self, ctx)

    core.Command.get_help = get_help  # type: ignore[method-assign]
    core.Command.get_help_option = get_help_option  # type: ignore[method-assign]
    _ = completion  # imported so the completion options exist before help renders


# ---------------------------------------------------------------- usage errors in one line

# Typer/click build their usage messages as English f-strings. Grid workers get them in their
# language, in grid's one-line error format. Patterns are matched on click's own wording;
# anything not recognised is passed through as click wrote it.
_INNER = [
    (r"^Input should be a valid integer.*$", "应为整数"),
    (r"^Input should be greater than or equal to (.+?)\.?$", "应不小于 {0}"),
    (r"^Input should be less than or equal to (.+?)\.?$", "应不大于 {0}"),
    (r"^Input should be greater than (.+?)\.?$", "应大于 {0}"),
    (r"^Input should be less than (.+?)\.?$", "应小于 {0}"),
    (r"^Input should be a valid boolean.*$", "应为是/否"),
    (r"^'?(.*?)'? is not a valid integer(?: range)?\.?$", "{0} 不是整数"),
    (r"^Input should be a valid number.*$", "应为数字"),
    (r"^'?(.*?)'? is not a valid float(?: range)?\.?$", "{0} 不是数字"),
    (r"^'?(.*?)'? is not one of (.*?)\.?$", "{0} 不是可选值之一：{1}"),
    (r"^'?(.*?)'? does not match the formats? (.*?)\.?$", "{0} 不符合格式 {1}"),
    (r"^(?:File|Path|Directory) '?(.*?)'? does not exist\.?$", "{0} 不存在"),
    (r"^(?:File|Path) '?(.*?)'? is a directory\.?$", "{0} 是目录"),
    (r"^'?(.*?)'? is not in the (?:range|valid range) (.*?)\.?$", "{0} 超出范围 {1}"),
]
_OUTER = [
    (r"^No such command '(.*?)'\.(?: Did you mean (.*?)\?)?$", "没有命令 {0}", "你是不是想用 {1}"),
    (r"^Got unexpected extra argument(?:\(s\)|s)? \((.*)\)$", "多余的参数：{0}", None),
    (r"^Missing command\.$", "缺少子命令", None),
    (r"^Option '(.*?)' requires an argument\.$", "选项 {0} 需要一个值", None),
    (r"^Option '(.*?)' requires (\d+) arguments\.$", "选项 {0} 需要 {1} 个值", None),
    (r"^Option '(.*?)' does not take a value\.$", "选项 {0} 不带值", None),
    (r"^Argument '(.*?)' takes (\d+) values\.$", "参数 {0} 需要 {1} 个值", None),
]


def _inner_zh(message: str) -> str:
    import re

    for pattern, zh in _INNER:
        m = re.match(pattern, message.strip(), re.S)
        if m:
            return zh.format(*m.groups())
    return message


def _hint(exc: Exception) -> str:
    hint = getattr(exc, "param_hint", None)
    param = getattr(exc, "param", None)
    if not hint and param is not None:
        hint = param.get_error_hint()
    if isinstance(hint, (list, tuple)):
        hint = " / ".join(hint)
    return (hint or "").replace('"', "").replace("'", "").strip()


def usage_error_text(exc: Exception) -> str:
    """The message of a click usage error (exit 2) in the interface language, one line."""
    import re

    from typer._click import exceptions as ce

    from baiyin_cli.i18n import get_lang

    if get_lang() == "en":
        text = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    elif isinstance(exc, ce.MissingParameter):
        kind = exc.param_type or (exc.param.param_type_name if exc.param is not None else "parameter")
        text = ("缺少选项 " if kind == "option" else "缺少参数 ") + _hint(exc)
    elif isinstance(exc, ce.NoSuchOption):
        text = f"没有选项 {exc.option_name}"
        if exc.possibilities:
            text += "（你是不是想用 " + "、".join(sorted(exc.possibilities)) + "）"
    elif isinstance(exc, ce.BadParameter):
        hint = _hint(exc)
        inner = _inner_zh(exc.message)
        text = f"{hint} 的值无效：{inner}" if hint else f"值无效：{inner}"
    else:
        text = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        for pattern, zh, extra in _OUTER:
            m = re.match(pattern, text.strip(), re.S)
            if m:
                groups = [g or "" for g in m.groups()]
                text = zh.format(*groups)
                if extra and groups[-1]:
                    text += "（" + extra.format(*groups) + "）"
                break
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and ctx.command.get_help_option(ctx) is not None:
        path = ctx.command_path
        text = text.rstrip("。.") + L(f"（用 {path} -h 查看帮助）", f" (try {path} -h)")
    return " ".join(text.split())
