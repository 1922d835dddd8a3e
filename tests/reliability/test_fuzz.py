"""Bad input (issue 11): every importer and every free-text field, fuzzed with hypothesis for
at least 10 000 examples each (GRID_FUZZ_EXAMPLES; XLSX, slower to build, GRID_FUZZ_XLSX_EXAMPLES).
No traceback, no partial write, every rejection names its row and column (tests/reliability/fuzzing.py)."""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability import fuzzing as fz
from tests.reliability.common import load, report

pytestmark = pytest.mark.reliability

EXAMPLES = int(os.environ.get("GRID_FUZZ_EXAMPLES", "10000"))
XLSX_EXAMPLES = int(os.environ.get("GRID_FUZZ_XLSX_EXAMPLES", "2000"))
ENTITIES = ("areas", "workers", "households", "residents", "visits", "petitions")
SETTINGS = dict(deadline=None, database=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])


def fuzz_importer(url: str, entity: str, fmt: str, examples: int, tmp) -> Counter:  # type: ignore[no-untyped-def]
    seen: Counter = Counter()

    @settings(max_examples=examples, **SETTINGS)
    @given(data=fz.FORMATS[fmt](entity))
    def one(data: bytes) -> None:
        seen[fz.import_must_hold(url, entity, data, fmt, tmp)] += 1

    one()
    return seen


def fuzz_text(url: str, field: str, examples: int) -> Counter:
    seen: Counter = Counter()

    @settings(max_examples=examples, **SETTINGS)
    @given(value=st.one_of(fz.nasty_text(60), fz.huge_text(), st.text()))
    def one(value: str) -> None:
        seen[fz.text_must_hold(url, field, value).split(":")[0]] += 1

    one()
    return seen


@pytest.fixture
def city_url(db_url):
    load.build_city(db_url)
    return db_url


@pytest.mark.parametrize("entity", ENTITIES)
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_every_importer_survives_bad_files(city_url, backend, entity, fmt, tmp_path):
    n = XLSX_EXAMPLES if fmt == "xlsx" else EXAMPLES
    if backend == "postgres":
        n = max(100, n // 10)  # the parsers are the same; PostgreSQL adds its write path
    t0 = time.monotonic()
    seen = fuzz_importer(city_url, entity, fmt, n, tmp_path)
    report(f"fuzz-import-{backend}-{entity}-{fmt}", f"- import {entity} from {fmt}, {backend}: {sum(seen.values())} "
           f"examples in {time.monotonic() - t0:.0f} s: {dict(seen)}")
    assert sum(seen.values()) >= min(n, 50)


@pytest.mark.parametrize("field", fz.free_text_fields())
def test_every_free_text_field_survives_bad_text(city_url, backend, field):
    n = EXAMPLES if backend == "sqlite" else max(100, EXAMPLES // 10)
    t0 = time.monotonic()
    seen = fuzz_text(city_url, field, n)
    report(f"fuzz-text-{backend}-{field}", f"- {field}, {backend}: {sum(seen.values())} examples in "
           f"{time.monotonic() - t0:.0f} s: {dict(seen)}")
    assert seen["accepted"] and seen["refused"]
