"""Exit codes and the GridError family raised by services and mapped once by the CLI.

Services never print: they raise a GridError that carries a localisable message,
its arguments and the exit code. The CLI (`cli/main.py`) and the TUI turn it into
one line for a person.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from baiyin_cli.i18n import Message, t


class ExitCode(IntEnum):
    OK = 0
    """Everything went as asked."""
    INVALID = 1
    """Bad input: a value that fails validation, a file with bad rows."""
    USAGE = 2
    """The command line itself is wrong (unknown flag, missing required field off a TTY)."""
    NOT_FOUND = 3
    """A named record (area, worker, household, petition...) does not exist."""
    NOT_PERMITTED = 4
    """No operator, or the operator's role/area does not allow it."""
    CONFLICT = 5
    """The record changed underneath, a duplicate, or a transition the state does not allow."""
    INTERRUPTED = 130
    """Ctrl-C: nothing written."""


class GridError(Exception):
    """A user-facing error: a message from the catalog, its arguments and an exit code."""

    code: ExitCode = ExitCode.INVALID

    def __init__(self, message: Message, /, **args: Any) -> None:
        self.message = message
        self.args_ = args
        super().__init__(message.key)

    @property
    def key(self) -> str:
        return self.message.key

    def text(self, lang: str | None = None) -> str:
        return t(self.message, lang=lang, **self.args_)

    def __str__(self) -> str:  # pragma: no cover - debugging aid
        return self.text()


class InvalidInput(GridError):
    code = ExitCode.INVALID


class InvalidFields(InvalidInput):
    """Several fields of one record refused at once (services/validate.py Fields). It reads as the
    first refusal, with that one's exit code, as a single command shows it; `errors` holds them
    all, each naming its field, so an import reports every bad cell of a row."""

    def __init__(self, errors: list[GridError]) -> None:
        first = errors[0]
        super().__init__(first.message, **first.args_)
        self.code = first.code
        self.errors = errors


class UsageError(GridError):
    code = ExitCode.USAGE


def only_one(message: Message, flags: dict[str, Any]) -> None:
    """Refuse (exit 2) when more than one of these mutually exclusive options was given; the
    message names the ones given (`{options}`), as the user typed them: {"--grid": grid, ...}."""
    from baiyin_cli.i18n import get_lang

    given = [flag for flag, value in flags.items() if value]
    if len(given) > 1:
        sep = ", " if get_lang() == "en" else (" 与 " if len(given) == 2 else "、")
        raise UsageError(message, options=sep.join(given))


class NotFound(GridError):
    code = ExitCode.NOT_FOUND


class NotPermitted(GridError):
    code = ExitCode.NOT_PERMITTED


class Conflict(GridError):
    code = ExitCode.CONFLICT


# What the operating system said about a file, in the operator's language: its own words
# (strerror) are English whatever the interface speaks.
_OS_ERRORS: dict[int, tuple[str, str]] = {}


def os_error_text(exc: OSError) -> str:
    import errno

    from baiyin_cli.i18n import L

    if not _OS_ERRORS:
        _OS_ERRORS.update({
            errno.ENOENT: ("文件或目录不存在", "no such file or directory"),
            errno.EACCES: ("没有权限", "permission denied"),
            errno.EPERM: ("没有权限", "operation not permitted"),
            errno.EISDIR: ("这是一个目录", "it is a directory"),
            errno.ENOTDIR: ("路径中有一段不是目录", "a part of the path is not a directory"),
            errno.ENOSPC: ("磁盘已满", "no space left on the device"),
            errno.EROFS: ("文件系统只读", "read-only file system"),
            errno.EEXIST: ("已存在", "already exists"),
            errno.ENAMETOOLONG: ("文件名过长", "file name too long"),
        })
    pair = _OS_ERRORS.get(exc.errno or -1)
    return L(*pair) if pair else (exc.strerror or str(exc))
