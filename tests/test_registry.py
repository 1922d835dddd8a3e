"""Household registry: households, residents, care tags, search, masking and scope, through the
real `grid` command on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from tests.conftest import listed_choices
from tests.test_idnumber import make_id

A = ("--as", "admin")
G11, G12, G21 = "620402001001001", "620402001001002", "620402001002001"

# People of the small city. Birth digits are what masking must never print.
ZHANG_ID = make_id("620402", date(1956, 3, 17), 123)  # a man born before 1985 (stdnum alone refuses him)
LI_ID = make_id("620402", date(1958, 7, 2), 244)
CHILD_ID = make_id("620403", date(1986, 11, 9), 35)
ZHANG_PHONE = "13912345678"
WIDE = {"COLUMNS": "300"}  # tables off a TTY are as wide as COLUMNS: no wrapped numbers to miss


def household(grid, grid_code, address, *more, as_=A, expect=0):
    r = grid(*as_, "household", "add", "--grid", grid_code, "--address", address, *more, "--json", expect=expect)
    return r.json() if expect == 0 else r


def resident(grid, hh, name, relation, *more, as_=A, expect=0):
    r = grid(*as_, "resident", "add", "--household", hh, "--name", name, "--relation", relation, *more, "--json",
             expect=expect)
    return r.json() if expect == 0 else r


@pytest.fixture
def family(grid, city):
    """张三 (head, 独居老人 tag), 李四 (spouse), 张小明 (son, born 1986) at 人民路12号院3号楼2单元501室 in grid 11."""
    h = household(grid, G11, "人民路12号院", "--building", "3", "--unit", "2", "--room", "501", "--care", "low_income")
    head = resident(grid, h["code"], "张三", "户主", "--id-number", ZHANG_ID, "--phone", ZHANG_PHONE,
                    "--care", "elderly_alone", "--ethnicity", "回族")
    spouse = resident(grid, h["code"], "李四", "配偶", "--id-number", LI_ID, "--phone", "0943-8221234")
    child = resident(grid, h["code"], "张小明", "子女", "--id-number", CHILD_ID)
    return {"household": h, "head": head, "spouse": spouse, "child": child}


# ---------------------------------------------------------------- the whole flow


def test_household_and_resident_flow(grid, family):
    h = family["household"]
    assert h["code"] == f"{G11}-0001" and h["type"] == "urban"
    assert h["full_address"] == "人民路12号院3号楼2单元501室"
    head, child = family["head"], family["child"]
    assert head["relation"] == "02" and head["sex"] == "M" and head["ethnicity"] == "03"
    assert head["name_pinyin"] == "zhangsan" and head["age"] == date.today().year - 1956 - (
        (date.today().month, date.today().day) < (3, 17))
    assert child["relation"] == "20"  # 子女 + a man's ID number = son
    second = household(grid, G11, "人民路14号")
    assert second["code"] == f"{G11}-0002"

    shown = grid(*A, "household", "show", h["code"], "--json").json()
    assert [m["name"] for m in shown["members"]] == ["张三", "李四", "张小明"]
    assert shown["head"] == "张三" and shown["care"] == ["low_income"] and shown["member_count"] == 3
    assert shown["care_all"] == ["elderly_alone", "low_income"]
    assert shown["last_visit"] is None and shown["grid_name"] == "网格11"

    rows = grid(*A, "household", "list", "--grid", G11, "--json").json()
    assert [(r["code"], r["member_count"], r["head"]) for r in rows] == [(h["code"], 3, "张三"), (second["code"], 0, None)]
    assert [r["code"] for r in grid(*A, "household", "list", "--care", "elderly_alone", "--json").json()] == [h["code"]]
    assert [r["code"] for r in grid(*A, "household", "list", "--address", "人民路14", "--json").json()] == [second["code"]]
    assert len(grid(*A, "household", "list", "--limit", "1", "--json").json()) == 1

    grid(*A, "household", "edit", h["code"], "--note", "门口有坡道", "--add-care", "disabled", "--remove-care", "低保户")
    edited = grid(*A, "household", "show", h["code"], "--json").json()
    assert edited["care"] == ["disabled"] and edited["note"] == "门口有坡道" and edited["version"] == 2
    grid(*A, "household", "edit", h["code"], "--note", "门口有坡道", expect=2)  # nothing changes

    moved = grid(*A, "household", "move", h["code"], "--grid", G12, "--note", "网格调整", "--at", "2026-03-01 10:00",
                 "--json").json()
    assert moved["grid"] == G12 and moved["from_grid"] == G11
    hist = grid(*A, "household", "show", h["code"], "--json").json()["history"]
    assert hist[-1]["kind"] == "move" and (hist[-1]["from_grid"], hist[-1]["to_grid"]) == (G11, G12)
    assert hist[-1]["occurred_at"] == "2026-03-01T10:00:00+08:00" and hist[-1]["actor"] == "admin"
    grid(*A, "household", "move", h["code"], "--grid", G12, expect=5)
    grid(*A, "household", "move", h["code"], "--grid", "620402001001", expect=1)  # a community, not a grid

    archived = grid(*A, "household", "archive", h["code"], "--reason", "整户迁出", "--json").json()
    assert archived["archived"] and archived["residents_archived"] == 3
    assert h["code"] not in [r["code"] for r in grid(*A, "household", "list", "--json").json()]
    assert h["code"] in [r["code"] for r in grid(*A, "household", "list", "--archived", "--json").json()]
    grid(*A, "household", "archive", h["code"], "--reason", "again", expect=5)
    grid(*A, "resident", "add", "--household", h["code"], "--name", "新人", "--relation", "02", expect=5)
    restored = grid(*A, "household", "restore", h["code"], "--json").json()
    assert restored["residents_restored"] == 3 and not restored["archived"]
    grid(*A, "household", "restore", h["code"], expect=5)
    grid(*A, "household", "archive", h["code"], "--reason", "整户迁出")
    # The ID number of an archived resident is free again (moved, registered anew): then the
    # family cannot come back without its head, and stays archived.
    other = household(grid, G21, "兴华路1号")
    resident(grid, other["code"], "张三", "02", "--id-number", ZHANG_ID)
    restored = grid(*A, "household", "restore", h["code"], "--json").json()
    assert (restored["residents_restored"], restored["residents_left_archived"]) == (0, 3)
    grid(*A, "household", "show", "NOPE-1", expect=3)
    audit = grid(*A, "audit", "list", "--entity", "household", "--key", h["code"], "--json").json()
    assert [e["action"] for e in reversed(audit)] == [
        "household.add", "household.edit", "household.move", "household.archive", "household.restore",
        "household.archive", "household.restore"]


def test_resident_edit_move_archive_and_head_rules(grid, family):
    hh = family["household"]["code"]
    head, spouse, child = family["head"], family["spouse"], family["child"]
    r = resident(grid, hh, "王五", "02", expect=1).stderr
    assert "已有户主" in r and "张三" in r
    empty = household(grid, G11, "人民路20号")
    assert "还没有户主" in resident(grid, empty["code"], "赵六", "配偶", expect=1).stderr
    # The head's relation changes only through set-head; that keeps exactly one head.
    grid(*A, "resident", "edit", str(child["id"]), "--relation", "02", expect=1)
    grid(*A, "resident", "edit", str(head["id"]), "--relation", "10", expect=1)
    out = grid(*A, "household", "set-head", hh, str(child["id"]), "--former", "父母", "--json").json()
    assert out["head"] == "张小明"
    members = {m["name"]: m["relation"] for m in grid(*A, "household", "show", hh, "--json").json()["members"]}
    assert members == {"张小明": "02", "张三": "50", "李四": "10"}
    # Edit: a phone, a typed birth date that disagrees with the ID number, care tags.
    e = grid(*A, "resident", "edit", str(spouse["id"]), "--phone", "13700001111", "--add-care", "empty_nest", "--json").json()
    assert e["phone"] == "137****1111" and e["care"] == ["empty_nest"]
    assert "出生日期" in grid(*A, "resident", "edit", str(spouse["id"]), "--birth-date", "1960-01-01", expect=1).stderr
    grid(*A, "resident", "edit", str(spouse["id"]), "--birth-date", "1958-07-02", expect=2)  # agrees: nothing changes
    grid(*A, "resident", "edit", str(spouse["id"]), "--phone", "", "--json")
    assert grid(*A, "resident", "show", str(spouse["id"]), "--json").json()["phone"] is None
    # Move: the head cannot leave members behind; a member can.
    new_home = household(grid, G12, "公园路3号")
    grid(*A, "resident", "move", str(child["id"]), "--household", new_home["code"], "--relation", "02", expect=1)
    moved = grid(*A, "resident", "move", str(head["id"]), "--household", new_home["code"], "--relation", "02",
                 "--json").json()
    assert moved["household"] == new_home["code"] and moved["from_household"] == hh and moved["relation"] == "02"
    # Archive: a member, by ID number; the record stays and shows the reason.
    grid(*A, "resident", "archive", LI_ID, "--reason", "去世")
    shown = grid(*A, "resident", "show", str(spouse["id"]), "--json").json()
    assert shown["archived"] and shown["archive_reason"] == "去世"
    grid(*A, "resident", "archive", str(spouse["id"]), "--reason", "x", expect=5)
    grid(*A, "resident", "edit", str(spouse["id"]), "--name", "李四四", expect=5)
    assert [r["name"] for r in grid(*A, "resident", "list", "--household", hh, "--json").json()] == ["张小明"]
    assert len(grid(*A, "resident", "list", "--household", hh, "--archived", "--json").json()) == 2
    grid(*A, "resident", "show", "99999", expect=3)
    grid(*A, "resident", "show", "abc", expect=1)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (("--id-number", ZHANG_ID[:-1] + ("0" if ZHANG_ID[-1] != "0" else "1")), "校验位"),
        (("--id-number", "62040219560230" + "1234"), "公民身份号码"),
        (("--id-number", make_id("999999", date(1956, 3, 17), 123)), "地区码"),
        (("--id-number", "6204021956"), "18 位"),
        (("--phone", "12345678901"), "联系电话"),
        (("--phone", "0943-12"), "联系电话"),
        (("--birth-date", "2099-01-01"), "出生日期"),
        (("--id-number", make_id("620402", date(1990, 5, 5), 11), "--birth-date", "1990-05-06"), "出生日期"),
        (("--id-number", make_id("620402", date(1990, 5, 5), 11), "--sex", "女"), "性别"),
        (("--care", "rich"), "关爱标签"),
        (("--ethnicity", "火星族"), "民族"),
    ],
)
def test_refusals_are_one_line_exit_1_naming_the_field(grid, city, extra, fragment):
    h = household(grid, G11, "人民路1号")
    r = resident(grid, h["code"], "周七", "02", *extra, expect=1)
    assert fragment in r.stderr
    assert grid(*A, "resident", "list", "--json").json() == []  # nothing half-written


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("--name", "周7", "--relation", "02"), "姓名"),
        (("--name", "周七", "--relation", "boss"), "与户主关系"),
        (("--name", "周七", "--relation", "child"), "性别"),
        (("--name", "  ", "--relation", "02"), "姓名"),
    ],
)
def test_resident_field_refusals(grid, city, args, fragment):
    h = household(grid, G11, "人民路1号")
    r = grid(*A, "resident", "add", "--household", h["code"], *args, expect=1)
    assert fragment in r.stderr


def test_english_refusals_begin_with_a_capital(grid, city):
    """Regression: an English refusal led by a field's label read "relation is required"."""
    h = household(grid, G11, "人民路1号")
    r = grid("--lang", "en", *A, "resident", "add", "--household", h["code"], "--name", "周七", "--relation", " ",
             expect=1)
    assert r.stderr.strip() == "grid: error: Relation is required"
    r = grid("--lang", "en", *A, "household", "add", "--grid", G11, "--address", "x" * 201, expect=1)
    assert r.stderr.strip() == "grid: error: Address is too long (at most 200 characters)"


