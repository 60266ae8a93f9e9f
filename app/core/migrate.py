"""Apply Alembic migrations from code (the CLI, start-up and the tests share this).

Any number of servers (and ``exambank migrate``) may start at once against one database: each runs its
migrations in ONE transaction that first takes a lock — on PostgreSQL a transaction-level advisory lock
(released by the commit, so it also holds through a pooler in transaction mode), on SQLite the write lock
(``BEGIN IMMEDIATE``). The others wait for it, then find the schema up to date and do nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

import migrations
from app.core.db import SQLITE_BEGIN_OPTION, create_engine

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent
# pg_advisory_xact_lock's key for schema migrations ("exambank" in ASCII, as a bigint).
MIGRATION_LOCK_KEY = int.from_bytes(b"exambank", "big") & 0x7FFF_FFFF_FFFF_FFFF


def alembic_config(database_url: str, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def _locked(database_url: str, run: Callable[[Config], None]) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            else:
                await connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
                await connection.begin()
            # Alembic joins the transaction begun here (the lock's) and leaves the commit to us.
            await connection.run_sync(lambda sync: run(alembic_config(database_url, sync)))
            await connection.commit()
    finally:
        await engine.dispose()


def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Bring the database's schema up to ``revision`` (blocking: call it from a thread or before serving)."""
    asyncio.run(_locked(database_url, lambda config: command.upgrade(config, revision)))


def downgrade_database(database_url: str, revision: str = "base") -> None:
    asyncio.run(_locked(database_url, lambda config: command.downgrade(config, revision)))
