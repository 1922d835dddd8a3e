"""A checklist Document as one self-contained HTML page, fit to print on A4.

No network: no web fonts, scripts or images; the chart is inline SVG drawn here. Print CSS:
`@page` A4 (landscape for wide tables), the table header repeats on every page (`thead` as a
header group), rows do not split across pages, signature lines at the foot. The output is a
pure function of the Document (no clock, no random ids), so golden files can compare it.
"""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING

from baiyin_cli.i18n import L, get_lang

if TYPE_CHECKING:
    from baiyin_cli.services.checklists import Chart, Column, Document, Table

CSS = """\
@page { size: A4 %(orientation)s; margin: 12mm 10mm 14mm;
        @bottom-center { content: "%(page_text)s"; font-size: 8pt; } }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "SimSun", sans-serif;
       font-size: 10pt; color: #000; margin: 0 auto; max-width: %(max_width)s; }
@media screen { body { padding: 16px; } }
h1 { text-align: center; font-size: 17pt; margin: 0 0 6pt; letter-spacing: 1pt; }
h2 { font-size: 12pt; margin: 12pt 0 4pt; }
.meta { display: flex; justify-content: space-between; font-size: 9.5pt; margin: 2pt 0; }
.generated { text-align: right; font-size: 9pt; color: #333; margin: 0 0 6pt; }
table { border-collapse: collapse; width: 100%%; margin: 0 0 8pt; }
th, td { border: 0.6pt solid #000; padding: 2pt 3pt; vertical-align: middle; overflow-wrap: anywhere; }
table.data { font-size: %(table_font)s; }
th { background: #e6e6e6; font-weight: bold; text-align: center; }
thead { display: table-header-group; }
tfoot td { font-weight: bold; }
tr { page-break-inside: avoid; break-inside: avoid; }
td.num { text-align: right; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
td.mid { text-align: center; white-space: nowrap; }
tr.tall td { height: 2.6em; }
table.figures { width: 100%%; font-size: 9.5pt; }
table.figures td { border-color: #999; }
table.figures td.label { background: #f4f4f4; }
figure { margin: 6pt 0 10pt; page-break-inside: avoid; break-inside: avoid; }
figcaption { font-weight: bold; margin-bottom: 4pt; }
.notes { font-size: 9pt; margin: 4pt 0; }
.signatures { display: flex; justify-content: space-between; margin-top: 18pt; font-size: 10.5pt; }
.signatures span { min-width: 28%%; }
.empty { color: #555; }
"""

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759")


def _num_class(col: Column) -> str:
    cls = {"right": "num", "center": "mid"}.get(col.alignment, "nowrap" if col.nowrap else "")
    return f' class="{cls}"' if cls else ""


def _table(t: Table) -> list[str]:
    total = sum(c.width for c in t.columns) or 1
    out = ['<table class="data">']
    out.append("<colgroup>" + "".join(f'<col style="width:{100 * c.width / total:.1f}%">' for c in t.columns)
               + "</colgroup>")
    out.append("<thead><tr>" + "".join(f"<th>{escape(c.label)}</th>" for c in t.columns) + "</tr></thead>")
    out.append("<tbody>")
    row_attr = ' class="tall"' if t.tall_rows else ""
    for r in t.rows:
        cells = "".join(f"<td{_num_class(c)}>{escape(c.text(r.get(c.key)))}</td>" for c in t.columns)
        out.append(f"<tr{row_attr}>{cells}</tr>")
    if not t.rows:
        out.append(f'<tr><td class="empty" colspan="{len(t.columns)}">{escape(L("（无记录）", "(no records)"))}</td></tr>')
    out.append("</tbody>")
    if t.footer is not None:
        cells = "".join(
            f"<td{_num_class(c)}>{escape(c.text(t.footer.get(c.key)) if c.key in t.footer else '')}</td>"
            for c in t.columns
        )
        out.append(f"<tfoot><tr>{cells}</tr></tfoot>")
    out.append("</table>")
    return out


def _nice_max(value: float) -> float:
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k) at or above `value`: the top of the y axis."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        top = m * 10**exp
        if top >= value:
            return float(top)
    return float(10 ** (exp + 1))  # pragma: no cover


