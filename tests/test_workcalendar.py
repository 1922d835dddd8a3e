"""Working days on China's holiday and 调休 calendar, and the deadlines `grid petition file` derives."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baiyin_cli.services import workcalendar as wc

# ---------------------------------------------------------------- the calendar itself


@pytest.fixture(autouse=True)
def clean_config(env_dirs):
    """Every test here reads the packaged calendar config (no user extras)."""
    wc._extras.cache_clear()
    yield
    wc._extras.cache_clear()


def test_national_day_2026_and_its_adjusted_working_days():
    # Official schedule for 2026: Oct 1-7 off; Sunday Sep 20 and Saturday Oct 10 are working days.
    assert wc.is_workday(date(2026, 9, 20)) and wc.day(date(2026, 9, 20)).source == "official"
    assert wc.is_workday(date(2026, 10, 10))
    assert not any(wc.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert wc.is_workday(date(2026, 10, 8)) and not wc.is_workday(date(2026, 10, 11))
    assert not wc.is_workday(date(2026, 9, 25))  # Mid-Autumn Festival
    assert wc.add_workdays(date(2026, 9, 30), 1) == (date(2026, 10, 8), False)
    assert wc.add_workdays(date(2026, 9, 30), 3) == (date(2026, 10, 10), False)
    assert wc.add_workdays(date(2026, 9, 30), 4) == (date(2026, 10, 12), False)
    assert wc.add_workdays(date(2026, 9, 19), 1) == (date(2026, 9, 20), False)  # Saturday -> the 调休 Sunday
    assert wc.add_workdays(date(2026, 2, 13), 1) == (
        date(2026, 2, 14),
        False,
    )  # a 调休 Saturday before Spring Festival
    assert wc.add_workdays(date(2026, 9, 30), 0) == (date(2026, 9, 30), False)


def test_2027_falls_back_to_statutory_holidays_and_says_so():
    # chinese-calendar 1.11 stops at 2026; python-holidays still knows Spring Festival 2027 (Feb 5-10 off).
    d = wc.day(date(2027, 2, 8))
    assert d.workday is False and d.estimated
    assert wc.day(date(2027, 1, 1)).workday is False  # New Year's Day
    assert wc.day(date(2027, 1, 4)).workday and wc.day(date(2027, 1, 4)).estimated
    assert wc.add_workdays(date(2026, 12, 28), 10) == (date(2027, 1, 12), True)
    assert wc.add_workdays(date(2027, 2, 3), 3) == (date(2027, 2, 12), True)
    assert wc.add_workdays(date(2026, 12, 28), 3) == (date(2026, 12, 31), False)  # stays inside 2026


def test_config_adds_and_removes_days(grid, env_dirs):
    grid("config", "set", "calendar.extra_holidays", '["2026-10-08"]')
    grid("config", "set", "calendar.extra_workdays", '["2027-01-09"]')
    assert not wc.is_workday(date(2026, 10, 8)) and wc.day(date(2026, 10, 8)).source == "config"
    assert wc.add_workdays(date(2026, 9, 30), 3) == (date(2026, 10, 12), False)
    assert wc.day(date(2027, 1, 9)).workday and not wc.day(date(2027, 1, 9)).estimated
    r = grid("config", "set", "calendar.extra_holidays", '["2026-13-01"]', expect=1)  # refused when set
    assert "2026-13-01" in r.stderr
    assert grid("config", "get", "calendar.extra_holidays").stdout.strip() == '["2026-10-08"]'
    (env_dirs / "config.toml").write_text('[calendar]\nextra_holidays = ["2026-13-01"]\n')  # or typed in the file
    from baiyin_cli import config
    from baiyin_cli.errors import InvalidInput

    with pytest.raises(InvalidInput, match="2026-13-01"):
        config.load(reload=True)
    r = grid("petition", "list", expect=1)
    assert "config.toml" in r.stderr and "2026-13-01" in r.stderr


def test_resolve_due_is_the_end_of_the_local_day():
    from baiyin_cli import timeutil

    filed = timeutil.parse_time("2026-09-30 23:50")
    due, est = wc.resolve_due(filed, 3)
    assert timeutil.iso(due) == "2026-10-10T23:59:59+08:00" and est is False
    # 00:30 local on Oct 1 is still Sep 30 in UTC: the local day counts
    due, _ = wc.resolve_due(timeutil.parse_time("2026-10-01 00:30"), 1)
    assert timeutil.iso(due) == "2026-10-08T23:59:59+08:00"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.dates(min_value=date(2004, 1, 1), max_value=date(2035, 12, 31)), n=st.integers(0, 25))
def test_add_workdays_counts_exactly_n_working_days(start, n):
    end, estimated = wc.add_workdays(start, n)
    assert end >= start
    assert wc.workdays_between(start, end) == n
    if n:
        assert wc.is_workday(end)
        # one more working day is strictly later
        assert wc.add_workdays(start, n + 1)[0] > end
    if end.year <= 2026:
        assert estimated is False
    if n and end.year >= 2027:  # a day counted lies in a year without a published schedule
        assert estimated is True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(year=st.integers(2004, 2040))
def test_no_year_crashes(year):
    days = [date(year, 1, 1) + timedelta(days=i) for i in range(0, 366, 7)]
    assert all(isinstance(wc.is_workday(d), bool) for d in days)
    assert 240 <= wc.workdays_between(date(year - 1, 12, 31), date(year, 12, 31)) <= 255


def test_bad_count():
    from baiyin_cli.errors import InvalidInput

    with pytest.raises(InvalidInput):
        wc.add_workdays(date(2026, 1, 1), -1)


# ---------------------------------------------------------------- through `grid petition file`


def _file(grid, at: str, category: str) -> dict:
    return grid(
        "--as",
        "sec1",
        "petition",
        "file",
        "--text",
        "测试时限",
        "--category",
        category,
        "--channel",
        "phone",
        "--grid",
        "620402001001001",
        "--at",
        at,
        "--json",
    ).json()


def test_deadlines_across_the_national_day_holiday(grid, city, monkeypatch):
    monkeypatch.setenv("GRID_NOW", "2026-10-12 09:00")
    help_ = _file(grid, "2026-09-30 16:00", "help")  # 3 days: Oct 8, 9 and the 调休 Saturday Oct 10
    assert help_["resolve_due"] == "2026-10-10T23:59:59+08:00" and help_["due_estimated"] is False
    consult = _file(grid, "2026-09-19 10:00", "consultation")  # filed on a Saturday: 1 day is the 调休 Sunday
    assert consult["resolve_due"] == "2026-09-20T23:59:59+08:00"
    suggestion = _file(grid, "2026-09-24 10:00", "suggestion")  # 10 days: 28,29,30, Oct 8,9,10,12,13,14,15
    assert suggestion["resolve_due"] == "2026-10-15T23:59:59+08:00"
    holiday = _file(grid, "2026-10-03 10:00", "consultation")  # filed during the holiday
    assert holiday["resolve_due"] == "2026-10-08T23:59:59+08:00"
    assert holiday["contact_due"] == "2026-10-03T10:30:00+08:00"  # the callback clock ignores holidays


def test_a_deadline_in_2027_is_estimated_and_says_so(grid, city, monkeypatch):
    monkeypatch.setenv("GRID_NOW", "2026-12-28 10:00")
    r = grid(
        "--as",
        "sec1",
        "petition",
        "file",
        "--text",
        "建议增设公交站",
        "--category",
        "suggestion",
        "--channel",
        "mini_program",
        "--grid",
        "620402001001001",
    )
    assert "推算" in r.stderr
    number = r.stdout.strip()
    p = grid("--as", "sec1", "petition", "show", number, "--json").json()
    assert p["resolve_due"] == "2027-01-12T23:59:59+08:00" and p["due_estimated"] is True
    assert p["clock"]["resolve"]["estimated"] is True
    assert "估算" in grid("--as", "sec1", "petition", "show", number).stdout
    en = grid(
        "--lang",
        "en",
        "--as",
        "sec1",
        "petition",
        "file",
        "--text",
        "another",
        "--category",
        "suggestion",
        "--channel",
        "qr",
        "--grid",
        "620402001001001",
    )
    assert "estimated" in en.stderr
    short = grid(
        "--as",
        "sec1",
        "petition",
        "file",
        "--text",
        "咨询",
        "--category",
        "consultation",
        "--channel",
        "qr",
        "--grid",
        "620402001001001",
        "--json",
    ).json()
    assert short["resolve_due"] == "2026-12-29T23:59:59+08:00" and short["due_estimated"] is False
