"""grid checklist export: every kind in every format against golden files, on the fixed dataset.

Golden files live in tests/golden/checklists/. Text formats are compared byte for byte (the
clock is fixed by GRID_NOW; nothing random). An XLSX file is read back with openpyxl and
compared as a JSON dump (sheets, cells, merged ranges, print settings, charts), since the zip
container itself carries timestamps. After an intended change of layout, regenerate with
`GRID_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_checklists.py --backend sqlite`
and review the diff.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from tests import checklist_city as cc
from tests.checklist_city import demo_city, fixed_db, fixed_template  # noqa: F401 - fixtures

GOLDEN = Path(__file__).parent / "golden" / "checklists"
UPDATE = os.environ.get("GRID_UPDATE_GOLDEN", "") not in ("", "0")

# kind -> (operator, area/period flags): one document each, the way an office would ask for it.
CASES = {
    "visits": ("wg11", ("--grid", cc.G11, "--date", "2026-03-20")),
    "hazards": ("sec1", ("--community", cc.C1)),
    "petitions": ("admin", ("--month", "2026-03")),
    "disputes": ("admin", ("--street", "620402001", "--month", "2026-03")),
    "care": ("sec1", ("--community", cc.C1)),
    "monthly": ("sec1", ("--community", cc.C1, "--month", "2026-03")),
}
FORMATS = ("csv", "md", "html", "json", "xlsx")


@pytest.fixture
def db_url(fixed_db):  # noqa: F811 - every test here starts from the fixed dataset
    return fixed_db


def export(grid, kind: str, *args: str, who: str = "admin", fmt: str = "json", expect: int = 0):  # type: ignore[no-untyped-def]
    return grid("--as", who, "checklist", "export", kind, *args, "--format", fmt, "-o", "-", expect=expect)


def export_file(grid, tmp_path: Path, kind: str, *args: str, who: str = "admin", fmt: str = "xlsx") -> bytes:  # type: ignore[no-untyped-def]
    target = tmp_path / f"{kind}.{fmt}"
    grid("--as", who, "checklist", "export", kind, *args, "-o", str(target))
    return target.read_bytes()


# ---------------------------------------------------------------- reading an XLSX back


def _cell(v):  # type: ignore[no-untyped-def]
    if v is None:
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def xlsx_dump(data: bytes) -> dict:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    sheets = []
    for ws in wb.worksheets:
        rows = []
        for row in ws.iter_rows(values_only=True):
            cells = [_cell(v) for v in row]
            while cells and cells[-1] is None:
                cells.pop()
            rows.append(cells)
        while rows and not rows[-1]:
            rows.pop()
        ps = ws.page_setup
        sheets.append({
            "title": ws.title,
            "print_title_rows": ws.print_title_rows,
            "paper_size": int(ps.paperSize) if ps.paperSize is not None else None,
            "orientation": ps.orientation,
            "fit_to_width": int(ps.fitToWidth) if ps.fitToWidth is not None else None,
            "fit_to_height": int(ps.fitToHeight) if ps.fitToHeight is not None else None,
            "fit_to_page": ws.sheet_properties.pageSetUpPr.fitToPage,
            "freeze_panes": ws.freeze_panes,
            "header": [ws.oddHeader.left.text, ws.oddHeader.right.text],
            "footer": [ws.oddFooter.center.text, ws.oddFooter.right.text],
            "merged": sorted(str(r) for r in ws.merged_cells.ranges),
            "widths": {k: round(d.width, 1) for k, d in sorted(ws.column_dimensions.items()) if d.width},
            "rows": rows,
        })
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        charts = sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))
    return {"sheets": sheets, "charts": charts}


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
        return
    assert path.exists(), f"missing golden file {path}; run with GRID_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from its golden file (GRID_UPDATE_GOLDEN=1 to accept)"


# ---------------------------------------------------------------- golden files


@pytest.mark.parametrize("kind", list(CASES))
def test_every_kind_and_format_matches_its_golden_file(grid, tmp_path, kind):
    who, args = CASES[kind]
    for fmt in FORMATS:
        if fmt == "xlsx":
            data = export_file(grid, tmp_path, kind, *args, who=who, fmt="xlsx")
            check_golden(f"{kind}.xlsx.json", json.dumps(xlsx_dump(data), ensure_ascii=False, indent=1) + "\n")
        else:
            r = grid("--as", who, "checklist", "export", kind, *args, "--format", fmt, "-o", "-")
            text = r.stdout
            if fmt == "csv":
                assert text.startswith("\ufeff")
            check_golden(f"{kind}.{fmt}", text)


def test_english_hazard_list(grid):
    r = grid("--lang", "en", "--as", "sec1", "checklist", "export", "hazards", "--format", "md", "-o", "-")
    check_golden("hazards.en.md", r.stdout)


# ---------------------------------------------------------------- what the documents say


def test_visit_checklist_for_a_grid_workers_day(grid):
    doc = export(grid, "visits", "--date", "2026-03-20", who="wg11").json()  # their own grid by default
    assert doc["title"] == "网格11走访清单" and doc["period"]["label"] == "2026-03-20"
    rows = doc["tables"][0]["rows"]
    # Most urgent first: the low-income household never visited, then the old lady living alone.
    assert [r["household"] for r in rows] == ["XH11003", "XH11001", "XH11002", "XH11004"]
    assert rows[1]["head"] == "王**" and rows[1]["care"] == ["elderly_alone"]
    assert rows[0]["last_visit"] is None and rows[1]["last_visit"]["day"] == "2026-03-10"
    cols = {c["key"]: c for c in doc["tables"][0]["columns"]}
    assert cols["signature"]["kind"] == "blank" and "signature" not in rows[0]
    revealed = export(grid, "visits", "--date", "2026-03-20", "--reveal", who="wg11").json()
    assert revealed["tables"][0]["rows"][1]["head"] == "王秀英" and revealed["masked"] is False
    # A community: one table per grid with households due.
    community = export(grid, "visits", "--community", cc.C1, "--date", "2026-03-20", who="sec1").json()
    assert [t["title"] for t in community["tables"]] == [f"网格11（{cc.G11}）", f"网格12（{cc.G12}）"]
    export(grid, "visits", "--month", "2026-03", who="wg11", expect=1)  # a checklist is for one day


def test_hazard_list_puts_open_hazards_first(grid):
    doc = export(grid, "hazards", "--community", cc.C1, who="sec1").json()
    rows = doc["tables"][0]["rows"]
    assert [r["number"] for r in rows] == ["BY-20260302-0001", "BY-20260320-0001", "BY-20260203-0001"]
    light, fire, manhole = rows
    assert light["status"] == "escalated" and light["dept"] == "住建局" and light["days_overdue"] == 15
    assert light["found_by"] == "张网格" and light["place"] == "公园路3号灯杆"
    assert fire["days_overdue"] == 0 and fire["found_by"] == "扫码反映（黄*）"
    assert manhole["status"] == "closed" and manhole["resolved_at"] == "2026-02-04T16:00:00+08:00"
    assert {f["key"]: f["value"] for f in doc["figures"]} == {"total": 3, "open": 2, "overdue": 1, "fixed": 1}


def test_petition_ledger_agrees_with_the_statistics(grid):
    doc = export(grid, "petitions", "--month", "2026-03").json()
    rows = doc["tables"][0]["rows"]
    st = grid("--as", "admin", "stats", "petitions", "--from", "2026-03-01", "--to", "2026-03-31", "--json").json()
    t = st["total"]
    received = [r for r in rows if r["status"] not in ("rejected", "duplicate")]
    assert len(rows) == t["filed"] and len(received) == t["received"]
    assert sum(1 for r in received if r["status"] in ("resolved", "closed")) == t["resolved"]
    assert sum(1 for r in received if r["in_time"]) == t["contacted_in_time"]
    assert sum(1 for r in received if r["escalations"]) == t["escalated"]
    assert sum(1 for r in received if r["sent_back"]) == t["sent_back"] == 1
    assert sum(len(r["ratings"]) for r in received) == t["rated"]
    # 按期办结 by hand: the ledger carries each deadline and resolution time (regression: it had neither).
    from datetime import datetime

    on_time = [r for r in received if r["resolved_at"]
               and datetime.fromisoformat(r["resolved_at"]) <= datetime.fromisoformat(r["resolve_due"])]
    assert len(on_time) == t["resolved_in_time"] and all(r["resolve_due"] for r in received)
    assert sum(1 for r in received if r["resolved_at"]) == t["resolved"]
    assert {f["key"]: f["value"] for f in doc["figures"]}["resolution_rate"] == t["resolution_rate"]
    first = rows[0]
    assert first["number"] == "BY-20260301-0001" and first["reporter"] == "孙*" and first["in_time"] is True
    merged = next(r for r in rows if r["status"] == "duplicate")
    assert merged["result"] == "并入 BY-20260312-0001" and merged["in_time"] is None
    never_called = next(r for r in rows if r["number"] == "BY-20260312-0001")
    assert never_called["contacted_at"] is None and never_called["in_time"] is False  # its 30 minutes are long gone
    fresh = next(r for r in rows if r["number"] == "BY-20260320-0001")
    assert fresh["in_time"] is None  # filed 15 minutes ago: still within
    assert next(r for r in rows if r["number"] == "BY-20260318-0001")["reporter"] == "匿名"
    # The callback column reads 是/否 in the CSV a person opens.
    lines = list(csv.reader(io.StringIO(export(grid, "petitions", "--month", "2026-03", fmt="csv").stdout.lstrip("\ufeff"))))
    assert lines[0][9] == "30分钟内" and lines[1][9] == "是"


def test_dispute_ledger_names_who_mediated_and_resolved(grid):
    doc = export(grid, "disputes", "--month", "2026-03").json()
    rows = {r["number"]: r for r in doc["tables"][0]["rows"]}
    neighbours = rows["BY-20260303-0001"]
    assert neighbours["mediated_on"] == "2026-03-04T15:00:00+08:00" and neighbours["mediated_by"] == "张网格"
    assert neighbours["resolved_by"] == "张网格" and neighbours["result"].startswith("双方达成调解协议")
    family = rows["BY-20260318-0001"]
    assert family["found_by"] == "孙网格" and family["resolved_on"] is None
    assert {f["key"]: f["value"] for f in doc["figures"]} == {"found": 2, "resolved": 1, "resolution_rate": 50.0}


def test_care_roster(grid):
    doc = export(grid, "care", "--community", cc.C1, who="sec1").json()
    rows = doc["tables"][0]["rows"]
    assert [(r["name"], r["household"]) for r in rows] == [
        ("王**", "XH11001"), ("刘**", "XH11002"), ("陈**（户）", "XH11003"), ("赵**", "XH12001")]
    lonely = rows[0]
    assert lonely["care"] == ["elderly_alone"] and lonely["interval_days"] == 7 and lonely["next_due"] == "2026-03-17"
    assert lonely["status"] == "逾期 3 天" and lonely["age"] == 77
    assert rows[3]["care"] == ["childless_elderly", "disabled"]
    grid("--as", "dsifa", "checklist", "export", "care", "-o", "-", "--format", "json", expect=4)


def test_monthly_report_figures_tables_and_chart(grid, tmp_path):
    doc = export(grid, "monthly", "--community", cc.C1, "--month", "2026-03", who="sec1").json()
    fig = {f["key"]: f["value"] for f in doc["figures"]}
    assert (fig["received"], fig["resolved"], fig["resolution_rate"]) == (4, 1, 25.0)
    assert fig["visits"] == 5 and fig["household_visits"] == 3 and fig["households"] == 5
    assert [t["key"] for t in doc["tables"]] == ["by_area", "by_category", "by_channel"]
    assert doc["tables"][0]["footer"]["received"] == 4
    assert doc["charts"][0]["categories"] == ["网格11", "网格12"]
    html = export(grid, "monthly", "--community", cc.C1, "--month", "2026-03", who="sec1", fmt="html").stdout
    assert "<svg" in html and "各网格受理与办结" in html
    # Self-contained: nothing fetched from the network, no scripts.
    for bad in ("<script", "src=", "href=", "@import", "url("):
        assert bad not in html
    data = export_file(grid, tmp_path, "monthly", "--community", cc.C1, "--month", "2026-03", who="sec1")
    dump = xlsx_dump(data)
    assert [s["title"] for s in dump["sheets"]] == ["概况", "分网格情况", "分类别情况", "分渠道情况"]
    assert dump["charts"] == ["xl/charts/chart1.xml"]


def test_monthly_xlsx_figures_carry_units_and_the_chart_fits_the_page(grid, tmp_path):
    """Regression: the overview's figures were bare numbers (35.1: minutes or hours?) and the chart
    sat to the right of its data, wider than the A4 portrait page the sheet is fitted to."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    data = export_file(grid, tmp_path, "monthly", "--community", cc.C1, "--month", "2026-03", who="sec1")
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    formats = {ws.cell(r, 1).value: (ws.cell(r, 2).value, ws.cell(r, 2).number_format) for r in range(5, 30)}
    assert formats["受理"] == (4, '0"件"')
    assert formats["办结率"] == (25.0, '0.00"%"')
    assert formats["平均回访用时"][1] == '0.0"分钟"' and formats["平均办结用时"][1] == '0.0"小时"'
    assert formats["住户"] == (5, '0"户"')
    (chart,) = ws._charts
    anchor = chart.anchor._from
    corner = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "网格")
    assert ws.cell(corner, 2).value == "受理" and ws.cell(corner, 3).value == "办结"
    assert anchor.col == 0 and anchor.row + 1 > corner + 2  # column A, under its data block
    # The chart's real size is in the drawing (openpyxl reads back a default); a character of
    # column width is ~7 px at 96 dpi. Columns A-F are the overview's (its title is merged across them).
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        drawing = z.read("xl/drawings/drawing1.xml").decode()
    chart_cm = int(re.search(r'<ext cx="(\d+)"', drawing).group(1)) / 360000
    letters = [get_column_letter(c) for c in range(1, 7)]
    widths = [ws.column_dimensions[x].width if x in ws.column_dimensions else 8.43 for x in letters]  # unset: default
    page_cm = sum(widths) * 7 * 2.54 / 96
    assert "A1:F1" in {str(r) for r in ws.merged_cells.ranges} and chart_cm <= page_cm, (chart_cm, widths)
    signatures = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "填报人：")
    assert signatures > anchor.row + 17  # below the chart, not under it
    grid("--lang", "en", "--as", "sec1", "checklist", "export", "monthly", "--community", cc.C1, "--month", "2026-03",
         "-o", str(tmp_path / "en.xlsx"))
    en = load_workbook(tmp_path / "en.xlsx").worksheets[0]
    units = {en.cell(r, 1).value: en.cell(r, 2).number_format for r in range(5, 30)}
    assert units["Received"] == "0" and units["Average resolution"] == '0.0" h"'


