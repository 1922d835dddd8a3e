"""grid import on real files: a GBK CSV with Chinese headers, a UTF-8-BOM CSV, an XLSX written by
openpyxl (title row, number cells, a formula), JSON Lines and stdin; broken rows of every kind;
--dry-run and --atomic all leave the database unchanged; --atomic object with --errors; re-import
is a no-op; on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.importing import (
    G11,
    G12,
    HEAD_ID,
    HOUSEHOLD_HEADER,
    LONE_ID,
    OTHER_ID,
    SON_ID,
    SPOUSE_ID,
    A,
    bad_checksum,
    by_row,
    households_rows,
    imp,
    read_xlsx,
    residents_rows,
    snapshot,
    write_csv,
    write_jsonl,
    write_xlsx,
)

# ---------------------------------------------------------------- households: GBK CSV


def test_gbk_csv_with_chinese_headers_then_reimport_is_a_no_op(grid, city, tmp_path):
    rows = households_rows()
    # Columns in another order than the export writes them.
    order = [2, 0, 1, 3, 4, 5, 6, 7, 8]
    path = write_csv(tmp_path / "住户.csv", [[r[i] for i in order] for r in rows], encoding="gbk")
    report = imp(grid, "households", path)
    assert report["status"] == "OK" and report["encoding"] == "gb18030"
    assert (report["created"], report["updated"], report["ignored"], report["rejected"]) == (4, 0, 0, 0)
    assert report["columns"]["地址"] == "address" and report["columns"]["户编号"] == "code"
    listed = {h["code"]: h for h in grid(*A, "household", "list", "--json").json()}
    assert listed["H001"]["full_address"] == "人民路12号院3号楼2单元501室"
    assert listed["H001"]["care"] == ["low_income"] and listed["H001"]["type"] == "urban"
    assert listed["H002"]["note"] == "二楼" and listed["H003"]["grid"] == G12

    again = imp(grid, "households", path)
    assert (again["created"], again["updated"], again["ignored"]) == (0, 0, 4) and again["status"] == "OK"

    # One audit entry per import, none per row.
    entries = grid(*A, "audit", "list", "--json", "--limit", "50").json()
    imports = [e for e in entries if e["action"] == "import.households"]
    assert len(imports) == 2 and not [e for e in entries if e["action"] == "household.add"]
    assert imports[-1]["detail"]["created"] == 4 and imports[-1]["detail"]["file"] == "住户.csv"
    assert imports[-1]["actor"] == "admin"


def test_a_sheet_without_our_codes_imports_once(grid, city, tmp_path):
    """Street offices have no 户编号: grid + address find the household, codes are issued."""
    rows = [["网格", "地址", "房号"], [G11, "人民路12号院", "101"], [G11, "人民路12号院", "102"]]
    path = write_csv(tmp_path / "nocode.csv", rows)
    first = imp(grid, "households", path)
    assert first["created"] == 2
    codes = sorted(h["code"] for h in grid(*A, "household", "list", "--json").json())
    assert codes == [f"{G11}-0001", f"{G11}-0002"]
    again = imp(grid, "households", path)
    assert (again["created"], again["updated"], again["ignored"]) == (0, 0, 2)
    # Same address twice in one file: the second row is a duplicate of the first.
    dup = write_csv(tmp_path / "dup.csv", [["网格", "地址"], [G12, "公园路8号"], [G12, "公园路８号"]])
    r = imp(grid, "households", dup, expect=1)
    assert by_row(r)[3][0]["code"] == "import.duplicate_in_file" and "第 2 行" in by_row(r)[3][0]["message"]
    # A new code at an address the grid already has: a duplicate in the database.
    taken = write_csv(
        tmp_path / "taken.csv", [["户编号", "网格", "地址", "房号"], ["H010", G11, "人民路12号院", "101"]]
    )
    r = imp(grid, "households", taken, expect=1)
    assert r["errors"][0]["code"] == "household.duplicate" and f"{G11}-0001" in r["errors"][0]["message"]


# ---------------------------------------------------------------- residents: every kind of broken row


def _households(grid, tmp_path):
    imp(grid, "households", write_csv(tmp_path / "hh.csv", households_rows()))


def test_broken_rows_are_reported_and_atomic_all_writes_nothing(grid, city, db_url, tmp_path):
    _households(grid, tmp_path)
    imp(grid, "residents", write_csv(tmp_path / "first.csv", [residents_rows()[0], residents_rows()[4]]))
    header = ["户编号", "姓名", "公民身份号码", "联系电话", "与户主关系"]
    rows = [
        header,
        ["H001", "张三", HEAD_ID, "13912345678", "户主"],  # 2 good
        ["H001", "李四", bad_checksum(SPOUSE_ID), "", "配偶"],  # 3 ID check digit
        ["H001", "张小明", SON_ID, "12345", "子"],  # 4 phone
        ["H001", "张三", HEAD_ID, "", "户主"],  # 5 duplicate of row 2 in the file
        ["H001", "多一列", "", "", "子", "多余"],  # 6 wrong number of cells
        ["H001", "", "", "", "子"],  # 7 empty required field
        ["H001", "=1+2", "", "", "子"],  # 8 formula injection
        ["H999", "无户", "", "", "户主"],  # 9 unknown household
        ["H003", "冒名", OTHER_ID, "", "配偶"],  # 10 ID number already registered (in H002)
    ]
    path = write_csv(tmp_path / "居民.csv", rows)
    before = snapshot(db_url)
    report = imp(grid, "residents", path, expect=1)
    assert snapshot(db_url) == before
    assert report["status"] == "ERROR" and report["encoding"] == "utf-8-sig"
    assert (report["created"], report["updated"], report["rejected"], report["valid"]) == (0, 0, 8, 1)
    errors = by_row(report)
    expected = {
        3: ("公民身份号码", "id_number.checksum"),
        4: ("联系电话", "phone.invalid"),
        5: ("公民身份号码", "import.duplicate_in_file"),
        6: (None, "io.cell_count"),
        7: ("姓名", "field.required"),
        8: ("姓名", "import.formula"),
        9: ("户编号", "household.not_found"),
        10: ("公民身份号码", "import.resident_other_household"),
    }
    for row, (column, code) in expected.items():
        assert [(e["column"], e["code"]) for e in errors[row]] == [(column, code)], errors[row]
    # Personal values are masked in the report; the message is localised.
    assert errors[3][0]["value"] == bad_checksum(SPOUSE_ID)[:6] + "********" + bad_checksum(SPOUSE_ID)[-4:]
    assert SPOUSE_ID[6:14] not in json.dumps(report, ensure_ascii=False)
    assert "校验位" in errors[3][0]["message"]

    # The same in a dry run, and in English.
    dry = imp(grid, "residents", path, "--dry-run", expect=1)
    assert dry["dry_run"] and dry["rejected"] == 8 and snapshot(db_url) == before
    en = grid(*A, "--lang", "en", "import", "residents", str(path), "--json", expect=1).json()
    assert "check digit" in by_row(en)[3][0]["message"]


def test_atomic_object_writes_good_rows_and_the_errors_file_round_trips(grid, city, db_url, tmp_path):
    _households(grid, tmp_path)
    rows = residents_rows()
    rows[2][2] = bad_checksum(SPOUSE_ID)  # 李四's ID number mistyped
    rows[4][3] = "1380000111"  # 王芳's phone one digit short
    path = write_csv(tmp_path / "res.csv", rows)
    errors_file = tmp_path / "待修正.xlsx"
    report = imp(grid, "residents", path, "--atomic", "object", "--errors", str(errors_file), expect=1)
    assert report["status"] == "WARNING" and report["committed"]
    assert (report["created"], report["rejected"]) == (3, 2)
    names = {r["name"] for r in grid(*A, "resident", "list", "--json").json()}
    assert names == {"张三", "张小明", "孙老"}

    sheet = read_xlsx(errors_file)
    assert sheet[0] == [*rows[0], "错误说明"]
    assert [r[1] for r in sheet[1:]] == ["李四", "王芳"]
    assert "校验位" in sheet[1][-1] and "联系电话" in sheet[2][-1]

    # The admin fixes the two rows in the spreadsheet and imports that file again.
    from openpyxl import load_workbook

    wb = load_workbook(errors_file)
    ws = wb.worksheets[0]
    ws.cell(row=2, column=3).value = SPOUSE_ID
    ws.cell(row=3, column=4).value = "13800001111"
    wb.save(errors_file)
    fixed = imp(grid, "residents", errors_file)
    assert (fixed["created"], fixed["rejected"], fixed["warnings"]) == (2, 0, [])
    assert imp(grid, "residents", path, "--atomic", "object", expect=1)["created"] == 0


def test_a_row_with_several_bad_cells_names_each_of_them(grid, city, db_url, tmp_path):
    """An admin fixes a spreadsheet in one pass: every cell the field rules refuse is reported
    (JSON, the errors file), not only the first; a single command still says one line."""
    _households(grid, tmp_path)
    header = ["户编号", "姓名", "公民身份号码", "联系电话", "与户主关系", "民族", "备注"]
    rows = [
        header,
        ["H001", "张三3", bad_checksum(SPOUSE_ID), "123", "户主", "火星族", "x" * 1001],  # 2: six bad cells
        ["H001", "李四", SPOUSE_ID, "13912345678", "", "汉族", ""],  # 3: one (relation empty)
        ["H002", "王五", OTHER_ID, "13912345679", "户主", "", ""],  # 4: good
    ]
    path = write_csv(tmp_path / "多处错误.csv", rows)
    errors_file = tmp_path / "待修正.xlsx"
    before = snapshot(db_url)
    report = imp(grid, "residents", path, "--errors", str(errors_file), expect=1)
    assert snapshot(db_url) == before and (report["rejected"], report["valid"]) == (2, 1)
    errors = by_row(report)
    assert [(e["column"], e["code"]) for e in errors[2]] == [
        ("姓名", "resident.name_digits"),
        ("公民身份号码", "id_number.checksum"),
        ("联系电话", "phone.invalid"),
        ("民族", "resident.bad_ethnicity"),
        ("备注", "field.too_long"),
    ]
    assert [(e["column"], e["code"]) for e in errors[3]] == [("与户主关系", "field.required")]
    # 子女 needs the sex an ID number gives: with the ID refused, that is not a second error.
    child = write_csv(tmp_path / "子女.csv", [header, ["H001", "张小二", bad_checksum(SON_ID), "", "子女", "", ""]])
    assert [e["code"] for e in imp(grid, "residents", child, expect=1)["errors"]] == ["id_number.checksum"]
    assert errors[2][1]["value"].count("*") == 8  # still masked
    # Nor does a message say the name it refuses (the report masks it as it masks the cell).
    assert "张三3" not in json.dumps(report, ensure_ascii=False) and "张**" in errors[2][0]["message"]
    sheet = read_xlsx(errors_file)
    why = sheet[1][-1]
    for words in ("姓名", "校验位", "联系电话", "民族", "备注"):
        assert words in why, why

    # Households: a bad grid, a bad type and an over-long building on one row.
    hh = write_csv(
        tmp_path / "户.csv",
        [["户编号", "网格", "地址", "楼栋", "类型"], ["H100", "62040200100100X", "友好路1号", "9" * 21, "别墅"]],
    )
    report = imp(grid, "households", hh, expect=1)
    assert [(e["column"], e["code"]) for e in report["errors"]] == [
        ("网格", "household.bad_grid"), ("楼栋", "field.too_long"), ("类型", "household.bad_type")
    ]

    # One record typed at the prompt of a single command: its first refusal, one line, exit 1.
    out = grid(*A, "resident", "add", "--household", "H002", "--name", "赵6", "--id-number", bad_checksum(LONE_ID),
               "--relation", "配偶", expect=1)
    assert out.stderr.count("\n") == 1 and "姓名" in out.stderr


def test_several_bad_cells_of_visits_petitions_workers_and_areas(grid, city, db_url, tmp_path):
    _households(grid, tmp_path)
    before = snapshot(db_url)
    visits = write_csv(
        tmp_path / "走访.csv",
        [
            ["网格员", "户编号", "走访类型", "开始时间", "时长（分钟）", "记录"],
            ["nobody", "H999", "串门", "昨天", "0", "x" * 2001],
            ["wg11", "H001", "household", "2099-01-01 08:00", "20", ""],  # one: in the future
            ["wg11", "H001", "household", "2099-01-02 08:00", "0", ""],  # in the future and no minutes
        ],
    )
    r = by_row(imp(grid, "visits", visits, expect=1))
    assert [e["code"] for e in r[4]] == ["visit.bad_minutes", "visit.in_future"]
    assert [(e["field"], e["code"]) for e in r[2]] == [
        ("kind", "visit.bad_kind"),
        ("minutes", "visit.bad_minutes"),
        ("started_at", "import.bad_time"),
        ("worker", "worker.not_found"),
        ("household", "household.not_found"),
        ("note", "field.too_long"),
    ]
    assert [e["code"] for e in r[3]] == ["visit.in_future"]
    assert r[2][2]["message"] == "开始时间不是有效的时间：昨天"  # the column's name, not the field key

    petitions = write_csv(
        tmp_path / "诉求.csv",
        [
            ["反映渠道", "诉求类别", "诉求内容", "网格", "反映人", "联系电话", "受理时间", "匿名"],
            ["走访", "没有的类别", "", G11, "王大妈", "123", "2099-01-01 08:00", "是"],
        ],
    )
    r = by_row(imp(grid, "petitions", petitions, expect=1))
    nowhere = write_csv(
        tmp_path / "诉求2.csv",
        [
            ["反映渠道", "诉求类别", "诉求内容", "网格", "户编号", "受理时间"],
            ["来电", "投诉", "路灯不亮", "620402001009009", "H999", "2025-06-02 09:00"],
        ],
    )
    assert [(e["field"], e["code"]) for e in imp(grid, "petitions", nowhere, expect=1)["errors"]] == [
        ("household", "petition.household_not_found"), ("grid", "area.not_found")
    ]
    assert [(e["field"], e["code"]) for e in r[2]] == [
        ("text", "field.required"),
        ("category", "petition.bad_category"),
        ("channel", "petition.bad_channel"),
        ("reporter_name", "petition.anonymous_name"),
        ("reporter_phone", "phone.invalid"),
        ("filed_at", "time.future"),
    ]

    workers = write_jsonl(
        tmp_path / "w.jsonl", [{"username": "A B", "name": "", "phone": "123", "role": "grid_worker"}]
    )
    r = by_row(imp(grid, "workers", workers, expect=1))
    assert [e["field"] for e in r[1]] == ["username", "name", "phone", "area"]
    # A role's kind, area and department are each named, and the active cell with them.
    workers = write_jsonl(
        tmp_path / "w2.jsonl",
        [
            {"username": "wgx", "name": "王五", "role": "grid_worker", "kind": "兼职临时工", "area": "620402001009009",
             "dept": "nodept", "active": "也许"},
            {"username": "bm1", "name": "李四", "role": "department", "kind": "full_time", "active": "是"},
        ],
    )
    r = by_row(imp(grid, "workers", workers, expect=1))
    assert [(e["field"], e["code"]) for e in r[1]] == [
        ("kind", "worker.bad_kind"), ("area", "area.not_found"), ("dept", "dept.not_found"),
        ("active", "import.bad_bool"),
    ]
    assert [(e["field"], e["code"]) for e in r[2]] == [("kind", "worker.kind_grid_only"), ("dept", "worker.needs_dept")]
    out = grid(*A, "worker", "add", "-u", "wgx", "--name", "王五", "--role", "grid_worker", "--kind", "临时",
               "--area", "620402001009009", "--dept", "nodept", expect=1)
    assert "网格员类型无效" in out.stderr and out.stderr.count("\n") == 1  # the first, as always
    areas = write_jsonl(tmp_path / "a.jsonl", [{"code": "62040200X", "name": ""}, {"code": "620402009001"}])
    r = by_row(imp(grid, "areas", areas, expect=1))
    assert [(e["field"], e["code"]) for e in r[2]] == [("name", "field.required"), ("parent", "area.parent_missing")]
    assert [(e["field"], e["code"]) for e in r[1]] == [("name", "field.required"), ("code", "area.bad_code")]
    # Single commands still say the first refusal, in the order they always checked.
    out = grid(*A, "household", "add", "--grid", G11, "--address", "人民路99号", "--type", "别墅",
               "--note", "x" * 1001, expect=1)
    assert "备注" in out.stderr and out.stderr.count("\n") == 1
    out = grid(*A, "area", "add", "6204020010", "", "--level", "community", expect=1)
    assert "名称" in out.stderr and out.stderr.count("\n") == 1
    assert snapshot(db_url) == before


def test_a_new_visit_to_an_archived_household_is_named_with_the_rows_other_bad_cells(grid, city, tmp_path):
    _households(grid, tmp_path)
    grid(*A, "household", "archive", "H002", "--reason", "整户迁出")
    visits = write_csv(
        tmp_path / "走访.csv",
        [["网格员", "户编号", "走访类型", "开始时间", "时长（分钟）", "记录"],
         ["wg11", "H002", "household", "2025-06-02 09:00", "30", "x" * 2001]],
    )
    r = imp(grid, "visits", visits, expect=1)
    assert [(e["field"], e["code"]) for e in r["errors"]] == [
        ("note", "field.too_long"), ("household", "visit.household_archived")
    ]


# ---------------------------------------------------------------- XLSX written by openpyxl


def test_xlsx_with_a_title_row_number_cells_and_a_formula(grid, city, tmp_path):
    _households(grid, tmp_path)
    header = ["户编号", "姓名", "公民身份号码", "联系电话", "与户主关系", "出生日期"]
    rows = [
        header,
        ["H001", "张三", HEAD_ID, 13912345678, "户主", None],  # a phone typed as a number
        ["H001", "张小明", float(SON_ID), None, "子", None],  # Excel kept the ID as a number
        ["H001", '=B3&"x"', None, None, "女", None],  # a formula
        ["H003", "孙老", None, None, "户主", "1941-02-08"],
    ]
    path = write_xlsx(tmp_path / "台账.xlsx", rows, title="新华社区居民台账（2026年）", sheet="居民")
    report = imp(grid, "residents", path, "--sheet", "居民", expect=1)
    assert report["sheet"] == "居民" and report["encoding"] is None
    assert [w["code"] for w in report["warnings"]] == ["import.title_rows"]
    errors = by_row(report)
    assert sorted(errors) == [4, 5]  # header on row 2, data from row 3
    assert errors[4][0]["code"] == "import.precision" and errors[4][0]["column"] == "公民身份号码"
    assert errors[5][0]["code"] == "import.formula"
    ok = imp(grid, "residents", path, "--sheet", "居民", "--atomic", "object", expect=1)
    assert ok["created"] == 2
    people = {r["name"]: r for r in grid(*A, "resident", "list", "--json").json()}
    assert people["张三"]["phone"] == "139****5678"
    grid(*A, "import", "residents", str(path), "--sheet", "没有", expect=2)


# ---------------------------------------------------------------- JSON Lines and stdin


def test_jsonl_areas_and_workers_and_stdin(grid, city, tmp_path):
    areas = write_jsonl(
        tmp_path / "areas.jsonl",
        [
            {"code": "620402002", "name": "工农路街道"},
            {"code": "620402002001", "name": "建设社区", "level": "community"},
            {"code": "620402002001001", "name": "建设第一网格", "extra": 1},
            "{not json",
            ["a", "list"],
            {"code": "620402002002001", "name": "孤网格"},  # its community is not there
            '{"code": "620402002001002", "name": "\\ud83d网格"}',  # a lone surrogate (CI regression)
        ],
    )
    r = imp(grid, "areas", areas, "--atomic", "object", expect=1)
    assert r["created"] == 3 and r["format"] == "jsonl"
    codes = {row: [e["code"] for e in es] for row, es in by_row(r).items()}
    assert codes == {
        4: ["io.bad_json"],
        5: ["io.not_object"],
        6: ["area.parent_missing"],
        7: ["io.bad_unicode"],
    }  # line numbers
    assert [w["column"] for w in r["warnings"]] == ["extra"]
    assert by_row(r)[7][0]["column"] == "name"  # the fuzz suite: a lone surrogate's field is named
    assert by_row(r)[4][0]["message"] == "不是有效的 JSON（第 2 个字符附近）"  # not Python's English words
    # A CSV renamed to .xlsx: one line in the operator's language.
    fake = tmp_path / "fake.xlsx"
    fake.write_text("code,name\n", encoding="utf-8")
    out = grid(*A, "import", "areas", str(fake), expect=1)
    assert out.stderr.strip().endswith("：文件内容不是 xlsx 的压缩包格式") and "zip file" not in out.stderr
    assert grid("area", "show", "620402002001001", "--json").json()["parent"] == "620402002001"

    workers = (
        "\n".join(
            json.dumps(w, ensure_ascii=False)
            for w in [
                {
                    "username": "wg99",
                    "name": "新网格员",
                    "phone": "13700000099",
                    "role": "网格员",
                    "area": "620402002001001",
                },
                {"username": "sj99", "name": "新书记", "role": "secretary", "area": "620402002001"},
            ]
        )
        + "\n"
    )
    out = grid(*A, "import", "workers", "-", "--format", "jsonl", "--json", input=workers).json()
    assert out["created"] == 2 and out["file"] == "stdin"
    shown = grid(*A, "worker", "show", "wg99", "--json").json()
    assert shown["role"] == "grid_worker" and shown["kind"] == "full_time"
    grid(*A, "import", "workers", "-", input=workers, expect=2)  # stdin needs --format
    again = grid(*A, "import", "workers", "-", "--format", "jsonl", "--json", input=workers).json()
    assert again["ignored"] == 2


def test_nul_bytes_and_record_numbers_no_database_holds_are_row_errors(grid, city, db_url, tmp_path):
    """Found by the fuzz suite on PostgreSQL: a NUL in a key cell reached the database in the key
    lookup, and a visit or resident number beyond an integer key overflowed it; both were internal errors."""
    before = snapshot(db_url)
    areas = tmp_path / "nul.csv"
    areas.write_bytes(b"code,name\r\n620402001\x00,x\r\n")
    r = imp(grid, "areas", areas, expect=1)
    assert [(e["row"], e["column"], e["code"]) for e in r["errors"]] == [(2, "code", "field.control_chars")]
    visits = write_jsonl(tmp_path / "v.jsonl", [{"id": 620402001001, "worker": "admin"}, {"id": "#0"}])
    r = imp(grid, "visits", visits, expect=1)
    assert [(e["row"], e["column"], e["code"]) for e in r["errors"]] == [(1, "id", "visit.not_found"),
                                                                         (2, "id", "visit.not_found")]
    residents = write_csv(tmp_path / "r.csv", [["id", "name"], ["99999999999", "张三"]])
    r = imp(grid, "residents", residents, expect=1)
    assert [(e["row"], e["column"], e["code"]) for e in r["errors"]] == [(2, "id", "resident.not_found")]
    assert snapshot(db_url) == before
    for argv, shown in ((("visit", "show", "99999999999"), "#99999999999"), (("visit", "show", "#0"), "#0"),
                        (("resident", "show", "999999999999"), "#999999999999")):
        out = grid(*A, "--lang", "en", *argv, expect=3)
        assert out.stderr.count("\n") == 1 and shown in out.stderr and "##" not in out.stderr


# ---------------------------------------------------------------- strategies, scope, columns


def test_strategies(grid, city, tmp_path):
    _households(grid, tmp_path)
    change = write_csv(tmp_path / "change.csv", [["户编号", "备注"], ["H001", "新备注"], ["H009", "无此户"]])
    created = imp(grid, "households", change, "--strategy", "create", "--atomic", "object", expect=1)
    # H001 exists; H009 would be new but a household needs its grid and address: both are named.
    assert [(e["row"], e["code"], e["field"]) for e in created["errors"]] == [
        (2, "import.exists", None), (3, "field.required", "grid"), (3, "field.required", "address")
    ]
    updated = imp(grid, "households", change, "--strategy", "update", "--atomic", "object", expect=1)
    assert updated["updated"] == 1 and updated["errors"][0]["code"] == "import.missing"
    h = grid(*A, "household", "show", "H001", "--json").json()
    assert h["note"] == "新备注" and h["full_address"] == "人民路12号院3号楼2单元501室"  # other columns kept
    grid(*A, "import", "households", str(change), "--strategy", "merge", expect=2)
    grid(*A, "import", "households", str(change), "--atomic", "some", expect=2)


def test_moving_a_household_through_an_import_checks_both_grids(grid, city, tmp_path):
    _households(grid, tmp_path)
    move = write_csv(tmp_path / "move.csv", [["户编号", "网格"], ["H003", G11], ["H004", G11]])
    # The secretary of community 001 may move H003 within it, not H004 out of community 002.
    r = imp(grid, "households", move, "--atomic", "object", as_=("--as", "sec1"), expect=1)
    assert r["updated"] == 1 and by_row(r)[3][0]["code"] == "access.out_of_scope"
    shown = grid(*A, "household", "show", "H003", "--json").json()
    assert shown["grid"] == G11 and shown["history"][-1]["kind"] == "move"


def test_columns_unknown_missing_and_doubled(grid, city, tmp_path):
    odd = write_csv(
        tmp_path / "odd.csv", [["户编号", "网格", "地址", "面积"], ["H001", G11, "人民路1号", "80"]]
    )
    r = imp(grid, "households", odd)
    assert r["status"] == "WARNING" and r["created"] == 1 and r["warnings"][0]["column"] == "面积"
    nokey = write_csv(tmp_path / "nokey.csv", [["地址", "备注"], ["人民路1号", "x"]])
    r = grid(*A, "import", "households", str(nokey), expect=1)
    assert "户编号" in r.stderr and "网格+地址" in r.stderr
    twice = write_csv(tmp_path / "twice.csv", [["code", "户编号", "网格", "地址"], ["a", "b", G11, "x"]])
    assert "户编号" in grid(*A, "import", "households", str(twice), expect=1).stderr
    # English field names are headers too, and the header may name any subset for updates.
    en = write_csv(tmp_path / "en.csv", [["code", "note"], ["H001", "English header"]])
    assert imp(grid, "households", en)["updated"] == 1


def test_encoding_override_and_files_that_are_not_what_they_say(grid, city, tmp_path):
    path = write_csv(tmp_path / "gbk.csv", households_rows(), encoding="gbk")
    r = grid(*A, "import", "households", str(path), "--encoding", "utf-8", expect=1)
    assert "--encoding" in r.stderr
    assert imp(grid, "households", path, "--encoding", "gb18030")["created"] == 4
    fake = tmp_path / "fake.xlsx"
    fake.write_text("not a workbook")
    assert "xlsx" in grid(*A, "import", "households", str(fake), expect=1).stderr
    grid(*A, "import", "households", str(tmp_path / "missing.csv"), expect=1)
    grid(*A, "import", "households", str(tmp_path / "x.doc"), expect=2)
    grid(*A, "import", "households", str(path), "--errors", str(tmp_path / "e.txt"), expect=2)


def test_viewers_cannot_import_and_rows_outside_scope_are_rejected(grid, city, db_url, tmp_path):
    path = write_csv(tmp_path / "hh.csv", households_rows())
    before = snapshot(db_url)
    grid("--as", "view", "import", "households", str(path), expect=4)
    assert snapshot(db_url) == before
    r = imp(grid, "households", path, "--atomic", "object", as_=("--as", "wg11"), expect=1)
    assert r["created"] == 2  # H001, H002 in grid 11
    assert {e["code"] for e in r["errors"]} == {"access.out_of_scope"}


def test_workers_masked_phone_labels_and_deactivation(grid, city, tmp_path):
    out = tmp_path / "workers.csv"
    grid(*A, "export", "workers", "-o", str(out))
    assert imp(grid, "workers", out)["ignored"] == 8  # masked phones mean "unchanged"
    rows = [
        ["用户名", "姓名", "联系电话", "角色", "状态"],
        ["wg12", "赵网格", "138****0012", "网格员", "停用"],
        ["admin", "管理员", "", "管理员", "停用"],
        ["sec1", "李书记", "139****0001", "社区党组织书记", "在岗"],
        ["wg21", "孙网格", "", "管理员", "在岗"],
    ]
    r = imp(grid, "workers", write_csv(tmp_path / "w.csv", rows), "--atomic", "object", expect=1)
    assert r["updated"] == 1
    assert {e["row"]: e["code"] for e in r["errors"]} == {
        3: "import.worker_self",
        4: "import.masked",
        5: "import.worker_role_fixed",
    }
    assert by_row(r)[5][0]["message"] == "导入不能更改 wg21 的角色（网格员 → 管理员）"  # labels, not codes
    assert grid(*A, "worker", "show", "wg12", "--json").json()["active"] is False


def test_a_real_subprocess_prints_a_summary_and_no_progress_bar(grid_proc, city, tmp_path):
    path = write_csv(tmp_path / "hh.csv", households_rows())
    r = grid_proc(*A, "import", "households", str(path))
    assert "新增 4" in r.stderr and "\x1b[" not in r.stderr and r.stdout == ""
    bad = write_csv(
        tmp_path / "bad.csv", [HOUSEHOLD_HEADER, ["H005", "620402009009009", "x", "", "", "", "", "", ""]]
    )
    r = grid_proc(*A, "import", "households", str(bad), expect=1)
    assert "第 2 行" in r.stderr and "620402009009009" in r.stderr


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_export_then_import_is_a_no_op(grid, city, tmp_path, fmt):
    _households(grid, tmp_path)
    imp(grid, "residents", write_csv(tmp_path / "res.csv", residents_rows()))
    grid(*A, "household", "edit", "H002", "--note", '=HYPERLINK("http://x")')
    for entity, n in (("areas", 8), ("workers", 8), ("households", 4), ("residents", 5)):
        for extra in ((), ("--reveal",)) if entity in ("workers", "households", "residents") else ((),):
            out = tmp_path / f"{entity}{len(extra)}.{fmt}"
            grid(*A, "export", entity, "-o", str(out), *extra)
            r = imp(grid, entity, out)
            assert (r["created"], r["updated"], r["ignored"], r["rejected"]) == (0, 0, n, 0), (
                entity,
                extra,
                r,
            )
            assert r["status"] == "OK" and not r["warnings"]


# ---------------------------------------------------------------- visits and petitions


def test_visits_are_added_never_edited_and_reimport_is_a_no_op(grid, city, db_url, tmp_path):
    _households(grid, tmp_path)
    rows = [
        ["网格员", "户编号", "走访类型", "开始时间", "时长（分钟）", "记录"],
        ["wg11", "H001", "入户走访", "2025-06-02 09:00", "30", "老人身体好"],  # 2
        ["wg11", "", "便民服务", "2025-06-02 10:00", "45", ""],  # 3
        ["wg11", "H003", "household", "2025-06-02 11:00", "20", ""],  # 4 household of another grid
        ["wg11", "H001", "household", "2099-01-01 08:00", "20", ""],  # 5 in the future
        ["sec1", "H001", "household", "2025-06-02 12:00", "20", ""],  # 6 not a grid worker
        ["wg11", "H001", "household", "2025-06-02 13:00", "0", ""],  # 7 minutes
        ["wg11", "", "household", "2025-06-02 14:00", "10", ""],  # 8 household visit without household
        ["wg11", "H001", "入户走访", "2025-06-02 09:00", "30", "又一次"],  # 9 same worker, same start
        ["wg12", "H002", "household", "2025-06-03 09:00", "30", ""],  # 10 H002 is in grid 11, wg12 in 12
    ]
    path = write_csv(tmp_path / "走访.csv", rows)
    r = imp(grid, "visits", path, "--atomic", "object", expect=1)
    assert r["created"] == 2
    assert {row: es[0]["code"] for row, es in by_row(r).items()} == {
        4: "visit.household_elsewhere",
        5: "visit.in_future",
        6: "visit.not_grid_worker",
        7: "visit.bad_minutes",
        8: "visit.needs_household",
        9: "import.duplicate_in_file",
        10: "visit.household_elsewhere",
    }
    day = grid(
        *A, "visit", "stats", "--worker", "wg11", "--from", "2025-06-02", "--to", "2025-06-02", "--json"
    ).json()
    assert "75" in json.dumps(day)  # the day ledger knows the 30 + 45 minutes
    again = imp(grid, "visits", path, "--atomic", "object", expect=1)
    assert (again["created"], again["ignored"]) == (0, 2)
    out = tmp_path / "visits.xlsx"
    grid(*A, "export", "visits", "-o", str(out))
    back = imp(grid, "visits", out)
    assert (back["created"], back["updated"], back["ignored"]) == (0, 0, 2)
    # A stored visit is not edited by an import; a grid worker imports only their own rounds.
    changed = write_csv(
        tmp_path / "changed.csv", [rows[0], ["wg11", "H001", "入户走访", "2025-06-02 09:00", "40", ""]]
    )
    assert imp(grid, "visits", changed, expect=1)["errors"][0]["code"] == "import.visit_fixed"
    others = write_csv(
        tmp_path / "others.csv", [rows[0], ["wg12", "", "service", "2025-06-04 09:00", "30", ""]]
    )
    r = imp(grid, "visits", others, as_=("--as", "wg11"), expect=1)
    assert r["errors"][0]["code"] == "visit.own_rounds_only"
    before = snapshot(db_url)
    grid("--as", "view", "import", "visits", str(others), expect=4)
    assert snapshot(db_url) == before


def test_petitions_are_filed_numbered_and_not_changed_by_an_import(grid, city, tmp_path):
    _households(grid, tmp_path)
    rows = [
        ["反映渠道", "诉求类别", "诉求内容", "网格", "户编号", "反映人", "联系电话", "受理时间"],
        ["12345热线", "路灯不亮", "人民路路灯不亮", G11, "", "王大妈", "13912345678", "2025-06-02 09:00"],
        ["hotline_12345", "environment", "垃圾清运不及时", "", "H001", "", "", "2025-06-02 09:05"],
        ["来电", "投诉", "噪音扰民", G11, "H003", "", "", "2025-06-02 09:06"],  # household of another grid
        ["来电", "没有的类别", "x", G11, "", "", "", "2025-06-02 09:07"],
        ["走访", "投诉", "y", G11, "", "", "", "2025-06-02 09:08"],  # unknown channel
        [
            "来电",
            "投诉",
            "无时间",
            G11,
            "",
            "",
            "",
            "",
        ],  # without number nor time it could not be found again
    ]
    path = write_csv(tmp_path / "诉求.csv", rows)
    r = imp(grid, "petitions", path, "--atomic", "object", expect=1)
    assert r["created"] == 2
    assert {row: es[0]["code"] for row, es in by_row(r).items()} == {
        4: "petition.household_elsewhere",
        5: "petition.bad_category",
        6: "petition.bad_channel",
        7: "field.required",
    }
    listed = grid(*A, "petition", "list", "--json").json()
    assert sorted(p["number"] for p in listed) == ["BY-20250602-0001", "BY-20250602-0002"]
    shown = grid(*A, "petition", "show", "BY-20250602-0001", "--json").json()
    assert shown["channel"] == "hotline_12345" and shown["status"] == "submitted"
    assert shown["reporter_phone"] == "139****5678"
    second = grid(*A, "petition", "show", "BY-20250602-0002", "--json").json()
    assert second["grid"] == G11 and second["household"] == "H001"
    assert imp(grid, "petitions", path, "--atomic", "object", expect=1)["ignored"] == 2
    out = tmp_path / "petitions.csv"
    grid(*A, "export", "petitions", "-o", str(out))
    back = imp(grid, "petitions", out)
    assert (back["created"], back["ignored"], back["status"]) == (0, 2, "OK")
    # The next filing that day continues the numbering.
    grid(
        *A,
        "petition",
        "file",
        "--text",
        "井盖破损",
        "--category",
        "hazard_manhole",
        "--channel",
        "phone",
        "--grid",
        G11,
        "--at",
        "2025-06-02 10:00",
    )
    assert any(p["number"] == "BY-20250602-0003" for p in grid(*A, "petition", "list", "--json").json())
    edited = write_csv(tmp_path / "edited.csv", [["诉求编号", "诉求内容"], ["BY-20250602-0001", "改了内容"]])
    assert imp(grid, "petitions", edited, expect=1)["errors"][0]["code"] == "import.petition_fixed"


def test_a_progress_bar_on_a_terminal_only(grid_proc, city, tmp_path):
    """On a TTY stderr gets a (transient) rich progress bar; in a pipe, only the summary."""
    import os
    import pty
    import subprocess
    import sys

    rows = [HOUSEHOLD_HEADER] + [
        [f"P{i:04d}", G11, f"人民路{i}号", "", "", "", "", "", ""] for i in range(300)
    ]
    path = write_csv(tmp_path / "many.csv", rows)
    import tests.conftest as harness

    env = {**os.environ, "COLUMNS": "100"}
    issue = getattr(harness, "session_token_for", None)  # a login session, where grid has logins
    token = issue(["--as", "admin"]) if issue else None
    if token:
        env["GRID_TOKEN"] = token
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "baiyin_cli",
            "--as",
            "admin",
            "import",
            "households",
            str(path),
            "--batch-size",
            "50",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    p.wait(timeout=120)
    os.close(master)
    text = seen.decode("utf-8", "replace")
    assert p.returncode == 0 and "新增 300" in text
    assert "\x1b[?25l" in text  # rich hides the cursor while it draws the bar


def test_the_households_at_an_address_are_found_on_the_index(db_url, backend):
    """Regression: an import looked up the households at its rows' addresses by address alone,
    which the (grid_code, address_norm) index cannot serve; PostgreSQL scanned every household
    for every batch (a million-household import: 1.8 s a batch). Grid and address go together,
    place by place: every grid crossed with every address made SQLite probe each address in a
    hundred grids (45 ms a batch, 9 ms place by place); a row-value IN scanned the table."""
    from sqlalchemy import create_engine, insert, text

    from datetime import UTC, datetime

    from baiyin_cli.models import Area, Household
    from baiyin_cli.services.bulk_registry import households_at

    eng = create_engine(db_url)
    H = Household.__table__
    now = datetime.now(UTC)
    with eng.begin() as c:
        c.execute(insert(Area.__table__), [
            {"code": g, "name": g, "level": "grid", "created_at": now} for g in (G11, G12)
        ])
        c.execute(insert(H), [
            {"code": code, "grid_code": g, "address": a, "address_norm": a, "type": "urban",
             "created_at": now, "updated_at": now, "version": 1}
            for code, g, a in (("X1", G11, "人民路12号"), ("X2", G11, "工农路8号"), ("X3", G12, "工农路8号"),
                               ("X4", G12, "人民路12号"))
        ])
    q = households_at([(G11, "人民路12号"), (G12, "工农路8号"), (G11, "人民路12号")])
    with eng.connect() as c:
        assert [h.code for h in c.execute(q)] == ["X1", "X3"]  # the places asked for, not their crossings
    sql = str(q.compile(eng, compile_kwargs={"literal_binds": True}))
    with eng.connect() as c:
        if backend == "sqlite":
            plan = " ".join(str(r) for r in c.execute(text("EXPLAIN QUERY PLAN " + sql)))
            assert "ix_household_grid_address (grid_code=? AND address_norm=?)" in plan, plan
            assert "SCAN household" not in plan, plan
        else:
            c.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(r[0] for r in c.execute(text("EXPLAIN " + sql)))
            cond = [ln for ln in plan.splitlines() if "Index Cond" in ln]
            assert cond and "grid_code" in cond[0] and "address_norm" in cond[0], plan
    eng.dispose()


def test_postgresql_plans_every_execution_for_its_own_size(db_url, backend):
    """Regression: psycopg prepares a statement run five times and PostgreSQL kept one generic plan
    for it, made while an import's table was small (a sequential scan): a million-household import
    then scanned the whole table every batch. grid's connections plan each execution afresh."""
    if backend != "postgres":
        pytest.skip("a PostgreSQL planner setting")
    from sqlalchemy import text

    from baiyin_cli import store

    with store.engine(db_url).connect() as c:
        assert c.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"