def test_household_refusals(grid, city):
    assert "网格" in household(grid, "6204", "x", expect=1).stderr
    grid(*A, "household", "add", "--grid", "620402009009009", "--address", "x", expect=3)
    assert "地址" in household(grid, G11, "   ", expect=1).stderr
    # Undecodable argv bytes arrive as lone surrogates; refused, never a traceback from the driver.
    assert "地址" in household(grid, G11, "人民路\udcff号", expect=1).stderr
    assert "住户类型" in household(grid, G11, "人民路1号", "--type", "castle", expect=1).stderr
    assert "户编号" in household(grid, G11, "人民路1号", "--code", "bad code!", expect=1).stderr
    household(grid, G11, "人民路1号", "--code", "HH-1")
    r = household(grid, G12, "人民路2号", "--code", "HH-1", expect=5)
    assert "HH-1" in r.stderr
    grid(*A, "household", "add", "--grid", G11, expect=2)  # off a TTY a missing field is a usage error
    grid(*A, "household", "list", "--grid", G11, "--community", "620402001001", expect=2)


def test_care_tags_and_household_types_refused_with_each_choice_named_once(grid, city):
    """Regression: care tags were taken by name but refused with a list of codes only."""
    from baiyin_cli import config

    tags = list(config.load().data["care_tags"])
    h = household(grid, G11, "人民路3号", "--care", "独居老人", "--care", "Veteran", "--type", "农村户")
    assert h["care"] == ["elderly_alone", "veteran"] and h["type"] == "rural"
    r = household(grid, G11, "人民路4号", "--care", "富人", expect=1)
    assert "（可选：elderly_alone 独居老人、empty_nest 空巢老人、" in r.stderr
    assert listed_choices(r.stderr) == tags
    r = grid("--lang", "en", *A, "household", "add", "--grid", G11, "--address", "x", "--care", "rich", expect=1)
    assert "(one of: elderly_alone (Elderly living alone), empty_nest (Empty-nest elderly), " in r.stderr
    assert listed_choices(r.stderr) == tags
    r = household(grid, G11, "人民路4号", "--type", "castle", expect=1)
    assert r.stderr.strip() == "grid: 错误：住户类型无效：castle（可选：urban 城镇、rural 农村）"
    r = grid("--lang", "en", *A, "household", "add", "--grid", G11, "--address", "x", "--type", "castle", expect=1)
    assert r.stderr.strip() == "grid: error: Invalid household type: castle (one of: urban, rural)"
    r = grid("--lang", "en", *A, "resident", "add", "--household", h["code"], "--name", "周七", "--relation", "boss",
             expect=1)
    assert "(one of: 02 (head), 10 (spouse), " in r.stderr and "配偶" not in r.stderr


