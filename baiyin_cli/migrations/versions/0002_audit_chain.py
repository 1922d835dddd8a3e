"""audit log: hash chain and append-only triggers

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Each audit entry carries the hash of the previous one; `grid audit verify` walks the
chain. Triggers on both backends refuse UPDATE and DELETE on audit_entry. Existing
entries are chained in id order by this migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION grid_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_entry is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))

    # Chain what is already there, oldest first.
    from baiyin_cli.services.audit import chain_existing

    chain_existing(op.get_bind())

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_entry "
            "FOR EACH STATEMENT EXECUTE FUNCTION grid_audit_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
            "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only (UPDATE refused)'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
            "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only (DELETE refused)'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION IF EXISTS grid_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_delete")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