def test_xlsx_is_laid_out_for_a4(grid, tmp_path):
    dump = xlsx_dump(export_file(grid, tmp_path, "petitions", "--month", "2026-03"))
    (sheet,) = dump["sheets"]
    assert sheet["title"] == "诉求台账"
    assert sheet["paper_size"] == 9 and sheet["orientation"] == "landscape"
    assert sheet["fit_to_width"] == 1 and sheet["fit_to_height"] == 0 and sheet["fit_to_page"] is True
    assert sheet["print_title_rows"] == "$4:$4" and sheet["freeze_panes"] == "A5"
    assert sheet["rows"][0] == ["全市诉求台账"]
    assert sheet["rows"][1][0] == "区域：全市"
    assert sheet["rows"][2][0].startswith("生成时间：2026-03-20 10:00　生成人：") and "（admin）" in sheet["rows"][2][0]
    assert sheet["rows"][3][:4] == ["序号", "编号", "受理时间", "渠道"]
    assert sheet["header"][0] == "全市诉求台账" and "&P" in sheet["footer"][0]
    assert sheet["rows"][4][2] == "2026-03-01T00:30:00"  # a real date-time cell, local time
    visits = xlsx_dump(export_file(grid, tmp_path, "visits", "--date", "2026-03-20", who="wg11"))["sheets"][0]
    assert visits["orientation"] == "landscape" and visits["rows"][3][-3:] == ["已走访（√）", "走访情况 / 发现问题", "住户签字"]