def test_rural_type_follows_the_village(grid, city):
    grid(*A, "area", "add", "620402001003", "四龙村", "--level", "community")
    grid(*A, "area", "add", "620402001003001", "一组", "--level", "grid")
    assert household(grid, "620402001003001", "四龙村三社45号")["type"] == "rural"
    assert household(grid, "620402001003001", "四龙村三社46号", "--type", "城镇")["type"] == "urban"


# ---------------------------------------------------------------- duplicates


def test_duplicate_refusals(grid, family):
    hh = family["household"]
    # The same address written differently (full-width digits, Chinese numerals, 栋 for 号楼, 室).
    r = household(grid, G11, "人民路１２号院 三栋2单元501", expect=1)
    assert hh["code"] in r.stderr and "--force" in r.stderr
    assert household(grid, G11, "人民路１２号院 三栋2单元501", "--force")["code"] == f"{G11}-0002"
    household(grid, G12, "人民路12号院3号楼2单元501室")  # another grid: not a duplicate
    # The same ID number never belongs to two active residents, --force or not.
    other = household(grid, G11, "人民路30号")
    for force in ((), ("--force",)):
        r = resident(grid, other["code"], "张三", "02", "--id-number", ZHANG_ID.lower(), *force, expect=1)
        assert "张三" in r.stderr and hh["code"] in r.stderr and "620402********" in r.stderr
    # Same name and birth date in the same grid: refused unless --force.
    r = resident(grid, other["code"], "李四", "02", "--birth-date", "1958-07-02", expect=1)
    assert "李四" in r.stderr and f"#{family['spouse']['id']}" in r.stderr
    resident(grid, other["code"], "李四", "02", "--birth-date", "1958-07-02", "--force")


def test_a_duplicate_outside_scope_is_refused_without_naming_it(grid, family):
    h = household(grid, G12, "公园路1号", as_=("--as", "wg12"))
    r = resident(grid, h["code"], "某人", "02", "--id-number", ZHANG_ID, as_=("--as", "wg12"), expect=1)
    assert "管辖范围以外" in r.stderr
    assert "张三" not in r.stderr and family["household"]["code"] not in r.stderr


# ---------------------------------------------------------------- personal data


def _leaks(text: str) -> list[str]:
    """Pieces of the family's birth dates or full phone numbers present in `text`."""
    out = []
    for number in (ZHANG_ID, LI_ID, CHILD_ID):
        birth = number[6:14]
        for form in (birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}", number):
            if form in text:
                out.append(form)
    for phone in (ZHANG_PHONE, "8221234"):
        if phone in text:
            out.append(phone)
    return out


def test_masking_never_prints_birth_digits_or_phones(grid, family):
    hh = family["household"]["code"]
    outputs = [
        grid(*A, "resident", "show", str(family["head"]["id"]), env=WIDE),
        grid(*A, "resident", "show", str(family["head"]["id"]), "--json"),
        grid(*A, "resident", "list", env=WIDE),
        grid(*A, "resident", "list", "--json"),
        grid(*A, "resident", "search", "zs", env=WIDE),
        grid(*A, "resident", "search", ZHANG_ID[-4:], "--json"),
        grid(*A, "resident", "search", ZHANG_ID, "--json"),
        grid(*A, "household", "show", hh, env=WIDE),
        grid(*A, "household", "show", hh, "--json"),
        grid(*A, "household", "list", "--json"),
        grid(*A, "audit", "list", "--json"),
        grid("--lang", "en", *A, "resident", "show", str(family["child"]["id"]), "--json"),
        resident(grid, hh, "张三", "02", "--id-number", ZHANG_ID, expect=1),  # an error line
    ]
    for r in outputs:
        assert _leaks(r.stdout + r.stderr) == [], r
    j = grid(*A, "resident", "show", str(family["head"]["id"]), "--json").json()
    assert j["id_number"] == ZHANG_ID[:6] + "********" + ZHANG_ID[-4:]
    assert j["phone"] == "139****5678" and j["birth_date"] is None and j["age"] >= 69
    spouse = grid(*A, "resident", "show", str(family["spouse"]["id"]), "--json").json()
    assert spouse["phone"] == "0943-***1234"


