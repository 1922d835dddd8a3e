"""Render a checklist Document (services/checklists.py) as a file: xlsx, csv, md, html or json.

`render(doc, fmt)` returns bytes, so the caller can write them inside the transaction that
records the export in the audit log (a failed write leaves no "exported" entry behind).

CSV is for re-use in a spreadsheet: UTF-8 with a byte-order mark (Excel and WPS then read the
Chinese correctly), CRLF line ends, header labels in the interface language, no title lines; a
document with several tables (the monthly report) writes each under its title, separated by an
empty line. Markdown keeps the title, the area/period lines and GitHub pipe tables.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

from baiyin_cli.errors import InvalidInput, os_error_text
from baiyin_cli.i18n import L, M

if TYPE_CHECKING:
    from baiyin_cli.services.checklists import Document, Table

FORMATS = ("xlsx", "csv", "md", "html", "json")
TEXT_FORMATS = ("csv", "md", "html", "json")
SUFFIXES = {"xlsx": "xlsx", "csv": "csv", "md": "md", "html": "html", "json": "json", "markdown": "md", "htm": "html"}

BAD_FORMAT = M(
    "document.bad_format", "格式无效：{value}（可选 {choices}）", "Invalid format: {value} (one of {choices})"
)


def format_of(value: str | None, path: str | None = None) -> str:
    """--format, else the output file's suffix, else xlsx."""
    if value:
        v = value.strip().lower().lstrip(".")
        if v in SUFFIXES:
            return SUFFIXES[v]
        raise InvalidInput(BAD_FORMAT, value=value, choices="/".join(FORMATS))
    if path and path != "-" and "." in path.rsplit("/", 1)[-1]:
        suffix = path.rsplit(".", 1)[-1].lower()
        if suffix in SUFFIXES:
            return SUFFIXES[suffix]
    return "xlsx"


def render(doc: Document, fmt: str) -> bytes:
    fmt = format_of(fmt)
    if fmt == "xlsx":
        from baiyin_cli.io.document_xlsx import render_xlsx

        return render_xlsx(doc)
    if fmt == "html":
        from baiyin_cli.io.document_html import render_html

        return render_html(doc).encode("utf-8")
    if fmt == "md":
        return render_md(doc).encode("utf-8")
    if fmt == "csv":
        return ("\ufeff" + render_csv(doc)).encode("utf-8")
    return (json.dumps(doc.public(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# ---------------------------------------------------------------- CSV


def _table_lines(t: Table) -> list[list[str]]:
    cols = t.columns
    lines = [[c.label for c in cols]]
    lines += [[c.text(r.get(c.key)) for c in cols] for r in t.rows]
    if t.footer is not None:
        lines.append([c.text(t.footer.get(c.key)) if c.key in t.footer else "" for c in cols])
    return lines


def _inert(lines: list[list[str]]) -> list[list[str]]:
    """Cells a spreadsheet would run as formulas are made text (the exporters' rule)."""
    from baiyin_cli.io.writers import neutralise

    return [[neutralise(v) for v in line] for line in lines]


def render_csv(doc: Document) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    several = len(doc.tables) > 1
    if several and doc.figures:
        w.writerow([L("指标", "Figure"), L("数值", "Value")])
        for f in doc.figures:
            w.writerow(_inert([[f.label, f.text()]])[0])
        w.writerow([])
    for i, t in enumerate(doc.tables):
        if several:
            if i:
                w.writerow([])
            w.writerow([t.title or ""])
        w.writerows(_inert(_table_lines(t)))
    return buf.getvalue()


# ---------------------------------------------------------------- Markdown


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def _md_table(t: Table) -> list[str]:
    cols = t.columns
    out = ["| " + " | ".join(_md_cell(c.label) for c in cols) + " |"]
    marks = {"right": "---:", "center": ":---:", "left": "---"}
    out.append("| " + " | ".join(marks[c.alignment] for c in cols) + " |")
    for line in _table_lines(t)[1:]:
        out.append("| " + " | ".join(_md_cell(v) for v in line) + " |")
    return out


def render_md(doc: Document) -> str:
    lines = [f"# {doc.title}", "", f"- {doc.area_line()}", f"- {doc.period_line()}", f"- {doc.generated_line()}", ""]
    if doc.figures:
        lines += [f"| {L('指标', 'Figure')} | {L('数值', 'Value')} |", "| --- | ---: |"]
        lines += [f"| {_md_cell(f.label)} | {_md_cell(f.text())} |" for f in doc.figures]
        lines.append("")
    for t in doc.tables:
        if t.title:
            lines += [f"## {t.title}", ""]
        if t.rows:
            lines += _md_table(t)
        else:
            lines.append(L("（无记录）", "(no records)"))
        lines.append("")
    for c in doc.charts:
        lines += [f"## {c.title}", ""]
        lines += [f"| {_md_cell(c.x_title or c.y_title or '')} | " + " | ".join(_md_cell(n) for n, _ in c.series) + " |"]
        lines += ["| --- | " + " | ".join("---:" for _ in c.series) + " |"]
        for i, cat in enumerate(c.categories):
            lines.append(f"| {_md_cell(cat)} | " + " | ".join(_num(v[i]) for _, v in c.series) + " |")
        lines.append("")
    for n in doc.notes:
        lines.append(f"> {n}")
    if doc.notes:
        lines.append("")
    if doc.signatures:
        lines.append("　　".join(f"{s}：＿＿＿＿＿＿" for s in doc.signatures))
        lines.append("")
    return "\n".join(lines)


def _num(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def write_output(target: str, data: bytes) -> None:
    """Write `data` to stdout (`-`) or to a file, under a temporary name first, so a failed
    write never leaves half a document where the old one was."""
    import os
    import sys
    import tempfile
    from pathlib import Path

    from baiyin_cli.io.writers import IO_CANNOT_WRITE

    if target == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    path = Path(target).expanduser()
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".part", dir=path.parent if str(path.parent) else ".")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise InvalidInput(IO_CANNOT_WRITE, name=str(path), error=os_error_text(exc)) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
