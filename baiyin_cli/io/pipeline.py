"""The import pipeline: read, map the header, validate each chunk, write, report.

    source (readers.py) -> header map -> chunks of `batch_size` rows ->
        cells checked (formulas, numbers that lost digits) -> duplicates within the file (ledger.py)
        -> target.plan: the service's rules, one lookup query per chunk -> target.write
    -> one audit entry -> ImportReport

`--atomic all` (default): one transaction (the caller's session); if any row is rejected,
everything is rolled back and nothing is written. `--atomic object`: good rows are written, bad
ones reported, and each batch commits on its own with an audit entry of its own
(`import.<entity>.batch`: rows, created, updated, ignored, rejected), so a crash, a kill or a
lost server keeps exactly the committed batches, the audit log says which, and running the same
command again completes the file (what is in already is "unchanged"); a long import also never
holds the write lock for longer than one batch. `--dry-run`: the full validation and the
report, nothing written. Rows are never
held beyond their chunk; the errors file (`--errors`) receives every rejected row with the reason.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from baiyin_cli.errors import Conflict, GridError, InvalidInput, UsageError
from baiyin_cli.i18n import L, M, get_lang, t
from baiyin_cli.io.ledger import KeyLedger
from baiyin_cli.io.readers import Record, Source, cell_text
from baiyin_cli.io.report import MAX_ERRORS, W_TITLE_ROWS, W_UNKNOWN_COLUMN, Entry, ImportReport
from baiyin_cli.io.writers import OutColumn, Writer, looks_like_formula, open_writer, unneutralise
from baiyin_cli.services import bulk, validate

if TYPE_CHECKING:
    from sqlmodel import Session

    from baiyin_cli.services.access import Operator

BATCH_SIZE = 1000
ERRORS_COLUMN = ("错误说明", "Errors")
PRECISION_LIMIT = 2**53  # integers beyond this do not survive a spreadsheet's double

MISSING_KEY_COLUMNS = M(
    "import.missing_columns",
    "文件缺少必需的列：{columns}（表头在第 {row} 行：{header}）",
    "The file lacks the required column(s) {columns} (header on row {row}: {header})",
)
DUPLICATE_COLUMN = M(
    "import.duplicate_column",
    "列“{first}”和“{second}”都对应字段 {field}",
    'Columns "{first}" and "{second}" both mean the field {field}',
)
DUPLICATE_IN_FILE = M(
    "import.duplicate_in_file",
    "与第 {first} 行重复（{column} {key}）",
    "Repeats row {first} ({column} {key})",
)
FORMULA = M(
    "import.formula",
    "{column}以“{char}”开头，会被表格软件当作公式执行；如确为文字，请在前面加英文单引号 '",
    '{column} begins with "{char}", which a spreadsheet runs as a formula; if it is text, put an apostrophe (\') before it',
)
PRECISION = M(
    "import.precision",
    "{column}在表格中存成了数字，末几位已丢失（{value}）；请把该列设为“文本”格式后重新填写",
    "{column} was stored as a number in the spreadsheet and lost its last digits ({value}); format the column as text and type it again",
)
ERRORS_FORMAT = M(
    "import.errors_format",
    "错误文件应为 .xlsx 或 .csv：{name}",
    "The errors file must be .xlsx or .csv: {name}",
)
IMPORT_RACE = M(
    "import.race",
    "写入时与其他终端的修改冲突，未导入任何内容，请重试（{error}）",
    "Writing clashed with a change from another terminal; nothing was imported, try again ({error})",
)
IMPORT_RACE_PARTIAL = M(
    "import.race_partial",
    "写入第 {batch} 批时与其他终端的修改冲突（{error}）；此前 {done} 批（至第 {row} 行）已提交，其余未写入；重新运行同一命令即可补齐",
    "Batch {batch} clashed with a change from another terminal ({error}); the {done} batch(es) before it (up to row {row}) "
    "are committed, nothing after; run the same command again to complete the import",
)
IMPORT_CUT = M(
    "import.cut",
    "写入第 {batch} 批时数据库连接中断（{error}）；此前 {done} 批（至第 {row} 行）已提交，其余未写入；数据库恢复后重新运行同一命令即可补齐",
    "The database connection was lost in batch {batch} ({error}); the {done} batch(es) before it (up to row {row}) "
    "are committed, nothing after; run the same command again once the database is back",
)

SUMMARY = M(
    "import.summary",
    "{file}：共 {rows} 行，新增 {created}，更新 {updated}，无变化 {ignored}，拒绝 {rejected}（编码 {encoding}，用时 {seconds} 秒）",
    "{file}: {rows} rows, created {created}, updated {updated}, unchanged {ignored}, rejected {rejected} (encoding {encoding}, {seconds} s)",
)

Progress = Callable[[int, int | None], None]


# ---------------------------------------------------------------- header mapping


_HEADER_NOISE = re.compile(r"[\s*＊:：()（）\[\]【】]|必填|选填|可选|required|optional")


def header_key(text: str) -> str:
    """公民身份号码（必填）* -> 公民身份号码; 'ID Number' -> idnumber; id_number -> idnumber."""
    v = unicodedata.normalize("NFKC", text or "").strip().lower()
    return _HEADER_NOISE.sub("", v).replace("_", "").replace("-", "").replace(".", "")


class HeaderMap:
    """Which column of the file is which field: the English field name, the Chinese label the
    export writes, the English label or an alias, in any order and any case."""

    def __init__(self, columns: Sequence[bulk.Column]) -> None:
        self.columns = list(columns)
        self._index: dict[str, bulk.Column] = {}
        for col in self.columns:
            for name in (col.name, col.zh, col.en, *col.aliases):
                self._index.setdefault(header_key(name), col)
        self._errors_key = {header_key(x) for x in ERRORS_COLUMN}
        self.fields: dict[str, bulk.Column] = {}  # header as spelt in the file -> column (importable)
        self.by_field: dict[str, str] = {}  # field -> header as spelt in the file
        self.read_only: list[str] = []
        self.unknown: list[str] = []
        self._seen: set[str] = set()

    def score(self, cells: list[str]) -> int:
        return sum(1 for c in cells if c and header_key(c) in self._index)

    def column_for(self, header: str) -> bulk.Column | None:
        return self._index.get(header_key(header))

    def add(self, header: str) -> None:
        """Learn one header cell (CSV/XLSX: all at once; JSON Lines: as keys appear)."""
        if header in self._seen:
            return
        self._seen.add(header)
        if not header.strip():
            return
        key = header_key(header)
        if key in self._errors_key:
            self.read_only.append(header)
            return
        col = self._index.get(key)
        if col is None:
            self.unknown.append(header)
            return
        if col.read_only:
            self.read_only.append(header)
            return
        if col.name in self.by_field:
            raise InvalidInput(DUPLICATE_COLUMN, first=self.by_field[col.name], second=header, field=col.name)
        self.fields[header] = col
        self.by_field[col.name] = header

    def header_of(self, field: str | None) -> str | None:
        if field is None:
            return None
        if field in self.by_field:
            return self.by_field[field]
        for col in self.columns:
            if col.name == field:
                return col.label()
        return field

    def column(self, field: str | None) -> bulk.Column | None:
        for col in self.columns:
            if col.name == field:
                return col
        return None

    def convert(
        self, values: Mapping[str, Any], *, spreadsheet: bool = True
    ) -> tuple[dict[str, str | None], list[tuple[str, GridError]]]:
        """Cells -> field texts. From a spreadsheet (CSV/XLSX) a neutralised cell ('=...) is text, and
        a bare formula, or a long number the spreadsheet has rounded, is a problem of that cell.
        JSON Lines values are taken as they are."""
        out: dict[str, str | None] = {}
        problems: list[tuple[str, GridError]] = []
        for header, col in self.fields.items():
            if header not in values:
                continue
            raw = values[header]
            if isinstance(raw, float) and abs(raw) >= PRECISION_LIMIT:
                problems.append((col.name, InvalidInput(PRECISION, column=header, value=f"{raw:.0f}")))
                continue
            text = cell_text(raw)
            if text is not None and "\x00" in text:  # no database stores NUL, not even in a key lookup
                problems.append((col.name, InvalidInput(validate.CONTROL_CHARS, field=col.label())))
                continue
            if text is not None and spreadsheet:
                text, quoted = unneutralise(text)
                if not quoted and looks_like_formula(text):
                    problems.append((col.name, InvalidInput(FORMULA, column=header, char=text[0])))
                    continue
            out[col.name] = text
        return out, problems


# ---------------------------------------------------------------- errors file


class ErrorsFile:
    """The rejected rows, as they were, with a column 错误说明 saying why: fix them in the
    spreadsheet and import this file again."""

    def __init__(self, path: str, source: Source, hmap: HeaderMap) -> None:
        fmt = _errors_format(path)
        self.source = source
        self.hmap = hmap
        self.label = ERRORS_COLUMN[1] if get_lang() == "en" else ERRORS_COLUMN[0]
        if source.format == "jsonl":
            self.fields = [c for c in hmap.columns if not c.read_only]
            names = [c.label() for c in self.fields]
        else:
            self.fields = []
            names = list(source.header)
        self.width = len(names)
        cols = [OutColumn(n, n) for n in names] + [OutColumn("errors", self.label, 40)]
        self.writer: Writer = open_writer(path, fmt, cols, sheet=self.label)

    def add(self, rec: Record, messages: list[str]) -> None:
        why = "；".join(messages)
        if self.source.format == "jsonl":
            if rec.problem is not None or not rec.values:
                cells: list[Any] = [rec.cells[0] if rec.cells else ""] + [None] * (self.width - 1)
            else:
                cells = [rec.values.get(self.hmap.by_field.get(c.name, c.name)) for c in self.fields]
            self.writer.write([*cells, why])
            return
        cells = list(rec.cells[: self.width]) + [None] * max(0, self.width - len(rec.cells))
        extra = list(rec.cells[self.width :])
        self.writer.write([*cells, why, *extra])

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.abort()


def _errors_format(path: str) -> str:
    low = path.lower()
    if low.endswith(".xlsx"):
        return "xlsx"
    if low.endswith(".csv"):
        return "csv"
    raise UsageError(ERRORS_FORMAT, name=path)


def check_errors_path(path: str | None) -> None:
    if path:
        _errors_format(path)


# ---------------------------------------------------------------- the pipeline


class Importer:
    def __init__(
        self,
        session: Session,
        op: Operator | None,
        target: bulk.Target,
        source: Source,
        *,
        strategy: str = "create_and_update",
        atomic: str = "all",
        dry_run: bool = False,
        batch_size: int = BATCH_SIZE,
        errors_path: str | None = None,
        progress: Progress | None = None,
        max_errors: int = MAX_ERRORS,
        at: datetime | None = None,
    ) -> None:
        self.at = at
        self.session = session
        self.op = op
        self.target = target
        self.source = source
        self.strategy, self.atomic = bulk.check_options(strategy, atomic)
        self.dry_run = dry_run
        self.batch_size = max(1, batch_size)
        self.errors_path = errors_path
        self.progress = progress
        self.hmap = HeaderMap(target.columns)
        self.report = ImportReport(
            entity=target.entity,
            file=source.display_name,
            format=source.format,
            encoding=source.encoding,
            sheet=getattr(source, "sheet", None),
            strategy=self.strategy,
            atomic=self.atomic,
            dry_run=dry_run,
            max_errors=max_errors,
        )
        self.errors_file: ErrorsFile | None = None
        self.batches_committed = 0  # --atomic object: batches already committed
        self.committed_row = 0  # ... and the last row of the last of them
        self.ledger = KeyLedger()
        self._warned_unknown: set[str] = set()

    # -- header

    def _read_header(self) -> None:
        src = self.source
        if src.format == "jsonl":
            return
        for h in src.header:
            self.hmap.add(h)
        groups = self.target.key_fields
        if groups and not any(all(f in self.hmap.by_field for f in g) for g in groups):
            labels = L(" 或 ", " or ").join("+".join(self.hmap.header_of(f) or f for f in g) for g in groups)
            raise InvalidInput(
                MISSING_KEY_COLUMNS, columns=labels, row=src.header_row, header=", ".join(src.header)[:200]
            )
        if src.skipped_title_rows:
            self.report.warn(
                Entry(
                    W_TITLE_ROWS, {"row": src.header_row, "count": src.skipped_title_rows}, row=src.header_row
                )
            )
        self._warn_unknown()

    def _warn_unknown(self) -> None:
        for h in self.hmap.unknown:
            if h in self._warned_unknown:
                continue
            self._warned_unknown.add(h)
            known = ", ".join(c.label() for c in self.target.columns if not c.read_only)
            self.report.warn(Entry(W_UNKNOWN_COLUMN, {"column": h, "known": known}, column=h))

    # -- run

    def run(self) -> ImportReport:
        from sqlalchemy.exc import IntegrityError, OperationalError

        started = time.perf_counter()
        self._read_header()
        self.target.seen = self._seen
        self.target.begin(self.session, self.op, self.strategy)
        if self.errors_path:
            self.errors_file = ErrorsFile(self.errors_path, self.source, self.hmap)
        try:
            chunk: list[Record] = []
            for rec in self.source.records():
                chunk.append(rec)
                if len(chunk) >= self.batch_size:
                    self._chunk(chunk)
                    chunk = []
            if chunk:
                self._chunk(chunk)
            self._finish()
        except IntegrityError as exc:
            self._abort_errors_file()
            first = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
            if self.batches_committed:
                raise Conflict(IMPORT_RACE_PARTIAL, error=first, **self._committed_so_far()) from None
            raise Conflict(IMPORT_RACE, error=first) from None
        except OperationalError as exc:
            self._abort_errors_file()
            if not self.batches_committed:
                raise  # nothing is in: the store says what went wrong with the connection
            first = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
            raise InvalidInput(IMPORT_CUT, error=first, **self._committed_so_far()) from None
        except BaseException:
            self._abort_errors_file()
            raise
        finally:
            self.ledger.close()
        if self.errors_file is not None:
            self.errors_file.close()
        self.report.columns = {h: c.name for h, c in self.hmap.fields.items()}
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _seen(self, ns: str, key: str) -> int | None:
        return self.ledger.first(ns, key)

    def _committed_so_far(self) -> dict[str, int]:
        return {
            "batch": self.batches_committed + 1,
            "done": self.batches_committed,
            "row": self.committed_row,
        }

    def _commit_batch(self, records: list[Record], good: list[bulk.Plan], rejected: int) -> None:
        """--atomic object: this batch and its audit entry commit now, whatever comes after."""
        counts = {a: sum(1 for p in good if p.action == a) for a in ("create", "update", "ignore")}
        bulk.record_batch(
            self.session,
            self.op,
            self.target,
            file=self.source.display_name,
            batch=self.batches_committed + 1,
            first_row=records[0].row,
            last_row=records[-1].row,
            created=counts["create"],
            updated=counts["update"],
            ignored=counts["ignore"],
            rejected=rejected,
        )
        self.session.commit()
        self.batches_committed += 1
        self.committed_row = records[-1].row

    def _abort_errors_file(self) -> None:
        if self.errors_file is not None:
            self.errors_file.abort()

    def _chunk(self, records: list[Record]) -> None:
        report, target = self.report, self.target
        by_row: dict[int, Record] = {}
        problems: dict[int, list[tuple[str | None, GridError]]] = {}
        rows: list[bulk.Row] = []
        jsonl = self.source.format == "jsonl"
        for rec in records:
            report.rows += 1
            by_row[rec.row] = rec
            if rec.problem is not None:
                problems[rec.row] = [(None, rec.problem)]
                continue
            if jsonl:
                try:
                    for k in rec.values:
                        self.hmap.add(k)
                except GridError as exc:
                    problems[rec.row] = [(None, exc)]
                    continue
                if self.hmap.unknown:
                    self._warn_unknown()
            values, cell_problems = self.hmap.convert(rec.values, spreadsheet=not jsonl)
            if cell_problems:
                problems[rec.row] = list(cell_problems)
                continue
            rows.append(bulk.Row(rec.row, values))
        # The same natural key twice in one file: the first row counts, the others are reported.
        items = [(ns, key, r.row) for r in rows for ns, key in target.keys(r.values)]
        rank = {(row, ns): i for i, (ns, _k, row) in enumerate(items)}
        for row, first, ns, key in sorted(self.ledger.claim(items), key=lambda d: rank[(d[0], d[2])]):
            if row in problems:
                continue  # one repeat is enough to say about a row
            field = target.key_columns.get(ns, ns)
            col = self.hmap.column(field)
            shown = bulk.mask(col.personal, key) if col is not None else key
            message = target.key_messages.get(ns, DUPLICATE_IN_FILE)
            problems[row] = [
                (
                    field,
                    InvalidInput(message, first=first, column=self.hmap.header_of(field) or field, key=shown),
                )
            ]
        rows = [r for r in rows if r.row not in problems]
        good: list[bulk.Plan] = []
        target.chunk_start = records[0].row
        bulk.refresh_statistics(self.session)
        if rows:
            for p in target.plan(self.session, self.op, rows):
                if isinstance(p, bulk.Problem):
                    problems.setdefault(p.row, []).extend(bulk.problem_cells(p))
                else:
                    good.append(p)
        for row in sorted(problems):
            self._reject(by_row[row], problems[row])
        for p in good:
            report.valid += 1
            if p.action == "create":
                report.created += 1
            elif p.action == "update":
                report.updated += 1
            else:
                report.ignored += 1
        if not self.dry_run and (self.atomic == "object" or report.error_count == 0):
            todo = [p for p in good if p.action != "ignore"]
            if todo:
                target.write(self.session, self.op, todo)
        if not self.dry_run and self.atomic == "object":
            self._commit_batch(records, good, len(problems))
        if self.progress is not None:
            self.progress(*self.source.position())

    def _reject(self, rec: Record, problems: list[tuple[str | None, GridError]]) -> None:
        report = self.report
        report.rejected += 1
        messages = []
        for field, exc in problems:
            # A row that could not be read names its column itself when it can (a JSON field).
            header = self.hmap.header_of(field) if field else exc.args_.get("column")
            col = self.hmap.column(field) if field else None
            raw = rec.values.get(header) if header is not None else None
            value = cell_text(raw) if not isinstance(raw, float) else f"{raw:.0f}"
            if value is not None and col is not None and col.personal:
                value = bulk.mask(col.personal, value)
            if value is not None and len(value) > 60:
                value = value[:60] + "…"
            args = _masked_args(exc.args_, col.personal if col is not None else None)
            entry = Entry(exc.message, args, row=rec.row, column=header, field=field, value=value)
            report.add_error(entry)
            text = entry.text()
            messages.append(f"{header}：{text}" if header and header not in text else text)
        if self.errors_file is not None:
            self.errors_file.add(rec, messages)

    def _finish(self) -> None:
        report = self.report
        if report.error_count and self.atomic == "all":
            self.session.rollback()
            report.created = report.updated = report.ignored = 0
            return
        if self.dry_run:
            self.session.rollback()
            return
        self.target.finish(self.session, self.op)
        bulk.record_import(self.session, self.op, self.target, report.to_dict("en"), occurred_at=self.at)
        report.committed = True


# Message arguments that hold a person's name wherever they appear (the registry's messages name
# the resident a row collides with), and those that repeat the refused cell's own value.
_NAME_ARGS = ("name",)
_VALUE_ARGS = ("value", "typed")


def _masked_args(args: dict[str, Any], personal: str | None) -> dict[str, Any]:
    """A refusal's message arguments as an import report shows them: masked like its values are.
    Validators mask ID numbers and phones themselves; names, dates and notes are masked here."""
    out = {k: v for k, v in args.items() if k != "field_key"}
    for k in _NAME_ARGS:
        if isinstance(out.get(k), str):
            out[k] = bulk.mask("name", out[k])
    if personal in ("name", "date", "note"):
        for k in _VALUE_ARGS:
            if isinstance(out.get(k), str):
                out[k] = bulk.mask(personal, out[k])
    return out


def run_import(
    session: Session,
    op: Operator | None,
    target: bulk.Target,
    source: Source,
    **options: Any,
) -> ImportReport:
    """Import `source` into `target` inside `session`'s transaction; see the module docstring."""
    return Importer(session, op, target, source, **options).run()


def open_for(
    target: bulk.Target,
    name: str,
    *,
    fmt: str | None = None,
    encoding: str | None = "auto",
    sheet: str | None = None,
) -> Source:
    """Open FILE for importing into `target`: the header is the row (among the first few) that
    names the most of its columns, so a title row above the header is skipped."""
    from baiyin_cli.io.readers import open_source

    return open_source(
        name, fmt=fmt, encoding=encoding, sheet=sheet, header_score=HeaderMap(target.columns).score
    )


def summary_line(report: ImportReport) -> str:
    """One line for people: what happened, in the interface language."""
    d = report
    return t(
        SUMMARY,
        created=d.created,
        updated=d.updated,
        ignored=d.ignored,
        rejected=d.rejected,
        rows=d.rows,
        file=d.file,
        encoding=d.encoding or "-",
        seconds=f"{d.seconds:.1f}",
    )
