"""Field validators shared by single-record commands, the TUI and every importer.

Each raises InvalidInput with a message that names the field, or returns the normalised value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from baiyin_cli import timeutil
from baiyin_cli.errors import GridError, InvalidFields, InvalidInput, NotFound
from baiyin_cli.i18n import M, Message

REQUIRED = M("field.required", "{field}不能为空", "{field} is required")
TOO_LONG = M("field.too_long", "{field}过长（最多 {max} 个字符）", "{field} is too long (at most {max} characters)")
CONTROL_CHARS = M("field.control_chars", "{field}含有不可见的控制字符", "{field} contains control characters")
BAD_PHONE = M(
    "phone.invalid",
    "联系电话无效：{value}（应为 11 位手机号，或带区号的座机如 0943-8221234）",
    "Invalid phone: {value} (an 11-digit mobile, or a landline with area code such as 0943-8221234)",
)
BAD_ID_LENGTH = M(
    "id_number.length", "公民身份号码应为 18 位：{value}", "An ID number has 18 characters: {value}"
)
BAD_ID_FORMAT = M(
    "id_number.format",
    "公民身份号码格式错误（前 17 位应为数字，末位为数字或 X）：{value}",
    "ID number format is wrong (17 digits then a digit or X): {value}",
)
BAD_ID_CHECKSUM = M(
    "id_number.checksum", "公民身份号码校验位错误：{value}", "ID number check digit is wrong: {value}"
)
BAD_ID_BIRTH = M(
    "id_number.birth_date", "公民身份号码中的出生日期无效：{value}", "ID number has an invalid birth date: {value}"
)
BAD_ID_REGION = M(
    "id_number.region", "公民身份号码的地区码未知：{value}", "ID number has an unknown region code: {value}"
)
BAD_USERNAME = M(
    "username.invalid",
    "用户名无效：{value}（2–64 位小写字母、数字、点、下划线或连字符）",
    "Invalid username: {value} (2-64 lower-case letters, digits, '.', '_' or '-')",
)

# Field keys that callers pass as they are ("note", "reason"...), as people read them. Callers
# that have a label of their own (the registry's field_label) pass the label, which is kept.
_FIELD_LABELS: dict[str, tuple[str, str]] = {
    "note": ("备注", "Note"),
    "reason": ("原因", "Reason"),
    "text": ("内容", "Text"),
    "name": ("名称", "Name"),
    "address": ("地址", "Address"),
    "comment": ("评价意见", "Comment"),
    "phone": ("联系电话", "Phone"),
    "role": ("角色", "Role"),
    # details of petition events (services/petition_workflow.py Transition.needs)
    "to": ("承办网格员", "Assignee"),
    "how": ("回访方式", "Callback method"),
    "outcome": ("沟通结果", "Outcome"),
    "dept": ("部门", "Department"),
    "result": ("办理结果", "Result"),
    "rating": ("评价", "Rating"),
    "into": ("保留的诉求编号", "Petition to keep"),
    "visit_id": ("走访记录", "Visit"),
    "from": ("诉求编号", "Petition"),
}


def field_name(field: str) -> str:
    """The label of a field key in the current language ("note" -> 备注); other text unchanged."""
    from baiyin_cli.i18n import L

    pair = _FIELD_LABELS.get(field)
    return L(*pair) if pair else field


def _named(field: str) -> dict[str, str]:
    """Message arguments naming `field`: its label, and the key itself when it is one, so that an
    importer can say which column the error is about (services/bulk.py field_of)."""
    out = {"field": field_name(field)}
    if field.isascii() and field.isidentifier():
        out["field_key"] = field
    return out


class Fields:
    """The checks of one record's fields, each refusal kept (tagged with its field) instead of the
    first ending the record: an import reports every bad cell of a row at once, so an admin fixes
    a spreadsheet in one pass; a single command still shows the first (InvalidFields reads as it).

        f = Fields(field_label)
        name = f.text("name", raw_name, max_len=50)       # None when refused
        phone = f.check("phone", phone, raw_phone)
        f.done()                                          # raises if anything was refused
    """

    __slots__ = ("errors", "_label")

    def __init__(self, label: Callable[[str], str] | None = None) -> None:
        self.errors: list[GridError] = []
        self._label = label  # a field key's label in messages, when the caller has its own words

    def check(self, key: str | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs), or None when it refuses (the refusal kept, about field `key`
        unless it names its own; None: as it names it)."""
        try:
            return fn(*args, **kwargs)
        except InvalidFields as exc:  # a check of several fields: each of its refusals, as they are
            self.errors.extend(exc.errors)
            return None
        except GridError as exc:
            if key is not None:
                exc.args_.setdefault("field_key", key)
            self.errors.append(exc)
            return None

    def text(
        self, key: str, value: str | None, *, required: bool = True, max_len: int = 200, word: str | None = None
    ) -> str | None:
        """`text` of field `key`; its label is looked up only when the value is refused (`word`:
        the field key whose label messages use, when it is not `key`'s)."""
        try:
            return text(value, word or key, required=required, max_len=max_len)
        except InvalidInput as exc:
            if self._label is not None:
                exc.args_["field"] = self._label(key)
            exc.args_["field_key"] = key
            self.errors.append(exc)
            return None

    def add(self, exc: GridError) -> None:
        self.errors.append(exc)

    def done(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise InvalidFields(self.errors)


_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_COMPACT_ID_RE = re.compile(r"[0-9]{17}[0-9Xx]")


# The largest record number a database integer key holds (PostgreSQL's integer).
MAX_RECORD_ID = 2**31 - 1


def record_id(value: object) -> int | None:
    """A record number as people type it (12, #12, full-width digits), or None when it cannot be
    one: not digits, zero, or beyond any stored key (so a lookup says 'not found' instead of the
    database refusing the number)."""
    raw = unicodedata.normalize("NFKC", str(value)).strip().lstrip("#")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    n = int(raw)
    return n if 0 < n <= MAX_RECORD_ID else None


# Unicode's Cc (control characters: U+0000-001F and U+007F-009F) but tab and newline, and Cs (lone
# surrogates, from undecodable argv bytes: unstorable). One regex instead of a category lookup per
# character: a million-row import validates a few million cells.
_UNSTORABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def text(value: str | None, field: str, *, required: bool = True, max_len: int = 200) -> str | None:
    """Trim, NFC-normalise, refuse control characters and over-long values."""
    if value is None or not value.strip():
        if required:
            raise InvalidInput(REQUIRED, **_named(field))
        return None
    v = unicodedata.normalize("NFC", value.strip())
    if _UNSTORABLE.search(v):
        raise InvalidInput(CONTROL_CHARS, **_named(field))
    if len(v) > max_len:
        raise InvalidInput(TOO_LONG, max=max_len, **_named(field))
    return v


def username(value: str) -> str:
    v = (value or "").strip()
    if not _USERNAME_RE.match(v):
        raise InvalidInput(BAD_USERNAME, value=v[:70])
    return v


def phone(value: str | None, *, required: bool = False) -> str | None:
    """Mainland mobile (11 digits, 1[3-9]...) or landline with area code; returns a normal form."""
    if value is None or not value.strip():
        if required:
            raise InvalidInput(REQUIRED, **_named("phone"))
        return None
    raw = unicodedata.normalize("NFKC", value).strip().replace(" ", "")
    if raw.startswith("+86"):
        raw = raw[3:]
    if _MOBILE_RE.match(raw):
        return raw
    if _LANDLINE_RE.match(raw):
        digits = raw.replace("-", "")
        if "-" in raw:
            return raw
        # 0943xxxxxxx: area codes beginning 01/02 have 3 digits, others 4.
        split = 3 if digits[1] in "12" else 4
        return digits[:split] + "-" + digits[split:]
    from baiyin_cli.services.privacy import mask_phone

    raise InvalidInput(BAD_PHONE, value=mask_phone(raw[:20]))


@dataclass(frozen=True)
class IdInfo:
    number: str
    birth_date: date
    sex: str  # "M" / "F"


def id_number(value: str) -> IdInfo:
    """公民身份号码 (GB 11643): length, MOD 11-2 check digit, birth date, known region.

    python-stdnum compacts what people type (skipped when it is already compact) and computes the
    check digit. Length, format, check digit, birth date and region are checked here, in that
    order, each with its own message: stdnum's region
    check also requires the region code to have existed in the birth year, which rejects every
    Baiyin resident born before 1985 (620402 dates from 1985), but the code is where the number
    was issued, so the prefix is checked against the set of known codes without that year rule.
    """
    from stdnum.cn import ric

    raw = unicodedata.normalize("NFKC", value or "").strip().replace(" ", "")
    # An already compact number (what nearly every imported row holds) skips stdnum's generic
    # cleaning, which is most of the cost of this check in a million-row import.
    number = raw.upper() if _COMPACT_ID_RE.fullmatch(raw) else ric.compact(raw)
    if len(number) != 18:
        raise _bad_id(BAD_ID_LENGTH, raw)
    if not number[:-1].isdigit() or not (number[-1].isdigit() or number[-1] == "X"):
        raise _bad_id(BAD_ID_FORMAT, raw)
    if number[-1] != ric.calc_check_digit(number):
        raise _bad_id(BAD_ID_CHECKSUM, raw)
    try:  # ric.get_birth_date would compact the number again
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise _bad_id(BAD_ID_BIRTH, raw) from None
    if birth.year < 1880 or birth > timeutil.today():
        raise _bad_id(BAD_ID_BIRTH, raw)
    if not _known_region(number[:6]):
        raise _bad_id(BAD_ID_REGION, raw)
    return IdInfo(number, birth, "M" if int(number[16]) % 2 == 1 else "F")


def _bad_id(message: Message, raw: str) -> InvalidInput:
    """The refusal of an ID number, which it shows masked (what was typed, when it is not 18 long)."""
    from baiyin_cli.services.privacy import mask_id

    return InvalidInput(message, value=mask_id(raw) if len(raw) == 18 else raw[:4] + "…")


@lru_cache(maxsize=4096)
def _known_region(prefix: str) -> bool:
    """Is this 6-digit prefix a region code stdnum knows (in any year)? Cached: stdnum scans its
    table linearly, ~1 ms a lookup, and a file of a million residents repeats a few hundred codes."""
    from stdnum import numdb

    found = numdb.get("cn/loc").info(prefix)
    return bool(found) and any(props for _part, props in found)


def not_blank(value: object, zh: str, en: str, *, error: type[GridError] = NotFound, field_key: str | None = None) -> None:
    """Refuse an empty or blank code/number/name a lookup was given: "区域代码不能为空", not
    "找不到区域 " with nothing after it. `error` keeps the exit code the lookup gives a miss
    (NotFound: 3), so scripts see the same codes as before."""
    if value is None or not str(value).strip():
        from baiyin_cli.i18n import L

        args = {"field": L(zh, en)}
        if field_key:
            args["field_key"] = field_key
        raise error(REQUIRED, **args)
