"""The append-only audit log: every change, every reveal or export of personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String
from sqlmodel import Field, SQLModel

from baiyin_cli.models.types import UTCDateTime


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_recorded_at", "recorded_at"),
        Index("ix_audit_actor", "actor", "recorded_at"),
        Index("ix_audit_entity", "entity", "entity_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # When it was entered (the machine's clock) and, for `--at`, when it happened.
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    occurred_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    actor: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # e.g. area.add, worker.deactivate, resident.reveal, export.residents
    action: str = Field(sa_column=Column(String(64), nullable=False))
    entity: str = Field(sa_column=Column(String(32), nullable=False))
    entity_key: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Hash chain: sha256 over the previous entry's hash and this entry's canonical content.
    prev_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
