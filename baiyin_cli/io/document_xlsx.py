"""A checklist Document as an Excel workbook laid out for A4 paper.

Each sheet: the title (merged across the table), the area and period, who made it and when,
then the table with a grey header row that repeats on every printed page (print titles),
frozen below the header, thin borders, wrapped long columns, and under it the figures, notes
and signature lines. Print settings: A4, landscape when the table is wide, fit to one page
wide, page header (title, period) and footer (page x of y). A document with several tables
(the monthly report) gets an overview sheet with the figures and a bar chart, then one sheet
per table.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.i18n import L, get_lang

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

    from baiyin_cli.services.checklists import Chart, Column, Document, Table

FONT = "宋体"
HEADER_FILL = "D9D9D9"
NUMBER_FORMATS = {"int": "0", "num": "0.0", "pct": '0.00"%"', "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm"}
# Excel forbids these in sheet titles.
_BAD_TITLE = str.maketrans({c: "_" for c in "[]:*?/\\"})


def _cell_value(col: Column, value: Any) -> Any:
    """A typed cell: numbers stay numbers, times become local naive datetimes, codes become labels."""
    if col.kind == "blank" or value is None:
        return None
    if col.kind in ("int", "num", "pct") and isinstance(value, (int, float)) and not isinstance(value, bool):
        if col.show is not None and col.kind == "int" and value == 0:
            return col.text(value) or None
        return value
    if col.kind == "datetime" and isinstance(value, datetime):
        return timeutil.local(value).replace(tzinfo=None, second=0, microsecond=0)
    if col.kind == "date" and isinstance(value, datetime):
        return timeutil.local_date(value)
    if col.kind == "date" and isinstance(value, date):
        return value
    return _text(col.text(value))


def _text(value: str) -> str:
    """Text as a cell: never a formula (the exporters' rule), no characters XML forbids."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    from baiyin_cli.io.writers import neutralise

    return ILLEGAL_CHARACTERS_RE.sub("", neutralise(value))


def _header_text(text: str) -> str:
    """Header/footer codes use '&' as an escape: double it in literal text."""
    return text.replace("&", "&&")


def _setup_print(ws: Worksheet, doc: Document, header_row: int | None, landscape: bool) -> None:
    from openpyxl.worksheet.page import PageMargins

    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.7, bottom=0.7, header=0.3, footer=0.3)
    if header_row is not None:
        ws.print_title_rows = f"{header_row}:{header_row}"
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.oddHeader.left.text = _header_text(doc.title)
    ws.oddHeader.left.size = 9
    ws.oddHeader.right.text = _header_text(doc.period["label"])
    ws.oddHeader.right.size = 9
    ws.oddFooter.center.text = L("第 &P 页，共 &N 页", "Page &P of &N")
    ws.oddFooter.center.size = 9
    ws.oddFooter.right.text = _header_text(timeutil.fmt(doc.generated_at))
    ws.oddFooter.right.size = 9


