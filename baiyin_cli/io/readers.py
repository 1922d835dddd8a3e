"""Readers: rows from CSV (UTF-8, UTF-8 with BOM, GBK/GB18030, UTF-16), XLSX and JSON Lines,
from a file or from stdin (`-`), one record at a time.

Spreadsheets come from street offices: Excel or WPS, often saved as GBK CSV, sometimes with a
title row above the header. A reader finds the header, then yields `Record`s numbered as the
spreadsheet shows them (the header is row 1 when it is the first row; a JSON Lines record is
numbered by its line). Nothing is held beyond the current row: CSV and JSON Lines are decoded
as a stream, XLSX is opened with openpyxl's read_only mode.

No typer/rich here; progress is reported through `Source.position()` for the caller to draw.
"""

from __future__ import annotations

import abc

import codecs
import csv
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from baiyin_cli.errors import GridError, InvalidInput, UsageError, os_error_text
from baiyin_cli.i18n import L, M

FORMATS = ("csv", "xlsx", "jsonl")
ENCODINGS = ("auto", "utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16")
SAMPLE_BYTES = 64 * 1024
HEADER_SEARCH_ROWS = 10

IO_FORMAT_UNKNOWN = M(
    "io.format_unknown",
    "无法从文件名判断格式：{name}（用 --format csv|xlsx|jsonl）",
    "Cannot tell the format from the file name {name} (use --format csv|xlsx|jsonl)",
)
IO_FORMAT_STDIN = M(
    "io.format_stdin",
    "从标准输入读取时需要 --format csv|xlsx|jsonl",
    "Reading stdin needs --format csv|xlsx|jsonl",
)
IO_BAD_FORMAT = M(
    "io.bad_format", "格式无效：{value}（可选 csv/xlsx/jsonl）", "Invalid format: {value} (csv/xlsx/jsonl)"
)
IO_BAD_ENCODING = M(
    "io.bad_encoding",
    "编码无效：{value}（可选 auto/utf-8/gb18030）",
    "Invalid encoding: {value} (auto/utf-8/gb18030)",
)
IO_NO_FILE = M("io.no_file", "找不到文件：{name}", "No such file: {name}")
IO_CANNOT_READ = M("io.cannot_read", "无法读取文件 {name}：{error}", "Cannot read {name}: {error}")
IO_UNKNOWN_ENCODING = M(
    "io.unknown_encoding",
    "无法判断 {name} 的编码，请用 --encoding utf-8 或 --encoding gb18030 指定",
    "Cannot tell the encoding of {name}; give --encoding utf-8 or --encoding gb18030",
)
IO_DECODE = M(
    "io.decode",
    "文件 {name} 在第 {row} 行附近不是 {encoding} 编码，请用 --encoding 指定正确的编码（如 gb18030 或 utf-8）",
    "{name} is not {encoding} near row {row}; give the right --encoding (e.g. gb18030 or utf-8)",
)
IO_EMPTY = M("io.empty", "文件 {name} 没有表头", "{name} has no header row")
IO_NO_SHEET = M(
    "io.no_sheet",
    "工作簿中没有名为 {sheet} 的工作表（有：{sheets}）",
    "No sheet named {sheet} (sheets: {sheets})",
)
IO_BAD_XLSX = M(
    "io.bad_xlsx",
    "{name} 不是有效的 xlsx 文件（.xls 旧格式请在 Excel/WPS 中另存为 .xlsx 或 CSV）：{error}",
    "{name} is not a valid xlsx file (save old .xls files as .xlsx or CSV in Excel/WPS): {error}",
)
ROW_CELL_COUNT = M(
    "io.cell_count",
    "本行有 {count} 列，表头有 {expected} 列",
    "This row has {count} cells; the header has {expected}",
)
ROW_BAD_JSON = M("io.bad_json", "不是有效的 JSON（第 {pos} 个字符附近）", "Not valid JSON: {error} (near character {pos})")
ROW_BAD_UNICODE = M(
    "io.bad_unicode",
    "含有无效的 Unicode 字符（单独的代理码位 \\uD800–\\uDFFF）",
    "Holds an invalid Unicode character (a lone surrogate \\uD800–\\uDFFF)",
)
ROW_NOT_OBJECT = M("io.not_object", "每行应为一个 JSON 对象", "Each line must be a JSON object")


