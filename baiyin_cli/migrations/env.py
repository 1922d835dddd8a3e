"""Alembic environment: runs on the engine grid hands over (SQLite or PostgreSQL)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import baiyin_cli.models  # noqa: F401  (registers every table)

target_metadata = SQLModel.metadata
config = context.config


def run_migrations_online() -> None:
    eng = config.attributes.get("engine")
    if eng is None:
        from sqlalchemy import create_engine

        eng = create_engine(config.get_main_option("sqlalchemy.url"))
    with eng.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
