"""grid export: CSV as UTF-8 with BOM and inert formulas, XLSX laid out for people, JSON Lines on
stdout; personal data masked unless revealed (audited, like every export of personal data);
filters as in the lists; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json

from tests.importing import G11, G12, HEAD_ID, SPOUSE_ID, A, households_rows, imp, residents_rows, write_csv


def _people(grid, tmp_path):
    imp(grid, "households", write_csv(tmp_path / "hh.csv", households_rows()))
    imp(grid, "residents", write_csv(tmp_path / "res.csv", residents_rows()))


def _csv(path):
    raw = path.read_bytes()
    return raw, list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_csv_is_utf8_with_bom_and_formulas_are_inert(grid, city, tmp_path):
    _people(grid, tmp_path)
    grid(*A, "household", "edit", "H002", "--note", '=HYPERLINK("http://evil","点我")')
    grid(*A, "household", "edit", "H003", "--note", "@SUM(1+1)")
    out = tmp_path / "住户.csv"
    r = grid(*A, "export", "households", "-o", str(out))
    assert "已导出 4 条住户" in r.stderr and r.stdout == ""
    raw, rows = _csv(out)
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    assert rows[0][:3] == ["户编号", "网格", "地址"]
    notes = {row[0]: row[8] for row in rows[1:]}
    assert notes["H002"] == '\'=HYPERLINK("http://evil","点我")' and notes["H003"] == "'@SUM(1+1)"
    en = tmp_path / "en.csv"
    grid(*A, "--lang", "en", "export", "households", "-o", str(en))
    assert _csv(en)[1][0][:3] == ["Household code", "Grid", "Address"]
    assert not list(tmp_path.glob("*.part"))


def test_an_english_export_with_care_tags_imports_again_as_a_no_op(grid, city, tmp_path):
    """Regression: an English care tag name has spaces ("Elderly living alone"), and cells were
    split on spaces, so an English export of households with care tags did not import again."""
    _people(grid, tmp_path)
    grid(*A, "household", "edit", "H002", "--add-care", "独居老人", "--add-care", "低保户")
    en = tmp_path / "en.csv"
    grid(*A, "--lang", "en", "export", "households", "-o", str(en))
    assert "Elderly living alone" in en.read_text(encoding="utf-8-sig")
    r = grid(*A, "--lang", "en", "import", "households", str(en), "--json").json()
    assert (r["created"], r["updated"], r["ignored"]) == (0, 0, 4)
    grid(*A, "household", "edit", "H003", "--add-care", "空巢老人 残疾人")  # spaces still separate tags
    assert grid(*A, "household", "show", "H003", "--json").json()["care"] == ["empty_nest", "disabled"]


def test_xlsx_has_a_frozen_bold_header_print_titles_and_widths(grid, city, tmp_path):
    _people(grid, tmp_path)
    grid(*A, "resident", "edit", HEAD_ID, "--note", "=1+2")
    out = tmp_path / "居民.xlsx"
    grid(*A, "export", "residents", "-o", str(out), "--reveal")
    from openpyxl import load_workbook

    wb = load_workbook(out)
    ws = wb.worksheets[0]
    assert ws.title == "居民" and ws.freeze_panes == "A2"
    assert ws.print_title_rows == "$1:$1" and ws.auto_filter.ref.startswith("A1:")
    header = [c.value for c in ws[1]]
    assert header[:4] == ["居民编号", "户编号", "姓名", "公民身份号码"] and ws["A1"].font.b
    id_col = header.index("公民身份号码") + 1
    from openpyxl.utils import get_column_letter

    assert ws.column_dimensions[get_column_letter(id_col)].width >= 20
    ids = {ws.cell(row=i, column=id_col).value for i in range(2, ws.max_row + 1)}
    assert HEAD_ID in ids and all(isinstance(v, str) for v in ids if v)  # text, no lost digits
    note = ws.cell(row=2, column=header.index("备注") + 1)
    assert note.value == "'=1+2" and note.data_type == "s"


def test_personal_data_is_masked_unless_revealed_and_every_export_is_audited(grid, city, tmp_path):
    _people(grid, tmp_path)
    masked = tmp_path / "masked.csv"
    grid(*A, "export", "residents", "-o", str(masked))
    text = masked.read_text(encoding="utf-8-sig")
    assert HEAD_ID[6:14] not in text and SPOUSE_ID[6:14] not in text and "13912345678" not in text
    assert "620402********1232" in text and "139****5678" in text
    full = tmp_path / "full.csv"
    grid(*A, "export", "residents", "-o", str(full), "--reveal")
    assert HEAD_ID in full.read_text(encoding="utf-8-sig")
    entries = [e for e in grid(*A, "audit", "list", "--json").json() if e["action"] == "export.residents"]
    assert [e["detail"]["revealed"] for e in entries] == [True, False]
    assert entries[0]["detail"]["rows"] == 5 and entries[0]["detail"]["file"] == "full.csv"

    grid("--as", "view", "export", "residents", "-o", str(tmp_path / "v.csv"), "--reveal", expect=4)
    grid("--as", "dsifa", "export", "households", "-o", str(tmp_path / "d.csv"), expect=4)
    assert not (tmp_path / "v.csv").exists() and not (tmp_path / "d.csv").exists()
    # A grid worker exports their grid only, and the names of people with care tags of other
    # grids never appear (they are not exported at all).
    mine = tmp_path / "wg11.csv"
    grid("--as", "wg11", "export", "residents", "-o", str(mine))
    _raw, rows = _csv(mine)
    assert {r[1] for r in rows[1:]} == {"H001", "H002"}
    # Viewers see masked names of people with care tags.
    viewer = tmp_path / "viewer.csv"
    grid("--as", "view", "export", "residents", "-o", str(viewer))
    names = {r[2] for r in _csv(viewer)[1][1:]}
    assert {"张*", "李*", "孙*", "王芳"} <= names  # H001 and H003 carry care tags


def test_filters_stdout_and_jsonl(grid, city, tmp_path):
    _people(grid, tmp_path)
    r = grid(*A, "export", "households", "--grid", G12, "--format", "jsonl")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [h["code"] for h in rows] == ["H003"] and rows[0]["grid"] == G12
    cared = grid(*A, "export", "households", "--care", "独居老人", "--format", "jsonl").stdout
    assert {json.loads(line)["code"] for line in cared.splitlines()} == {"H001", "H003"}
    res = grid(*A, "export", "residents", "--household", "H001", "--format", "jsonl").stdout
    people = [json.loads(line) for line in res.splitlines()]
    assert [p["relation"] for p in people] == ["02", "10", "20"] and people[0]["care"] == ["elderly_alone"]
    grids = grid("export", "areas", "--level", "grid").stdout
    assert grids.startswith("\ufeff区域代码") and grids.count(G11) >= 1 and grids.count("\n") == 5
    workers = grid(*A, "export", "workers", "--role", "secretary", "--format", "jsonl").stdout
    assert {json.loads(line)["username"] for line in workers.splitlines()} == {"sec1", "sec2"}
    grid(*A, "export", "households", "-o", str(tmp_path / "x.pdf"), expect=2)


def test_an_unknown_format_is_named_as_the_format_not_the_file_name(grid, city, tmp_path):
    r = grid("export", "areas", "--format", "pdf", expect=2)
    assert "格式无效：pdf（可选 csv/xlsx/jsonl）" in r.stderr and "文件名" not in r.stderr
    r = grid("--lang", "en", "export", "areas", "--format", "pdf", expect=2)
    assert "Invalid format: pdf" in r.stderr and "file" not in r.stderr
    # Without --format, the file name is what could not be read.
    r = grid("export", "areas", "-o", str(tmp_path / "x.pdf"), expect=2)
    assert "无法从文件名判断输出格式" in r.stderr


def test_a_failed_export_leaves_no_file(grid, city, tmp_path):
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "hh.xlsx"
    grid(*A, "export", "households", "--grid", "620402009009009", "-o", str(out), expect=3)
    assert list(outdir.iterdir()) == []
    grid(*A, "export", "households", "--grid", G11, "--community", "620402001001", "-o", str(out), expect=2)
    assert list(outdir.iterdir()) == []