def test_the_same_name_and_birth_date_in_a_grid_is_refused_only_in_that_grid(grid, city, tmp_path):
    """The registry's duplicate rule, through an import: a second 张老汉 born the same day in the same
    grid is refused (name the first one); in another grid he is somebody else. Regression for the
    lookup, which now asks only for the rows' grids and birth dates."""
    _households(grid, tmp_path)
    head = ["户编号", "姓名", "出生日期", "性别", "与户主关系"]
    imp(grid, "residents", write_csv(tmp_path / "a.csv", [head, ["H001", "张老汉", "1950-05-05", "男", "户主"]]))
    r = imp(grid, "residents", write_csv(tmp_path / "b.csv", [
        head,
        ["H002", "张老汉", "1950-05-05", "男", "户主"],  # H002 is in the same grid as H001
        ["H003", "张老汉", "1950-05-05", "男", "户主"],  # H003 is in another grid
    ]), "--atomic", "object", expect=1)
    assert [(e["row"], e["code"], e["column"]) for e in r["errors"]] == [(2, "resident.duplicate", "姓名")]
    assert r["created"] == 1
    other_day = write_csv(tmp_path / "c.csv", [head, ["H002", "张老汉", "1950-05-06", "男", "户主"]])
    assert imp(grid, "residents", other_day)["created"] == 1


