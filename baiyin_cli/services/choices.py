"""Closed lists of choices: what an operator may type for one, and how a refusal lists them.

A choice (a petition category or category group, a channel, a callback way, a rating, a visit
kind, a care tag, a household type, a worker's role or kind) has a code, which is stored and
which `--json` prints, and a Chinese and an English label. Every way in (a single command, a
list filter, an import, the TUI) reads what was typed here, so all of them accept the same
things: the code, the Chinese label or the English label, English in any case, `-`, `_` and
spaces alike (basically satisfied = basically_satisfied). A refusal lists each choice once, in
the operator's language: "household 入户走访、info_gathering 情报收集…" in Chinese,
"household (household visit), info_gathering (information gathering)…" in English.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from baiyin_cli.errors import InvalidInput
from baiyin_cli.i18n import Message, get_lang

Choices = Mapping[str, tuple[str, str]]
"""code -> (Chinese label, English label), in the order they are offered."""

_SEPARATORS = re.compile(r"[\s_\-]+")


def _key(value: str) -> str:
    """What two spellings of one choice have in common: NFKC (full-width letters), case, and
    runs of spaces, `_` and `-` as one space."""
    return _SEPARATORS.sub(" ", unicodedata.normalize("NFKC", value).strip().casefold()).strip()


def from_config(table: str) -> dict[str, tuple[str, str]]:
    """The choices of a config table (categories, category_groups, channels, care_tags, roles,
    worker_kinds): each entry's code with its zh/en labels (the code where one is missing)."""
    from baiyin_cli import config

    out: dict[str, tuple[str, str]] = {}
    for code, entry in (config.load().data.get(table) or {}).items():
        if isinstance(entry, dict):
            out[code] = (str(entry.get("zh") or code), str(entry.get("en") or code))
    return out


def code_of(choices: Choices, value: Any) -> str | None:
    """The code `value` names, by its code or either label; None when it names none of them.
    A code wins over another choice's label that is spelt the same."""
    if value is None:
        return None
    text = str(value)
    if text in choices:
        return text
    k = _key(text)
    if not k:
        return None
    for code in choices:
        if _key(code) == k:
            return code
    for code, (zh, en) in choices.items():
        if _key(zh) == k or _key(en) == k:
            return code
    return None


def listing(choices: Choices, lang: str | None = None) -> str:
    """Each choice once, for a refusal: "code 中文名" joined by 、 in Chinese; in English the
    code with its label in brackets (the code alone when the label only respells it)."""
    if (lang or get_lang()) == "en":
        return ", ".join(
            code if _key(en) == _key(code) else f"{code} ({en})" for code, (_zh, en) in choices.items()
        )
    return "、".join(f"{code} {zh}" for code, (zh, _en) in choices.items())


def pick(choices: Choices, value: Any, message: Message, **args: Any) -> str:
    """The code `value` names, or InvalidInput(message) with `value` and the `choices` listed;
    `args` go to the message as they are (field_key for imports, for one)."""
    code = code_of(choices, value)
    if code is None:
        shown = "" if value is None else unicodedata.normalize("NFKC", str(value)).strip()
        raise InvalidInput(message, value=shown[:40], choices=listing(choices), **args)
    return code

