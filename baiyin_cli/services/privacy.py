"""Masking of personal data (PIPL): what tables, --json, exports and logs show by default."""

from __future__ import annotations

import re

_ID_RE = re.compile(r"\b(\d{6})(\d{8})(\d{3}[\dXx])\b")
_MOBILE_RE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_id(value: str | None) -> str | None:
    """620402195603171232 -> 620402********1232 (region kept, birth date hidden)."""
    if not value:
        return value
    v = value.strip()
    if len(v) == 18:
        return v[:6] + "*" * 8 + v[-4:]
    if len(v) > 4:
        return "*" * (len(v) - 4) + v[-4:]
    return "*" * len(v)


def mask_phone(value: str | None) -> str | None:
    """13812345678 -> 138****5678; 0943-8221234 -> 0943-***1234."""
    if not value:
        return value
    v = value.strip()
    if len(v) == 11 and v.isdigit():
        return v[:3] + "****" + v[-4:]
    if "-" in v:
        area, _, local = v.partition("-")
        return area + "-" + "*" * max(len(local) - 4, 0) + local[-4:]
    if len(v) > 4:
        return "*" * (len(v) - 4) + v[-4:]
    return "*" * len(v)


def mask_name(value: str | None) -> str | None:
    """张三丰 -> 张** : for names of vulnerable people in lists that leave the office."""
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)


def scrub(text: str | None) -> str | None:
    """Mask any ID number or mobile number embedded in free text (notes, error messages, logs)."""
    if not text:
        return text
    text = _ID_RE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    return _MOBILE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