def test_no_lookup_of_a_residents_import_walks_whole_grids(grid, city, db_url, backend, tmp_path):
    """Regression: the same-name-and-birth-date lookup also filtered by grid, and SQLite (which keeps
    no statistics) then read every household of those grids and their residents instead of using
    the name index once a batch held more names than grids; each batch got slower as the table
    grew (a 242 000-resident import took 88 s, 39 s after). Every query of an import of 300 heads in
    four grids is checked with EXPLAIN QUERY PLAN."""
    if backend != "sqlite":
        pytest.skip("SQLite's query planner")
    import sqlite3
    from datetime import date, timedelta

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from tests.importing import G21, G22
    from tests.test_idnumber import make_id

    grids = (G11, G12, G21, G22)
    homes = [HOUSEHOLD_HEADER] + [
        [f"P{i:04d}", grids[i % 4], f"人民路{i}号", "", "", "", "", "", ""] for i in range(300)
    ]
    imp(grid, "households", write_csv(tmp_path / "hh.csv", homes))
    given = "伟刚勇毅俊峰强军平保东文辉力明永健世广志"
    heads = [["户编号", "姓名", "公民身份号码", "与户主关系"]] + [
        [f"P{i:04d}", "王" + given[i % 20] + given[i // 20], make_id("620402", date(1950, 1, 1) + timedelta(i), 11), "户主"]
        for i in range(300)
    ]
    seen: list[tuple[str, tuple]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            seen.append((statement, tuple(parameters or ())))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        assert imp(grid, "residents", write_csv(tmp_path / "r.csv", heads))["created"] == 300
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    assert [s for s, _p in seen if "birth_date IN" in s], "the same-name-and-birth-date lookup ran"
    con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    try:
        for statement, params in seen:
            plan = " | ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN " + statement, params))
            assert "(grid_code=?)" not in plan, (statement[:300], plan)
    finally:
        con.close()


def test_postgresql_statistics_follow_a_growing_import(grid, city, db_url, backend, tmp_path, monkeypatch):
    """Regression: an import into an empty city is one transaction autovacuum cannot see into, so
    PostgreSQL planned every batch's lookups for tables as small as before (sequential scans of
    all residents per batch, slower batch after batch). The import ANALYZEs a table once it has
    grown by as many rows as it held (at least ANALYZE_MIN_ROWS; 10 here)."""
    if backend != "postgres":
        pytest.skip("PostgreSQL's planner statistics")
    from sqlalchemy import create_engine, text

    from baiyin_cli.services import bulk

    monkeypatch.setattr(bulk, "ANALYZE_MIN_ROWS", 10)
    homes = [HOUSEHOLD_HEADER] + [[f"S{i:03d}", G11, f"工农路{i}号", "", "", "", "", "", ""] for i in range(40)]
    path = write_csv(tmp_path / "hh.csv", homes)
    assert imp(grid, "households", path, "--batch-size", "10")["created"] == 40
    eng = create_engine(db_url)
    with eng.connect() as c:
        tuples = c.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'household'")).scalar()
    eng.dispose()
    assert tuples >= 20, tuples  # analyzed during the import (autovacuum ignores a table this small)


def test_an_import_does_not_wait_for_another_terminals_analyze(grid, city, db_url, backend, tmp_path, monkeypatch):
    """The ANALYZE an import runs holds its lock on the table until that import commits; an import
    on a second terminal must not queue behind it (nor deadlock with it over the rows both lock):
    it waits a moment for the lock, then goes on without fresh statistics."""
    if backend != "postgres":
        pytest.skip("PostgreSQL's ANALYZE")
    import threading

    import psycopg
    from sqlalchemy.engine import make_url

    from baiyin_cli.services import bulk

    monkeypatch.setattr(bulk, "ANALYZE_MIN_ROWS", 10)
    homes = [HOUSEHOLD_HEADER] + [[f"T{i:03d}", G11, f"纺织路{i}号", "", "", "", "", "", ""] for i in range(40)]
    path = write_csv(tmp_path / "hh.csv", homes)
    holder = psycopg.connect(make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False))
    holder.execute("ANALYZE household")  # the other terminal's import, still running
    released: list[bool] = []

    def release() -> None:  # only if the import below waits: then the test fails, but ends
        released.append(True)
        holder.rollback()

    timer = threading.Timer(60, release)
    timer.start()
    try:
        assert imp(grid, "households", path, "--batch-size", "10")["created"] == 40
        assert not released, "the import waited for the other transaction's ANALYZE"
    finally:
        timer.cancel()
        holder.rollback()
        holder.close()


