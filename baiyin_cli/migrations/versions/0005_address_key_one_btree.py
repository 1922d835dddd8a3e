"""household_address_key: one B-tree, keyed by (key, household_id)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

The address search keys (13 a household) were stored three times on SQLite (the rowid table,
the (household_id, key) primary key's index and the (key, household_id) search index) and
twice on PostgreSQL, with a foreign key checked for every key row. Searches only ever read
(key, household_id); writes delete a household's old keys by (key, household_id) too, since
they know its old address. So the table becomes its one index: PRIMARY KEY (key, household_id),
WITHOUT ROWID on SQLite, and no foreign key: it is derived data, like a full-text index,
written only beside the household it belongs to (households are archived, never deleted).

Measured on 50,000 households (605,000 keys), raw inserts with no Python work: SQLite takes
1.0 s instead of 1.9 s and 15 MiB instead of 50 MiB; PostgreSQL's COPY 2.9 s instead of 6.4 s
(psql, the same run).

SQLite cannot change a primary key in place: the table is rebuilt by hand (Alembic's batch
mode has no WITHOUT ROWID) in key order. PostgreSQL swaps the constraints in place.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FK = "fk_household_address_key_household_id_household"
PK = "pk_household_address_key"
IX = "ix_household_address_key_key"


def _sqlite_rebuild(create: str, order: str, after: tuple[str, ...] = ()) -> None:
    op.execute(create.format(table="household_address_key_new"))
    op.execute(
        "INSERT INTO household_address_key_new (household_id, \"key\") "
        f"SELECT household_id, \"key\" FROM household_address_key ORDER BY {order}"
    )
    op.execute("DROP TABLE household_address_key")
    op.execute("ALTER TABLE household_address_key_new RENAME TO household_address_key")
    for sql in after:
        op.execute(sql)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(
            "CREATE TABLE {table} (household_id INTEGER NOT NULL, \"key\" VARCHAR(10) NOT NULL, "
            f"CONSTRAINT {PK} PRIMARY KEY (\"key\", household_id)) WITHOUT ROWID",
            "\"key\", household_id",
        )
        return
    op.drop_constraint(FK, "household_address_key", type_="foreignkey")
    op.drop_index(IX, table_name="household_address_key")
    op.drop_constraint(PK, "household_address_key", type_="primary")
    op.create_primary_key(PK, "household_address_key", ["key", "household_id"])


def downgrade() -> None:
    # Key rows without a household (possible with no foreign key) would break the one made again.
    op.execute(
        "DELETE FROM household_address_key"
        " WHERE NOT EXISTS (SELECT 1 FROM household h WHERE h.id = household_address_key.household_id)"
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(
            "CREATE TABLE {table} (household_id INTEGER NOT NULL, \"key\" VARCHAR(10) NOT NULL, "
            f"CONSTRAINT {PK} PRIMARY KEY (household_id, \"key\"), "
            f"CONSTRAINT {FK} FOREIGN KEY(household_id) REFERENCES household (id) ON DELETE CASCADE)",
            "household_id, \"key\"",
            (f"CREATE INDEX {IX} ON household_address_key (\"key\", household_id)",),
        )
        return
    op.drop_constraint(PK, "household_address_key", type_="primary")
    op.create_primary_key(PK, "household_address_key", ["household_id", "key"])
    op.create_index(IX, "household_address_key", ["key", "household_id"])
    op.create_foreign_key(FK, "household_address_key", "household", ["household_id"], ["id"], ondelete="CASCADE")
