"""Grid workers' rounds (走访). Records are never edited or deleted; a mistake is voided.

Two tables:

`visit`      one row per visit, as the worker logged it (services/visits.py is the only writer).
`visit_day`  the day ledger (日走访台账): per worker and local day, the sums of that day's
             non-voided visits. It is derived data, like an index, and holds no verdict: whether
             the one-hour rule was met is `minutes >= visits.daily_minutes` at query time (so
             changing the config changes the answer), and overdue and coverage are read from the
             visit records themselves (the last-visit seek below). Why it exists: `grid visit
             stats` for a whole city over a year (~3 M visits) must answer well under a second
             on SQLite, and grouping 3 M records by worker and local day takes 3.7 s there for
             the minutes alone, 13.4 s with kinds and distinct households even through a covering
             index (worker, started_at, minutes, kind, household_id, voided_at) (2026-12-02, 2-core
             machine under load; benchmarks/visits.py). The ledger (~0.9 M rows, clustered by
             (worker, day)) answers the same city-year in 0.29 s, 0.87 s for the whole
             `visit stats` with care coverage.
             How it stays equal to the records: it is rebuilt from `visit` for each (worker, day)
             a write touches, in the same transaction, never incremented and never edited by
             hand (`visits.refresh_days`, which locks the workers' rows so concurrent writers
             queue). The writers: `visits.log_visit`, `visits.void_visit`, `visits.insert_bulk`
             (demo, imports, benchmarks) and `petitions.file_petition` with a visit link (its
             findings are counted). Visits are never edited or deleted otherwise. A visit's
             day is its local day in the configured time zone, so changing `timezone` moves
             days: `grid visit ledger` recomputes everything from the records and names the
             days that differ, `--rebuild` rebuilds them. Proven by
             tests/test_visits.py (test_day_ledger_agrees_after_concurrent_terminals_an_import_
             voids_and_findings, test_day_ledger_always_matches_the_records, test_demo_rounds).

Indexes, and the queries they serve:
  visit (worker, started_at)                  a worker's visits of a day: `visit list --worker`,
                                              and the ledger refresh of one (worker, day)
  visit (household_id, started_at, voided_at) the last non-voided visit of a household before a
                                              moment (`visit due`, care coverage): a backward
                                              seek that never touches the table, voided_at included
                                              so a voided visit is skipped inside the index
  visit (grid_code, started_at)               `visit list --grid/--community` newest first
  visit (started_at)                          `visit list` over the whole city, newest first
  visit_day PRIMARY KEY (worker, day)         `visit stats --worker`, and the city-wide GROUP BY
                                              worker, which streams in key order (SQLite: WITHOUT
                                              ROWID, so the key is the table)
  visit_day (grid_code, day)                  `visit stats --grid/--community`
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from baiyin_cli.models.types import UTCDateTime


class Visit(SQLModel, table=True):
    __tablename__ = "visit"
    __table_args__ = (
        Index("ix_visit_worker_started", "worker", "started_at"),
        Index("ix_visit_household_started", "household_id", "started_at", "voided_at"),
        Index("ix_visit_grid_started", "grid_code", "started_at"),
        Index("ix_visit_started", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    worker: str = Field(sa_column=Column(String(64), ForeignKey("worker.username"), nullable=False))
    household_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("household.id"), nullable=True)
    )
    # The worker's grid when the visit was made.
    grid_code: str = Field(sa_column=Column(String(15), ForeignKey("area.code"), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    minutes: int = Field(sa_column=Column(Integer, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The dispute petition a mediation visit worked on (its history has an entry for the visit).
    petition_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("petition.id"), nullable=True)
    )
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    voided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    voided_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    void_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class VisitDay(SQLModel, table=True):
    """Sums of one worker's non-voided visits on one local day (see the module docstring).

    A visit counts on the local day it started, whole: 23:30 for 90 minutes is 90 minutes
    of that day and none of the next (the paper ledger dates a visit by its start too).
    """

    __tablename__ = "visit_day"
    __table_args__ = (
        Index("ix_visit_day_grid", "grid_code", "day"),
        {"sqlite_with_rowid": False},
    )

    worker: str = Field(sa_column=Column(String(64), ForeignKey("worker.username"), primary_key=True))
    day: date = Field(sa_column=Column(Date, primary_key=True))
    # The grid of the day's last visit (a worker moved mid-day counts the day there).
    grid_code: str = Field(sa_column=Column(String(15), ForeignKey("area.code"), nullable=False))
    minutes: int = Field(sa_column=Column(Integer, nullable=False))
    visits: int = Field(sa_column=Column(Integer, nullable=False))
    kind_household: int = Field(sa_column=Column(Integer, nullable=False))
    kind_info_gathering: int = Field(sa_column=Column(Integer, nullable=False))
    kind_mediation: int = Field(sa_column=Column(Integer, nullable=False))
    kind_service: int = Field(sa_column=Column(Integer, nullable=False))
    # Distinct households visited that day.
    households: int = Field(sa_column=Column(Integer, nullable=False))
    # Petitions filed from that day's visits (findings).
    findings: int = Field(sa_column=Column(Integer, nullable=False))
