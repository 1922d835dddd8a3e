"""Messages in Chinese (default) and English.

A message is declared once, next to the code that uses it, with a stable key and both
texts: ``NOT_FOUND = M("area.not_found", "找不到区域 {code}", "No area {code}")``.
The key is what scripts see (``--json`` error objects); the text is what people read.
Help texts for the CLI use ``L(zh, en)``, resolved when the command tree is built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

LANGS = ("zh", "en")
_lang: str | None = None
_catalog: dict[str, Message] = {}


@dataclass(frozen=True)
class Message:
    key: str
    zh: str
    en: str

    def text(self, lang: str | None = None) -> str:
        return self.en if (lang or get_lang()) == "en" else self.zh


def M(key: str, zh: str, en: str) -> Message:
    """Declare a message. Keys are unique across the program."""
    msg = Message(key, zh, en)
    old = _catalog.get(key)
    if old is not None and old != msg:
        raise ValueError(f"message key declared twice with different texts: {key}")
    _catalog[key] = msg
    return msg


def t(message: Message, lang: str | None = None, **args: Any) -> str:
    text = message.text(lang)
    if args:
        try:
            out = text.format(**args)
        except (KeyError, IndexError, ValueError):
            return text
        if text.startswith("{field}") and (lang or get_lang()) == "en":
            out = out[:1].upper() + out[1:]  # "note is required" -> "Note is required"
        return out
    return text


def L(zh: str, en: str) -> str:
    """Pick a help/label text by the current language."""
    return en if get_lang() == "en" else zh


def normalise_lang(value: str | None) -> str | None:
    if not value:
        return None
    v = value.strip().lower().replace("-", "_")
    if v.startswith("zh") or v in ("cn", "chinese", "中文"):
        return "zh"
    if v.startswith("en") or v == "english":
        return "en"
    return None


def set_lang(lang: str | None) -> None:
    global _lang
    _lang = normalise_lang(lang) or None


def get_lang() -> str:
    if _lang:
        return _lang
    return normalise_lang(os.environ.get("GRID_LANG")) or "zh"


def catalog() -> dict[str, Message]:
    return dict(_catalog)