def test_notes_with_numbers_are_scrubbed(grid, family):
    grid(*A, "resident", "edit", str(family["head"]["id"]), "--note", f"儿子电话 13800001234，身份证 {CHILD_ID}")
    note = grid(*A, "resident", "show", str(family["head"]["id"]), "--json").json()["note"]
    assert "13800001234" not in note and CHILD_ID not in note and "138****1234" in note
    revealed = grid(*A, "resident", "show", str(family["head"]["id"]), "--reveal", "--json").json()
    assert CHILD_ID in revealed["note"]


def test_reveal_is_permitted_by_role_and_scope_and_audited(grid, family):
    rid = str(family["head"]["id"])
    for who in ("admin", "sec1", "wg11"):
        j = grid("--as", who, "resident", "show", rid, "--reveal", "--json").json()
        assert j["id_number"] == ZHANG_ID and j["phone"] == ZHANG_PHONE and j["birth_date"] == "1956-03-17"
    grid("--as", "wg12", "resident", "show", rid, "--reveal", expect=4)  # same community, other grid
    grid("--as", "sec2", "resident", "show", rid, "--reveal", expect=4)
    grid("--as", "view", "resident", "show", rid, "--reveal", expect=4)
    grid("--as", "view", "resident", "search", "zs", "--reveal", expect=4)
    listed = grid("--as", "wg11", "resident", "list", "--reveal", "--json").json()
    assert ZHANG_ID in {r["id_number"] for r in listed}
    found = grid("--as", "sec1", "resident", "search", "5678", "--reveal", "--json").json()
    assert found[0]["phone"] == ZHANG_PHONE
    shown = grid("--as", "wg11", "household", "show", family["household"]["code"], "--reveal", "--json").json()
    assert {m["id_number"] for m in shown["members"]} == {ZHANG_ID, LI_ID, CHILD_ID}
    entries = grid(*A, "audit", "list", "--action", "resident.reveal", "--json").json()
    assert [(e["actor"], e["detail"]["command"]) for e in reversed(entries)] == [
        ("admin", "resident show"), ("sec1", "resident show"), ("wg11", "resident show"),
        ("wg11", "resident list"), ("sec1", "resident search")]
    assert entries[-1]["detail"]["residents"] == [family["head"]["id"]]
    assert grid(*A, "audit", "list", "--action", "household.reveal", "--json").json()[0]["actor"] == "wg11"


def test_names_of_vulnerable_people_are_masked_for_a_viewer(grid, family):
    rows = {r["id"]: r for r in grid("--as", "view", "resident", "list", "--json").json()}
    assert rows[family["head"]["id"]]["name"] == "张*"  # elderly_alone, in a low-income household
    assert rows[family["head"]["id"]]["name_pinyin"] is None
    assert rows[family["head"]["id"]]["id_number"].startswith("620402********")
    assert grid("--as", "wg11", "resident", "list", "--json").json()[0]["name"] == "张三"


# ---------------------------------------------------------------- scope


def test_operators_see_and_change_only_their_scope(grid, family):
    hh = family["household"]["code"]
    other = household(grid, G21, "兴华路8号", as_=("--as", "sec2"))
    resident(grid, other["code"], "张三丰", "02", as_=("--as", "sec2"))
    # A grid worker: their grid only.
    assert [r["code"] for r in grid("--as", "wg11", "household", "list", "--json").json()] == [hh]
    assert [r["code"] for r in grid("--as", "wg11", "household", "list", "--community", "620402001001", "--json").json()] == [hh]
    grid("--as", "wg11", "household", "list", "--grid", G21, expect=4)
    grid("--as", "wg12", "household", "show", hh, expect=4)
    grid("--as", "wg12", "household", "edit", hh, "--note", "x", expect=4)
    grid("--as", "wg12", "household", "archive", hh, "--reason", "x", expect=4)
    grid("--as", "wg12", "resident", "show", str(family["head"]["id"]), expect=4)
    grid("--as", "wg12", "resident", "edit", str(family["head"]["id"]), "--phone", "13900000000", expect=4)
    grid("--as", "wg12", "household", "add", "--grid", G11, "--address", "人民路99号", expect=4)
    resident(grid, hh, "外人", "配偶", as_=("--as", "wg12"), expect=4)
    grid("--as", "wg11", "household", "move", hh, "--grid", G21, expect=4)  # into someone else's grid
    # A secretary: their community.
    assert {r["code"] for r in grid("--as", "sec1", "household", "list", "--json").json()} == {hh}
    grid("--as", "sec1", "household", "move", hh, "--grid", G12)
    grid("--as", "sec1", "household", "show", other["code"], expect=4)
    # Departments do not read the registry; nobody reads it without an operator; a viewer reads.
    grid("--as", "dsifa", "household", "list", expect=4)
    grid("--as", "dsifa", "resident", "search", "zs", expect=4)
    grid("household", "list", expect=4)
    assert len(grid("--as", "view", "household", "list", "--json").json()) == 2
    grid("--as", "view", "household", "add", "--grid", G11, "--address", "x", expect=4)


