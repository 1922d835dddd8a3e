"""Working days on China's calendar: public holidays and the adjusted working days (调休).

Sources, first that knows the day wins:
  1. config `calendar.extra_workdays` / `calendar.extra_holidays` (local corrections, firm);
  2. chinese-calendar (the State Council's published schedule, 2004-2026 in 1.11);
  3. python-holidays `holidays.China`: for years whose schedule is published it carries the
     same 调休; for later years it still computes the statutory holidays (Spring Festival from
     the lunar calendar, observed days included), only without that year's 调休. Days decided
     here for a year without a published schedule are *estimated*, and so is every deadline
     counted across them (petition.due_estimated), so the output can say so.

A deadline of N working days is the end of the N-th working day after the day of filing:
the filing day itself does not count, whatever the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from baiyin_cli import timeutil
from baiyin_cli.errors import InvalidInput
from baiyin_cli.i18n import M

BAD_EXTRA_DAY = M(
    "calendar.bad_extra_day",
    "配置项 {key} 中的日期无效：{value}（应为 YYYY-MM-DD）",
    "Config {key} holds an invalid date: {value} (expected YYYY-MM-DD)",
)
BAD_DAYS = M(
    "calendar.bad_days",
    "工作日数无效：{value}（应为 0–365）",
    "Invalid number of working days: {value} (0-365)",
)

# A working-day count never needs to look further than this many calendar days ahead.
_MAX_SCAN = 3 * 366


@dataclass(frozen=True)
class Day:
    """One calendar day: is it a working day, and how sure are we."""

    date: date
    workday: bool
    source: str  # "config" | "official" | "statutory" (holidays.China, no 调休 known: an estimate)

    @property
    def estimated(self) -> bool:
        return self.source == "statutory"


@lru_cache(maxsize=8)
def _extras(
    holidays_: tuple[str, ...], workdays_: tuple[str, ...]
) -> tuple[frozenset[date], frozenset[date]]:
    def parse(values: tuple[str, ...], key: str) -> frozenset[date]:
        out = set()
        for v in values:
            try:
                out.add(date.fromisoformat(str(v).strip()))
            except ValueError:
                raise InvalidInput(BAD_EXTRA_DAY, key=key, value=v) from None
        return frozenset(out)

    return parse(holidays_, "calendar.extra_holidays"), parse(workdays_, "calendar.extra_workdays")


def _config_extras() -> tuple[frozenset[date], frozenset[date]]:
    from baiyin_cli import config

    cfg = config.load()
    return _extras(
        tuple(cfg.get("calendar.extra_holidays") or ()), tuple(cfg.get("calendar.extra_workdays") or ())
    )


def _official(d: date) -> bool | None:
    """chinese-calendar's answer, or None for a year it does not know."""
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        return None


@lru_cache(maxsize=16)
def _holidays_china(year: int):  # type: ignore[no-untyped-def]
    from holidays.countries.china import China

    return China(years=year)


@lru_cache(maxsize=16)
def _holidays_knows_adjustments(year: int) -> bool:
    """Does python-holidays carry the published 调休 of `year` (not just the statutory days)?"""
    from holidays.countries.china import ChinaStaticHolidays

    return year in (getattr(ChinaStaticHolidays, "special_public_holidays", None) or {})


def day(d: date) -> Day:
    extra_holidays, extra_workdays = _config_extras()
    if d in extra_workdays:
        return Day(d, True, "config")
    if d in extra_holidays:
        return Day(d, False, "config")
    official = _official(d)
    if official is not None:
        return Day(d, official, "official")
    cal = _holidays_china(d.year)
    source = "official" if _holidays_knows_adjustments(d.year) else "statutory"
    return Day(d, bool(cal.is_working_day(d)), source)


def is_workday(d: date) -> bool:
    return day(d).workday


def add_workdays(start: date, n: int) -> tuple[date, bool]:
    """The n-th working day after `start` (start itself not counted); n=0 gives `start`.

    Returns (date, estimated): estimated is True when any day counted over rests on the
    statutory-only fallback.
    """
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 365:
        raise InvalidInput(BAD_DAYS, value=n)
    current = start
    estimated = False
    counted = 0
    for _ in range(_MAX_SCAN):
        if counted == n:
            return current, estimated
        current += timedelta(days=1)
        info = day(current)
        estimated = estimated or info.estimated
        if info.workday:
            counted += 1
    raise InvalidInput(BAD_DAYS, value=n)  # pragma: no cover - a calendar with no working days


def workdays_between(a: date, b: date) -> int:
    """Working days in the half-open range (a, b]: how many days `add_workdays` counts."""
    if b <= a:
        return 0
    return sum(1 for i in range(1, (b - a).days + 1) if is_workday(a + timedelta(days=i)))


def end_of_day(d: date) -> datetime:
    """The last second of local day `d`, as aware UTC: a deadline 'by the end of that day'."""
    _start, end = timeutil.day_bounds(d)
    return end - timedelta(seconds=1)


def resolve_due(filed_at: datetime, days: int) -> tuple[datetime, bool]:
    """End of the `days`-th working day after the local day of filing; and whether it is estimated."""
    d, estimated = add_workdays(timeutil.local_date(filed_at), days)
    return end_of_day(d), estimated
