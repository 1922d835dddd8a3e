"""The import report, shaped after DHIS2's tracker import summary.

`status` OK | WARNING | ERROR, counts (`created`, `updated`, `ignored` = rows that needed no
change: what was written, or in a dry run what would be; all 0 when `--atomic all` refused the
file), `rejected` and `valid` (rows that failed and passed validation), and `errors[]`: one entry per problem with the row as the spreadsheet
shows it, the column as the file names it, the value (masked where personal) and the message.
An entry keeps its message key and arguments, so it is rendered in the reader's language
(`to_dict(lang)`) and scripts can match on `code` whatever the language.

Only the first `max_errors` entries are kept (a million bad rows must not fill memory);
`error_count` counts them all, and the `--errors` file receives every rejected row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from baiyin_cli.i18n import M, Message, t

MAX_ERRORS = 1000

STATUS_OK = "OK"
STATUS_WARNING = "WARNING"
STATUS_ERROR = "ERROR"

W_UNKNOWN_COLUMN = M(
    "import.unknown_column",
    "未知列“{column}”已忽略（可用列：{known}）",
    'Unknown column "{column}" ignored (known columns: {known})',
)
W_TITLE_ROWS = M(
    "import.title_rows",
    "表头在第 {row} 行，其上 {count} 行（标题）已跳过",
    "The header is on row {row}; {count} title row(s) above it were skipped",
)


@dataclass(frozen=True)
class Entry:
    """One localisable problem: message + args, where it is (row, column) and the value."""

    message: Message
    args: dict[str, Any] = field(default_factory=dict)
    row: int | None = None
    column: str | None = None
    field: str | None = None
    value: str | None = None

    @property
    def code(self) -> str:
        return self.message.key

    def text(self, lang: str | None = None) -> str:
        return t(self.message, lang=lang, **self.args)

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "value": self.value,
            "code": self.code,
            "message": self.text(lang),
        }


@dataclass
class ImportReport:
    entity: str
    file: str
    format: str
    encoding: str | None = None
    sheet: str | None = None
    strategy: str = "create_and_update"
    atomic: str = "all"
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    ignored: int = 0
    rejected: int = 0
    valid: int = 0
    committed: bool = False
    seconds: float = 0.0
    errors: list[Entry] = field(default_factory=list)
    error_count: int = 0
    warnings: list[Entry] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    max_errors: int = MAX_ERRORS

    def add_error(self, entry: Entry) -> None:
        self.error_count += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(entry)

    def warn(self, entry: Entry) -> None:
        self.warnings.append(entry)

    @property
    def status(self) -> str:
        """ERROR when rows were rejected and nothing went (or, in a dry run, would go) in;
        WARNING when good rows went in beside rejected ones (--atomic object), or everything
        went in with warnings; OK otherwise."""
        if self.error_count:
            return STATUS_WARNING if self.created + self.updated + self.ignored else STATUS_ERROR
        if self.warnings:
            return STATUS_WARNING
        return STATUS_OK

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "status": self.status,
            "entity": self.entity,
            "file": self.file,
            "format": self.format,
            "encoding": self.encoding,
            "sheet": self.sheet,
            "strategy": self.strategy,
            "atomic": self.atomic,
            "dry_run": self.dry_run,
            "committed": self.committed,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "ignored": self.ignored,
            "rejected": self.rejected,
            "valid": self.valid,
            "errors": [e.to_dict(lang) for e in self.errors],
            "error_count": self.error_count,
            "errors_truncated": self.error_count > len(self.errors),
            "warnings": [e.to_dict(lang) for e in self.warnings],
            "columns": dict(self.columns),
            "seconds": round(self.seconds, 3),
        }