def _fmt(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def svg_bar_chart(chart: Chart, *, width: int = 720, height: int = 300) -> str:
    """A grouped bar chart as inline SVG: axis, gridlines, bars, value labels, legend."""
    n = max(len(chart.categories), 1)
    k = max(len(chart.series), 1)
    left, right, top, bottom = 48, 12, 30, 64 if n > 8 else 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for _, values in chart.series for v in values), default=0)
    ymax = _nice_max(float(peak))
    ticks = 5
    counts = all(float(v).is_integer() for _, values in chart.series for v in values)
    if counts and ymax < 5:  # a few petitions: whole-number ticks
        ymax, ticks = float(max(int(math.ceil(peak)), 1)), max(int(math.ceil(peak)), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(chart.title)}" font-family="sans-serif" font-size="11">'
    ]
    for i in range(ticks + 1):
        y = top + plot_h - plot_h * i / ticks
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ccc" stroke-width="0.6"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(round(ymax * i / ticks, 2))}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#000"/>')
    slot = plot_w / n
    bar_w = min(slot * 0.8 / k, 36)
    for ci, cat in enumerate(chart.categories):
        x0 = left + slot * ci + (slot - bar_w * k) / 2
        for si, (_, values) in enumerate(chart.series):
            v = float(values[ci] or 0)
            h = plot_h * v / ymax
            x = x0 + si * bar_w
            y = top + plot_h - h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE[si % len(PALETTE)]}"/>')
            if n * k <= 40:
                parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-size="9">'
                             f'{_fmt(values[ci])}</text>')
        cx = left + slot * ci + slot / 2
        label = escape(cat)
        if n > 8:
            parts.append(f'<text x="{cx:.1f}" y="{top + plot_h + 12}" text-anchor="end" '
                         f'transform="rotate(-35 {cx:.1f} {top + plot_h + 12})">{label}</text>')
        else:
            parts.append(f'<text x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{label}</text>')
    lx = left + plot_w
    for si, (name, _) in enumerate(reversed(chart.series)):
        idx = len(chart.series) - 1 - si
        width_guess = 14 + 12 * len(name)
        lx -= width_guess + 10
        parts.append(f'<rect x="{lx}" y="8" width="10" height="10" fill="{PALETTE[idx % len(PALETTE)]}"/>')
        parts.append(f'<text x="{lx + 14}" y="17">{escape(name)}</text>')
    if chart.y_title:
        parts.append(f'<text x="{left}" y="17">{escape(chart.y_title)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(doc: Document) -> str:
    lang = "en" if get_lang() == "en" else "zh-CN"
    landscape = doc.landscape
    css = CSS % {
        "orientation": "landscape" if landscape else "portrait",
        "max_width": "277mm" if landscape else "190mm",
        "table_font": "8.5pt" if landscape else "9.5pt",
        "page_text": L('第 " counter(page) " 页，共 " counter(pages) " 页', 'Page " counter(page) " of " counter(pages) "'),
    }
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="generator" content="grid">',
        f"<title>{escape(doc.title)}</title>",
        f"<style>\n{css}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{escape(doc.title)}</h1>",
        f'<div class="meta"><span>{escape(doc.area_line())}</span><span>{escape(doc.period_line())}</span></div>',
        f'<p class="generated">{escape(doc.generated_line())}</p>',
        "</header>",
    ]
    if doc.figures:
        per_row = 4 if landscape or len(doc.figures) > 8 else 3
        out.append('<table class="figures"><tbody>')
        for i in range(0, len(doc.figures), per_row):
            cells = "".join(f'<td class="label">{escape(f.label)}</td><td class="num">{escape(f.text())}</td>'
                            for f in doc.figures[i : i + per_row])
            cells += "<td></td><td></td>" * (per_row - len(doc.figures[i : i + per_row]))
            out.append(f"<tr>{cells}</tr>")
        out.append("</tbody></table>")
    for c in doc.charts:
        out.append(f"<figure><figcaption>{escape(c.title)}</figcaption>{svg_bar_chart(c)}</figure>")
    for t in doc.tables:
        if t.title:
            out.append(f"<h2>{escape(t.title)}</h2>")
        out += _table(t)
    for n in doc.notes:
        out.append(f'<p class="notes">{escape(n)}</p>')
    if doc.signatures:
        out.append('<div class="signatures">' + "".join(
            f"<span>{escape(s)}：＿＿＿＿＿＿＿＿</span>" for s in doc.signatures) + "</div>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)
