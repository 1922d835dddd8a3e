"""Helpers for the import/export tests: real files written the way street offices write them,
and a fingerprint of the database to prove that nothing was written."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

from tests.test_idnumber import make_id

A = ("--as", "admin")
G11, G12, G21, G22 = "620402001001001", "620402001001002", "620402001002001", "620402001002002"

HEAD_ID = make_id("620402", date(1956, 3, 17), 123)
SPOUSE_ID = make_id("620402", date(1958, 7, 2), 244)
SON_ID = make_id("620403", date(1986, 11, 9), 35)
OTHER_ID = make_id("620421", date(1990, 1, 5), 17)
LONE_ID = make_id("620402", date(1941, 2, 8), 22)


def bad_checksum(number: str) -> str:
    last = number[-1]
    return number[:-1] + ("0" if last != "0" else "1")


# Tables a command may touch without writing anything of the registry: its own login session.
UNTRACKED = ("auth_session", "operator_credential", "grid_meta", "alembic_version")


def snapshot(db_url: str) -> dict[str, tuple[int, str]]:
    """Row count and a checksum of the content of every table (but the login bookkeeping)."""
    from sqlalchemy import create_engine, inspect, text

    eng = create_engine(db_url)
    out: dict[str, tuple[int, str]] = {}
    try:
        with eng.connect() as c:
            for t in sorted(inspect(c).get_table_names()):
                if t in UNTRACKED:
                    continue
                rows = [repr(tuple(r)) for r in c.execute(text(f'SELECT * FROM "{t}"'))]
                out[t] = (len(rows), hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest())
    finally:
        eng.dispose()
    return out


def write_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8-sig") -> Path:
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[Any]], *, title: str | None = None, sheet: str = "Sheet1") -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append([title])
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def read_xlsx(path: Path) -> list[list[Any]]:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb.worksheets[0]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def write_jsonl(path: Path, objs: list[Any]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for o in objs:
            f.write(o if isinstance(o, str) else json.dumps(o, ensure_ascii=False))
            f.write("\n")
    return path


def imp(
    grid: Any, entity: str, path: Any, *more: str, expect: int = 0, as_: tuple[str, ...] = A
) -> dict[str, Any]:
    """`grid import ENTITY FILE --json`, the report parsed."""
    return grid(*as_, "import", entity, str(path), *more, "--json", expect=expect).json()


def by_row(report: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for e in report["errors"]:
        out.setdefault(e["row"], []).append(e)
    return out


HOUSEHOLD_HEADER = ["户编号", "网格", "地址", "楼栋", "单元", "房号", "类型", "关爱标签", "备注"]


def households_rows() -> list[list[Any]]:
    return [
        HOUSEHOLD_HEADER,
        ["H001", G11, "人民路12号院", "3", "2", "501", "城镇", "低保户", ""],
        ["H002", G11, "人民路12号院", "3", "2", "502", "", "", "二楼"],
        ["H003", G12, "公园路8号", "", "", "", "", "", ""],
        ["H004", G21, "建设街1号", "", "", "", "", "", ""],
    ]


def residents_rows() -> list[list[Any]]:
    return [
        ["户编号", "姓名", "公民身份号码", "联系电话", "与户主关系", "民族", "关爱标签"],
        ["H001", "张三", HEAD_ID, "13912345678", "户主", "回族", "独居老人"],
        ["H001", "李四", SPOUSE_ID, "0943-8221234", "配偶", "汉族", ""],
        ["H001", "张小明", SON_ID, "", "子女", "", ""],
        ["H002", "王芳", OTHER_ID, "13800001111", "户主", "", ""],
        ["H003", "孙老", LONE_ID, "", "户主", "", "独居老人"],
    ]
