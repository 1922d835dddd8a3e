"""Time: stored in UTC (timezone-aware), shown and typed in the configured zone.

`GRID_NOW` ("YYYY-MM-DD HH:MM" local, or ISO with offset) fixes the clock for tests,
golden files and reproducible demos.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from baiyin_cli.errors import InvalidInput
from baiyin_cli.i18n import M

UTC = timezone.utc

BAD_TIME = M(
    "time.invalid",
    "时间格式无效：{value}（应为 YYYY-MM-DD HH:MM）",
    "Invalid time: {value} (expected YYYY-MM-DD HH:MM)",
)
BAD_DATE = M("date.invalid", "日期格式无效：{value}（应为 YYYY-MM-DD）", "Invalid date: {value} (expected YYYY-MM-DD)")
TIME_RANGE = M(
    "time.out_of_range",
    "时间超出范围：{value}（应在 1900 年至 2200 年之间）",
    "Time out of range: {value} (years 1900 to 2200)",
)
DATE_RANGE = M(
    "date.out_of_range",
    "日期超出范围：{value}（应在 1900 年至 2200 年之间）",
    "Date out of range: {value} (years 1900 to 2200)",
)
FUTURE_TIME = M("time.future", "时间 {value} 在将来", "Time {value} is in the future")
BAD_DURATION = M(
    "duration.invalid", "时长格式无效：{value}（如 30m、2h、3d）", "Invalid duration: {value} (e.g. 30m, 2h, 3d)"
)


@lru_cache(maxsize=8)
def zone(name: str | None = None) -> ZoneInfo:
    from baiyin_cli import config

    if name is None:
        name = config.load().timezone
    try:
        return ZoneInfo(name)
    except (ValueError, LookupError):  # ZoneInfoNotFoundError is a KeyError; GRID_TZ is not checked at set
        raise InvalidInput(config.BAD_ZONE, value=name) from None


def now() -> datetime:
    fixed = os.environ.get("GRID_NOW")
    if fixed:
        return parse_time(fixed)
    return datetime.now(UTC)


def parse_time(text: str, *, allow_future: bool = True) -> datetime:
    """Parse local 'YYYY-MM-DD HH:MM[:SS]' (or ISO with offset, or a bare date) into aware UTC."""
    raw = text.strip().replace("T", " ")
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(BAD_TIME, value=text) from None
    # Checked as typed, before the conversion to UTC: 0001-01-01 00:00 in UTC+8 is before year 1,
    # which datetime cannot hold (it raised OverflowError).
    if not (1900 <= dt.year <= 2200):
        raise InvalidInput(TIME_RANGE, value=text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone())
    dt = dt.astimezone(UTC)
    if not allow_future and "GRID_NOW" not in os.environ and dt > datetime.now(UTC) + timedelta(minutes=5):
        raise InvalidInput(FUTURE_TIME, value=text)
    if not allow_future and "GRID_NOW" in os.environ and dt > now() + timedelta(minutes=5):
        raise InvalidInput(FUTURE_TIME, value=text)
    return dt


def parse_date(text: str) -> date:
    try:
        d = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(BAD_DATE, value=text) from None
    if not (1900 <= d.year <= 2200):
        raise InvalidInput(DATE_RANGE, value=text)
    return d


def parse_duration(text: str) -> timedelta:
    raw = text.strip().lower()
    units = {"m": 60, "min": 60, "h": 3600, "d": 86400}
    for suffix in ("min", "m", "h", "d"):
        if raw.endswith(suffix):
            try:
                n = float(raw[: -len(suffix)])
            except ValueError:
                break
            if n < 0 or n > 3650:
                break
            return timedelta(seconds=n * units[suffix])
    raise InvalidInput(BAD_DURATION, value=text)


def ensure_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def local(dt: datetime) -> datetime:
    return ensure_utc(dt).astimezone(zone())


def local_date(dt: datetime) -> date:
    return local(dt).date()


def today() -> date:
    # Asked once per row by ID-number checks: a fixed clock (GRID_NOW) is parsed once per value.
    fixed = os.environ.get("GRID_NOW")
    if fixed:
        return _fixed_day(fixed, zone())
    return datetime.now(zone()).date()


@lru_cache(maxsize=8)
def _fixed_day(fixed: str, tz: ZoneInfo) -> date:
    return parse_time(fixed).astimezone(tz).date()


def day_bounds(d: date) -> tuple[datetime, datetime]:
    """UTC start (inclusive) and end (exclusive) of a local calendar day."""
    start = datetime(d.year, d.month, d.day, tzinfo=zone())
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def fmt(dt: datetime | None, *, seconds: bool = False) -> str:
    if dt is None:
        return ""
    return local(dt).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def iso(dt: datetime | None) -> str | None:
    """ISO-8601 with offset, in the configured zone: the --json form."""
    if dt is None:
        return None
    return local(dt).isoformat(timespec="seconds")