def test_search_never_leaks_a_match_from_outside_scope(grid, family):
    other = household(grid, G21, "人民路12号院", "--building", "9", as_=("--as", "sec2"))
    resident(grid, other["code"], "张三", "02", "--phone", "13600005678", as_=("--as", "sec2"))
    for query in ("zs", "zhangsan", "张三", "5678", "人民路12"):
        mine = grid("--as", "wg11", "resident", "search", query, "--json").json()
        assert {r["household"] for r in mine} == {family["household"]["code"]}, query
        theirs = grid("--as", "sec2", "resident", "search", query, "--json").json()
        assert {r["household"] for r in theirs} == {other["code"]}, query
        both = grid(*A, "resident", "search", query, "--json").json()
        assert {r["household"] for r in both} == {family["household"]["code"], other["code"]}, query
    grid("--as", "wg11", "resident", "search", "zs", "--grid", G21, expect=4)
    # Within a grid or a community a name is found by any part of it; outside the scope never.
    part = grid("--as", "wg11", "resident", "search", "小明", "--json").json()
    assert [(r["name"], r["matched"]) for r in part] == [("张小明", ["name"])]
    assert [r["name"] for r in grid("--as", "sec2", "resident", "search", "小明", "--json").json()] == []
    assert grid("--as", "wg11", "resident", "search", "明", "--json").json() == []  # one character: from the start only
    assert [r["household"] for r in grid("--as", "wg21", "resident", "search", "zs", "--json").json()] == [other["code"]]
    assert grid("--as", "wg12", "resident", "search", "zs", "--json").json() == []  # same community, other grid
    assert [r["household"] for r in grid(*A, "resident", "search", "zs", "--grid", G21, "--json").json()] == [other["code"]]


# ---------------------------------------------------------------- search


def test_search_by_name_pinyin_initials_numbers_and_address(grid, family):
    hh = family["household"]["code"]
    h2 = household(grid, G11, "工农路8号金鱼花园", "--building", "5", "--unit", "1", "--room", "302")
    zeng = resident(grid, h2["code"], "曾国华", "02", "--phone", "18609431234")
    resident(grid, h2["code"], "吕丽", "配偶", "--birth-date", "1970-05-05", "--sex", "女")

    def names(query, *more):
        rows = grid(*A, "resident", "search", query, *more, "--json").json()
        return [r["name"] for r in rows], rows

    assert names("zhangsan")[0] == ["张三"]
    assert names("zhang")[0] == ["张三", "张小明"]
    assert names("zs")[0] == ["张三"]
    assert names("zxm")[0] == ["张小明"]
    assert names("ZhangXiao")[0] == ["张小明"]
    assert names("zeng")[0] == ["曾国华"]  # a surname read as a surname (not "ceng")
    assert names("lvli")[0] == ["吕丽"] and names("ll")[0] == ["吕丽"]
    assert names("张")[0] == ["张三", "张小明"]
    found, rows = names("张三")
    assert found == ["张三"] and rows[0]["matched"] == ["name"]
    assert names(ZHANG_ID[-4:])[1][0]["matched"] == ["id_last4"]
    assert names("1234")[0] == ["李四", "曾国华"]  # phone last 4: 0943-8221234 and 18609431234
    assert names(ZHANG_ID)[0] == ["张三"]
    assert names(ZHANG_ID.replace("X", "x"))[0] == ["张三"]
    assert names("186 0943 1234")[0] == ["曾国华"]
    assert set(names("人民路12号")[0]) == {"张三", "李四", "张小明"}
    assert set(names("金鱼花园5号楼")[0]) == {"曾国华", "吕丽"}  # 号楼 normalised like the stored 栋
    assert set(names("5栋1单元302")[0]) == {"曾国华", "吕丽"}
    assert names("金鱼花园", "--limit", "1")[0] == ["曾国华"]
    assert names("nobody")[0] == []
    grid(*A, "resident", "search", "z", "--json")  # one letter: initials only, not an error
    assert "太短" in grid(*A, "resident", "search", "-", expect=1).stderr
    table = grid(*A, "resident", "search", "zs", env=WIDE).stdout
    assert "张三" in table and "首字母" in table
    assert zeng["name_pinyin"] == "zengguohua"
    assert hh


def test_search_uses_indexes(grid, db_url, backend, family):
    """The lookups are index range scans on both backends (PostgreSQL: its "C" collation makes
    the prefix ranges valid for the index)."""
    from sqlalchemy import create_engine, text

    from baiyin_cli.models import Resident
    from baiyin_cli.services.registry_keys import prefix_clause

    eng = create_engine(db_url)
    clause = prefix_clause(Resident.name_pinyin, "zhang")
    sql = f"SELECT id FROM resident WHERE {clause.compile(compile_kwargs={'literal_binds': True})}"
    with eng.connect() as c:
        if backend == "sqlite":
            plan = " ".join(str(r) for r in c.execute(text("EXPLAIN QUERY PLAN " + sql)))
            assert "ix_resident_pinyin" in plan
            keys = " ".join(str(r) for r in c.execute(text(
                "EXPLAIN QUERY PLAN SELECT household_id FROM household_address_key WHERE key >= '人民' AND key < '人氒'")))
            assert "USING PRIMARY KEY (key>? AND key<?)" in keys, keys
        else:
            c.execute(text("SET enable_seqscan = off"))
            plan = " ".join(r[0] for r in c.execute(text("EXPLAIN " + sql)))
            assert "ix_resident_pinyin" in plan
            coll = c.execute(text(
                "SELECT collation_name FROM information_schema.columns WHERE table_name='resident' AND column_name='name_pinyin'"
            )).scalar()
            assert coll == "C"
    eng.dispose()


# ---------------------------------------------------------------- care tags


def test_care_list(grid, family):
    rows = grid("care", "list", "--json").json()
    by = {r["code"]: r for r in rows}
    assert by["elderly_alone"]["zh"] == "独居老人" and by["elderly_alone"]["interval_days"] == 7
    assert {"empty_nest", "childless_elderly", "child_in_difficulty", "left_behind_child", "disabled",
            "low_income"} <= set(by)
    assert by["elderly_alone"]["residents"] is None  # no operator: config only
    counted = {r["code"]: r for r in grid(*A, "care", "list", "--json").json()}
    assert counted["elderly_alone"]["residents"] == 1 and counted["low_income"]["households"] == 1
    assert grid("--as", "wg12", "care", "list", "--json").json()[0]["residents"] == 0
    assert "独居老人" in grid("care", "list", env=WIDE).stdout
    # Care tags may be given by their Chinese label, and config may add new ones.
    h = household(grid, G11, "人民路40号", "--care", "低保户,特困人员")
    assert h["care"] == ["low_income", "special_hardship"]
    grid("config", "set", "care_tags.hoarder.interval_days", "21")
    grid("config", "set", "care_tags.hoarder.zh", "囤积")
    assert household(grid, G11, "人民路41号", "--care", "hoarder")["care"] == ["hoarder"]