@dataclass(slots=True)
class Record:
    """One row as read: `values` maps the column name in the file to the cell's value.

    `cells` keeps the row as it was (for the errors file); `problem` is set when the row could
    not be read as a record at all (wrong number of cells, a line that is not a JSON object).
    """

    row: int
    values: dict[str, Any]
    cells: list[Any] = field(default_factory=list)
    problem: GridError | None = None


def format_for(name: str, given: str | None) -> str:
    """The format from `--format`, else from the file extension."""
    if given:
        fmt = given.strip().lower().lstrip(".")
        fmt = {"json": "jsonl", "ndjson": "jsonl", "xlsm": "xlsx", "txt": "csv", "tsv": "csv"}.get(fmt, fmt)
        if fmt not in FORMATS:
            raise UsageError(IO_BAD_FORMAT, value=given)
        return fmt
    if name == "-":
        raise UsageError(IO_FORMAT_STDIN)
    ext = Path(name).suffix.lower().lstrip(".")
    fmt = {
        "csv": "csv",
        "tsv": "csv",
        "txt": "csv",
        "xlsx": "xlsx",
        "xlsm": "xlsx",
        "jsonl": "jsonl",
        "ndjson": "jsonl",
        "json": "jsonl",
    }.get(ext)
    if fmt is None:
        raise UsageError(IO_FORMAT_UNKNOWN, name=name)
    return fmt


def normalise_encoding(value: str | None) -> str:
    v = (value or "auto").strip().lower().replace("_", "-")
    v = {
        "utf8": "utf-8",
        "utf-8-bom": "utf-8-sig",
        "utf8-sig": "utf-8-sig",
        "gb2312": "gb18030",
        "cp936": "gbk",
        "utf16": "utf-16",
    }.get(v, v)
    if v not in ENCODINGS:
        raise UsageError(IO_BAD_ENCODING, value=value)
    return v


