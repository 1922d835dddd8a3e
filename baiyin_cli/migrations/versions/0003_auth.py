"""operators authenticate: credentials, sessions, database facts

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

`operator_credential` (one argon2id hash per operator, failure counter, lock),
`auth_session` (sha256 of each session token, expiry, revocation) and `grid_meta`
(facts about the database: made by `grid demo`, data key fingerprint), and
`grid_db_role` (PostgreSQL terminal roles and their community or department, read by
the row-level security policies that `grid db roles apply` installs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import baiyin_cli.models.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator_credential",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("set_at", baiyin_cli.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=True),
        sa.Column("failed_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", baiyin_cli.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", baiyin_cli.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["username"], ["worker.username"], name=op.f("fk_operator_credential_username_worker")),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_operator_credential")),
    )
    op.create_table(
        "auth_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", baiyin_cli.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", baiyin_cli.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", baiyin_cli.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("client", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["username"], ["worker.username"], name=op.f("fk_auth_session_username_worker")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_session_token_hash")),
    )
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.create_index("ix_auth_session_username", ["username", "expires_at"], unique=False)
    op.create_table(
        "grid_db_role",
        sa.Column("role_name", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("area_code", sa.String(length=15), nullable=True),
        sa.Column("dept_code", sa.String(length=32), nullable=True),
        sa.Column("created_at", baiyin_cli.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("role_name", name=op.f("pk_grid_db_role")),
    )
    op.create_table(
        "grid_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_grid_meta")),
    )


def downgrade() -> None:
    op.drop_table("grid_meta")
    op.drop_table("grid_db_role")
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_session_username")
    op.drop_table("auth_session")
    op.drop_table("operator_credential")