def test_care_tags_of_households_contract(grid, family):
    """What the visits service relies on: own tags ∪ tags of active residents; every id present."""
    from baiyin_cli import store
    from baiyin_cli.services import registry

    empty = household(grid, G11, "人民路50号")
    grid(*A, "resident", "edit", str(family["child"]["id"]), "--add-care", "disabled")
    with store.session() as s:
        h = registry.get_household(s, family["household"]["code"])
        e = registry.get_household(s, empty["code"])
        tags = registry.care_tags_of_households(s, [h.id, e.id])
    assert tags == {h.id: {"low_income", "elderly_alone", "disabled"}, e.id: set()}
    grid(*A, "household", "set-head", family["household"]["code"], str(family["spouse"]["id"]), "--former", "配偶")
    grid(*A, "resident", "archive", str(family["child"]["id"]), "--reason", "迁出")
    with store.session() as s:
        assert registry.care_tags_of_households(s, [h.id])[h.id] == {"low_income", "elderly_alone"}
        with pytest.raises(Exception) as exc:
            registry.get_household(s, "NOPE")
        assert exc.value.code == 3 and "NOPE" in exc.value.text()
        pub = registry.household_public(h, care=["low_income"])
        assert set(pub) >= {"code", "grid", "community", "address", "full_address", "type", "care", "archived"}


# ---------------------------------------------------------------- the importer's contract


def test_prepare_functions_validate_one_row_without_the_database(env_dirs):
    from baiyin_cli.errors import InvalidInput
    from baiyin_cli.services import registry

    row = registry.prepare_resident(None, {
        "household": "H-1", "name": " 欧阳 修 ", "id_number": ZHANG_ID.lower(), "phone": 13912345678.0,
        "relation": "户主", "ethnicity": "汉", "care": "独居老人、残疾人", "birth_date": date(1956, 3, 17),
    })
    assert row["name"] == "欧阳 修" and row["name_pinyin"] == "ouyangxiu" and row["name_initials"] == "oyx"
    assert row["id_number"] == ZHANG_ID and row["birth_date"] == date(1956, 3, 17) and row["sex"] == "M"
    assert row["phone"] == "13912345678" and row["phone_last4"] == "5678" and row["id_last4"] == ZHANG_ID[-4:]
    assert (row["relation"], row["ethnicity"], row["care"]) == ("02", "01", ["elderly_alone", "disabled"])
    with pytest.raises(InvalidInput) as exc:
        registry.prepare_resident(None, {"name": "王", "relation": "02", "phone": "123"})
    assert exc.value.args_["field_key"] == "phone"
    with pytest.raises(InvalidInput) as exc:
        registry.prepare_resident(None, {"name": "王", "relation": "02", "id_number": ZHANG_ID, "birth_date": "1956/3/18"})
    assert exc.value.args_["field_key"] == "birth_date"
    hh = registry.prepare_household(None, {"grid_code": G11, "address": "人民路１２号", "building": 3.0, "type": "农村"})
    assert (hh["address_norm"], hh["building"], hh["type"], hh["code"]) == ("人民路12号3栋", "3", "rural", None)
    with pytest.raises(InvalidInput) as exc:
        registry.prepare_household(None, {"grid": G11})
    assert exc.value.args_["field_key"] == "address"


# ---------------------------------------------------------------- a real process, the demo


def test_through_a_real_subprocess(grid_proc, city):
    h = grid_proc(*A, "household", "add", "--grid", G11, "--address", "人民路1号", "--json").json()
    grid_proc(*A, "resident", "add", "--household", h["code"], "--name", "张三", "--relation", "02", "--id-number",
              ZHANG_ID, "--phone", ZHANG_PHONE)
    r = grid_proc("--as", "wg11", "resident", "search", "zs")
    assert "张三" in r.stdout and not _leaks(r.stdout)
    r = grid_proc("--as", "wg12", "resident", "search", "zs", "--json")
    assert r.json() == []
    r = grid_proc("--lang", "en", "--as", "wg12", "household", "show", h["code"], expect=4)
    assert r.stderr.startswith("grid: error:")


def _registry_demo(path, seed=2026):
    """The demo's org and registry steps only (the whole demo adds petitions, visits...)."""
    import random

    from sqlmodel import Session

    from baiyin_cli import store, timeutil
    from baiyin_cli.services import demo, system

    url = f"sqlite:///{path}"
    system.init(url)
    with Session(store.engine(url).execution_options(grid_write=True)) as s:
        ctx = demo.DemoContext(session=s, rng=random.Random(seed), now=timeutil.now())
        steps = dict(demo.STEPS)
        for name in ("org", "registry"):
            steps[name](ctx)
            s.flush()
        s.commit()
    store.dispose_all()
    return ctx


