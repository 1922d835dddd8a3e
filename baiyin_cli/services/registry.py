"""The population base (人口底数): households, residents, their care tags, and the rules for them.

Layers, so that an importer can reuse every rule row by row:
  prepare_household / prepare_resident   pure: one record's fields (typed, or a spreadsheet row)
                                         -> column values; InvalidInput names the field
  check_* / find_*                       the database-dependent checks (grid exists, duplicates,
                                         head of household), callable one by one or in batches
  add_* / edit_* / move_* / archive_*    the commands: access, checks, write, audit, *_public

The --json contract is household_public / resident_public: stable English keys, ID numbers and
phones masked unless the operator may see them and asked (--reveal, audited), no birth date
unless revealed (it is half of the ID number), names of people with care tags masked for
operators who may not reveal them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import Conflict, InvalidInput, NotFound, UsageError, only_one
from baiyin_cli.i18n import M, get_lang
from baiyin_cli.models.registry import ETHNICITIES, HEAD_RELATION, RELATIONS
from baiyin_cli.services import audit, choices, validate
from baiyin_cli.services.access import (
    Operator,
    may_reveal,
    read_scope,
    require_area,
    require_reveal,
    scope_clause,
)
from baiyin_cli.services.privacy import mask_id, mask_name, mask_phone, scrub
from baiyin_cli.services.registry_keys import (
    address_keys,
    full_address,
    name_keys,
    normalised_address,
)

if TYPE_CHECKING:
    from sqlmodel import Session

    from baiyin_cli.models import Area, Household, Resident
    from baiyin_cli.services.crypto import Cipher

# ---------------------------------------------------------------- messages

HOUSEHOLD_NOT_FOUND = M("household.not_found", "找不到住户 {code}", "No household with code {code}")
HOUSEHOLD_EXISTS = M("household.exists", "户编号 {code} 已存在（{address}）", "Household code {code} already exists ({address})")
HOUSEHOLD_BAD_CODE = M(
    "household.bad_code",
    "户编号无效：{value}（字母、数字、连字符或下划线，最长 32 位）",
    "Invalid household code: {value} (letters, digits, '-' or '_', at most 32)",
)
HOUSEHOLD_BAD_GRID = M(
    "household.bad_grid", "网格代码应为 15 位数字：{value}", "A grid code has 15 digits: {value}"
)
HOUSEHOLD_NOT_GRID = M(
    "household.not_grid",
    "{code} 是{level}，不是网格：住户登记在网格下",
    "{code} is a {level}, not a grid: households belong to a grid",
)
HOUSEHOLD_BAD_TYPE = M(
    "household.bad_type",
    "住户类型无效：{value}（可选：{choices}）",
    "Invalid household type: {value} (one of: {choices})",
)
HOUSEHOLD_DUPLICATE = M(
    "household.duplicate",
    "网格 {grid} 已有同一地址的住户 {code}（{address}）；确是另一户请加 --force",
    "Grid {grid} already has a household at this address: {code} ({address}); add --force if this is another one",
)
HOUSEHOLD_ARCHIVED = M(
    "household.archived", "住户 {code} 已注销（{reason}）", "Household {code} is archived ({reason})"
)
HOUSEHOLD_NOT_ARCHIVED = M("household.not_archived", "住户 {code} 未注销", "Household {code} is not archived")
HOUSEHOLD_SAME_GRID = M("household.same_grid", "住户 {code} 已在网格 {grid}", "Household {code} is already in grid {grid}")
HOUSEHOLD_GRID_AND_COMMUNITY = M(
    "household.grid_and_community", "{options} 只能给一个", "Give only one of {options}"
)
HOUSEHOLD_NOTHING_TO_CHANGE = M("registry.nothing_to_change", "没有要修改的内容", "Nothing to change")

RESIDENT_NOT_FOUND = M("resident.not_found", "找不到居民 {ref}", "No resident {ref}")
RESIDENT_BAD_REF = M(
    "resident.bad_ref",
    "居民无效：{value}（居民编号，或 18 位公民身份号码）",
    "Invalid resident: {value} (a resident number, or an 18-character ID number)",
)
RESIDENT_ID_TAKEN = M(
    "resident.id_taken",
    "公民身份号码 {id} 已登记为居民 {name}（#{rid}，户 {household}）",
    "ID number {id} already belongs to resident {name} (#{rid}, household {household})",
)
RESIDENT_ID_TAKEN_ELSEWHERE = M(
    "resident.id_taken_elsewhere",
    "公民身份号码 {id} 已登记在您的管辖范围以外；请联系所在社区或管理员",
    "ID number {id} is already registered outside your area; ask that community or an admin",
)
RESIDENT_DUPLICATE = M(
    "resident.duplicate",
    "网格 {grid} 已有同名且出生日期相同的居民 {name}（#{rid}，户 {household}）；确是另一人请加 --force",
    "Grid {grid} already has a resident with this name and birth date: {name} (#{rid}, household {household}); "
    "add --force if this is someone else",
)
RESIDENT_NAME_DIGITS = M("resident.name_digits", "姓名不能含数字：{value}", "A name has no digits: {value}")
RESIDENT_BIRTH_MISMATCH = M(
    "resident.birth_mismatch",
    "出生日期 {typed} 与公民身份号码中的出生日期不一致",
    "Birth date {typed} disagrees with the one in the ID number",
)
RESIDENT_BAD_BIRTH = M(
    "resident.bad_birth", "出生日期无效：{value}（应为 YYYY-MM-DD，不晚于今天）", "Invalid birth date: {value} (YYYY-MM-DD, not in the future)"
)
RESIDENT_SEX_MISMATCH = M(
    "resident.sex_mismatch", "性别 {typed} 与公民身份号码不一致", "Sex {typed} disagrees with the ID number"
)
RESIDENT_BAD_SEX = M("resident.bad_sex", "性别无效：{value}（男/女 或 M/F）", "Invalid sex: {value} (M/F)")
RESIDENT_BAD_RELATION = M(
    "resident.bad_relation",
    "与户主关系无效：{value}（可选：{choices}）",
    "Invalid relation to the head: {value} (one of: {choices})",
)
RESIDENT_CHILD_SEX = M(
    "resident.child_sex",
    "与户主关系“{value}”需要知道性别：请给出公民身份号码或 --sex，或写 子/女",
    "Relation '{value}' needs the sex: give the ID number or --sex, or write son/daughter",
)
RESIDENT_BAD_ETHNICITY = M(
    "resident.bad_ethnicity",
    "民族无效：{value}（如 汉族、回族，或 GB/T 3304 代码 01–56）",
    "Invalid ethnicity: {value} (e.g. Han, Hui, or a GB/T 3304 code 01-56)",
)
RESIDENT_HEAD_EXISTS = M(
    "resident.head_exists",
    "户 {household} 已有户主 {name}（#{rid}）；变更户主请用 grid household set-head",
    "Household {household} already has a head, {name} (#{rid}); to change it use `grid household set-head`",
)
RESIDENT_NO_HEAD = M(
    "resident.no_head",
    "户 {household} 还没有户主：请先登记户主（--relation 02）",
    "Household {household} has no head yet: register the head first (--relation 02)",
)
RESIDENT_HEAD_LEAVES = M(
    "resident.head_leaves",
    "{name}（#{rid}）是户 {household} 的户主，户内还有其他成员：请先用 grid household set-head 指定新户主",
    "{name} (#{rid}) heads household {household}, which has other members: "
    "name a new head first with `grid household set-head`",
)
RESIDENT_HEAD_RELATION = M(
    "resident.head_relation",
    "户主的变更请用 grid household set-head（户内始终只有一位户主）",
    "Change the head with `grid household set-head` (a household always has exactly one head)",
)
RESIDENT_ARCHIVED = M("resident.archived", "居民 #{rid} 已注销（{reason}）", "Resident #{rid} is archived ({reason})")
RESIDENT_SAME_HOUSEHOLD = M(
    "resident.same_household", "居民 #{rid} 已在户 {household}", "Resident #{rid} is already in household {household}"
)
RESIDENT_NOT_MEMBER = M(
    "resident.not_member", "居民 #{rid} 不是户 {household} 的在册成员", "Resident #{rid} is not an active member of household {household}"
)
RESIDENT_ALREADY_HEAD = M("resident.already_head", "居民 #{rid} 已是户主", "Resident #{rid} is already the head")
RESIDENT_FORMER_HEAD = M(
    "resident.former_head",
    "原户主的新关系不能是户主：请给 --former 配偶/父母/子女…",
    "The former head's new relation cannot be head: give --former spouse/parent/son...",
)
CARE_UNKNOWN = M(
    "care.unknown", "关爱标签无效：{value}（可选：{choices}）", "Unknown care tag: {value} (one of: {choices})"
)
RECORD_RACE = M(
    "registry.race",
    "另一终端刚刚写入了冲突的记录（{what}），请重试",
    "Another terminal has just written a conflicting record ({what}); try again",
)

# Field names in messages, so a refusal names the field in the user's language.
FIELDS: dict[str, tuple[str, str]] = {
    "code": ("户编号", "code"),
    "grid": ("网格", "grid"),
    "address": ("地址", "address"),
    "building": ("楼栋", "building"),
    "unit": ("单元", "unit"),
    "room": ("房号", "room"),
    "note": ("备注", "note"),
    "reason": ("原因", "reason"),
    "household": ("户编号", "household"),
    "name": ("姓名", "name"),
    "relation": ("与户主关系", "relation"),
    "id_number": ("公民身份号码", "ID number"),
    "phone": ("联系电话", "phone"),
}

HOUSEHOLD_TYPES = {"urban": ("城镇", "urban"), "rural": ("农村", "rural")}
SEXES = {"M": ("男", "male"), "F": ("女", "female")}


def field_label(key: str) -> str:
    zh, en = FIELDS.get(key, (key, key))
    return en if get_lang() == "en" else zh


def _field_error(key: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a validator; tag its InvalidInput with the field key (for importers' error reports)."""
    try:
        return fn(*args, **kwargs)
    except InvalidInput as exc:
        exc.args_.setdefault("field_key", key)
        raise


