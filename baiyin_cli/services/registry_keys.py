"""Search keys computed on write: names in pinyin and initials, normalised addresses and their keys.

Everything here is pure (no database): the same function normalises what is stored and what is
typed into a search, so both sides always agree.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from baiyin_cli.models.registry import ADDRESS_KEY_LEN

# ---------------------------------------------------------------- names

# Surnames whose reading as a surname differs from the character's everyday reading, which is
# what pypinyin gives without context (曾 -> ceng, 单 -> dan, 解 -> jie ...).
SURNAME_READINGS: dict[str, list[str]] = {
    "单": ["shan"], "曾": ["zeng"], "解": ["xie"], "仇": ["qiu"], "朴": ["piao"], "查": ["zha"],
    "区": ["ou"], "乐": ["yue"], "翟": ["zhai"], "缪": ["miao"], "覃": ["qin"], "盖": ["ge"],
    "召": ["shao"], "种": ["chong"], "秘": ["bi"], "繁": ["po"], "员": ["yun"], "牟": ["mu"],
    "折": ["she"], "尉": ["wei"], "句": ["gou"], "过": ["guo"], "能": ["nai"], "阚": ["kan"],
    "隗": ["wei"], "逄": ["pang"], "粘": ["nian"], "谌": ["chen"], "郇": ["huan"], "洗": ["xian"],
    "长": ["chang"], "重": ["chong"], "黑": ["he"], "沈": ["shen"], "柏": ["bai"], "葛": ["ge"],
    "薄": ["bo"], "莘": ["shen"], "都": ["du"], "贲": ["ben"], "祭": ["zhai"], "宿": ["su"],
}
# 复姓: two-character surnames, read as a unit.
COMPOUND_SURNAMES: dict[str, list[str]] = {
    "欧阳": ["ou", "yang"], "司马": ["si", "ma"], "上官": ["shang", "guan"], "诸葛": ["zhu", "ge"],
    "东方": ["dong", "fang"], "皇甫": ["huang", "fu"], "尉迟": ["yu", "chi"], "公孙": ["gong", "sun"],
    "慕容": ["mu", "rong"], "长孙": ["zhang", "sun"], "宇文": ["yu", "wen"], "司徒": ["si", "tu"],
    "夏侯": ["xia", "hou"], "轩辕": ["xuan", "yuan"], "令狐": ["ling", "hu"], "钟离": ["zhong", "li"],
    "闻人": ["wen", "ren"], "万俟": ["mo", "qi"], "澹台": ["tan", "tai"], "赫连": ["he", "lian"],
    "单于": ["chan", "yu"], "呼延": ["hu", "yan"], "端木": ["duan", "mu"], "南宫": ["nan", "gong"],
    "拓跋": ["tuo", "ba"], "百里": ["bai", "li"], "东郭": ["dong", "guo"], "西门": ["xi", "men"],
    "独孤": ["du", "gu"], "申屠": ["shen", "tu"], "公羊": ["gong", "yang"], "太史": ["tai", "shi"],
    "司空": ["si", "kong"], "濮阳": ["pu", "yang"], "淳于": ["chun", "yu"], "第五": ["di", "wu"],
}

_NAME_SEPARATORS = re.compile(r"[\s·•.\-'’]+")
_SYLLABLE = re.compile(r"[a-z0-9]+")


def _syllables(name: str) -> list[str]:
    head: list[str] = []
    rest = name
    if name[:2] in COMPOUND_SURNAMES and len(name) > 2:
        head, rest = list(COMPOUND_SURNAMES[name[:2]]), name[2:]
    elif name[:1] in SURNAME_READINGS and len(name) > 1:
        head, rest = list(SURNAME_READINGS[name[:1]]), name[1:]
    elif len(name) > 1 and "\u4e00" <= name[0] <= "\u9fff":
        # A Han surname read on its own, so that the given name's reading is remembered across
        # surnames (王建国, 李建国 …): a million residents have far fewer distinct given names.
        head, rest = list(_reading(name[0])), name[1:]
    return [p.lower() for p in head + list(_reading(rest)) if p and p.strip()]


@functools.lru_cache(maxsize=1 << 16)
def _reading(text: str) -> tuple[str, ...]:
    """pypinyin's reading of a given name (or a whole name without a known surname). Remembered:
    given names repeat far more than whole names do (建国, 秀英, 伟 …)."""
    from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

    # pypinyin reads a run of characters as a phrase only when its phrase dictionary has it; a
    # name none of whose runs is a phrase reads character by character (most given names: 20 µs
    # through pypinyin each, a dict lookup here). Anything else goes through pypinyin itself.
    n = len(text)
    if all(ord(c) in PINYIN_DICT for c in text) and not any(
        text[i:j] in PHRASES_DICT for i in range(n) for j in range(i + 2, n + 1)
    ):
        return tuple(r for c in text for r in _pypinyin(c))
    return _pypinyin(text)


@functools.lru_cache(maxsize=1 << 16)
def _pypinyin(text: str) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin  # ~0.2 s to load its dictionaries: only when writing

    # Style.NORMAL writes ü as "v" (lv, nv): what people type on a keyboard.
    return tuple(lazy_pinyin(text, style=Style.NORMAL, errors=lambda s: s.split()))


@functools.lru_cache(maxsize=1 << 16)
def name_keys(name: str) -> tuple[str, str]:
    """Remembered per name (a city repeats its names: imports look each one up once).

    张三 -> ("zhangsan", "zs"); 阿依古丽·买买提 -> ("ayiguli...", "aygl..."); Latin names kept."""
    cleaned = _NAME_SEPARATORS.sub(" ", unicodedata.normalize("NFKC", name or "")).strip()
    syl = [s for s in _syllables(cleaned) if _SYLLABLE.fullmatch(s)] if cleaned else []
    if not syl:
        return "", ""
    return "".join(syl)[:200], "".join(s[0] for s in syl)[:50]


# ---------------------------------------------------------------- addresses

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER_BEFORE_UNIT = re.compile(r"([零〇一二两三四五六七八九十百]+)(?=号|栋|幢|楼|单元|层|室|组|社|队|排|巷|弄)")
_BUILDING = re.compile(r"(\d+)(?:号楼|幢|座|栋)")
_ROOM = re.compile(r"(\d+)(?:室|号房)")
_DASHES = re.compile(r"[‐‑‒–—―－~～]")


class _DropTable(dict):  # type: ignore[type-arg]
    """str.translate table: punctuation, spaces, symbols and control characters (Unicode
    categories P*, Z*, S*, C*) map to None, dashes are kept; each character's category is
    looked up once and remembered (addresses repeat the same few hundred characters)."""

    def __missing__(self, code: int) -> int | None:
        c = chr(code)
        drop = c != "-" and unicodedata.category(c).startswith(("P", "Z", "S", "C"))
        self[code] = None if drop else code
        return self[code]


_DROP = _DropTable()


def _cn_number(text: str) -> str:
    """三 -> 3, 十二 -> 12, 二十 -> 20, 一百零五 -> 105, 一二 -> 12 (digit by digit)."""
    if "十" not in text and "百" not in text:
        return "".join(str(_CN_DIGITS[c]) for c in text)
    total, current = 0, 0
    for c in text:
        if c == "百":
            total += (current or 1) * 100
            current = 0
        elif c == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _CN_DIGITS[c]
    return str(total + current)


def normalise_address(text: str | None) -> str:
    """The comparable form of an address: what duplicate checks and address search use.

    Full-width to half-width, lower case, no spaces or punctuation (dashes kept as '-'),
    Chinese numerals before 号/栋/单元/室/组... as digits, 号楼/幢/座 as 栋, no 室:
    "人民路１２号 三号楼2单元501室" -> "人民路12号3栋2单元501".
    """
    if not text:
        return ""
    s = unicodedata.normalize("NFKC", text).lower()
    s = _DASHES.sub("-", s)
    s = s.translate(_DROP)
    s = _CN_NUMBER_BEFORE_UNIT.sub(lambda m: _cn_number(m.group(1)), s)
    s = _BUILDING.sub(r"\1栋", s)
    s = _ROOM.sub(r"\1", s)
    return s.strip("-")[:200]


def full_address(address: str, building: str | None = None, unit: str | None = None, room: str | None = None) -> str:
    """The address as written on a door: 人民路12号院 + 3 + 2 + 501 -> 人民路12号院3号楼2单元501室."""
    parts = [address]
    if building:
        parts.append(building + "号楼" if building.isdigit() else building)
    if unit:
        parts.append(unit + "单元" if unit.isdigit() else unit)
    if room:
        parts.append(room + "室" if room.isdigit() else room)
    return "".join(parts)


@functools.lru_cache(maxsize=1 << 14)
def normalised_address(address: str, building: str | None, unit: str | None, room: str | None) -> str:
    """normalise_address of the address as written on a door (full_address). Remembered: an
    import computes it for a row's duplicate key and again when the row is prepared."""
    return normalise_address(full_address(address, building, unit, room))