def _head(ws: Worksheet, doc: Document, ncols: int, subtitle: str | None = None) -> int:
    """Title, area/period and generated lines; returns the next free row."""
    from openpyxl.styles import Alignment, Font

    ncols = max(ncols, 2)
    ws.cell(row=1, column=1, value=doc.title + (f" — {subtitle}" if subtitle else ""))
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
    ws["A1"].font = Font(name=FONT, size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 30
    half = max(ncols // 2, 1)
    ws.cell(row=2, column=1, value=doc.area_line())
    ws.cell(row=2, column=half + 1, value=doc.period_line())
    if half > 1:
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=half)
    if ncols > half + 1:
        ws.merge_cells(start_row=2, start_column=half + 1, end_row=2, end_column=ncols)
    ws.cell(row=2, column=half + 1).alignment = Alignment(horizontal="right")
    ws.cell(row=3, column=1, value=doc.generated_line())
    ws.merge_cells(start_row=3, start_column=1, end_row=3, end_column=ncols)
    ws.cell(row=3, column=1).alignment = Alignment(horizontal="right")
    for r in (2, 3):
        for c in range(1, ncols + 1):
            ws.cell(row=r, column=c).font = Font(name=FONT, size=10)
    return 4


def _table(ws: Worksheet, t: Table, top: int) -> tuple[int, int]:
    """Write a table at row `top`; returns (header row, next free row)."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    header_font = Font(name=FONT, size=10.5, bold=True)
    body_font = Font(name=FONT, size=10)
    for j, col in enumerate(t.columns, 1):
        cell = ws.cell(row=top, column=j, value=col.label)
        cell.font = header_font
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = max(col.width, ws.column_dimensions[letter].width or 0)
    ws.row_dimensions[top].height = 30
    r = top + 1
    rows = list(t.rows) + ([t.footer] if t.footer is not None else [])
    for i, row in enumerate(rows):
        footer = t.footer is not None and i == len(rows) - 1
        for j, col in enumerate(t.columns, 1):
            value = _cell_value(col, row.get(col.key)) if (not footer or col.key in row) else None
            cell = ws.cell(row=r, column=j, value=value)
            cell.font = Font(name=FONT, size=10, bold=footer) if footer else body_font
            cell.border = border
            cell.alignment = Alignment(
                horizontal=col.alignment,
                vertical="center",
                wrap_text=col.wrap or col.kind == "blank",
            )
            fmt = NUMBER_FORMATS.get(col.kind)
            if fmt and isinstance(value, (int, float, date, datetime)) and not isinstance(value, bool):
                cell.number_format = fmt
        if t.tall_rows and not footer:
            ws.row_dimensions[r].height = 36
        r += 1
    if not t.rows:
        ws.cell(row=r, column=1, value=L("（无记录）", "(no records)")).font = body_font
        r += 1
    return top, r


def _tail(ws: Worksheet, doc: Document, r: int, ncols: int, *, figures: bool) -> int:
    """Figures (one line), notes and signature lines under a table."""
    from openpyxl.styles import Alignment, Font

    font = Font(name=FONT, size=10)
    r += 1
    lines: list[str] = []
    if figures and doc.figures:
        sep = "; " if get_lang() == "en" else "；"
        lines.append(sep.join(f"{f.label} {f.text()}" for f in doc.figures))
    lines += doc.notes
    for text in lines:
        ws.cell(row=r, column=1, value=text).font = font
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=max(ncols, 2))
        ws.cell(row=r, column=1).alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[r].height = 18 * max(1, len(text) // 90 + 1)
        r += 1
    if doc.signatures:
        r += 1
        per = max(ncols // len(doc.signatures), 1)
        for k, s in enumerate(doc.signatures):
            c = ws.cell(row=r, column=1 + k * per, value=f"{s}：")
            c.font = Font(name=FONT, size=11)
        ws.row_dimensions[r].height = 28
        r += 1
    return r


def _sheet_title(text: str, used: set[str]) -> str:
    base = (text or "Sheet").translate(_BAD_TITLE)[:28] or "Sheet"
    title, n = base, 2
    while title in used:
        title = f"{base[:26]}{n}"
        n += 1
    used.add(title)
    return title


def _figure_format(value: Any, unit: str) -> str:
    """A figure's number format, its unit included (15 shows as 15件, 35.1 as 35.1小时)."""
    if unit == "%":
        return NUMBER_FORMATS["pct"]
    base = NUMBER_FORMATS["num"] if isinstance(value, float) else NUMBER_FORMATS["int"]
    unit = unit.replace('"', "")
    return f'{base}"{unit}"' if unit else base


# The chart under its data block, as wide as the overview's columns (A4 portrait, fit to width).
CHART_WIDTH_CM = 14.5  # columns A-F of the overview: 26 + 14 + 4 x 10 characters, ~14.8 cm
CHART_HEIGHT_CM = 8.5
CHART_ROWS = 18  # rows of the default height (15 pt) the chart covers


def _chart(ws: Worksheet, chart: Chart, top: int, left: int) -> int:
    """Write the chart's data block at (top, left), draw a clustered bar chart under it; returns
    the next free row below the chart."""
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws.cell(row=top, column=left, value=chart.x_title or chart.y_title or "").font = Font(
        name=FONT, bold=True, size=10
    )
    for k, (name, _) in enumerate(chart.series, 1):
        ws.cell(row=top, column=left + k, value=name).font = Font(name=FONT, bold=True, size=10)
    for i, cat in enumerate(chart.categories, 1):
        ws.cell(row=top + i, column=left, value=cat).font = Font(name=FONT, size=10)
        for k, (_, values) in enumerate(chart.series, 1):
            ws.cell(row=top + i, column=left + k, value=values[i - 1])
    bottom = top + len(chart.categories)
    bar = BarChart()
    bar.type = "col"
    bar.grouping = "clustered"
    bar.title = chart.title
    bar.y_axis.title = chart.y_title or None
    bar.y_axis.majorGridlines = bar.y_axis.majorGridlines  # keep the default gridlines
    bar.y_axis.delete = False
    bar.x_axis.delete = False
    bar.height = CHART_HEIGHT_CM
    bar.width = CHART_WIDTH_CM
    data = Reference(ws, min_col=left + 1, max_col=left + len(chart.series), min_row=top, max_row=bottom)
    cats = Reference(ws, min_col=left, min_row=top + 1, max_row=bottom)
    bar.add_data(data, titles_from_data=True)
    bar.set_categories(cats)
    if chart.x_title:
        bar.x_axis.title = chart.x_title
    anchor = bottom + 2
    ws.add_chart(bar, f"{get_column_letter(left)}{anchor}")
    return anchor + CHART_ROWS


def render_xlsx(doc: Document) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    wb = Workbook()
    used: set[str] = set()
    ws = wb.active
    several = len(doc.tables) > 1 or bool(doc.charts)
    if not several:
        t = doc.tables[0]
        ws.title = _sheet_title(doc.title_plain(), used)
        top = _head(ws, doc, len(t.columns))
        header, r = _table(ws, t, top)
        _tail(ws, doc, r, len(t.columns), figures=True)
        _setup_print(ws, doc, header, doc.landscape)
    else:
        ws.title = _sheet_title(L("概况", "Overview"), used)
        ncols = 6
        r = _head(ws, doc, ncols)
        thin = Side(style="thin", color="000000")
        border = Border(left=thin, right=thin, top=thin, bottom=thin)
        header = r
        for j, text in enumerate((L("指标", "Figure"), L("数值", "Value")), 1):
            c = ws.cell(row=r, column=j, value=text)
            c.font = Font(name=FONT, bold=True, size=10.5)
            c.fill = PatternFill("solid", fgColor=HEADER_FILL)
            c.border = border
            c.alignment = Alignment(horizontal="center")
        r += 1
        for f in doc.figures:
            a = ws.cell(row=r, column=1, value=f.label)
            b = ws.cell(row=r, column=2, value=f.value if isinstance(f.value, (int, float)) else f.text())
            if isinstance(f.value, (int, float)) and not isinstance(f.value, bool):
                b.number_format = _figure_format(f.value, f.unit)
            b.alignment = Alignment(horizontal="right")
            for c in (a, b):
                c.font = Font(name=FONT, size=10)
                c.border = border
            r += 1
        ws.column_dimensions["A"].width = 26
        ws.column_dimensions["B"].width = 14
        for letter in "CDEF":  # the chart's data block and the chart itself span A-F
            ws.column_dimensions[letter].width = 10
        r += 1
        for chart in doc.charts:
            r = _chart(ws, chart, r, 1)
        r = _tail(ws, doc, r, ncols, figures=False)
        _setup_print(ws, doc, header, False)
        for t in doc.tables:
            sheet = wb.create_sheet(_sheet_title(t.title or doc.title_plain(), used))
            top = _head(sheet, doc, len(t.columns), subtitle=t.title)
            header_row, end = _table(sheet, t, top)
            if doc.signatures:
                _tail(sheet, replace(doc, notes=[], figures=[]), end, len(t.columns), figures=False)
            _setup_print(sheet, doc, header_row, t.width > 100)
    wb.properties.creator = f"grid ({doc.generated_by['username']})"
    wb.properties.title = doc.title
    stamp = timeutil.local(doc.generated_at).replace(tzinfo=None, microsecond=0)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
