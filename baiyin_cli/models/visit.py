"""Grid workers' rounds (走访). Records are never edited or deleted; a mistake is voided."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from baiyin_cli.models.types import UTCDateTime


class Visit(SQLModel, table=True):
    __tablename__ = "visit"
    __table_args__ = (
        # Per-worker day statistics (minutes walked, the one-hour rule).
        Index("ix_visit_worker_started", "worker", "started_at"),
        # Last visit per household (visit due windows).
        Index("ix_visit_household_started", "household_id", "started_at"),
        # Area statistics over a period.
        Index("ix_visit_grid_started", "grid_code", "started_at"),
        Index("ix_visit_started", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    worker: str = Field(sa_column=Column(String(64), ForeignKey("worker.username"), nullable=False))
    household_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("household.id"), nullable=True)
    )
    grid_code: str = Field(sa_column=Column(String(15), ForeignKey("area.code"), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    minutes: int = Field(sa_column=Column(Integer, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    petition_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("petition.id"), nullable=True)
    )
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    voided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    voided_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    void_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