# A token: a run of digits, a run of Latin letters, a run of dashes, or any other single character
# (each CJK character starts a token). Dashes separate tokens but start none.
_TOKEN = re.compile(r"\d+|[a-zA-Z]+|-+|.", re.S)


def _token_starts(s: str) -> list[int]:
    return [m.start() for m in _TOKEN.finditer(s) if m.group()[0] != "-"]


def address_keys(address_norm: str) -> list[str]:
    """Index keys of a normalised address: its suffixes from each token start, cut to the key length."""
    seen: dict[str, None] = {}
    for i in _token_starts(address_norm):
        key = address_norm[i : i + ADDRESS_KEY_LEN]
        if key:
            seen.setdefault(key, None)
    return list(seen)


def successor(prefix: str) -> str:
    """The least string greater than every string that starts with `prefix` (code-point order)."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xE000
    if last > 0x10FFFF:
        return successor(prefix[:-1]) if len(prefix) > 1 else "\U0010ffff"
    return prefix[:-1] + chr(last)


def prefix_clause(column, prefix: str):  # type: ignore[no-untyped-def]
    """`column` starts with `prefix`, as a B-tree range both SQLite and PostgreSQL answer from an index."""
    from sqlalchemy import and_

    return and_(column >= prefix, column < successor(prefix))
