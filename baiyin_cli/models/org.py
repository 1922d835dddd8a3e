"""The grid tree (areas), departments and the people who operate grid (workers)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from baiyin_cli.models.types import UTCDateTime


class AreaLevel(StrEnum):
    district = "district"
    street = "street"
    community = "community"
    grid = "grid"


# Code length per level: GB/T 2260 county (6), then 3 digits for the street,
# 3 for the community (as in the 12-digit statistical division codes), 3 for the grid.
LEVEL_CODE_LENGTH = {
    AreaLevel.district: 6,
    AreaLevel.street: 9,
    AreaLevel.community: 12,
    AreaLevel.grid: 15,
}
LEVEL_ORDER = [AreaLevel.district, AreaLevel.street, AreaLevel.community, AreaLevel.grid]


class Role(StrEnum):
    admin = "admin"
    secretary = "secretary"
    grid_worker = "grid_worker"
    department = "department"
    viewer = "viewer"


class WorkerKind(StrEnum):
    full_time = "full_time"
    red = "red"
    mobile = "mobile"
    liaison = "liaison"


class Area(SQLModel, table=True):
    __tablename__ = "area"
    __table_args__ = (Index("ix_area_parent_code", "parent_code"), Index("ix_area_level", "level"))

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(15), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    level: str = Field(sa_column=Column(String(12), nullable=False))
    parent_code: str | None = Field(
        default=None, sa_column=Column(String(15), ForeignKey("area.code"), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Department(SQLModel, table=True):
    __tablename__ = "department"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    active: bool = Field(default=True, nullable=False)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Worker(SQLModel, table=True):
    """An operator of grid: admin, secretary, grid worker, department user or viewer."""

    __tablename__ = "worker"
    __table_args__ = (Index("ix_worker_area_code", "area_code"), Index("ix_worker_role", "role"))

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(50), nullable=False))
    phone: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    kind: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    area_code: str | None = Field(
        default=None, sa_column=Column(String(15), ForeignKey("area.code"), nullable=True)
    )
    dept_code: str | None = Field(
        default=None, sa_column=Column(String(32), ForeignKey("department.code"), nullable=True)
    )
    active: bool = Field(default=True, nullable=False)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
