"""Petitions (诉求 / 工单), their history, reporters and the per-day number sequence.

The state machine lives in services/petition_workflow.py; this module only stores.
Deadlines are stored (they are facts fixed at filing); overdue is computed at query time.
`due_at` is the deadline the clock currently runs against (contact_due until the callback,
then resolve_due; NULL while the clock is stopped), kept by the workflow's apply() so that
the triage queue ("overdue first, then the nearest deadline") is an index scan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from baiyin_cli.models.types import UTCDateTime


class Petition(SQLModel, table=True):
    __tablename__ = "petition"
    __table_args__ = (
        # Counting by community and status (statistics).
        Index("ix_petition_community_status", "community_code", "status", "resolve_due"),
        Index("ix_petition_status_due", "status", "resolve_due"),
        # The triage queues, in urgency order, per scope: city, community, grid, assignee, department.
        Index("ix_petition_due", "due_at", "id"),
        Index("ix_petition_community_due", "community_code", "due_at", "id"),
        Index("ix_petition_grid", "grid_code", "due_at", "id"),
        Index("ix_petition_assignee", "assignee", "due_at", "id"),
        Index("ix_petition_dept", "dept_code", "due_at", "id"),
        Index("ix_petition_filed_at", "filed_at"),
        Index("ix_petition_category", "category"),
        Index("ix_petition_phone_last4", "phone_last4"),
        Index("ix_petition_household", "household_id"),
        Index("ix_petition_visit", "visit_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(sa_column=Column(String(20), nullable=False, unique=True))
    text: str = Field(sa_column=Column(Text, nullable=False))
    category: str = Field(sa_column=Column(String(32), nullable=False))
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    community_code: str = Field(sa_column=Column(String(15), ForeignKey("area.code"), nullable=False))
    grid_code: str | None = Field(
        default=None, sa_column=Column(String(15), ForeignKey("area.code"), nullable=True)
    )
    household_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("household.id"), nullable=True)
    )
    visit_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("visit.id", use_alter=True, name="fk_petition_visit"), nullable=True),
    )
    address: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    reporter_name: str | None = Field(default=None, sa_column=Column(String(50), nullable=True))
    # The reporter's phone: ciphertext and lookup hash (services/crypto.py), last four in clear.
    reporter_phone_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    reporter_phone_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True))
    phone_last4: str | None = Field(default=None, sa_column=Column(String(4), nullable=True))
    anonymous: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="0"))
    assignee: str | None = Field(
        default=None, sa_column=Column(String(64), ForeignKey("worker.username"), nullable=True)
    )
    dept_code: str | None = Field(
        default=None, sa_column=Column(String(32), ForeignKey("department.code"), nullable=True)
    )
    merged_into: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    filed_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    filed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    contact_due: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    resolve_due: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # True when resolve_due rests on a fallback calendar (a year the holiday data does not cover).
    due_estimated: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="0"))
    # The running deadline (see the module docstring); NULL when the clock is stopped.
    due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    contacted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    rating: str | None = Field(default=None, sa_column=Column(String(24), nullable=True))
    rating_comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    rated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    reject_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


class PetitionEvent(SQLModel, table=True):
    """One transition in a petition's history: who, when, from -> to, note, details."""

    __tablename__ = "petition_event"
    __table_args__ = (Index("ix_petition_event_petition", "petition_id", "seq", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    petition_id: int = Field(sa_column=Column(Integer, ForeignKey("petition.id"), nullable=False))
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    event: str = Field(sa_column=Column(String(16), nullable=False))
    from_status: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    to_status: str = Field(sa_column=Column(String(16), nullable=False))
    actor: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    data: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class PetitionReporter(SQLModel, table=True):
    """Everyone who raised the same matter: the original reporter and those of merged duplicates."""

    __tablename__ = "petition_reporter"
    __table_args__ = (Index("ix_petition_reporter_petition", "petition_id"),)

    id: int | None = Field(default=None, primary_key=True)
    petition_id: int = Field(sa_column=Column(Integer, ForeignKey("petition.id"), nullable=False))
    name: str | None = Field(default=None, sa_column=Column(String(50), nullable=True))
    phone_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    phone_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True))
    from_number: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    added_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class PetitionSequence(SQLModel, table=True):
    """Last number issued per local filing day: BY-YYYYMMDD-NNNN, unique across terminals."""

    __tablename__ = "petition_sequence"

    day: str = Field(sa_column=Column(String(8), primary_key=True))
    last: int = Field(sa_column=Column(Integer, nullable=False))
