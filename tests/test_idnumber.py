"""公民身份号码 (GB 11643): property tests of the one validator (services/validate.id_number).

The oracle here is written independently from the code under test: the MOD 11-2 check digit
straight from the standard (weights 2^(17-i) mod 11, check = (12 - sum mod 11) mod 11, 10 -> X).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from baiyin_cli.errors import InvalidInput
from baiyin_cli.services import validate

WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
# Baiyin's districts and counties, and a few elsewhere (where people were born before moving in).
REGIONS = ["620402", "620403", "620421", "620422", "620423", "620102", "620502", "110101", "440305", "510104"]


def check_digit(body17: str) -> str:
    c = (12 - sum(int(d) * w for d, w in zip(body17, WEIGHTS)) % 11) % 11
    return "X" if c == 10 else str(c)


def make_id(region: str, birth: date, seq: int) -> str:
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + check_digit(body)


def make_x_id(region: str, birth: date, start: int) -> str:
    """The first number from sequence `start` on whose check digit is X (one in eleven)."""
    for k in range(1000):
        number = make_id(region, birth, (start + k) % 1000)
        if number.endswith("X"):
            return number
    raise AssertionError("no X check digit in 1000 sequence numbers")


births = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))
valid_ids = st.builds(make_id, st.sampled_from(REGIONS), births, st.integers(0, 999))
x_ids = st.builds(make_x_id, st.sampled_from(REGIONS), births, st.integers(0, 999))

settings.register_profile("grid", deadline=None)
settings.load_profile("grid")


@given(valid_ids)
@settings(max_examples=300)
def test_every_valid_number_passes_with_its_birth_date_and_sex(number):
    info = validate.id_number(number)
    assert info.number == number
    assert info.birth_date == date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    assert info.sex == ("M" if int(number[16]) % 2 else "F")


@given(valid_ids, st.integers(0, 17), st.sampled_from("0123456789X"))
@settings(max_examples=600)
def test_every_single_character_change_fails(number, position, replacement):
    assume(number[position] != replacement)
    assume(replacement != "X" or position == 17)  # an X anywhere else is a format error: still refused
    changed = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(InvalidInput):
        validate.id_number(changed)


@given(valid_ids, st.integers(0, 16))
@settings(max_examples=300)
def test_adjacent_transpositions_fail(number, position):
    a, b = number[position], number[position + 1]
    assume(a != b and b != "X")
    swapped = number[:position] + b + a + number[position + 2 :]
    with pytest.raises(InvalidInput):
        validate.id_number(swapped)


@given(x_ids)
def test_lower_case_x_and_spaces_are_normalised(number):
    typed = f" {number[:6]} {number[6:14]} {number[14:].lower()} "
    assert validate.id_number(typed).number == number


def test_baiyin_residents_born_before_1985_are_accepted():
    # python-stdnum alone refuses these: 620402 dates from 1985 in its region data.
    number = make_id("620402", date(1956, 3, 17), 123)
    assert validate.id_number(number).birth_date == date(1956, 3, 17)


@pytest.mark.parametrize(
    "number, key",
    [
        (make_id("620402", date(1980, 1, 1), 1)[:17], "id_number.length"),
        ("62040219800101001A", "id_number.format"),
        ("620402198002300011", "id_number.checksum"),  # wrong check digit first
        ("62040219800230001" + check_digit("62040219800230001"), "id_number.birth_date"),  # 30 February
        ("999999" + "19800101001" + check_digit("99999919800101001"), "id_number.region"),
    ],
)
def test_refusals_name_the_reason(number, key):
    with pytest.raises(InvalidInput) as exc:
        validate.id_number(number)
    assert exc.value.key == key
    assert number[6:14] not in exc.value.text()  # never the birth digits, even in an error


def test_a_birth_date_in_the_future_is_refused(monkeypatch):
    monkeypatch.setenv("GRID_NOW", "2026-06-01 12:00")
    tomorrow = date(2026, 6, 2)
    with pytest.raises(InvalidInput):
        validate.id_number(make_id("620402", tomorrow, 1))
    assert validate.id_number(make_id("620402", tomorrow - timedelta(days=2), 1))
