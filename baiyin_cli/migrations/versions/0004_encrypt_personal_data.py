"""personal data encrypted at rest: ID numbers and phones

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

`resident.id_number`, `resident.phone`, `petition.reporter_phone` and
`petition_reporter.phone` become `<column>_enc` (AES-256-GCM, services/crypto.py) and
`<column>_hash` (HMAC-SHA256 lookup hash); the one-active-resident-per-ID-number index moves
to the hash. Existing clear values are encrypted in batches, then the clear columns are
dropped. The last four digits (`*_last4`) were already stored.

The key comes from the database's key set (services/keys.py). A database made before keys
existed (no fingerprint in grid_meta) gets one here, as `grid init` would make it: the key
file next to a SQLite database or under the data dir (or GRID_KEY), bound to the database.
The key is only needed when there are values to encrypt.

On SQLite, secure_delete is on while this runs, so the pages and cells the clear values
leave are overwritten with zeros; migrations.upgrade then checkpoints and truncates the WAL,
which still holds old page images (see there).

Columns are added and dropped with ALTER TABLE on both backends (SQLite >= 3.35 drops a
column in place): Alembic's batch mode would copy and DROP the resident table, and with
foreign keys on, SQLite's DROP TABLE deletes the residents' care tags through their
ON DELETE CASCADE.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 5000

# (table, clear column) -> its column in services/crypto.FIELDS
COLUMNS = (
    ("resident", "id_number"),
    ("resident", "phone"),
    ("petition", "reporter_phone"),
    ("petition_reporter", "phone"),
)
CLEAR_LENGTH = {"id_number": 18}
ACTIVE = "archived_at IS NULL AND {} IS NOT NULL"


def _cipher(conn: sa.Connection):  # type: ignore[no-untyped-def]
    """The database's cipher; a key set is made and bound first if the database has none."""
    from sqlmodel import Session

    from baiyin_cli.services import crypto, keys

    url = conn.engine.url.render_as_string(hide_password=False)
    with Session(bind=conn) as s:
        keys.ensure(s, url)
        ks = keys.check(s, url)
    return crypto.cipher(ks)


def _has_values(conn: sa.Connection, columns: list[tuple[str, str]]) -> bool:
    return any(
        conn.execute(sa.text(f"SELECT 1 FROM {t} WHERE {c} IS NOT NULL LIMIT 1")).first() is not None
        for t, c in columns
    )


def _convert(conn: sa.Connection, table: str, columns: list[str], fn) -> None:  # type: ignore[no-untyped-def]
    """Rewrite `table` by id in batches: fn(row) -> the new values of one row (a dict)."""
    last = 0
    select = sa.text(f"SELECT id, {', '.join(columns)} FROM {table} WHERE id > :last ORDER BY id LIMIT {BATCH}")
    while True:
        rows = conn.execute(select, {"last": last}).all()
        if not rows:
            return
        last = rows[-1].id
        updates = [u for u in (fn(r) for r in rows) if u]
        if updates:
            names = [k for k in updates[0] if k != "_id"]
            stmt = sa.text(f"UPDATE {table} SET {', '.join(f'{k} = :{k}' for k in names)} WHERE id = :_id")
            conn.execute(stmt, updates)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
    for table, column in COLUMNS:
        op.add_column(table, sa.Column(f"{column}_enc", sa.LargeBinary(), nullable=True))
        op.add_column(table, sa.Column(f"{column}_hash", sa.LargeBinary(length=32), nullable=True))
    if _has_values(conn, list(COLUMNS)):
        cipher = _cipher(conn)
        by_table: dict[str, list[str]] = {}
        for table, column in COLUMNS:
            by_table.setdefault(table, []).append(column)
        for table, cols in by_table.items():

            def encrypt(row, table=table, cols=cols):  # type: ignore[no-untyped-def]
                if all(getattr(row, c) is None for c in cols):
                    return None
                out = {"_id": row.id}
                for c in cols:
                    value = getattr(row, c)
                    out[c] = None  # the row's new version holds no clear value (PostgreSQL keeps it until dropped)
                    value = value.strip() if value is not None else None
                    field = f"{table}.{c}"
                    out[f"{c}_enc"] = cipher.seal(value or None, field)
                    out[f"{c}_hash"] = cipher.lookup(value or None, field)
                return out

            _convert(conn, table, cols, encrypt)
    op.drop_index("uq_resident_active_id_number", table_name="resident")
    op.create_index(
        "uq_resident_active_id_hash",
        "resident",
        ["id_number_hash"],
        unique=True,
        sqlite_where=sa.text(ACTIVE.format("id_number_hash")),
        postgresql_where=sa.text(ACTIVE.format("id_number_hash")),
    )
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def downgrade() -> None:
    """Decrypt back into clear columns (needs the key, like every read)."""
    conn = op.get_bind()
    for table, column in COLUMNS:
        op.add_column(table, sa.Column(column, sa.String(length=CLEAR_LENGTH.get(column, 20)), nullable=True))
    if _has_values(conn, [(t, f"{c}_enc") for t, c in COLUMNS]):
        cipher = _cipher(conn)
        by_table: dict[str, list[str]] = {}
        for table, column in COLUMNS:
            by_table.setdefault(table, []).append(column)
        for table, cols in by_table.items():

            def decrypt(row, table=table, cols=cols):  # type: ignore[no-untyped-def]
                blobs = {c: getattr(row, f"{c}_enc") for c in cols}
                if all(b is None for b in blobs.values()):
                    return None
                return {"_id": row.id, **{c: cipher.open(b, f"{table}.{c}", row.id) for c, b in blobs.items()}}

            _convert(conn, table, [f"{c}_enc" for c in cols], decrypt)
    op.drop_index("uq_resident_active_id_hash", table_name="resident")
    op.create_index(
        "uq_resident_active_id_number",
        "resident",
        ["id_number"],
        unique=True,
        sqlite_where=sa.text(ACTIVE.format("id_number")),
        postgresql_where=sa.text(ACTIVE.format("id_number")),
    )
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}_hash")
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}_enc")
