"""Bad input, generated: files for every importer and text for every free-text field, built
from the worst that real spreadsheets and people produce (malformed CSV quoting, mixed
encodings, NUL bytes, huge fields, control characters, right-to-left marks, emoji, combining
marks, full-width digits, formula-like text).

What must hold for every example (checked by `import_must_hold` / `text_must_hold`):
no exception but a GridError (a message in both languages; the CLI prints it on one line), no partial write under
`--atomic all` (the tables are exactly as before when anything was rejected), and every
rejected row named by its row, and by its column whenever the problem is in a cell.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from tests.reliability.common import load

# ---------------------------------------------------------------- characters people and files bring

NASTY_CHARS = [
    "\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\r", "\n", "\t", "\r\n",
    "\u200b", "\u200e", "\u200f", "\u202a", "\u202b", "\u202e", "\u2066", "\u2069", "\ufeff", "\ufffd", "\u2028",
    "\u0301", "\u0308", "\u20dd", "e\u0301", "\u1100\u1161\u11a8",  # combining marks, jamo
    "😀", "👨‍👩‍👧", "🇨🇳", "\U0001f3fb", "\ud7ff", "\U00020000",  # emoji, ZWJ, flags, CJK ext B
    "０１２３４５６７８９", "１３８００１３８０００", "６２０４０２",  # full-width digits
    "=", "+", "-", "@", "=1+1", "=HYPERLINK(\"http://x\")", "@SUM(A1)", "+86", "-5", "'=", "\t=",
    '"', '""', "'", ",", ";", "\\", "%s", "{0}", "{field}", "%(x)s", "<script>", "NULL", "None", "null",
    "白银区", "人民路", "张三", "网格", "　", "\u3000", "・", "—", "…",
]

PLAUSIBLE = [
    "620402", "620402001", "620402001001", "620402001001001", "620402001002002", "620402001001001-0001",
    "620402001002001-0003", "wg11", "sec1", "admin", "grid_worker", "secretary", "网格员", "full_time",
    "household", "mediation", "help", "complaint", "qr", "hotline_12345", "2026-11-01 09:00", "2026-11-01",
    "1956-03-17", "30", "0", "-1", "99999999999999999999", "1e9", "3.5", "620402195603171232",
    "62040219560317123X", "13800138000", "0943-8221234", "人民路1号", "是", "否", "true", "false", "head",
    "户主", "汉族", "男", "女", "urban", "rural", "elderly_alone", "低保户", "BY-20261130-0001", "sifa",
]


def nasty_text(max_size: int = 40) -> st.SearchStrategy[str]:
    pieces = st.one_of(st.sampled_from(NASTY_CHARS), st.sampled_from(PLAUSIBLE), st.text(max_size=8))
    return st.lists(pieces, max_size=max_size // 4 + 1).map("".join)


def huge_text() -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(["长", "a", "😀", "\u0301", "=", '"']), st.integers(1000, 100_000)).map(
        lambda t: t[0] * t[1])


def cell() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(PLAUSIBLE), nasty_text(), st.none(), st.just(""), huge_text(),
        st.integers(-(2**63), 2**63), st.floats(allow_nan=True, allow_infinity=True),
    )


def header_for(entity: str) -> st.SearchStrategy[list[str]]:
    from baiyin_cli.services import bulk

    t = bulk.target(entity)
    cols = t.columns
    names = [c.name for c in cols] + [c.zh for c in cols] + [c.en for c in cols]
    known = st.lists(st.sampled_from(names), min_size=1, max_size=len(cols) + 2)
    # Mostly a header that finds its records (a key group first), so the rows get validated too.
    keys = st.sampled_from([list(g) for g in t.key_fields] or [[]])
    usual = st.tuples(keys, st.lists(st.sampled_from([c.name for c in cols]), max_size=len(cols)), st.permutations(
        [c.name for c in cols if c.required])).map(lambda x: list(dict.fromkeys([*x[0], *x[2], *x[1]])))
    odd = st.tuples(known, st.lists(nasty_text(12), max_size=2)).map(lambda x: x[0] + x[1])
    return st.one_of(usual, usual, usual, odd)


@st.composite
def table(draw: Any, entity: str) -> list[list[Any]]:
    header = draw(header_for(entity))
    width = len(header)
    rows = draw(st.lists(st.lists(cell(), min_size=max(0, width - 2), max_size=width + 2), max_size=6))
    return [header, *rows]


# ---------------------------------------------------------------- serialising, badly


def _text(v: Any) -> str:
    return "" if v is None else str(v)


ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16", "latin-1", "mixed"]


@st.composite
def csv_bytes(draw: Any, entity: str) -> bytes:
    rows = draw(table(entity))
    style = draw(st.sampled_from(["minimal", "all", "none", "broken"]))
    lines: list[str] = []
    for r in rows:
        cells = [_text(v) for v in r]
        if style == "broken":
            # quotes opened and never closed, doubled at random, separators inside bare cells
            cells = [draw(st.sampled_from(['"', "", '""', "'"])) + c + draw(st.sampled_from(["", '"', '"x'])) for c in cells]
            lines.append(draw(st.sampled_from([",", ";", "\t", "，"])).join(cells))
            continue
        buf = io.StringIO()
        quoting = {"minimal": csv.QUOTE_MINIMAL, "all": csv.QUOTE_ALL, "none": csv.QUOTE_NONE}[style]
        try:
            csv.writer(buf, quoting=quoting, escapechar="\\", lineterminator="").writerow(cells)
        except csv.Error:  # QUOTE_NONE cannot write a lone empty field: write it bare
            buf = io.StringIO(",".join(cells))
        lines.append(buf.getvalue())
    newline = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    enc = draw(st.sampled_from(ENCODINGS))
    if enc == "mixed":
        out = b"".join(
            ln.encode(draw(st.sampled_from(["utf-8", "gb18030", "utf-16-le", "latin-1"])), errors="replace")
            + newline.encode() for ln in lines
        )
    else:
        out = newline.join(lines).encode(enc, errors="replace")
    if draw(st.booleans()):  # NUL bytes, a truncated multi-byte character, a stray BOM
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(out)))
            out = out[:at] + draw(st.sampled_from([b"\x00", b"\xe4\xb8", b"\xef\xbb\xbf", b"\xff\xfe", b"\x81"])) + out[at:]
    return out


@st.composite
def jsonl_bytes(draw: Any, entity: str) -> bytes:
    rows = draw(table(entity))
    header, body = rows[0], rows[1:]
    lines = []
    for r in body:
        kind = draw(st.sampled_from(["object", "object", "object", "broken", "list", "scalar", "nested"]))
        obj: Any = {header[i] if i < len(header) else f"extra{i}": v for i, v in enumerate(r)}
        if kind == "broken":
            lines.append(json.dumps(obj, ensure_ascii=False)[: draw(st.integers(0, 30))])
            continue
        if kind == "list":
            obj = list(obj.values())
        elif kind == "scalar":
            obj = draw(st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans()))
        elif kind == "nested":
            obj = {k: {"v": v} for k, v in obj.items()}
        try:
            lines.append(json.dumps(obj, ensure_ascii=draw(st.booleans()), allow_nan=True))
        except (TypeError, ValueError):
            lines.append("{}")
    out = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(out)))
        out = out[:at] + draw(st.sampled_from([b"\x00", b"\xff", b"\xe4\xb8", b"\n\n", b"\xef\xbb\xbf"])) + out[at:]
    return out


@st.composite
def xlsx_bytes(draw: Any, entity: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    rows = draw(table(entity))
    wb = Workbook()
    ws = wb.active

    def storable(v: Any) -> Any:  # what a spreadsheet program can hold at all
        if isinstance(v, str):
            return ILLEGAL_CHARACTERS_RE.sub("", v)[:32000]
        if isinstance(v, float) and v != v:
            return None
        if isinstance(v, int) and abs(v) > 2**53:
            return float(v)
        return v

    if draw(st.booleans()):
        ws.append([storable(draw(nasty_text(20)))])  # a title row above the header
    for r in rows:
        ws.append([storable(v) for v in r])
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    if draw(st.sampled_from([False] * 9 + [True])):  # now and then a truncated or corrupted workbook
        # cut at a share of the length: the bytes differ from run to run (the workbook's timestamps)
        data = data[: len(data) * draw(st.integers(0, 1000)) // 1000]
    return data


FORMATS = {"csv": csv_bytes, "jsonl": jsonl_bytes, "xlsx": xlsx_bytes}


# ---------------------------------------------------------------- the checks

# A whole line is unreadable (no column to name), or one object names a field twice (both named).
ROW_LEVEL = {"io.bad_json", "io.not_object", "io.cell_count", "import.duplicate_column"}


def tables_of(entity: str) -> list[str]:
    return ["area", "worker", "household", "household_care", "resident", "resident_care", "visit", "visit_day",
            "petition", "petition_event", "petition_reporter", "petition_sequence", "audit_entry"]


def counts(session: Any, names: list[str]) -> dict[str, int]:
    from sqlalchemy import text

    return {n: int(session.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names}


def import_must_hold(url: str, entity: str, data: bytes, fmt: str, tmp: Path) -> str:
    """Import `data` in-process as admin with --atomic all; return what happened."""
    from sqlmodel import Session

    from baiyin_cli import store
    from baiyin_cli.errors import GridError
    from baiyin_cli.io import pipeline
    from baiyin_cli.services import bulk
    from baiyin_cli.services.access import load_operator

    path = tmp / f"fuzz.{fmt}"
    path.write_bytes(data)
    names = tables_of(entity)
    eng = store.engine(url)
    with Session(bind=eng.execution_options(grid_write=True), expire_on_commit=False) as s:
        try:
            op = load_operator(s, "admin")
            before = counts(s, names)
            t = bulk.target(entity)
            try:
                with pipeline.open_for(t, str(path)) as src:
                    report = pipeline.run_import(s, op, t, src, atomic="all", batch_size=3)
            except GridError as exc:
                text = exc.text("en")  # the CLI prints it as one line (cli/main.py _error_line)
                assert text.strip() and "Traceback" not in text, text
                s.rollback()
                assert counts(s, names) == before
                return "file refused: " + exc.key
            if report.error_count:
                for e in report.errors:
                    assert e.row is not None, e
                    assert e.column is not None or e.code in ROW_LEVEL, (e, e.to_dict("en"))
                    assert e.text("en") and e.text("zh")
                assert counts(s, names) == before, "rows were written although rows were rejected"
                return "rows rejected"
            return "imported"
        finally:
            s.rollback()


def free_text_fields() -> list[str]:
    return ["petition.text", "petition.name", "petition.address", "petition.note", "visit.note", "household.note",
            "household.address", "petition.result", "petition.reason"]


def text_must_hold(url: str, field: str, value: str) -> str:
    """Put `value` into one free-text field through its service, as its command would; return what happened.
    Accepted: stored exactly as validated (NFC, trimmed). Refused: one GridError line, nothing written."""
    from sqlmodel import Session

    from baiyin_cli import store
    from baiyin_cli.errors import GridError
    from baiyin_cli.services import petitions, registry, visits
    from baiyin_cli.services.access import load_operator

    eng = store.engine(url)
    grid = next(iter(load.GRIDS))
    with Session(bind=eng.execution_options(grid_write=True), expire_on_commit=False) as s:
        try:
            sec, wg = load_operator(s, "sec1"), load_operator(s, "wg11")
            before = counts(s, ["petition", "petition_event", "visit", "household", "audit_entry"])
            noun, name = field.split(".")
            try:
                if noun == "petition" and name in ("text", "name", "address"):
                    kw = {"text": "楼道灯坏了", "name": None, "address": None}
                    kw[name] = value
                    p = petitions.file_petition(s, sec, category="help", channel="qr", grid=grid, **kw)
                    got = petitions.show_petition(s, sec, p["number"], reveal=True)
                    stored = {"text": got["text"], "name": got["reporter_name"], "address": got["address"]}[name]
                elif noun == "petition":
                    p = petitions.file_petition(s, sec, text="楼道灯坏了", category="help", channel="qr", grid=grid)
                    petitions.apply(s, sec, p["number"], "assign", to="wg11")
                    petitions.apply(s, wg, p["number"], "contact", how="phone", outcome="已回电")
                    if name == "note":
                        petitions.apply(s, wg, p["number"], "start", note=value)
                        stored = petitions.show_petition(s, sec, p["number"], reveal=True)["history"][-1]["note"]
                    elif name == "result":
                        petitions.apply(s, wg, p["number"], "resolve", result=value)
                        stored = petitions.show_petition(s, sec, p["number"], reveal=True)["result"]
                    else:
                        petitions.apply(s, sec, p["number"], "escalate", dept=load.DEPT, reason=value)
                        stored = petitions.show_petition(s, sec, p["number"], reveal=True)["history"][-1]["data"]["reason"]
                elif noun == "visit":
                    v = visits.log_visit(s, wg, kind="household", minutes=30, household=load.household_code(grid, 1),
                                         note=value)
                    stored = visits.show_visit(s, wg, v["id"], reveal=True)["note"]
                else:
                    code = load.household_code(grid, 1)
                    registry.edit_household(s, sec, code, {name: value})
                    stored = registry.show_household(s, sec, code, reveal=True)[name]
            except GridError as exc:
                text = exc.text("en")
                assert text.strip() and "Traceback" not in text, text
                s.rollback()
                assert counts(s, ["petition", "petition_event", "visit", "household", "audit_entry"]) == before
                return "refused: " + exc.key
            from baiyin_cli.services import validate

            expected = validate.text(value, name, required=False, max_len=10**6)
            if name in ("address",) and noun == "household":
                return "accepted"  # the registry normalises addresses (full-width, spaces) on purpose
            assert stored == expected, (stored, expected)
            return "accepted"
        finally:
            s.rollback()