def test_demo_households_and_residents(env_dirs, tmp_path):
    """The demo's registry is realistic, valid and the same for the same seed (SQLite only:
    the demo is its own SQLite file)."""
    import sqlite3

    from baiyin_cli.services import validate

    path = tmp_path / "demo.db"
    ctx = _registry_demo(path)
    made = ctx.made
    assert 25 * made["grids"] <= made["households"] <= 40 * made["grids"]
    assert len(ctx.households) == made["households"] and ctx.households[0]["head"]
    from baiyin_cli.services import crypto

    cipher = crypto.for_url(f"sqlite:///{path}")  # ID numbers and phones are stored encrypted
    con = sqlite3.connect(path)
    q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
    for blob, birth, sex in q("SELECT id_number_enc, birth_date, sex FROM resident WHERE id_number_enc IS NOT NULL"):
        number = cipher.open(blob, "resident.id_number")
        info = validate.id_number(number)
        assert (info.birth_date.isoformat(), info.sex) == (birth, sex) and number[:6] in {
            "620402", "620403", "620421", "620422", "620423"}
    assert q("SELECT COUNT(*) FROM household h WHERE (SELECT COUNT(*) FROM resident r WHERE r.household_id = h.id"
             " AND r.relation = '02' AND r.archived_at IS NULL) != 1") == [(0,)]
    assert q("SELECT COUNT(*) FROM (SELECT id_number_hash FROM resident WHERE id_number_hash IS NOT NULL"
             " GROUP BY id_number_hash HAVING COUNT(*) > 1)") == [(0,)]
    assert q("SELECT COUNT(*) FROM (SELECT grid_code, address_norm FROM household"
             " GROUP BY grid_code, address_norm HAVING COUNT(*) > 1)") == [(0,)]
    # Care tags on a plausible share; the elderly living alone are old and alone.
    tags = dict(q("SELECT tag, COUNT(*) FROM resident_care GROUP BY tag"))
    total = made["residents"]
    assert 0.01 < tags["elderly_alone"] / total < 0.08 and tags["empty_nest"] > tags["elderly_alone"]
    assert {"disabled", "left_behind_child", "childless_elderly"} <= set(tags)
    assert q("SELECT MIN(birth_date) > '1925', MAX(birth_date) < date('now', '-64 years') FROM resident r"
             " JOIN resident_care c ON c.resident_id = r.id AND c.tag = 'elderly_alone'") == [(1, 1)]
    assert q("SELECT COUNT(*) FROM resident r JOIN resident_care c ON c.resident_id = r.id AND c.tag = 'elderly_alone'"
             " WHERE (SELECT COUNT(*) FROM resident o WHERE o.household_id = r.household_id) > 1") == [(0,)]
    assert q("SELECT MAX(birth_date) < date('now', '-6 years') FROM resident r JOIN resident_care c"
             " ON c.resident_id = r.id AND c.tag = 'empty_nest'") == [(1,)]
    # Mothers were 20-42 when their children (of the head) were born; heads are adults.
    gaps = q("SELECT MIN(julianday(c.birth_date) - julianday(m.birth_date)) / 365.25,"
             " MAX(julianday(c.birth_date) - julianday(m.birth_date)) / 365.25 FROM resident c"
             " JOIN resident m ON m.household_id = c.household_id AND m.sex = 'F' AND m.relation IN ('02', '10')"
             " WHERE c.relation IN ('20', '30')")
    assert 19 <= gaps[0][0] and gaps[0][1] <= 43
    assert q("SELECT MAX(birth_date) < date('now', '-18 years') FROM resident WHERE relation = '02'") == [(1,)]
    assert q("SELECT COUNT(*) FROM resident WHERE phone_enc IS NOT NULL AND birth_date > date('now', '-16 years')") == [(0,)]
    assert re.fullmatch(r"[a-z]+", q("SELECT name_pinyin FROM resident LIMIT 1")[0][0])
    assert q("SELECT COUNT(*) FROM household_address_key")[0][0] > made["households"]
    def clear(con: sqlite3.Connection) -> list[tuple]:
        rows = con.execute("SELECT name, id_number_enc, phone_enc, birth_date FROM resident ORDER BY id").fetchall()
        return [(n, cipher.open(i, "resident.id_number"), cipher.open(p, "resident.phone"), b) for n, i, p, b in rows]

    sample = clear(con)
    con.close()
    again = tmp_path / "again.db"
    _registry_demo(again)
    con = sqlite3.connect(again)
    assert clear(con) == sample
    con.close()
    # The demo answers the registry commands.
    from tests.conftest import invoke

    found = invoke("--db", str(path), "--as", "admin", "resident", "search", "wang", "--limit", "5", "--json").json()
    assert len(found) == 5 and all(r["matched"] for r in found)
    assert json.loads(invoke("--db", str(path), "--as", "admin", "care", "list", "--json").stdout)[0]["residents"] > 0


def test_demo_steps_include_the_registry_right_after_the_org():
    from baiyin_cli.services import demo

    assert [name for name, _fn in demo.STEPS][:2] == ["org", "registry"]


def test_name_readings_are_pypinyins_own():
    """registry_keys reads a name without any phrase in it character by character (for speed):
    the result is what pypinyin gives for the whole text, phrases (长乐, 重庆), polyphones, rare and
    non-Han characters included."""
    import random

    from pypinyin import Style, lazy_pinyin
    from pypinyin.constants import PHRASES_DICT

    from baiyin_cli.services.registry_keys import _reading

    chars = "伟刚勇毅俊峰强军平东文辉明建国秀英华慧美娜静淑玉红兰凤梅云长重行乐单朝曾解仇朴查区翟"
    rng = random.Random(7)
    texts = [a + b for a in chars for b in chars] + ["".join(rng.sample(chars, 3)) for _ in range(3000)]
    texts += rng.sample(sorted(PHRASES_DICT), 3000) + ["长乐", "重庆", "银行长", "乐乐", "阿依古丽", "Anna", "王a伟", "㐀㐁"]
    for t in texts:
        assert _reading.__wrapped__(t) == tuple(lazy_pinyin(t, style=Style.NORMAL, errors=lambda s: s.split())), t


# ---------------------------------------------------------------- the address key table (migration 0005)


def _stored_keys(db_url: str) -> tuple[set[tuple[int, str]], set[tuple[int, str]]]:
    """(the rows of household_address_key, the keys every household's address makes)."""
    from sqlalchemy import create_engine, text

    from baiyin_cli.services.registry_keys import address_keys

    eng = create_engine(db_url)
    with eng.connect() as c:
        stored = {(h, k) for h, k in c.execute(text("SELECT household_id, key FROM household_address_key"))}
        made = {(h, k) for h, norm in c.execute(text("SELECT id, address_norm FROM household")) for k in address_keys(norm)}
    eng.dispose()
    return stored, made


