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