def test_every_export_is_audited_and_a_failed_write_is_not(grid, tmp_path):
    grid("--as", "sec1", "checklist", "export", "hazards", "-o", str(tmp_path / "h.md"))
    grid("--as", "wg11", "checklist", "export", "visits", "--reveal", "-o", str(tmp_path / "v.csv"))
    grid("--as", "sec1", "checklist", "export", "hazards", "-o", str(tmp_path / "missing" / "h.md"), expect=1)
    entries = grid("--as", "admin", "audit", "list", "--action", "export.checklist", "--json").json()
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("export.checklist.visits", "wg11"), ("export.checklist.hazards", "sec1")]
    visits, hazards = entries
    assert visits["detail"]["revealed"] is True and visits["detail"]["rows"] == 4
    assert hazards["detail"]["format"] == "md" and hazards["entity_key"] == cc.C1
    assert (tmp_path / "h.md").read_text(encoding="utf-8").startswith("# 新华社区隐患清单")


def test_default_file_name(grid, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = grid("--as", "sec1", "checklist", "export", "monthly", "--month", "2026-03")
    assert (tmp_path / f"月度工作报表-{cc.C1}-2026-03.xlsx").exists()
    assert "月度工作报表" in r.stderr


def test_the_english_confirmation_counts_rows_in_english(grid, tmp_path):
    """Regression: "(1 rows)"."""
    for kind, args, n in (("disputes", ("--community", cc.C1, "--month", "2026-03"), 1),
                          ("hazards", ("--community", cc.C1), 3)):
        doc = export(grid, kind, *args, who="sec1").json()
        assert sum(len(t["rows"]) for t in doc["tables"]) == n
        r = grid("--lang", "en", "--as", "sec1", "checklist", "export", kind, *args, "-o", str(tmp_path / f"{kind}.csv"))
        assert r.stderr.strip().endswith(f"({n} row{'s' if n != 1 else ''}): {tmp_path / kind}.csv"), r.stderr


def test_refusals(grid):
    base = ("checklist", "export")
    grid("--as", "sec1", *base, "care", "--community", cc.C2, "-o", "-", expect=4)  # not their community
    grid("--as", "sec1", *base, "visits", "--grid", cc.G21, "--reveal", "-o", "-", expect=4)
    grid("--as", "view", *base, "care", "--reveal", "-o", "-", expect=4)  # viewers never reveal
    grid("--as", "sec1", *base, "hazards", "--grid", cc.C1, "-o", "-", expect=1)  # a community is not a grid
    grid("--as", "sec1", *base, "hazards", "--grid", cc.G11, "--community", cc.C1, "-o", "-", expect=2)
    grid("--as", "sec1", *base, "petitions", "--date", "2026-03-01", "--month", "2026-03", "-o", "-", expect=2)
    r = grid("--as", "sec1", *base, "ledger", "-o", "-", expect=1)
    assert "visits" in r.stderr
    grid("--as", "sec1", *base, "hazards", "--format", "pdf", "-o", "-", expect=1)
    grid(*base, "hazards", "-o", "-", expect=4)  # nobody


def test_text_that_looks_like_a_formula_stays_text(grid, tmp_path):
    grid("--as", "wg11", "petition", "file", "--text", "=HYPERLINK(\"http://x\",\"点我\") 邻居吵架",
         "--category", "dispute_neighbour", "--channel", "grid_report")
    lines = list(csv.reader(io.StringIO(
        export(grid, "disputes", "--month", "2026-03", who="sec1", fmt="csv").stdout.lstrip("\ufeff"))))
    assert any(row[6].startswith("'=HYPERLINK") for row in lines[1:])
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(export_file(grid, tmp_path, "disputes", "--month", "2026-03", who="sec1")))
    cells = [c for row in wb.active.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" and c.value.startswith("'=") for c in cells)


def test_a_petition_filed_through_the_cli_reaches_the_ledger(grid):
    number = grid("--as", "sec1", "petition", "file", "--text", "楼道灯不亮", "--category", "hazard_streetlight",
                  "--channel", "qr", "--grid", cc.G12, "--name", "吴敏", "--phone", "13700000001",
                  "--address", "兴华路8号2栋楼道").stdout.strip()
    grid("--as", "sec1", "petition", "assign", number, "--to", "wg12")
    grid("--as", "wg12", "petition", "contact", number, "--how", "phone", "--outcome", "明天上门更换")
    doc = export(grid, "hazards", "--grid", cc.G12, who="wg12").json()
    row = next(r for r in doc["tables"][0]["rows"] if r["number"] == number)
    assert row["status"] == "contacted" and row["found_by"] == "扫码反映（吴*）" and row["place"] == "兴华路8号2栋楼道"
    ledger = export(grid, "petitions", "--month", "2026-03", who="sec1").json()
    mine = next(r for r in ledger["tables"][0]["rows"] if r["number"] == number)
    assert mine["assignee"] == "赵网格" and mine["in_time"] is True
    st = grid("--as", "sec1", "stats", "petitions", "--from", "2026-03-20", "--to", "2026-03-20", "--json").json()
    assert st["total"]["received"] == 2 and st["total"]["contacted_in_time"] == 1


# ---------------------------------------------------------------- on the demo city


def test_every_checklist_opens_on_the_demo(env_dirs, demo_city, tmp_path, monkeypatch):  # noqa: F811
    """What a newcomer gets from the README's tour: every kind, every format, both languages, on
    the demo city; each XLSX read back as a spreadsheet program would (A4, print titles, frozen
    header, page header and footer, the generated lines), the monthly one with its chart."""
    from openpyxl import load_workbook

    from tests.conftest import invoke

    monkeypatch.setenv("GRID_NOW", cc.DEMO_NOW)
    cases = {
        "visits": ("wg402001001001", ()),
        "hazards": ("sj402001001", ()),
        "petitions": ("sj402001001", ("--month", "2026-11")),
        "disputes": (None, ("--street", "620402001", "--month", "2026-11")),
        "care": ("sj402001001", ("--grid", "620402001001001")),
        "monthly": (None, ("--street", "620402001", "--month", "2026-11")),
    }
    for kind, (who, args) in cases.items():
        base = ("--demo", "--db", str(demo_city), *(("--as", who) if who else ()))
        doc = invoke(*base, "checklist", "export", kind, *args, "-f", "json", "-o", "-").json()
        rows = sum(len(t["rows"]) for t in doc["tables"])
        assert rows > 0, kind  # a city worth opening: nothing empty
        assert doc["generated_at"].startswith("2026-12-02T09:30") and doc["generated_by"]["username"] == (who or "admin")
        for lang in ("zh", "en"):
            for fmt in ("xlsx", "csv", "md", "html"):
                target = tmp_path / f"{kind}.{lang}.{fmt}"
                invoke("--lang", lang, *base, "checklist", "export", kind, *args, "-o", str(target))
                assert target.stat().st_size > 0
            wb = load_workbook(tmp_path / f"{kind}.{lang}.xlsx")
            for ws in wb.worksheets:
                assert int(ws.page_setup.paperSize) == 9 and ws.sheet_properties.pageSetUpPr.fitToPage  # 9: A4
                assert ws.print_title_rows and ws.freeze_panes and "&P" in ws.oddFooter.center.text
                assert ws.oddHeader.left.text and ws.oddHeader.right.text  # title, period
                if lang == "zh":
                    assert ws.oddHeader.left.text == doc["title"].replace("&", "&&")
                assert ws["A3"].value.startswith(("生成时间：2026-12-02 09:30", "Generated 2026-12-02 09:30"))
            if kind == "monthly":
                assert len(wb.worksheets[0]._charts) == 1
            md = (tmp_path / f"{kind}.{lang}.md").read_text(encoding="utf-8")
            if kind != "monthly":  # figures only: no personal data in it
                assert ("个人信息已脱敏。" if lang == "zh" else "Personal data is masked.") in md
    # The hazard list puts the open ones first, as the issue asks.
    hz = invoke("--demo", "--db", str(demo_city), "--as", "sj402001001", "checklist", "export", "hazards",
                "-f", "json", "-o", "-").json()["tables"][0]["rows"]
    open_flags = [r["status"] not in ("resolved", "closed", "rejected", "duplicate") for r in hz]
    assert open_flags == sorted(open_flags, reverse=True)
    audited = invoke("--demo", "--db", str(demo_city), "audit", "list", "--action", "export.checklist", "--json").json()
    assert len(audited) >= 6 * 9
