"""Who may act: operators' PIN/password hashes, their login sessions, and database facts.

`operator_credential` holds one memory-hard hash (argon2id) per operator, with the failure
counter and lock that stop guessing. It is a table of its own, not columns of `worker`, so
that on PostgreSQL a community terminal's database role can read the staff directory and
still not read the hashes of people outside its community (row-level security, see
services/dbroles.py).

`auth_session` keeps only the sha256 of each session token: the token itself lives in the
operator's state file (mode 0600) or in GRID_TOKEN, so someone who reads the database cannot
replay a session.

`grid_meta` holds facts about the database itself, e.g. that `grid demo` made it
(synthetic data), and the fingerprint of the data key it is encrypted under.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from baiyin_cli.models.types import UTCDateTime


class OperatorCredential(SQLModel, table=True):
    __tablename__ = "operator_credential"

    username: str = Field(sa_column=Column(String(64), ForeignKey("worker.username"), primary_key=True))
    # argon2id encoded hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash): parameters travel with it.
    secret_hash: str = Field(sa_column=Column(String(200), nullable=False))
    # "pin" (digits only) or "password".
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    set_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    set_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # Consecutive wrong answers since the last success or lock expiry.
    failed_count: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    locked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_login_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class AuthSession(SQLModel, table=True):
    __tablename__ = "auth_session"
    __table_args__ = (Index("ix_auth_session_username", "username", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # sha256 hex of the token; the token has 256 random bits, so a fast hash is enough here.
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    username: str = Field(sa_column=Column(String(64), ForeignKey("worker.username"), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Where it was opened (host name), for the operator's own `grid whoami` and for audits.
    client: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))


class GridMeta(SQLModel, table=True):
    __tablename__ = "grid_meta"

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))


class DbRole(SQLModel, table=True):
    """PostgreSQL login roles made by `grid db roles apply`, and what each may see.

    Row-level security policies ask `grid_rls_area()` / `grid_rls_dept()`, which read this
    table for `current_user`: a community terminal's role has `area_code` = its community, a
    department's role `dept_code`, the admin role kind "admin" (the whole city). A role that
    is not listed sees no personal rows at all.
    """

    __tablename__ = "grid_db_role"

    role_name: str = Field(sa_column=Column(String(63), primary_key=True))
    # admin | community | department
    kind: str = Field(sa_column=Column(String(12), nullable=False))
    area_code: str | None = Field(default=None, sa_column=Column(String(15), nullable=True))
    dept_code: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
