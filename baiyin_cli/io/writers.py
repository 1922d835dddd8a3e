"""Writers: CSV (UTF-8 with BOM, so Excel and WPS open it right), XLSX (header row, frozen panes,
print titles, sensible column widths) and JSON Lines, to a file or to stdout (`-`).

Rows stream through: CSV and JSON Lines are written as they come, XLSX with openpyxl's
write_only mode (widths are measured on the first rows, which are held back until then).
A file is written under a temporary name and moved into place only when complete, so an
export that fails leaves no half-written file behind.

Cells that a spreadsheet would run as a formula (beginning with = + - @, tab or CR) are made
inert with a leading apostrophe (OWASP "CSV injection"); readers take that apostrophe off
again, so an export imports back unchanged.
"""

from __future__ import annotations

import abc

import json
import os
import sys
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from baiyin_cli.errors import InvalidInput, UsageError, os_error_text
from baiyin_cli.i18n import M

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
WIDTH_SAMPLE_ROWS = 200
MAX_WIDTH = 60

IO_CANNOT_WRITE = M("io.cannot_write", "无法写入 {name}：{error}", "Cannot write {name}: {error}")
IO_OUT_FORMAT = M(
    "io.out_format",
    "无法从文件名判断输出格式：{name}（用 .csv/.xlsx/.jsonl 或 --format）",
    "Cannot tell the output format from {name} (use .csv/.xlsx/.jsonl or --format)",
)


def neutralise(text: str) -> str:
    """'=1+2' -> "'=1+2": a spreadsheet shows the text instead of running it."""
    if text and text[0] in FORMULA_START:
        return "'" + text
    return text


def unneutralise(text: str) -> tuple[str, bool]:
    """Undo `neutralise`: "'=1+2" -> ('=1+2', True). Anything else comes back as it was."""
    if len(text) >= 2 and text[0] == "'" and text[1] in FORMULA_START:
        return text[1:], True
    return text, False


def looks_like_formula(text: str) -> bool:
    """A value a spreadsheet would evaluate: '=...', or '+'/'-'/'@' before something that is not a number."""
    if not text:
        return False
    c = text[0]
    if c == "=" or c == "@":
        return True
    if c in "+-":
        rest = text[1:].replace(" ", "").replace("-", "").replace(".", "")
        return not rest.isdigit()
    return False