def test_analyze_leaves_the_transactions_lock_timeout_as_it_was(db_url, backend):
    if backend != "postgres":
        pytest.skip("PostgreSQL's ANALYZE")
    from sqlalchemy import text

    from baiyin_cli import store
    from baiyin_cli.services import bulk

    with store.session(write=True, url=db_url) as s:
        s.execute(text("SET LOCAL lock_timeout = '7s'"))
        assert bulk._analyze(s, "household")
        assert s.execute(text("SHOW lock_timeout")).scalar() == "7s"
        s.rollback()


def test_an_analyze_that_could_not_have_its_lock_is_tried_again_soon(db_url, backend, monkeypatch):
    """An import whose ANALYZE found the table's lock taken tries again after ANALYZE_MIN_ROWS more
    rows, not only once the table has doubled again (which would leave a long import planning
    on stale statistics: the slow-down the ANALYZE is there to prevent)."""
    if backend != "postgres":
        pytest.skip("PostgreSQL's ANALYZE")
    from baiyin_cli import store
    from baiyin_cli.services import bulk

    monkeypatch.setattr(bulk, "ANALYZE_MIN_ROWS", 10)
    answers, asked = [False, True, True], []

    def analyze(session, table):  # type: ignore[no-untyped-def]
        asked.append((table, session.info["grid_inserted"][table]))
        return answers[len(asked) - 1]

    monkeypatch.setattr(bulk, "_analyze", analyze)
    with store.session(write=True, url=db_url) as s:
        for n in (50, 55, 60, 100, 125):
            s.info["grid_inserted"] = {"household": n}
            bulk.refresh_statistics(s)
        s.rollback()
    # 50: refused; 60: ten rows later, done; then the table (60 rows) must double: 120 and on.
    assert asked == [("household", 50), ("household", 60), ("household", 125)]
