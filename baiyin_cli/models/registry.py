"""The population base (人口底数): households, residents and their care tags."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from baiyin_cli.models.types import UTCDateTime

# GB/T 4761-2008 family relation codes (与户主关系), the ones registries use.
RELATIONS: dict[str, tuple[str, str]] = {
    "02": ("户主", "head"),
    "10": ("配偶", "spouse"),
    "20": ("子", "son"),
    "30": ("女", "daughter"),
    "40": ("孙子女", "grandchild"),
    "50": ("父母", "parent"),
    "60": ("祖父母", "grandparent"),
    "70": ("兄弟姐妹", "sibling"),
    "80": ("其他亲属", "other relative"),
    "99": ("非亲属", "non-relative"),
}
HEAD_RELATION = "02"


class Household(SQLModel, table=True):
    __tablename__ = "household"
    __table_args__ = (
        # Scope and listing by grid; duplicate check on (grid, normalised address).
        Index("ix_household_grid_address", "grid_code", "address_norm"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    grid_code: str = Field(sa_column=Column(String(15), ForeignKey("area.code"), nullable=False))
    address: str = Field(sa_column=Column(String(200), nullable=False))
    address_norm: str = Field(sa_column=Column(String(200), nullable=False))
    building: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    unit: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    room: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    type: str = Field(default="urban", sa_column=Column(String(8), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    archive_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


class HouseholdCare(SQLModel, table=True):
    __tablename__ = "household_care"
    __table_args__ = (Index("ix_household_care_tag", "tag", "household_id"),)

    household_id: int = Field(
        sa_column=Column(Integer, ForeignKey("household.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(sa_column=Column(String(32), primary_key=True))


class HouseholdEvent(SQLModel, table=True):
    """What happened to a household over time: moves between grids, archive, restore."""

    __tablename__ = "household_event"
    __table_args__ = (Index("ix_household_event_household", "household_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(sa_column=Column(Integer, ForeignKey("household.id"), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    from_grid: str | None = Field(default=None, sa_column=Column(String(15), nullable=True))
    to_grid: str | None = Field(default=None, sa_column=Column(String(15), nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    actor: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Resident(SQLModel, table=True):
    __tablename__ = "resident"
    __table_args__ = (
        Index("ix_resident_household", "household_id"),
        Index("ix_resident_name", "name"),
        Index("ix_resident_pinyin", "name_pinyin"),
        Index("ix_resident_initials", "name_initials"),
        Index("ix_resident_id_last4", "id_last4"),
        Index("ix_resident_phone_last4", "phone_last4"),
        # One active resident per ID number.
        Index(
            "uq_resident_active_id_number",
            "id_number",
            unique=True,
            sqlite_where=text("archived_at IS NULL AND id_number IS NOT NULL"),
            postgresql_where=text("archived_at IS NULL AND id_number IS NOT NULL"),
        ),
        # Exactly one active head per household (the "at least one" half is a service rule).
        Index(
            "uq_resident_active_head",
            "household_id",
            unique=True,
            sqlite_where=text("archived_at IS NULL AND relation = '02'"),
            postgresql_where=text("archived_at IS NULL AND relation = '02'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(sa_column=Column(Integer, ForeignKey("household.id"), nullable=False))
    name: str = Field(sa_column=Column(String(50), nullable=False))
    name_pinyin: str = Field(sa_column=Column(String(200), nullable=False))
    name_initials: str = Field(sa_column=Column(String(50), nullable=False))
    id_number: str | None = Field(default=None, sa_column=Column(String(18), nullable=True))
    id_last4: str | None = Field(default=None, sa_column=Column(String(4), nullable=True))
    birth_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    sex: str | None = Field(default=None, sa_column=Column(String(1), nullable=True))
    phone: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    phone_last4: str | None = Field(default=None, sa_column=Column(String(4), nullable=True))
    relation: str = Field(sa_column=Column(String(2), nullable=False))
    ethnicity: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    archive_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


class ResidentCare(SQLModel, table=True):
    __tablename__ = "resident_care"
    __table_args__ = (Index("ix_resident_care_tag", "tag", "resident_id"),)

    resident_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resident.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(sa_column=Column(String(32), primary_key=True))


__all__ = ["Household", "HouseholdCare", "HouseholdEvent", "Resident", "ResidentCare", "RELATIONS", "date"]
