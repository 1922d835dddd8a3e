"""Alembic migrations, shipped inside the package so an installed `grid` can migrate.

`HEAD` is the revision this program needs; a test checks it against Alembic's own
head, so that `store.check_schema` can answer without importing Alembic (~0.45 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

HEAD = "0005"
REVISIONS = ("0001", "0002", "0003", "0004", "0005")

HERE = Path(__file__).parent
ENCRYPTED = "0004"  # the revision that encrypts personal data at rest


def current_revision(eng: Engine) -> str | None:
    from sqlalchemy import inspect, text

    with eng.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def alembic_config(eng: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", eng.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["engine"] = eng
    return cfg


def upgrade(eng: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to `revision`; returns (before, after)."""
    from alembic import command

    before = current_revision(eng)
    command.upgrade(alembic_config(eng), revision)
    after = current_revision(eng)
    if eng.dialect.name == "sqlite" and (before or "") < ENCRYPTED <= (after or ""):
        # Clear ID numbers and phones were just encrypted (0004 zeroes what they leave in the
        # database file); the WAL still holds page images with them until it is checkpointed
        # and truncated.
        with eng.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    if eng.dialect.name == "postgresql" and (before or "") < ENCRYPTED <= (after or ""):
        # DROP COLUMN only hides a column, and the encrypting UPDATEs left dead row versions
        # with the clear values in the table files: rewrite the tables (VACUUM FULL sets dropped
        # columns to NULL and leaves dead rows behind). It cannot run inside a transaction.
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM FULL resident, petition, petition_reporter")
    return before, after


def script_head() -> str | None:
    from alembic.script import ScriptDirectory

    from baiyin_cli.migrations import alembic_config as _cfg  # noqa: F401

    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return ScriptDirectory.from_config(cfg).get_current_head()