# ---------------------------------------------------------------- reference data


def care_tags_config() -> dict[str, dict[str, Any]]:
    from baiyin_cli import config

    return dict(config.load().data.get("care_tags", {}))


def care_tag_of(value: str, tags: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """A care tag code from its code, Chinese or English label (独居老人, elderly_alone)."""
    tags = care_tags_config() if tags is None else tags
    named = {c: (str(e.get("zh") or c), str(e.get("en") or c)) for c, e in tags.items()}
    return choices.pick(named, value, CARE_UNKNOWN, field_key="care")


def care_tags_from(values: Iterable[str] | str | None) -> list[str]:
    """Care tags from repeated options, or one comma/、-separated cell; unique, in config order."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    parts = [p.strip() for item in values for p in _CARE_SEPARATORS.split(item or "") if p.strip()]
    if not parts:  # most rows of an import: no config read (it checks the file on each read)
        return []
    tags = care_tags_config()
    wanted: set[str] = set()
    for part in parts:
        # Spaces separate tags too (独居老人 低保户), unless the words are one tag's English name
        # ("Elderly living alone", as an English export writes it).
        words = _CARE_SPACES.split(part)
        if len(words) > 1:
            try:
                wanted.add(care_tag_of(part, tags))
                continue
            except InvalidInput:
                pass
        wanted.update(care_tag_of(w, tags) for w in words)
    return [c for c in tags if c in wanted]


_CARE_SEPARATORS = re.compile(r"[,，、;；]+")
_CARE_SPACES = re.compile(r"\s+")


def care_label(code: str) -> str:
    from baiyin_cli import config

    return config.load().label("care_tags", code)


_RELATION_WORDS: dict[str, str] = {
    # head
    "本人": "02", "户主": "02", "head": "02", "self": "02", "01": "02",
    # spouse
    "配偶": "10", "夫": "10", "妻": "10", "丈夫": "10", "妻子": "10", "spouse": "10", "husband": "10", "wife": "10",
    # children
    "子": "20", "儿子": "20", "son": "20", "女": "30", "女儿": "30", "daughter": "30",
    # grandchildren
    "孙子女": "40", "孙子": "40", "孙女": "40", "外孙": "40", "外孙子": "40", "外孙女": "40",
    "grandchild": "40", "grandson": "40", "granddaughter": "40",
    # parents
    "父母": "50", "父亲": "50", "母亲": "50", "父": "50", "母": "50", "公公": "50", "婆婆": "50",
    "岳父": "50", "岳母": "50", "parent": "50", "father": "50", "mother": "50",
    # grandparents
    "祖父母": "60", "祖父": "60", "祖母": "60", "爷爷": "60", "奶奶": "60", "外祖父": "60", "外祖母": "60",
    "姥爷": "60", "姥姥": "60", "外公": "60", "外婆": "60", "grandparent": "60", "grandfather": "60",
    "grandmother": "60",
    # siblings
    "兄弟姐妹": "70", "兄": "70", "弟": "70", "姐": "70", "妹": "70", "哥哥": "70", "弟弟": "70",
    "姐姐": "70", "妹妹": "70", "sibling": "70", "brother": "70", "sister": "70",
    # other relatives
    "其他亲属": "80", "儿媳": "80", "女婿": "80", "侄子": "80", "侄女": "80", "外甥": "80", "外甥女": "80",
    "叔叔": "80", "伯父": "80", "姑姑": "80", "舅舅": "80", "阿姨": "80", "other relative": "80", "relative": "80",
    "daughter-in-law": "80", "son-in-law": "80",
    # not related
    "非亲属": "99", "保姆": "99", "租户": "99", "租客": "99", "借住": "99", "non-relative": "99", "lodger": "99",
    "tenant": "99",
}
_CHILD_WORDS = {"子女", "child", "孩子", "儿女"}


def relation_of(value: str | None, sex: str | None = None) -> str:
    """A GB/T 4761 relation code (02 head, 10 spouse, 20 son, 30 daughter...) from a code or a name.

    Detailed codes (11 husband, 12 wife, 21 eldest son...) are kept at their group (10, 20...).
    "子女"/"child" become son or daughter by the person's sex.
    """
    v = unicodedata.normalize("NFKC", value or "").strip()
    if not v:
        raise InvalidInput(validate.REQUIRED, field=field_label("relation"), field_key="relation")
    low = v.lower()
    if low in _CHILD_WORDS:
        if sex not in ("M", "F"):
            raise InvalidInput(RESIDENT_CHILD_SEX, value=v, field_key="relation")
        return "20" if sex == "M" else "30"
    if re.fullmatch(r"\d{1,2}", v):
        code = v.zfill(2)
        if code in RELATIONS:
            return code
        if code == "01":
            return HEAD_RELATION
        group = code[0] + "0"
        if code[0] in "123456780" and group in RELATIONS and code[0] != "0":
            return group
        if code[0] == "9":
            return "99"
    else:
        if low in _RELATION_WORDS:
            return _RELATION_WORDS[low]
        for code, (zh, en) in RELATIONS.items():
            if v == zh or low == en:
                return code
    raise InvalidInput(
        RESIDENT_BAD_RELATION, value=v, choices=choices.listing(RELATIONS), field_key="relation"
    )


def relation_label(code: str | None) -> str:
    if not code:
        return ""
    zh, en = RELATIONS.get(code, (code, code))
    return en if get_lang() == "en" else zh


@functools.lru_cache(maxsize=512)
def ethnicity_of(value: str | None) -> str | None:
    """A GB/T 3304 code from a code (01, 3), a name (汉族, 汉, 回) or an English name (Han).
    Remembered: an import asks for the same few names a million times."""
    v = unicodedata.normalize("NFKC", value or "").strip()
    if not v:
        return None
    if v.isdigit() and v.zfill(2) in ETHNICITIES:
        return v.zfill(2)
    low = v.lower()
    for code, (zh, en) in ETHNICITIES.items():
        if v in (zh, zh.removesuffix("族")) or low == en.lower():
            return code
    raise InvalidInput(RESIDENT_BAD_ETHNICITY, value=v[:30], field_key="ethnicity")


def ethnicity_label(code: str | None) -> str:
    if not code:
        return ""
    zh, en = ETHNICITIES.get(code, (code, code))
    return en if get_lang() == "en" else zh


def sex_of(value: str | None) -> str | None:
    v = unicodedata.normalize("NFKC", value or "").strip()
    if not v:
        return None
    m = {"m": "M", "male": "M", "男": "M", "1": "M", "f": "F", "female": "F", "女": "F", "2": "F"}.get(v.lower())
    if m is None:
        raise InvalidInput(RESIDENT_BAD_SEX, value=v[:10], field_key="sex")
    return m


def sex_label(code: str | None) -> str:
    if not code:
        return ""
    zh, en = SEXES.get(code, (code, code))
    return en if get_lang() == "en" else zh


def household_type_of(value: str | None) -> str | None:
    """A household type by its code or name (rural, 农村, 农村户); None when blank."""
    v = unicodedata.normalize("NFKC", value or "").strip()
    if not v:
        return None
    code = choices.code_of(HOUSEHOLD_TYPES, v.removesuffix("户")) if v.endswith("户") else None
    return code or choices.pick(HOUSEHOLD_TYPES, v, HOUSEHOLD_BAD_TYPE, field_key="type")


def type_label(code: str | None) -> str:
    if not code:
        return ""
    zh, en = HOUSEHOLD_TYPES.get(code, (code, code))
    return en if get_lang() == "en" else zh


# ---------------------------------------------------------------- prepare (pure)


def _pick(values: Mapping[str, Any], *keys: str) -> Any:
    """The first of `keys` present in `values` (aliases: grid / grid_code, care / care_tags)."""
    for k in keys:
        if k in values:
            return values[k]
    return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():  # a number cell from a spreadsheet
        value = int(value)
    return str(value)


_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_GRID_RE = re.compile(r"^\d{15}$")


def household_code_of(value: Any) -> str:
    v = unicodedata.normalize("NFKC", _str(value) or "").strip()
    if not _CODE_RE.match(v):
        raise InvalidInput(HOUSEHOLD_BAD_CODE, value=v[:40], field_key="code")
    return v


def _part(f: validate.Fields, values: Mapping[str, Any], key: str, max_len: int) -> str | None:
    v = f.text(key, _str(_pick(values, key)), required=False, max_len=max_len)
    if v is None:
        return None
    return unicodedata.normalize("NFKC", v).replace(" ", "")


def prepare_household(session: Session | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise one household's fields into column values (nothing is read or written).

    Keys: code (optional), grid (or grid_code), address, building, unit, room, type (urban/rural,
    城镇/农村; None when absent: the grid decides), care (list or one separated string), note.
    Returns the column values plus `care` (a list of tag codes). Every refused field is named
    (InvalidFields when more than one).
    """
    f = validate.Fields(field_label)
    code_raw = _str(_pick(values, "code"))
    code = f.check("code", household_code_of, code_raw) if code_raw not in (None, "") else None
    grid = unicodedata.normalize("NFKC", _str(_pick(values, "grid", "grid_code")) or "").strip()
    if not grid:
        f.add(InvalidInput(validate.REQUIRED, field=field_label("grid"), field_key="grid"))
    elif not _GRID_RE.match(grid):
        f.add(InvalidInput(HOUSEHOLD_BAD_GRID, value=grid[:20], field_key="grid"))
    address = f.text("address", _str(_pick(values, "address")), max_len=200)
    building = _part(f, values, "building", 20)
    unit = _part(f, values, "unit", 20)
    room = _part(f, values, "room", 20)
    norm = normalised_address(address, building, unit, room) if address is not None else None
    if address is not None and not norm:
        f.add(InvalidInput(validate.REQUIRED, field=field_label("address"), field_key="address"))
    note = f.text("note", _str(_pick(values, "note")), required=False, max_len=1000)
    type_ = f.check("type", household_type_of, _str(_pick(values, "type")))
    care = f.check("care", care_tags_from, _pick(values, "care", "care_tags"))
    f.done()
    return {
        "code": code,
        "grid_code": grid,
        "address": address,
        "address_norm": norm,
        "building": building,
        "unit": unit,
        "room": room,
        "type": type_,
        "note": note,
        "care": care,
    }


def _birth_of(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        d = value.date()
    elif isinstance(value, date):
        d = value
    else:
        raw = unicodedata.normalize("NFKC", str(value)).strip().replace("/", "-").replace(".", "-")
        m = re.fullmatch(r"(\d{4})-?(\d{1,2})-?(\d{1,2})", raw) or re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日?", raw)
        try:
            if not m:
                raise ValueError
            d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise InvalidInput(RESIDENT_BAD_BIRTH, value=raw[:20], field_key="birth_date") from None
    if d.year < 1880 or d > timeutil.today():
        raise InvalidInput(RESIDENT_BAD_BIRTH, value=d.isoformat(), field_key="birth_date")
    return d


def prepare_resident(session: Session | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise one resident's fields into column values (nothing is read or written).

    Keys: household (code), name, id_number, birth_date, sex, phone, relation, ethnicity, care, note.
    Birth date and sex come from the ID number; typed ones must agree with it. Name pinyin and
    initials are computed here. Returns the column values plus `care` and `household` (the code).
    Every refused field is named (InvalidFields when more than one).
    """
    f = validate.Fields(field_label)
    name = f.text("name", _str(_pick(values, "name")), max_len=50)
    if name is not None:
        name = _SPACES.sub(" ", name)
        if any(c.isdigit() for c in name):
            f.add(InvalidInput(RESIDENT_NAME_DIGITS, value=name, field_key="name"))
    id_raw = _str(_pick(values, "id_number"))
    info = f.check("id_number", validate.id_number, id_raw) if id_raw and id_raw.strip() else None
    typed_birth = f.check("birth_date", _birth_of, _pick(values, "birth_date"))
    typed_sex = f.check("sex", sex_of, _str(_pick(values, "sex")))
    if info is not None:
        if typed_birth is not None and typed_birth != info.birth_date:
            f.add(InvalidInput(RESIDENT_BIRTH_MISMATCH, typed=typed_birth.isoformat(), field_key="birth_date"))
        if typed_sex is not None and typed_sex != info.sex:
            f.add(InvalidInput(RESIDENT_SEX_MISMATCH, typed=sex_label(typed_sex), field_key="sex"))
        birth, sex = info.birth_date, info.sex
    else:
        birth, sex = typed_birth, typed_sex
    phone = f.check("phone", validate.phone, _str(_pick(values, "phone")))
    relation = f.check("relation", relation_of, _str(_pick(values, "relation")), sex)
    if relation is None and sex is None and f.errors[-1].key == RESIDENT_CHILD_SEX.key:
        if any(e.args_.get("field_key") in ("id_number", "sex") for e in f.errors[:-1]):
            f.errors.pop()  # 子女 needs the sex the refused ID number or sex cell would have given
    ethnicity = f.check("ethnicity", ethnicity_of, _str(_pick(values, "ethnicity")))
    note = f.text("note", _str(_pick(values, "note")), required=False, max_len=1000)
    care = f.check("care", care_tags_from, _pick(values, "care", "care_tags"))
    f.done()
    pinyin, initials = name_keys(name)
    household = _str(_pick(values, "household", "household_code"))
    return {
        "household": household.strip() if household else None,
        "name": name,
        "name_pinyin": pinyin,
        "name_initials": initials,
        "id_number": info.number if info else None,
        "id_last4": info.number[-4:] if info else None,
        "birth_date": birth,
        "sex": sex,
        "phone": phone,
        "phone_last4": phone[-4:] if phone else None,
        "relation": relation,
        "ethnicity": ethnicity,
        "note": note,
        "care": care,
    }


_SPACES = re.compile(r"\s+")


HOUSEHOLD_COLUMNS = ("code", "grid_code", "address", "address_norm", "building", "unit", "room", "type", "note")
# Columns stored as prepared; the personal numbers (RESIDENT_SECRETS) are stored encrypted, each
# as `<name>_enc` and `<name>_hash` (services/crypto.py).
RESIDENT_COLUMNS = (
    "name", "name_pinyin", "name_initials", "id_last4", "birth_date", "sex",
    "phone_last4", "relation", "ethnicity", "note",
)
RESIDENT_SECRETS = ("id_number", "phone")


def resident_secret_columns(cipher: Cipher, values: Mapping[str, Any]) -> dict[str, bytes | None]:
    """The encrypted columns (ciphertext and lookup hash) of a prepared resident's ID number and phone."""
    return {
        **cipher.columns("resident.id_number", values.get("id_number")),
        **cipher.columns("resident.phone", values.get("phone")),
    }


def resident_clear(r: Any, cipher: Cipher | None = None) -> dict[str, str | None]:
    """{"id_number": ..., "phone": ...} of a stored resident (an ORM object or a row), decrypted."""
    if r.id_number_enc is None and r.phone_enc is None:
        return {"id_number": None, "phone": None}
    if cipher is None:
        from baiyin_cli.services import crypto

        cipher = crypto.for_object(r)
    return {
        "id_number": cipher.open(r.id_number_enc, "resident.id_number", r.id),
        "phone": cipher.open(r.phone_enc, "resident.phone", r.id),
    }


# ---------------------------------------------------------------- database checks


def get_grid(session: Session, code: str) -> Area:
    """The grid `code` (NotFound if missing, InvalidInput if that area is not a grid)."""
    from baiyin_cli.services.org import _label, get_area

    a = get_area(session, code)
    if a.level != "grid":
        raise InvalidInput(HOUSEHOLD_NOT_GRID, code=a.code, level=_label(a.level), field_key="grid")
    return a


def default_type(session: Session, grid_code: str) -> str:
    """Rural when the grid lies in a village (村), else urban."""
    from sqlmodel import select

    from baiyin_cli.models import Area

    name = session.exec(select(Area.name).where(Area.code == grid_code[:12])).first()
    return "rural" if name and name.endswith("村") else "urban"


def get_household(session: Session, code: str, *, lock: bool = False) -> Household:
    """The household with this code (户编号), archived or not; NotFound with a localised message.
    `lock`: its row locked until the transaction ends (PostgreSQL; SQLite has one writer), read
    as the last writer left it."""
    from sqlmodel import select

    from baiyin_cli.models import Household

    validate.not_blank(code, "住户编号", "Household code")
    c = unicodedata.normalize("NFKC", code or "").strip()
    q = select(Household).where(Household.code == c)
    if lock:
        q = q.with_for_update().execution_options(populate_existing=True)
    h = session.exec(q).first()
    if h is None:
        raise NotFound(HOUSEHOLD_NOT_FOUND, code=c)
    return h


def find_household_duplicate(
    session: Session, grid_code: str, address_norm: str, *, exclude_id: int | None = None
) -> Household | None:
    """An active household of the same grid at the same normalised address."""
    from sqlmodel import select

    from baiyin_cli.models import Household

    q = select(Household).where(
        Household.grid_code == grid_code,
        Household.address_norm == address_norm,
        Household.archived_at.is_(None),  # type: ignore[union-attr]
    )
    if exclude_id is not None:
        q = q.where(Household.id != exclude_id)
    return session.exec(q.order_by(Household.id)).first()


def next_household_code(session: Session, grid_code: str) -> str:
    """GRID-NNNN: the grid code and the next number among codes issued for that grid.

    The grid's row is locked first (PostgreSQL; SQLite writers already hold the database
    lock), so two terminals never issue the same code.
    """
    from sqlmodel import select

    from baiyin_cli.models import Area, Household
    from baiyin_cli.services.registry_keys import prefix_clause

    session.exec(select(Area.id).where(Area.code == grid_code).with_for_update()).first()
    prefix = grid_code + "-"
    codes = session.exec(select(Household.code).where(prefix_clause(Household.code, prefix))).all()
    numbers = [int(c[len(prefix):]) for c in codes if c[len(prefix):].isdigit()]
    n = (max(numbers) if numbers else 0) + 1
    # Equality lookups are exact under any collation; the range above is exact under "C"/BINARY.
    while session.exec(select(Household.id).where(Household.code == f"{prefix}{n:04d}")).first() is not None:
        n += 1
    return f"{prefix}{n:04d}"


def find_id_number_owner(session: Session, id_number: str, *, exclude_id: int | None = None) -> Resident | None:
    """The active resident holding this ID number (found by its keyed hash)."""
    from baiyin_cli.services import crypto

    return find_id_hash_owner(
        session, crypto.for_session(session).lookup(id_number, "resident.id_number"), exclude_id=exclude_id
    )


def find_id_hash_owner(session: Session, digest: bytes | None, *, exclude_id: int | None = None) -> Resident | None:
    """The active resident whose ID number has this lookup hash."""
    from sqlmodel import select

    from baiyin_cli.models import Resident

    q = select(Resident).where(Resident.id_number_hash == digest, Resident.archived_at.is_(None))  # type: ignore[union-attr]
    if exclude_id is not None:
        q = q.where(Resident.id != exclude_id)
    return session.exec(q).first()


def find_resident_duplicate(
    session: Session, grid_code: str, name: str, birth_date: date | None, *, exclude_id: int | None = None
) -> tuple[Resident, Household] | None:
    """An active resident of the same grid with the same name and birth date."""
    if birth_date is None:
        return None
    from sqlmodel import select

    from baiyin_cli.models import Household, Resident

    q = (
        select(Resident, Household)
        .join(Household, Household.id == Resident.household_id)  # type: ignore[arg-type]
        .where(
            Resident.name == name,
            Resident.birth_date == birth_date,
            Resident.archived_at.is_(None),  # type: ignore[union-attr]
            Household.grid_code == grid_code,
        )
    )
    if exclude_id is not None:
        q = q.where(Resident.id != exclude_id)
    row = session.exec(q.order_by(Resident.id)).first()
    return (row[0], row[1]) if row else None


def active_head(session: Session, household_id: int, *, exclude_id: int | None = None) -> Resident | None:
    from sqlmodel import select

    from baiyin_cli.models import Resident

    q = select(Resident).where(
        Resident.household_id == household_id,
        Resident.relation == HEAD_RELATION,
        Resident.archived_at.is_(None),  # type: ignore[union-attr]
    )
    if exclude_id is not None:
        q = q.where(Resident.id != exclude_id)
    return session.exec(q).first()


def active_member_count(session: Session, household_id: int, *, exclude_id: int | None = None) -> int:
    from sqlalchemy import func
    from sqlmodel import select

    from baiyin_cli.models import Resident

    q = select(func.count()).select_from(Resident).where(
        Resident.household_id == household_id, Resident.archived_at.is_(None)  # type: ignore[union-attr]
    )
    if exclude_id is not None:
        q = q.where(Resident.id != exclude_id)
    return int(session.exec(q).one())


def check_head_rule(session: Session, household: Household, relation: str, *, exclude_id: int | None = None) -> None:
    """Joining `household` with `relation` keeps exactly one head among its active members."""
    head = active_head(session, household.id, exclude_id=exclude_id)  # type: ignore[arg-type]
    if relation == HEAD_RELATION and head is not None:
        raise InvalidInput(
            RESIDENT_HEAD_EXISTS, household=household.code, name=head.name, rid=head.id, field_key="relation"
        )
    if relation != HEAD_RELATION and head is None:
        raise InvalidInput(RESIDENT_NO_HEAD, household=household.code, field_key="relation")


def check_resident_unique(
    session: Session,
    op: Operator | None,
    prepared: Mapping[str, Any],
    grid_code: str,
    *,
    exclude_id: int | None = None,
    force: bool = False,
) -> None:
    """The same ID number never belongs to two active residents; same name + birth date in the
    same grid is refused unless forced. Records outside the operator's scope are not named."""
    from baiyin_cli.services.access import in_scope

    if prepared.get("id_number"):
        owner = find_id_number_owner(session, prepared["id_number"], exclude_id=exclude_id)
        if owner is not None:
            from baiyin_cli.models import Household

            h = session.get(Household, owner.household_id)
            shown = mask_id(prepared["id_number"])
            if h is None or not in_scope(op, h.grid_code):
                raise InvalidInput(RESIDENT_ID_TAKEN_ELSEWHERE, id=shown, field_key="id_number")
            raise InvalidInput(
                RESIDENT_ID_TAKEN, id=shown, name=owner.name, rid=owner.id, household=h.code, field_key="id_number"
            )
    if not force:
        dup = find_resident_duplicate(
            session, grid_code, prepared["name"], prepared.get("birth_date"), exclude_id=exclude_id
        )
        if dup is not None:
            r, h = dup
            raise InvalidInput(
                RESIDENT_DUPLICATE, grid=grid_code, name=r.name, rid=r.id, household=h.code, field_key="name"
            )


# ---------------------------------------------------------------- care tags


def care_tags_of_households(session: Session, household_ids: Iterable[int]) -> dict[int, set[str]]:
    """Each household's own care tags together with those of its active residents.

    Every id asked for is in the answer (an empty set when it has none). Visit schedules take
    the shortest interval among these tags.
    """
    from sqlmodel import col, select

    from baiyin_cli.models import HouseholdCare, Resident, ResidentCare

    ids = sorted({int(i) for i in household_ids})
    out: dict[int, set[str]] = {i: set() for i in ids}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for hid, tag in session.exec(
            select(HouseholdCare.household_id, HouseholdCare.tag).where(col(HouseholdCare.household_id).in_(chunk))
        ):
            out[hid].add(tag)
        for hid, tag in session.exec(
            select(Resident.household_id, ResidentCare.tag)
            .join(ResidentCare, ResidentCare.resident_id == Resident.id)  # type: ignore[arg-type]
            .where(col(Resident.household_id).in_(chunk), col(Resident.archived_at).is_(None))
        ):
            out[hid].add(tag)
    return out


def _own_household_tags(session: Session, ids: Iterable[int]) -> dict[int, list[str]]:
    from sqlmodel import col, select

    from baiyin_cli.models import HouseholdCare

    ids = list(ids)
    out: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 5000):
        for hid, tag in session.exec(
            select(HouseholdCare.household_id, HouseholdCare.tag).where(
                col(HouseholdCare.household_id).in_(ids[start : start + 5000])
            )
        ):
            out[hid].append(tag)
    return {k: _ordered(v) for k, v in out.items()}


def _resident_tags(session: Session, ids: Iterable[int]) -> dict[int, list[str]]:
    from sqlmodel import col, select

    from baiyin_cli.models import ResidentCare

    ids = list(ids)
    out: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 5000):
        for rid, tag in session.exec(
            select(ResidentCare.resident_id, ResidentCare.tag).where(
                col(ResidentCare.resident_id).in_(ids[start : start + 5000])
            )
        ):
            out[rid].append(tag)
    return {k: _ordered(v) for k, v in out.items()}


def _ordered(tags: Iterable[str]) -> list[str]:
    """Tags in config order (unknown ones, from an older config, last)."""
    order = list(care_tags_config())
    tags = set(tags)
    return [t for t in order if t in tags] + sorted(t for t in tags if t not in order)


def _set_tags(session: Session, model: Any, owner_col: str, owner_id: int, tags: Iterable[str]) -> None:
    from sqlalchemy import delete, insert

    session.execute(delete(model).where(getattr(model, owner_col) == owner_id))
    rows = [{owner_col: owner_id, "tag": t} for t in tags]
    if rows:
        session.execute(insert(model), rows)


def address_key_changes(old_norm: str | None, new_norm: str) -> tuple[list[str], list[str]]:
    """(keys to delete, keys to add) when a household's normalised address goes from `old_norm`
    (None: a new household) to `new_norm`. The key table holds (key, household_id) alone, so a
    household's keys are found again from the address they were made from."""
    old = address_keys(old_norm) if old_norm else []
    new = address_keys(new_norm)
    return [k for k in old if k not in new], [k for k in new if k not in old]


def replace_address_keys(session: Session, household_id: int, old_norm: str | None, new_norm: str) -> None:
    from sqlalchemy import delete

    from baiyin_cli.models import HouseholdAddressKey

    t = HouseholdAddressKey.__table__
    gone, added = address_key_changes(old_norm, new_norm)
    if gone:
        session.execute(delete(t).where(t.c.key.in_(gone), t.c.household_id == household_id))
    add_address_keys(session, [{"household_id": household_id, "key": k} for k in added])


def add_address_keys(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert address key rows; one already there is left as it is (a key row that outlived its
    address, written by hand or by an older release, must not make an edit fail)."""
    if not rows:
        return
    from baiyin_cli.models import HouseholdAddressKey

    t = HouseholdAddressKey.__table__
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(t).on_conflict_do_nothing(), rows)


# ---------------------------------------------------------------- public forms (--json contract)


def age_on(birth: date | None, today: date | None = None) -> int | None:
    if birth is None:
        return None
    t = today or timeutil.today()
    return t.year - birth.year - ((t.month, t.day) < (birth.month, birth.day))


def household_public(
    h: Household,
    *,
    reveal: bool = False,
    care: Iterable[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A household as --json shows it. Notes have ID/phone numbers in them masked unless reveal."""
    return {
        "code": h.code,
        "grid": h.grid_code,
        "community": h.grid_code[:12],
        "address": h.address,
        "building": h.building,
        "unit": h.unit,
        "room": h.room,
        "full_address": full_address(h.address, h.building, h.unit, h.room),
        "type": h.type,
        "care": _ordered(care) if care is not None else [],
        "note": h.note if reveal else scrub(h.note),
        "archived": h.archived_at is not None,
        "archived_at": timeutil.iso(h.archived_at),
        "archive_reason": h.archive_reason,
        "created_at": timeutil.iso(h.created_at),
        "updated_at": timeutil.iso(h.updated_at),
        "version": h.version,
        **extra,
    }


def resident_public(
    r: Resident,
    *,
    reveal: bool = False,
    care: Iterable[str] | None = None,
    household: str | None = None,
    mask_names: bool = False,
    cipher: Cipher | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A resident as --json shows it (ID number and phone decrypted, then masked unless revealed).

    Masked unless `reveal`: id_number 620402********1234, phone 138****5678, no birth_date (its
    digits are the middle of the ID number; `age` is given instead), ID/phone numbers in the note.
    `mask_names` (for operators who may not reveal) also masks the name and its pinyin.
    """
    name = r.name
    pinyin = r.name_pinyin
    clear = resident_clear(r, cipher)
    if mask_names and not reveal:
        name = mask_name(r.name) or ""
        pinyin = None
    return {
        "id": r.id,
        "household": household,
        "name": name,
        "name_pinyin": pinyin,
        "sex": r.sex,
        "age": age_on(r.birth_date),
        "birth_date": r.birth_date.isoformat() if (reveal and r.birth_date) else None,
        "id_number": clear["id_number"] if reveal else mask_id(clear["id_number"]),
        "phone": clear["phone"] if reveal else mask_phone(clear["phone"]),
        "relation": r.relation,
        "ethnicity": r.ethnicity,
        "care": _ordered(care) if care is not None else [],
        "note": r.note if reveal else scrub(r.note),
        "archived": r.archived_at is not None,
        "archived_at": timeutil.iso(r.archived_at),
        "archive_reason": r.archive_reason,
        "created_at": timeutil.iso(r.created_at),
        "updated_at": timeutil.iso(r.updated_at),
        **extra,
    }


def _names_masked(op: Operator | None, grid_code: str, tags: Iterable[str]) -> bool:
    """Names of people with care tags are shown only to those who may reveal them there."""
    return bool(list(tags)) and not may_reveal(op, grid_code)


def _audit_reveal(
    session: Session, op: Operator | None, entity: str, key: str | None, resident_ids: list[int], command: str
) -> None:
    audit.record(
        session,
        op,
        f"{entity}.reveal",
        entity,
        key,
        detail={"command": command, "fields": ["id_number", "phone", "birth_date", "note"],
                "residents": resident_ids[:500], "count": len(resident_ids)},
    )


# ---------------------------------------------------------------- households


def _read_household(session: Session, op: Operator | None, code: str) -> Household:
    h = get_household(session, code)
    require_area(op, h.grid_code, write=False)
    return h


def _write_household(session: Session, op: Operator | None, code: str, *, lock: bool = False) -> Household:
    h = get_household(session, code, lock=lock)
    require_area(op, h.grid_code)
    return h


def _check_active(h: Household) -> None:
    if h.archived_at is not None:
        raise Conflict(HOUSEHOLD_ARCHIVED, code=h.code, reason=h.archive_reason or "-")


def _event(
    session: Session, op: Operator | None, h: Household, kind: str, *, from_grid: str | None = None,
    to_grid: str | None = None, note: str | None = None, at: datetime | None = None,
) -> None:
    from baiyin_cli.models import HouseholdEvent

    now = timeutil.now()
    session.add(
        HouseholdEvent(
            household_id=h.id,  # type: ignore[arg-type]
            kind=kind,
            from_grid=from_grid,
            to_grid=to_grid,
            note=note,
            actor=op.username if op else None,
            occurred_at=at or now,
            recorded_at=now,
        )
    )


def _flush(session: Session, what: str) -> None:
    """Flush, turning a unique-index race with another terminal into a Conflict."""
    from sqlalchemy.exc import IntegrityError

    try:
        session.flush()
    except IntegrityError:
        raise Conflict(RECORD_RACE, what=what) from None


def add_household(
    session: Session,
    op: Operator | None,
    values: Mapping[str, Any],
    *,
    force: bool = False,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Register a household in a grid. The code is generated (GRID-NNNN) when not given."""
    from sqlmodel import select

    from baiyin_cli.models import Household, HouseholdCare

    p = prepare_household(session, values)
    grid = get_grid(session, p["grid_code"])
    require_area(op, grid.code)
    if p["code"]:
        existing = session.exec(select(Household).where(Household.code == p["code"])).first()
        if existing is not None:
            raise Conflict(HOUSEHOLD_EXISTS, code=p["code"], address=existing.address)
    if not force:
        dup = find_household_duplicate(session, grid.code, p["address_norm"])
        if dup is not None:
            raise InvalidInput(
                HOUSEHOLD_DUPLICATE, grid=grid.code, code=dup.code,
                address=full_address(dup.address, dup.building, dup.unit, dup.room), field_key="address",
            )
    now = timeutil.now()
    h = Household(
        **{k: p[k] for k in HOUSEHOLD_COLUMNS if k not in ("code", "type")},
        code=p["code"] or next_household_code(session, grid.code),
        type=p["type"] or default_type(session, grid.code),
        created_at=now,
        updated_at=now,
    )
    session.add(h)
    _flush(session, h.code)
    _set_tags(session, HouseholdCare, "household_id", h.id, p["care"])  # type: ignore[arg-type]
    replace_address_keys(session, h.id, None, h.address_norm)  # type: ignore[arg-type]
    pub = household_public(h, care=p["care"])
    audit.record(session, op, "household.add", "household", h.code, after=pub, occurred_at=at)
    return pub


def _household_rows(session: Session, op: Operator | None, hs: list[Household]) -> list[dict[str, Any]]:
    """Households with member count, head and all their care tags, in three queries."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from baiyin_cli.models import Resident

    ids = [h.id for h in hs]
    counts: dict[int, int] = {}
    heads: dict[int, Resident] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        counts.update(
            session.exec(
                select(Resident.household_id, func.count())
                .where(col(Resident.household_id).in_(chunk), col(Resident.archived_at).is_(None))
                .group_by(Resident.household_id)
            ).all()
        )
        for r in session.exec(
            select(Resident).where(
                col(Resident.household_id).in_(chunk),
                col(Resident.archived_at).is_(None),
                Resident.relation == HEAD_RELATION,
            )
        ):
            heads[r.household_id] = r
    all_tags = care_tags_of_households(session, ids)  # type: ignore[arg-type]
    own = _own_household_tags(session, ids)  # type: ignore[arg-type]
    rows = []
    for h in hs:
        tags = all_tags.get(h.id, set())  # type: ignore[arg-type]
        head = heads.get(h.id)  # type: ignore[arg-type]
        head_name = None
        if head is not None:
            head_name = mask_name(head.name) if _names_masked(op, h.grid_code, tags) else head.name
        rows.append(
            household_public(
                h,
                care=own.get(h.id, []),  # type: ignore[arg-type]
                care_all=_ordered(tags),
                member_count=counts.get(h.id, 0),  # type: ignore[arg-type]
                head=head_name,
            )
        )
    return rows


def list_households(
    session: Session,
    op: Operator | None,
    *,
    grid: str | None = None,
    community: str | None = None,
    care: str | None = None,
    address: str | None = None,
    archived: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Households inside the operator's scope (narrowed to a grid or community), by code."""
    from sqlmodel import col, select

    from baiyin_cli.models import Household, HouseholdCare, Resident, ResidentCare

    only_one(HOUSEHOLD_GRID_AND_COMMUNITY, {"--grid": grid, "--community": community})
    area = None
    if grid:
        area = get_grid(session, grid).code
    elif community:
        from baiyin_cli.services.org import get_area

        area = get_area(session, community).code
    prefix = read_scope(op, area)
    q = select(Household).where(scope_clause(Household.grid_code, prefix))
    if not archived:
        q = q.where(col(Household.archived_at).is_(None))
    if care:
        tag = care_tag_of(care)
        own = select(HouseholdCare.household_id).where(HouseholdCare.tag == tag)
        members = (
            select(Resident.household_id)
            .join(ResidentCare, ResidentCare.resident_id == Resident.id)  # type: ignore[arg-type]
            .where(ResidentCare.tag == tag, col(Resident.archived_at).is_(None))
        )
        q = q.where(col(Household.id).in_(own) | col(Household.id).in_(members))
    if address:
        from baiyin_cli.services.registry_search import household_ids_at_address

        q = q.where(col(Household.id).in_(household_ids_at_address(address)))
    q = q.order_by(Household.code)
    if limit:
        q = q.limit(limit)
    return _household_rows(session, op, list(session.exec(q)))


def _members(session: Session, h: Household, *, include_archived: bool = False) -> list[Resident]:
    from sqlmodel import col, select

    from baiyin_cli.models import Resident

    q = select(Resident).where(Resident.household_id == h.id)
    if not include_archived:
        q = q.where(col(Resident.archived_at).is_(None))
    # The head first, then by relation code (spouse, children, ...) and age.
    rs = list(session.exec(q))
    rs.sort(key=lambda r: (r.archived_at is not None, r.relation, r.birth_date or date.max, r.id))
    return rs


def last_visit(session: Session, household_id: int) -> dict[str, Any] | None:
    """The most recent visit to the household that was not voided."""
    from sqlmodel import col, select

    from baiyin_cli.models import Visit

    v = session.exec(
        select(Visit)
        .where(Visit.household_id == household_id, col(Visit.voided_at).is_(None))
        .order_by(col(Visit.started_at).desc(), col(Visit.id).desc())
        .limit(1)
    ).first()
    if v is None:
        return None
    return {"id": v.id, "at": timeutil.iso(v.started_at), "worker": v.worker, "kind": v.kind, "minutes": v.minutes}


def history(session: Session, household_id: int) -> list[dict[str, Any]]:
    from sqlmodel import select

    from baiyin_cli.models import HouseholdEvent

    return [
        {
            "kind": e.kind,
            "from_grid": e.from_grid,
            "to_grid": e.to_grid,
            "note": scrub(e.note),
            "actor": e.actor,
            "occurred_at": timeutil.iso(e.occurred_at),
            "recorded_at": timeutil.iso(e.recorded_at),
        }
        for e in session.exec(
            select(HouseholdEvent)
            .where(HouseholdEvent.household_id == household_id)
            .order_by(HouseholdEvent.occurred_at, HouseholdEvent.id)
        )
    ]


def show_household(
    session: Session, op: Operator | None, code: str, *, reveal: bool = False, include_archived: bool = False
) -> dict[str, Any]:
    """A household with its members, care tags, last visit and history."""
    from baiyin_cli.services.org import get_area

    h = _read_household(session, op, code)
    if reveal:
        require_reveal(op, h.grid_code)
    members = _members(session, h, include_archived=include_archived)
    rtags = _resident_tags(session, [m.id for m in members])  # type: ignore[misc]
    own = _own_household_tags(session, [h.id]).get(h.id, [])  # type: ignore[list-item]
    all_tags = care_tags_of_households(session, [h.id]).get(h.id, set())  # type: ignore[list-item]
    masked = _names_masked(op, h.grid_code, all_tags)
    member_rows = [
        resident_public(m, reveal=reveal, care=rtags.get(m.id, []), household=h.code,  # type: ignore[arg-type]
                        mask_names=masked)
        for m in members
    ]
    head = next((m for m in member_rows if m["relation"] == HEAD_RELATION and not m["archived"]), None)
    if reveal:
        _audit_reveal(session, op, "household", h.code, [m.id for m in members], "household show")  # type: ignore[misc]
    grid = get_area(session, h.grid_code)
    return household_public(
        h,
        reveal=reveal,
        care=own,
        care_all=_ordered(all_tags),
        grid_name=grid.name,
        head=head["name"] if head else None,
        member_count=sum(1 for m in member_rows if not m["archived"]),
        members=member_rows,
        last_visit=last_visit(session, h.id),  # type: ignore[arg-type]
        history=history(session, h.id),  # type: ignore[arg-type]
    )


def edit_household(
    session: Session,
    op: Operator | None,
    code: str,
    changes: Mapping[str, Any],
    *,
    add_care: Iterable[str] = (),
    remove_care: Iterable[str] = (),
    force: bool = False,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Change address parts, type, note or care tags. An empty string clears an optional field."""
    from baiyin_cli.models import HouseholdCare

    # Locked: its address search keys are replaced from the address read here (replace_address_keys),
    # which another terminal must not change in between.
    h = _write_household(session, op, code, lock=True)
    _check_active(h)
    changes = {k: v for k, v in changes.items() if v is not None}
    add = care_tags_from(list(add_care))
    remove = care_tags_from(list(remove_care))
    if not changes and not add and not remove:
        raise UsageError(HOUSEHOLD_NOTHING_TO_CHANGE)
    own = _own_household_tags(session, [h.id]).get(h.id, [])  # type: ignore[list-item]
    current = {k: getattr(h, k) for k in ("address", "building", "unit", "room", "type", "note")}
    p = prepare_household(session, {**current, "grid": h.grid_code, "code": h.code, **changes, "care": own})
    tags = _ordered((set(own) | set(add)) - set(remove))
    if p["address_norm"] != h.address_norm and not force:
        dup = find_household_duplicate(session, h.grid_code, p["address_norm"], exclude_id=h.id)
        if dup is not None:
            raise InvalidInput(
                HOUSEHOLD_DUPLICATE, grid=h.grid_code, code=dup.code,
                address=full_address(dup.address, dup.building, dup.unit, dup.room), field_key="address",
            )
    before = household_public(h, care=own)
    old_norm = h.address_norm
    for k in ("address", "address_norm", "building", "unit", "room", "note"):
        setattr(h, k, p[k])
    h.type = p["type"] or h.type
    changed_fields = [k for k in ("address", "building", "unit", "room", "type", "note") if before[k] != getattr(h, k)]
    if not changed_fields and tags == own:
        raise UsageError(HOUSEHOLD_NOTHING_TO_CHANGE)
    if h.address_norm != old_norm:
        replace_address_keys(session, h.id, old_norm, h.address_norm)  # type: ignore[arg-type]
    if tags != own:
        _set_tags(session, HouseholdCare, "household_id", h.id, tags)  # type: ignore[arg-type]
    h.updated_at = timeutil.now()
    h.version += 1
    session.add(h)
    _flush(session, h.code)
    after = household_public(h, care=tags)
    audit.record(
        session, op, "household.edit", "household", h.code,
        before={k: before[k] for k in [*changed_fields, "care"]},
        after={k: after[k] for k in [*changed_fields, "care"]},
        occurred_at=at,
    )
    return after


def move_household(
    session: Session,
    op: Operator | None,
    code: str,
    grid: str,
    *,
    note: str | None = None,
    force: bool = False,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Move a household (and its residents) to another grid; the move stays in its history."""
    h = _write_household(session, op, code)
    _check_active(h)
    new = get_grid(session, grid)
    require_area(op, new.code)
    if new.code == h.grid_code:
        raise Conflict(HOUSEHOLD_SAME_GRID, code=h.code, grid=new.code)
    note = _field_error("note", validate.text, note, field_label("note"), required=False, max_len=1000)
    if not force:
        dup = find_household_duplicate(session, new.code, h.address_norm, exclude_id=h.id)
        if dup is not None:
            raise InvalidInput(
                HOUSEHOLD_DUPLICATE, grid=new.code, code=dup.code,
                address=full_address(dup.address, dup.building, dup.unit, dup.room), field_key="address",
            )
    old = h.grid_code
    h.grid_code = new.code
    h.updated_at = timeutil.now()
    h.version += 1
    session.add(h)
    _event(session, op, h, "move", from_grid=old, to_grid=new.code, note=note, at=at)
    _flush(session, h.code)
    audit.record(
        session, op, "household.move", "household", h.code,
        before={"grid": old}, after={"grid": new.code}, detail={"note": note} if note else None, occurred_at=at,
    )
    own = _own_household_tags(session, [h.id]).get(h.id, [])  # type: ignore[list-item]
    return household_public(h, care=own, from_grid=old)


def archive_household(
    session: Session, op: Operator | None, code: str, reason: str, *, at: datetime | None = None
) -> dict[str, Any]:
    """Archive (注销) a household and its active residents. Nothing is deleted: visits and
    petitions keep pointing at it."""
    from sqlmodel import col, select

    from baiyin_cli.models import Resident

    h = _write_household(session, op, code)
    _check_active(h)
    reason = _field_error("reason", validate.text, reason, field_label("reason"), max_len=500)
    when = at or timeutil.now()
    members = list(
        session.exec(select(Resident).where(Resident.household_id == h.id, col(Resident.archived_at).is_(None)))
    )
    for r in members:
        r.archived_at = when
        r.archive_reason = reason
        r.updated_at = timeutil.now()
        session.add(r)
    h.archived_at = when
    h.archive_reason = reason
    h.updated_at = timeutil.now()
    h.version += 1
    session.add(h)
    _event(session, op, h, "archive", note=reason, at=at)
    _flush(session, h.code)
    audit.record(
        session, op, "household.archive", "household", h.code,
        after={"archived_at": h.archived_at, "reason": reason},
        detail={"residents": [r.id for r in members]}, occurred_at=at,
    )
    own = _own_household_tags(session, [h.id]).get(h.id, [])  # type: ignore[list-item]
    return household_public(h, care=own, residents_archived=len(members))


def restore_household(
    session: Session, op: Operator | None, code: str, *, force: bool = False, at: datetime | None = None
) -> dict[str, Any]:
    """Undo an archive: the household becomes active again, with the residents archived with it."""
    from sqlmodel import col, select

    from baiyin_cli.models import Resident

    h = _write_household(session, op, code)
    if h.archived_at is None:
        raise Conflict(HOUSEHOLD_NOT_ARCHIVED, code=h.code)
    if not force:
        dup = find_household_duplicate(session, h.grid_code, h.address_norm, exclude_id=h.id)
        if dup is not None:
            raise InvalidInput(
                HOUSEHOLD_DUPLICATE, grid=h.grid_code, code=dup.code,
                address=full_address(dup.address, dup.building, dup.unit, dup.room), field_key="address",
            )
    together = list(
        session.exec(
            select(Resident).where(
                Resident.household_id == h.id,
                Resident.archived_at == h.archived_at,
                Resident.archive_reason == h.archive_reason,
            ).order_by(col(Resident.relation), col(Resident.id))
        )
    )
    # Members come back only with their head, and only if nobody else holds their ID number
    # meanwhile (registered anew elsewhere): otherwise they stay archived, to be registered again.
    back = [
        r for r in together
        if not (r.id_number_hash and find_id_hash_owner(session, r.id_number_hash, exclude_id=r.id))
    ]
    if not any(r.relation == HEAD_RELATION for r in back) or active_head(session, h.id) is not None:  # type: ignore[arg-type]
        back = []
    for r in back:
        r.archived_at = None
        r.archive_reason = None
        r.updated_at = timeutil.now()
        session.add(r)
    old_reason = h.archive_reason
    h.archived_at = None
    h.archive_reason = None
    h.updated_at = timeutil.now()
    h.version += 1
    session.add(h)
    _event(session, op, h, "restore", note=old_reason, at=at)
    _flush(session, h.code)
    restored = [r.id for r in back]
    left = [r.id for r in together if r not in back]
    audit.record(
        session, op, "household.restore", "household", h.code,
        detail={"residents": restored, "left_archived": left}, occurred_at=at,
    )
    own = _own_household_tags(session, [h.id]).get(h.id, [])  # type: ignore[list-item]
    return household_public(h, care=own, residents_restored=len(restored), residents_left_archived=len(left))


def set_head(
    session: Session,
    op: Operator | None,
    code: str,
    resident: str,
    former: str,
    *,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Make a member the head (户主变更); the former head takes the relation `former`."""
    h = _write_household(session, op, code)
    _check_active(h)
    new = get_resident(session, resident)
    if new.household_id != h.id or new.archived_at is not None:
        raise InvalidInput(RESIDENT_NOT_MEMBER, rid=new.id, household=h.code)
    if new.relation == HEAD_RELATION:
        raise Conflict(RESIDENT_ALREADY_HEAD, rid=new.id)
    old = active_head(session, h.id)  # type: ignore[arg-type]
    if old is not None:
        rel = relation_of(former, old.sex)
        if rel == HEAD_RELATION:
            raise InvalidInput(RESIDENT_FORMER_HEAD, field_key="relation")
        old.relation = rel
        old.updated_at = timeutil.now()
        session.add(old)
        session.flush()  # the one-head index sees the old head step down first
    before = {"head": old.id if old else None}
    new.relation = HEAD_RELATION
    new.updated_at = timeutil.now()
    session.add(new)
    _event(session, op, h, "head", note=f"#{old.id if old else '-'} -> #{new.id}", at=at)
    _flush(session, h.code)
    audit.record(
        session, op, "household.set_head", "household", h.code,
        before=before, after={"head": new.id, "former_head_relation": old.relation if old else None}, occurred_at=at,
    )
    return household_public(h, care=_own_household_tags(session, [h.id]).get(h.id, []), head=new.name)  # type: ignore[list-item]


# ---------------------------------------------------------------- residents


def get_resident(session: Session, ref: str | int) -> Resident:
    """A resident by number (#12, 12) or by 18-character ID number (the active one first)."""
    from sqlmodel import col, select

    from baiyin_cli.models import Resident

    validate.not_blank(ref, "居民编号或身份证号", "Resident number or ID number", error=InvalidInput)
    raw = unicodedata.normalize("NFKC", str(ref)).strip().lstrip("#")
    if raw.isdigit() and len(raw) <= 12:
        rid = validate.record_id(raw)
        r = session.get(Resident, rid) if rid is not None else None
        if r is None:
            raise NotFound(RESIDENT_NOT_FOUND, ref=f"#{raw}")
        return r
    if len(raw) == 18:
        from baiyin_cli.services import crypto

        number = raw.upper()
        digest = crypto.for_session(session).lookup(number, "resident.id_number")
        r = session.exec(
            select(Resident)
            .where(Resident.id_last4 == number[-4:], Resident.id_number_hash == digest)  # id_last4: an index
            .order_by(col(Resident.archived_at).is_not(None), col(Resident.id).desc())
        ).first()
        if r is None:
            raise NotFound(RESIDENT_NOT_FOUND, ref=mask_id(number))
        return r
    raise InvalidInput(RESIDENT_BAD_REF, value=mask_id(raw) if len(raw) > 8 else raw)


def _household_of(session: Session, r: Resident) -> Household:
    from baiyin_cli.models import Household

    h = session.get(Household, r.household_id)
    assert h is not None  # a foreign key
    return h


def _resident_out(
    session: Session, op: Operator | None, r: Resident, h: Household, *, reveal: bool = False, **extra: Any
) -> dict[str, Any]:
    tags = _resident_tags(session, [r.id]).get(r.id, [])  # type: ignore[list-item]
    htags = _own_household_tags(session, [h.id]).get(h.id, [])  # type: ignore[list-item]
    return resident_public(
        r,
        reveal=reveal,
        care=tags,
        household=h.code,
        mask_names=_names_masked(op, h.grid_code, set(tags) | set(htags)),
        household_care=htags,
        grid=h.grid_code,
        address=full_address(h.address, h.building, h.unit, h.room),
        **extra,
    )


def add_resident(
    session: Session,
    op: Operator | None,
    values: Mapping[str, Any],
    *,
    force: bool = False,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Register a resident in a household, keeping one head per household and one active
    record per ID number."""
    from baiyin_cli.models import Resident, ResidentCare

    p = prepare_resident(session, values)
    if not p["household"]:
        raise InvalidInput(validate.REQUIRED, field=field_label("household"), field_key="household")
    h = _write_household(session, op, p["household"])
    _check_active(h)
    check_resident_unique(session, op, p, h.grid_code, force=force)
    check_head_rule(session, h, p["relation"])
    from baiyin_cli.services import crypto

    now = timeutil.now()
    r = Resident(
        household_id=h.id,  # type: ignore[arg-type]
        **{k: p[k] for k in RESIDENT_COLUMNS},
        **resident_secret_columns(crypto.for_session(session), p),
        created_at=now,
        updated_at=now,
    )
    session.add(r)
    _flush(session, mask_id(p["id_number"]) or h.code)
    _set_tags(session, ResidentCare, "resident_id", r.id, p["care"])  # type: ignore[arg-type]
    out = _resident_out(session, op, r, h)
    audit.record(session, op, "resident.add", "resident", str(r.id), after=resident_public(r, care=p["care"], household=h.code), occurred_at=at)
    return out


def _read_resident(session: Session, op: Operator | None, ref: str) -> tuple[Resident, Household]:
    r = get_resident(session, ref)
    h = _household_of(session, r)
    require_area(op, h.grid_code, write=False)
    return r, h


def show_resident(session: Session, op: Operator | None, ref: str, *, reveal: bool = False) -> dict[str, Any]:
    r, h = _read_resident(session, op, ref)
    if reveal:
        require_reveal(op, h.grid_code)
        _audit_reveal(session, op, "resident", str(r.id), [r.id], "resident show")  # type: ignore[list-item]
    return _resident_out(session, op, r, h, reveal=reveal, relation_label=relation_label(r.relation))


def list_residents(
    session: Session,
    op: Operator | None,
    *,
    household: str | None = None,
    grid: str | None = None,
    community: str | None = None,
    care: str | None = None,
    archived: bool = False,
    reveal: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Residents inside the operator's scope, narrowed to a household, grid or community."""
    from sqlmodel import col, select

    from baiyin_cli.models import Household, HouseholdCare, Resident, ResidentCare

    only_one(HOUSEHOLD_GRID_AND_COMMUNITY, {"--household": household, "--grid": grid, "--community": community})
    q = select(Resident, Household).join(Household, Household.id == Resident.household_id)  # type: ignore[arg-type]
    if household:
        h = _read_household(session, op, household)
        q = q.where(Resident.household_id == h.id)
        prefix = h.grid_code
    else:
        area = get_grid(session, grid).code if grid else None
        if community:
            from baiyin_cli.services.org import get_area

            area = get_area(session, community).code
        prefix = read_scope(op, area)
        q = q.where(scope_clause(Household.grid_code, prefix))
    if reveal:
        require_reveal(op, prefix)
    if not archived:
        q = q.where(col(Resident.archived_at).is_(None))
    if care:
        tag = care_tag_of(care)
        mine = select(ResidentCare.resident_id).where(ResidentCare.tag == tag)
        theirs = select(HouseholdCare.household_id).where(HouseholdCare.tag == tag)
        q = q.where(col(Resident.id).in_(mine) | col(Resident.household_id).in_(theirs))
    q = q.order_by(Household.code, Resident.relation, Resident.id)
    if limit:
        q = q.limit(limit)
    rows = list(session.exec(q))
    out = _resident_rows(session, op, rows, reveal=reveal)
    if reveal and out:
        _audit_reveal(session, op, "resident", None, [r["id"] for r in out], "resident list")
    return out


def _resident_rows(
    session: Session, op: Operator | None, rows: list[tuple[Resident, Household]], *, reveal: bool = False,
    extra: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    rtags = _resident_tags(session, [r.id for r, _h in rows])  # type: ignore[misc]
    htags = _own_household_tags(session, {h.id for _r, h in rows})  # type: ignore[misc]
    out = []
    for r, h in rows:
        tags = rtags.get(r.id, [])  # type: ignore[arg-type]
        hts = htags.get(h.id, [])  # type: ignore[arg-type]
        out.append(
            resident_public(
                r,
                reveal=reveal,
                care=tags,
                household=h.code,
                mask_names=_names_masked(op, h.grid_code, set(tags) | set(hts)),
                household_care=hts,
                grid=h.grid_code,
                address=full_address(h.address, h.building, h.unit, h.room),
                **(extra or {}).get(r.id, {}),  # type: ignore[arg-type]
            )
        )
    return out


def edit_resident(
    session: Session,
    op: Operator | None,
    ref: str,
    changes: Mapping[str, Any],
    *,
    add_care: Iterable[str] = (),
    remove_care: Iterable[str] = (),
    force: bool = False,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Correct a resident's fields. An empty string clears an optional field; the head of
    household changes only through set-head."""
    from baiyin_cli.models import ResidentCare

    r = get_resident(session, ref)
    h = _household_of(session, r)
    require_area(op, h.grid_code)
    if r.archived_at is not None:
        raise Conflict(RESIDENT_ARCHIVED, rid=r.id, reason=r.archive_reason or "-")
    changes = {k: v for k, v in changes.items() if v is not None}
    add = care_tags_from(list(add_care))
    remove = care_tags_from(list(remove_care))
    if not changes and not add and not remove:
        raise UsageError(HOUSEHOLD_NOTHING_TO_CHANGE)
    own = _resident_tags(session, [r.id]).get(r.id, [])  # type: ignore[list-item]
    from baiyin_cli.services import crypto

    cipher = crypto.for_session(session)
    clear = resident_clear(r, cipher)
    current: dict[str, Any] = {
        "name": r.name, "id_number": clear["id_number"], "phone": clear["phone"], "relation": r.relation,
        "ethnicity": r.ethnicity, "note": r.note, "birth_date": r.birth_date, "sex": r.sex,
    }
    if clear["id_number"] or "id_number" in changes:
        # Birth date and sex follow the ID number; only explicitly typed ones are checked against it.
        current.pop("birth_date")
        current.pop("sex")
    p = prepare_resident(session, {**current, **changes, "care": own})
    if (p["relation"] == HEAD_RELATION) != (r.relation == HEAD_RELATION):
        raise InvalidInput(RESIDENT_HEAD_RELATION, field_key="relation")
    identity_changed = (p["id_number"], p["name"], p["birth_date"]) != (clear["id_number"], r.name, r.birth_date)
    if identity_changed:
        check_resident_unique(session, op, p, h.grid_code, exclude_id=r.id, force=force)
    tags = _ordered((set(own) | set(add)) - set(remove))
    changed = [k for k in RESIDENT_COLUMNS if getattr(r, k) != p[k]]
    changed_secrets = [k for k in RESIDENT_SECRETS if clear[k] != p[k]]
    if not changed and not changed_secrets and tags == own:
        raise UsageError(HOUSEHOLD_NOTHING_TO_CHANGE)
    before = resident_public(r, care=own, household=h.code, cipher=cipher)
    for k in changed:
        setattr(r, k, p[k])
    for k in changed_secrets:
        for column, value in cipher.columns(f"resident.{k}", p[k]).items():
            setattr(r, column, value)
    changed += changed_secrets
    if tags != own:
        _set_tags(session, ResidentCare, "resident_id", r.id, tags)  # type: ignore[arg-type]
    r.updated_at = timeutil.now()
    r.version += 1
    session.add(r)
    _flush(session, mask_id(p["id_number"]) or str(r.id))
    after = resident_public(r, care=tags, household=h.code, cipher=cipher)
    shown = [k for k in after if k not in ("updated_at", "created_at") and after[k] != before[k]]
    audit.record(
        session, op, "resident.edit", "resident", str(r.id),
        before={k: before[k] for k in shown}, after={k: after[k] for k in shown},
        detail={"fields": changed + (["care"] if tags != own else [])}, occurred_at=at,
    )
    return _resident_out(session, op, r, h)


def move_resident(
    session: Session,
    op: Operator | None,
    ref: str,
    household: str,
    relation: str,
    *,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Move a resident to another household (marriage, separation, moving in with children)."""
    r = get_resident(session, ref)
    old = _household_of(session, r)
    require_area(op, old.grid_code)
    if r.archived_at is not None:
        raise Conflict(RESIDENT_ARCHIVED, rid=r.id, reason=r.archive_reason or "-")
    new = _write_household(session, op, household)
    _check_active(new)
    if new.id == old.id:
        raise Conflict(RESIDENT_SAME_HOUSEHOLD, rid=r.id, household=new.code)
    rel = relation_of(relation, r.sex)
    if r.relation == HEAD_RELATION and active_member_count(session, old.id, exclude_id=r.id) > 0:  # type: ignore[arg-type]
        raise InvalidInput(RESIDENT_HEAD_LEAVES, name=r.name, rid=r.id, household=old.code)
    check_head_rule(session, new, rel)
    before = {"household": old.code, "relation": r.relation}
    r.relation = rel
    r.household_id = new.id  # type: ignore[assignment]
    r.updated_at = timeutil.now()
    r.version += 1
    session.add(r)
    _event(session, op, old, "member_out", to_grid=new.grid_code, note=f"#{r.id} -> {new.code}", at=at)
    _event(session, op, new, "member_in", from_grid=old.grid_code, note=f"#{r.id} <- {old.code}", at=at)
    _flush(session, str(r.id))
    audit.record(
        session, op, "resident.move", "resident", str(r.id),
        before=before, after={"household": new.code, "relation": rel}, occurred_at=at,
    )
    return _resident_out(session, op, r, new, from_household=old.code)


def archive_resident(
    session: Session, op: Operator | None, ref: str, reason: str, *, at: datetime | None = None
) -> dict[str, Any]:
    """Archive (注销) a resident: moved away, deceased. The record stays; the ID number is freed."""
    r = get_resident(session, ref)
    h = _household_of(session, r)
    require_area(op, h.grid_code)
    if r.archived_at is not None:
        raise Conflict(RESIDENT_ARCHIVED, rid=r.id, reason=r.archive_reason or "-")
    reason = _field_error("reason", validate.text, reason, field_label("reason"), max_len=500)
    if r.relation == HEAD_RELATION and active_member_count(session, h.id, exclude_id=r.id) > 0:  # type: ignore[arg-type]
        raise InvalidInput(RESIDENT_HEAD_LEAVES, name=r.name, rid=r.id, household=h.code)
    r.archived_at = at or timeutil.now()
    r.archive_reason = reason
    r.updated_at = timeutil.now()
    r.version += 1
    session.add(r)
    _event(session, op, h, "member_out", note=f"#{r.id}: {reason}", at=at)
    _flush(session, str(r.id))
    audit.record(
        session, op, "resident.archive", "resident", str(r.id),
        after={"archived_at": r.archived_at, "reason": reason}, occurred_at=at,
    )
    return _resident_out(session, op, r, h)


# ---------------------------------------------------------------- care tags


def care_list(session: Session | None = None, op: Operator | None = None) -> list[dict[str, Any]]:
    """The care tags from config, with counts inside the operator's scope when there is one."""
    counts_h: dict[str, int] = {}
    counts_r: dict[str, int] = {}
    counted = False
    if session is not None and op is not None and op.role != "department":
        from sqlalchemy import func
        from sqlmodel import col, select

        from baiyin_cli.models import Household, HouseholdCare, Resident, ResidentCare

        prefix = read_scope(op)
        counts_h = dict(
            session.exec(
                select(HouseholdCare.tag, func.count())
                .join(Household, Household.id == HouseholdCare.household_id)  # type: ignore[arg-type]
                .where(scope_clause(Household.grid_code, prefix), col(Household.archived_at).is_(None))
                .group_by(HouseholdCare.tag)
            ).all()
        )
        counts_r = dict(
            session.exec(
                select(ResidentCare.tag, func.count())
                .join(Resident, Resident.id == ResidentCare.resident_id)  # type: ignore[arg-type]
                .join(Household, Household.id == Resident.household_id)  # type: ignore[arg-type]
                .where(scope_clause(Household.grid_code, prefix), col(Resident.archived_at).is_(None))
                .group_by(ResidentCare.tag)
            ).all()
        )
        counted = True
    return [
        {
            "code": code,
            "zh": entry.get("zh", code),
            "en": entry.get("en", code),
            "interval_days": entry.get("interval_days"),
            "households": counts_h.get(code, 0) if counted else None,
            "residents": counts_r.get(code, 0) if counted else None,
        }
        for code, entry in care_tags_config().items()
    ]