def detect_encoding(sample: bytes) -> str | None:
    """The encoding of a file from its first bytes: BOM, else UTF-8 if it decodes, else charset-normalizer.

    Files from mainland offices that are not UTF-8 are GBK or GB18030 (GB18030 is a superset
    of both, so it is what we decode with); a short sample may look like Big5 to a detector,
    so GB18030 wins whenever it decodes the sample cleanly.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(sample, "utf-8"):
        return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    guess = codecs.lookup(best.encoding).name if best is not None else None
    if guess in ("gb18030", "gbk", "gb2312", "hz") or _decodes(sample, "gb18030"):
        return "gb18030"
    if guess in ("utf-8", "ascii"):
        return "utf-8"
    return guess


def _decodes(sample: bytes, encoding: str) -> bool:
    """Does `sample` decode, allowing a multi-byte character cut off at the end of the sample?"""
    dec = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        dec.decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def cell_text(value: Any) -> str | None:
    """A cell as text: numbers without a spurious '.0', dates in ISO form, blanks as None."""
    if value is None:
        return None
    if isinstance(value, str):
        v = value.strip()
        return v or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, (list, tuple)):
        parts = [cell_text(v) for v in value]
        return ",".join(p for p in parts if p) or None
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip() or None


# ---------------------------------------------------------------- sources


class _CountingReader(io.RawIOBase):
    """A raw stream over `first` bytes already read, then `rest`; counts the bytes handed out."""

    def __init__(self, first: bytes, rest: IO[bytes]) -> None:
        self._first = memoryview(first)
        self._rest = rest
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._first:
            n = min(len(b), len(self._first))
            b[:n] = self._first[:n]
            self._first = self._first[n:]
        else:
            chunk = self._rest.read(len(b))
            n = len(chunk)
            b[:n] = chunk
        self.count += n
        return n


class Source(abc.ABC):
    """An opened file to import: its format, encoding, header, and its records.

    `header` is the list of column names as the file spells them (CSV/XLSX; for JSON Lines
    the keys seen so far). `position()` gives (done, total) for a progress bar: bytes for
    CSV and JSON Lines, rows for XLSX; total is None when unknown (stdin).
    """

    def __init__(self, name: str, fmt: str, closers: list[Callable[[], None]]) -> None:
        self.name = name
        self.display_name = "stdin" if name == "-" else Path(name).name
        self.format = fmt
        self.encoding: str | None = None
        self.header: list[str] = []
        self.header_row = 0
        self.skipped_title_rows = 0
        # Shared with open_source, which closes them if opening fails half-way.
        self._closers = closers

    @abc.abstractmethod
    def records(self) -> Iterator[Record]:
        """Each subclass does this its own way."""

    @abc.abstractmethod
    def position(self) -> tuple[int, int | None]:
        """Each subclass does this its own way."""

    def close(self) -> None:
        _close_all(self._closers)

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


HeaderScore = Callable[[list[str]], int]


def _pick_header(rows: list[tuple[int, list[Any]]], score: HeaderScore | None) -> int:
    """Index (in `rows`) of the header: the first non-empty row, unless a later one within the
    first few names more known columns (a title row such as "新华社区住户台账" above the header)."""
    if not rows:
        return -1
    if score is None:
        return 0
    best, best_score = 0, score([cell_text(c) or "" for c in rows[0][1]])
    for i, (_n, cells) in enumerate(rows[1:], 1):
        s = score([cell_text(c) or "" for c in cells])
        if s > best_score:
            best, best_score = i, s
    return best


def _header_names(cells: list[Any]) -> list[str]:
    names = [cell_text(c) or "" for c in cells]
    while names and not names[-1]:
        names.pop()
    return names


def _is_blank(cells: list[Any]) -> bool:
    return all(cell_text(c) is None for c in cells)


class CsvSource(Source):
    def __init__(
        self, name: str, encoding: str, header_score: HeaderScore | None, closers: list[Callable[[], None]]
    ) -> None:
        super().__init__(name, "csv", closers)
        if name == "-":
            binary: IO[bytes] = sys.stdin.buffer
            self._total: int | None = None
        else:
            binary = open(name, "rb")  # noqa: SIM115 - closed by Source.close
            self._closers.append(binary.close)
            self._total = os.fstat(binary.fileno()).st_size
        sample = binary.read(SAMPLE_BYTES)
        if encoding == "auto":
            detected = detect_encoding(sample)
            if detected is None:
                raise InvalidInput(IO_UNKNOWN_ENCODING, name=self.display_name)
            encoding = detected
        self.encoding = encoding
        self._raw = _CountingReader(sample, binary)
        text = io.TextIOWrapper(
            io.BufferedReader(self._raw, 1 << 16), encoding=encoding, errors="strict", newline=""
        )
        self._text = text
        self._row = 0
        first_line = sample.split(b"\n", 1)[0]
        try:
            head = first_line.decode(encoding if encoding != "utf-16" else "utf-16", errors="ignore")
        except LookupError:
            head = ""
        delimiter = max(",\t;", key=lambda d: head.count(d)) if head else ","
        if head and head.count(delimiter) == 0:
            delimiter = ","
        self._reader = csv.reader(text, delimiter=delimiter)
        self._pending: list[tuple[int, list[Any]]] = []
        self._read_header(header_score)

    def _next(self) -> tuple[int, list[str]] | None:
        try:
            cells = next(self._reader)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            raise InvalidInput(
                IO_DECODE, name=self.display_name, row=self._row + 1, encoding=self.encoding
            ) from None
        except csv.Error as exc:
            raise InvalidInput(
                IO_CANNOT_READ, name=self.display_name, error=f"row {self._row + 1}: {exc}"
            ) from None
        self._row += 1
        return self._row, cells

    def _read_header(self, score: HeaderScore | None) -> None:
        head: list[tuple[int, list[Any]]] = []
        while len(head) < HEADER_SEARCH_ROWS:
            nxt = self._next()
            if nxt is None:
                break
            if not _is_blank(nxt[1]):
                head.append(nxt)
        i = _pick_header(head, score)
        if i < 0:
            raise InvalidInput(IO_EMPTY, name=self.display_name)
        self.header_row, cells = head[i]
        self.skipped_title_rows = i
        self.header = _header_names(cells)
        self._pending = head[i + 1 :]

    def records(self) -> Iterator[Record]:
        header = self.header
        width = len(header)
        pending, self._pending = self._pending, []

        def rows() -> Iterator[tuple[int, list[str]]]:
            yield from pending
            while True:
                nxt = self._next()
                if nxt is None:
                    return
                yield nxt

        for n, cells in rows():
            if len(cells) != width:
                if not cells or all(not c.strip() for c in cells):
                    continue
                # Trailing empty cells (some tools pad rows) are harmless; anything else is not.
                if len(cells) > width and not any(c.strip() for c in cells[width:]):
                    cells = cells[:width]
                else:
                    yield Record(
                        n,
                        dict(zip(header, cells)),
                        cells,
                        InvalidInput(ROW_CELL_COUNT, count=len(cells), expected=width),
                    )
                    continue
            elif not any(c.strip() for c in cells):
                continue
            yield Record(n, dict(zip(header, cells)), cells)

    def position(self) -> tuple[int, int | None]:
        return self._raw.count, self._total


class XlsxSource(Source):
    def __init__(
        self,
        name: str,
        sheet: str | None,
        header_score: HeaderScore | None,
        closers: list[Callable[[], None]],
    ) -> None:
        super().__init__(name, "xlsx", closers)
        import zipfile

        from openpyxl import load_workbook

        if name == "-":
            import shutil
            import tempfile

            spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)  # noqa: SIM115 - closed by Source.close
            shutil.copyfileobj(sys.stdin.buffer, spool)
            spool.seek(0)
            self._closers.append(spool.close)
            target: Any = spool
        else:
            target = name
        try:
            # read_only streams rows; data_only=False so that a formula is seen as a formula.
            wb = load_workbook(target, read_only=True, data_only=False)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            if isinstance(exc, zipfile.BadZipFile):  # what a renamed CSV or an old .xls is
                why = L("文件内容不是 xlsx 的压缩包格式", "its content is not the zip package an xlsx file is")
            elif isinstance(exc, OSError):
                why = os_error_text(exc)
            else:
                why = str(exc).splitlines()[0][:120]
            raise InvalidInput(IO_BAD_XLSX, name=self.display_name, error=why) from None
        self._closers.append(wb.close)
        if sheet:
            if sheet not in wb.sheetnames:
                raise UsageError(IO_NO_SHEET, sheet=sheet, sheets=", ".join(wb.sheetnames))
            ws = wb[sheet]
        else:
            ws = wb.worksheets[0]
        self.sheet = ws.title
        try:
            self._total: int | None = ws.max_row
        except Exception:  # noqa: BLE001 - a sheet without dimensions
            self._total = None
        self._rows = ws.iter_rows(values_only=True)
        self._row = 0
        head: list[tuple[int, list[Any]]] = []
        while len(head) < HEADER_SEARCH_ROWS:
            nxt = self._next()
            if nxt is None:
                break
            if not _is_blank(nxt[1]):
                head.append(nxt)
        i = _pick_header(head, header_score)
        if i < 0:
            raise InvalidInput(IO_EMPTY, name=self.display_name)
        self.header_row, cells = head[i]
        self.skipped_title_rows = i
        self.header = _header_names(cells)
        self._pending = head[i + 1 :]

    def _next(self) -> tuple[int, list[Any]] | None:
        try:
            cells = next(self._rows)
        except StopIteration:
            return None
        self._row += 1
        return self._row, list(cells)

    def records(self) -> Iterator[Record]:
        header = self.header
        width = len(header)
        pending, self._pending = self._pending, []

        def rows() -> Iterator[tuple[int, list[Any]]]:
            yield from pending
            while True:
                nxt = self._next()
                if nxt is None:
                    return
                yield nxt

        for n, cells in rows():
            if _is_blank(cells):
                continue
            if len(cells) > width:
                extra = cells[width:]
                if any(cell_text(c) is not None for c in extra):
                    used = width + max(i for i, c in enumerate(extra) if cell_text(c) is not None) + 1
                    yield Record(
                        n,
                        dict(zip(header, cells)),
                        cells[:used],
                        InvalidInput(ROW_CELL_COUNT, count=used, expected=width),
                    )
                    continue
                cells = cells[:width]
            elif len(cells) < width:
                cells = cells + [None] * (width - len(cells))
            yield Record(n, dict(zip(header, cells)), cells)

    def position(self) -> tuple[int, int | None]:
        return self._row, self._total


class JsonlSource(Source):
    def __init__(self, name: str, encoding: str, closers: list[Callable[[], None]]) -> None:
        super().__init__(name, "jsonl", closers)
        if name == "-":
            binary: IO[bytes] = sys.stdin.buffer
            self._total: int | None = None
        else:
            binary = open(name, "rb")  # noqa: SIM115 - closed by Source.close
            self._closers.append(binary.close)
            self._total = os.fstat(binary.fileno()).st_size
        sample = binary.read(SAMPLE_BYTES)
        if encoding == "auto":
            encoding = detect_encoding(sample) or "utf-8"
        self.encoding = encoding
        self._raw = _CountingReader(sample, binary)
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._raw, 1 << 16), encoding=encoding, errors="strict"
        )
        self._seen: dict[str, None] = {}

    def records(self) -> Iterator[Record]:
        n = 0
        while True:
            try:
                line = self._text.readline()
            except UnicodeDecodeError:
                raise InvalidInput(
                    IO_DECODE, name=self.display_name, row=n + 1, encoding=self.encoding
                ) from None
            if not line:
                return
            n += 1
            text = line.strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Record(n, {}, [text], InvalidInput(ROW_BAD_JSON, error=exc.msg, pos=exc.colno))
                continue
            if not isinstance(obj, dict):
                yield Record(n, {}, [text], InvalidInput(ROW_NOT_OBJECT))
                continue
            if "\\u" in text and (bad := _lone_surrogate_field(obj)) is not None:
                # JSON may escape a lone surrogate (\ud83d) that no database can store.
                yield Record(n, {}, [text], InvalidInput(ROW_BAD_UNICODE, column=bad))
                continue
            for k in obj:
                if k not in self._seen:
                    self._seen[k] = None
                    self.header.append(k)
            yield Record(n, obj, [text])

    def position(self) -> tuple[int, int | None]:
        return self._raw.count, self._total


def _has_lone_surrogate(obj: object) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _lone_surrogate_field(obj: dict[str, Any]) -> str | None:
    """The first field whose name or value holds a lone surrogate (named with U+FFFD in its
    place, so that the report can print it), or None."""
    for key, value in obj.items():
        if _has_lone_surrogate(key) or _has_lone_surrogate(value):
            return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in key)
    return None


def open_source(
    name: str,
    *,
    fmt: str | None = None,
    encoding: str | None = "auto",
    sheet: str | None = None,
    header_score: HeaderScore | None = None,
) -> Source:
    """Open FILE (or `-` for stdin) for reading; the format comes from `fmt` or the extension."""
    fmt = format_for(name, fmt)
    enc = normalise_encoding(encoding)
    if name != "-" and not Path(name).is_file():
        raise InvalidInput(IO_NO_FILE, name=name)
    closers: list[Callable[[], None]] = []
    try:
        if fmt == "csv":
            return CsvSource(name, enc, header_score, closers)
        if fmt == "xlsx":
            return XlsxSource(name, sheet, header_score, closers)
        return JsonlSource(name, enc, closers)
    except OSError as exc:
        _close_all(closers)
        raise InvalidInput(IO_CANNOT_READ, name=name, error=os_error_text(exc)) from None
    except BaseException:
        _close_all(closers)
        raise


def _close_all(closers: list[Callable[[], None]]) -> None:
    for c in reversed(closers):
        try:
            c()
        except Exception:  # noqa: BLE001 - closing must not mask the real outcome
            pass
    closers.clear()