def display_width(text: str) -> int:
    """Columns a spreadsheet needs for `text`: CJK characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def output_format(name: str, given: str | None) -> str:
    from baiyin_cli.io.readers import FORMATS, IO_BAD_FORMAT

    if given:
        fmt = given.strip().lower().lstrip(".")
        fmt = {"json": "jsonl", "ndjson": "jsonl"}.get(fmt, fmt)
        if fmt not in FORMATS:
            raise UsageError(IO_BAD_FORMAT, value=given)  # --format was given: it is the format that is wrong
        return fmt
    if name == "-":
        return "csv"
    ext = Path(name).suffix.lower().lstrip(".")
    fmt = {"csv": "csv", "xlsx": "xlsx", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}.get(ext)
    if fmt is None:
        raise UsageError(IO_OUT_FORMAT, name=name)
    return fmt


@dataclass(frozen=True)
class OutColumn:
    key: str  # JSON Lines key (English field name)
    label: str  # CSV/XLSX header
    width: int = 12  # XLSX width hint (characters), refined from the data


class Writer(abc.ABC):
    """Write rows (lists of values in column order) to FILE or stdout; `close()` finishes,
    `abort()` throws a half-written file away."""

    def __init__(self, name: str, columns: Sequence[OutColumn]) -> None:
        self.name = name
        self.display_name = "stdout" if name == "-" else Path(name).name
        self.columns = list(columns)
        self.count = 0
        self._tmp: str | None = None
        self._done = False

    # -- file handling shared by the formats

    def _open_binary(self) -> IO[bytes]:
        if self.name == "-":
            sys.stdout.flush()
            return sys.stdout.buffer
        path = Path(self.name)
        try:
            fd, tmp = tempfile.mkstemp(
                prefix="." + path.name + ".", suffix=".part", dir=path.parent or Path(".")
            )
        except OSError as exc:
            raise InvalidInput(IO_CANNOT_WRITE, name=self.name, error=os_error_text(exc)) from None
        self._tmp = tmp
        return os.fdopen(fd, "wb")

    def _finish_file(self) -> None:
        if self._tmp is not None:
            try:
                os.replace(self._tmp, self.name)
            except OSError as exc:
                raise InvalidInput(IO_CANNOT_WRITE, name=self.name, error=os_error_text(exc)) from None
            self._tmp = None

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self._abort()
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None

    @abc.abstractmethod
    def write(self, values: Sequence[Any]) -> None:
        """Each subclass does this its own way."""

    def finish(self) -> None:
        """Write out everything; a file stays under its temporary name until `publish()`."""
        if self._done:
            return
        self._done = True
        self._close()

    def publish(self) -> None:
        """Move the finished file into place (after, say, the export was audited)."""
        self._finish_file()

    def close(self) -> None:
        self.finish()
        self.publish()

    @abc.abstractmethod
    def _close(self) -> None:
        """Each subclass does this its own way."""

    @abc.abstractmethod
    def _abort(self) -> None:
        """Each subclass does this its own way."""

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value)
    return str(value)


class CsvWriter(Writer):
    def __init__(self, name: str, columns: Sequence[OutColumn]) -> None:
        import csv
        import io

        super().__init__(name, columns)
        self._bin = self._open_binary()
        # utf-8-sig writes the BOM that tells Excel and WPS this is UTF-8; \r\n as Excel writes.
        self._fh = io.TextIOWrapper(self._bin, encoding="utf-8-sig", newline="", write_through=False)
        self._csv = csv.writer(self._fh, lineterminator="\r\n")
        self._csv.writerow([neutralise(c.label) for c in self.columns])

    def write(self, values: Sequence[Any]) -> None:
        self._csv.writerow([neutralise(_text(v)) for v in values])
        self.count += 1

    def _close(self) -> None:
        self._fh.flush()
        if self.name == "-":
            self._fh.detach()
        else:
            self._fh.close()

    def _abort(self) -> None:
        try:
            if self.name == "-":
                self._fh.flush()
                self._fh.detach()
            else:
                self._fh.close()
        except (OSError, ValueError):
            pass


class JsonlWriter(Writer):
    def __init__(self, name: str, columns: Sequence[OutColumn]) -> None:
        import io

        super().__init__(name, columns)
        self._bin = self._open_binary()
        self._fh = io.TextIOWrapper(self._bin, encoding="utf-8", newline="\n")
        self._keys = [c.key for c in self.columns]

    def write(self, values: Sequence[Any]) -> None:
        self._fh.write(json.dumps(dict(zip(self._keys, values)), ensure_ascii=False, default=str))
        self._fh.write("\n")
        self.count += 1

    def _close(self) -> None:
        self._fh.flush()
        if self.name == "-":
            self._fh.detach()
        else:
            self._fh.close()

    def _abort(self) -> None:
        try:
            if self.name == "-":
                self._fh.flush()
                self._fh.detach()
            else:
                self._fh.close()
        except (OSError, ValueError):
            pass


class XlsxWriter(Writer):
    """A streamed workbook: bold header, frozen first row, header repeated on printed pages,
    an auto-filter, and column widths measured on the first rows."""

    def __init__(self, name: str, columns: Sequence[OutColumn], *, sheet: str = "Sheet1") -> None:
        from openpyxl import Workbook

        super().__init__(name, columns)
        self._wb = Workbook(write_only=True)
        self._ws = self._wb.create_sheet(title=_sheet_title(sheet))
        self._held: list[list[Any]] | None = []
        self._started = False

    def _start(self) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Alignment, Font, PatternFill
        from openpyxl.utils import get_column_letter

        ws = self._ws
        held = self._held or []
        for i, col in enumerate(self.columns, 1):
            widest = max(
                [display_width(col.label), *(display_width(_text(r[i - 1])) for r in held)], default=0
            )
            width = min(max(col.width, widest + 2, 6), MAX_WIDTH)
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "A2"
        ws.print_title_rows = "1:1"
        font, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
        align = Alignment(vertical="center", wrap_text=True)
        header = []
        for col in self.columns:
            cell = WriteOnlyCell(ws, value=_cell(col.label))
            cell.font, cell.fill, cell.alignment = font, fill, align
            header.append(cell)
        ws.append(header)
        self._started = True
        for r in held:
            ws.append(r)
        self._held = None

    def write(self, values: Sequence[Any]) -> None:
        row = [_cell(v) for v in values]
        self.count += 1
        if self._held is not None:
            self._held.append(row)
            if len(self._held) >= WIDTH_SAMPLE_ROWS:
                self._start()
            return
        self._ws.append(row)

    def _close(self) -> None:
        from openpyxl.utils import get_column_letter

        if not self._started:
            self._start()
        if self.columns:
            self._ws.auto_filter.ref = f"A1:{get_column_letter(len(self.columns))}{self.count + 1}"
        fh = self._open_binary()
        try:
            if self.name == "-":
                import io

                buf = io.BytesIO()
                self._wb.save(buf)
                fh.write(buf.getvalue())
                fh.flush()
            else:
                self._wb.save(fh)
        finally:
            if self.name != "-":
                fh.close()

    def _abort(self) -> None:
        try:
            self._wb.close()
        except Exception:  # noqa: BLE001 - throwing the workbook away
            pass


def _sheet_title(title: str) -> str:
    bad = set("[]:*?/\\")
    return "".join(c for c in title if c not in bad)[:31] or "Sheet1"


def _cell(value: Any) -> Any:
    """A value for an XLSX cell: numbers stay numbers, text is made inert and legal."""
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, (int, float)):
        # Integers too long for a spreadsheet's doubles (ID numbers) are text.
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
            return str(value)
        return value
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", neutralise(_text(value)))


def open_writer(name: str, fmt: str, columns: Sequence[OutColumn], *, sheet: str = "Sheet1") -> Writer:
    try:
        if fmt == "csv":
            return CsvWriter(name, columns)
        if fmt == "xlsx":
            return XlsxWriter(name, columns, sheet=sheet)
        return JsonlWriter(name, columns)
    except OSError as exc:
        raise InvalidInput(IO_CANNOT_WRITE, name=name, error=os_error_text(exc)) from None