def test_address_keys_follow_every_address_change_and_survive_migration_0005(grid, family, db_url, backend, tmp_path):
    """The key table is (key, household_id) alone (WITHOUT ROWID on SQLite, no foreign key): a
    household's old keys are found from its old address. After an edit, an import that moves
    households and a migration down to 0004 and up again, the table holds exactly the keys of
    every current address, and searches find the new addresses and not the old ones."""
    from alembic import command
    from sqlalchemy import create_engine, inspect, text

    from baiyin_cli import migrations, store
    from tests.importing import write_csv

    h = family["household"]
    other = household(grid, G12, "工农路7号", "--building", "2")
    grid(*A, "household", "edit", h["code"], "--address", "人民路88号", "--building", "", "--unit", "", "--room", "")
    moved = write_csv(tmp_path / "moved.csv", [["户编号", "网格", "地址", "楼栋"], [other["code"], G12, "纺织路3号", "5"]])
    assert grid(*A, "import", "households", str(moved), "--json").json()["updated"] == 1
    stored, made = _stored_keys(db_url)
    assert stored == made and len(stored) == 12  # 人民路88号: 5 keys; 纺织路3号5栋: 7

    def found(text_: str) -> list[str]:
        return [r["code"] for r in grid(*A, "household", "list", "--address", text_, "--json").json()]

    assert found("人民路88") == [h["code"]] and found("人民路12") == [] and found("501") == []
    assert found("纺织路3号5") == [other["code"]] and found("工农路") == []

    store.dispose_all()
    eng = store.engine(db_url)  # grid's own engine: foreign keys on, on SQLite too
    with eng.begin() as c:  # a key row without a household (possible now) must not stop the downgrade
        c.execute(text("INSERT INTO household_address_key (household_id, key) VALUES (999999, '孤')"))
    command.downgrade(migrations.alembic_config(eng), "0004")
    store.dispose_all()
    eng = create_engine(db_url)
    with eng.connect() as c:
        fks = inspect(c).get_foreign_keys("household_address_key")
        assert [fk["referred_table"] for fk in fks] == ["household"]
        assert inspect(c).get_pk_constraint("household_address_key")["constrained_columns"] == ["household_id", "key"]
    eng.dispose()
    assert _stored_keys(db_url) == (made, made)
    r = grid("db", "migrate", "--json").json()
    assert (r["before"], r["revision"]) == ("0004", "0005")
    eng = create_engine(db_url)
    with eng.connect() as c:
        assert inspect(c).get_foreign_keys("household_address_key") == []
        assert inspect(c).get_pk_constraint("household_address_key")["constrained_columns"] == ["key", "household_id"]
        assert [i["name"] for i in inspect(c).get_indexes("household_address_key")] == []
        if backend == "sqlite":
            sql = c.execute(text("SELECT sql FROM sqlite_master WHERE name = 'household_address_key'")).scalar()
            assert sql.rstrip().endswith("WITHOUT ROWID")
    eng.dispose()
    assert _stored_keys(db_url) == (made, made)
    assert found("人民路88") == [h["code"]] and found("纺织路3号") == [other["code"]]
    # No foreign key any more: `grid db check` makes its check.
    assert grid("db", "check", "--json").json()["ok"]
    eng = create_engine(db_url)
    with eng.begin() as c:
        c.execute(text("INSERT INTO household_address_key (household_id, key) VALUES (999999, '孤')"))
    eng.dispose()
    r = grid("db", "check", "--json", expect=1)
    assert r.json()["problems"] == ["household_address_key: 1 rows without a household"]
    assert r.stderr.strip() == "grid: 错误：数据库检查未通过：household_address_key: 1 rows without a household"


def test_a_key_row_left_behind_does_not_break_an_edit(grid, family, db_url):
    """A key row that outlived its address (written by hand, or by an older release) is left as
    it is when the address makes it again: the edit went on to fail on the primary key."""
    from sqlalchemy import create_engine, text

    h = family["household"]
    eng = create_engine(db_url)
    with eng.begin() as c:
        hid = c.execute(text("SELECT id FROM household WHERE code = :c"), {"c": h["code"]}).scalar()
        c.execute(text("INSERT INTO household_address_key (household_id, key) VALUES (:h, '人民路99号')"), {"h": hid})
    eng.dispose()
    grid(*A, "household", "edit", h["code"], "--address", "人民路99号", "--building", "", "--unit", "", "--room", "")
    stored, made = _stored_keys(db_url)
    assert stored == made
    assert [r["code"] for r in grid(*A, "household", "list", "--address", "人民路99", "--json").json()] == [h["code"]]


def test_concurrent_address_edits_leave_the_keys_of_the_last_one(grid, city, db_url, backend):
    """Regression (PostgreSQL): a terminal that read a household before another changed its
    address replaced the keys of the address it had read, leaving the other's keys behind and
    missing some of its own. An edit now reads the household under a row lock."""
    if backend != "postgres":
        pytest.skip("SQLite has one writer at a time")
    import threading
    import time

    from baiyin_cli import store
    from baiyin_cli.services import registry
    from baiyin_cli.services.access import Operator

    op = Operator(username="admin", name="admin", role="admin")
    code = household(grid, G11, "人民路12号")["code"]
    read, errors = threading.Event(), []

    def second() -> None:
        try:
            with store.session(write=True, url=db_url) as s:
                registry.get_household(s, code)  # read before the first terminal's edit commits
                read.set()
                time.sleep(0.3)
                registry.edit_household(s, op, code, {"address": "工农路12号"})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    with store.session(write=True, url=db_url) as s1:
        registry.get_household(s1, code)
        t = threading.Thread(target=second)
        t.start()
        read.wait()
        registry.edit_household(s1, op, code, {"address": "纺织路8巷"})
        time.sleep(0.8)  # the second terminal waits for this row
    t.join()
    assert errors == []
    stored, made = _stored_keys(db_url)
    assert stored == made
    assert grid(*A, "household", "show", code, "--json").json()["address"] == "工农路12号"
    assert grid(*A, "household", "list", "--address", "纺织路8巷", "--json").json() == []
    assert [r["code"] for r in grid(*A, "household", "list", "--address", "12号", "--json").json()] == [code]
