"""The schema is built by Alembic, goes down to nothing and back up, and matches the models."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url

from app.core.db import create_engine
from app.core.migrate import downgrade_database, upgrade_database
from app.schema import Base
from tests.conftest import _create_postgres_database, _drop_postgres_database


def _fresh_database(tmp_path: Path) -> tuple[str, str | None]:
    configured = os.environ.get("EXAMBANK_TEST_DATABASE_URL")
    if configured and make_url(configured).get_backend_name() == "postgresql":
        return asyncio.run(_create_postgres_database(configured)), configured
    return f"sqlite:///{tmp_path / 'migrations.db'}", None


def _inspect(url: str, fn: Any) -> Any:
    async def run() -> Any:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def test_upgrade_downgrade_upgrade_and_models_match(tmp_path: Path) -> None:
    url, admin_url = _fresh_database(tmp_path)
    try:
        upgrade_database(url)
        assert _inspect(url, _table_names) == set(Base.metadata.tables)
        downgrade_database(url, "base")
        assert _inspect(url, _table_names) == set()
        upgrade_database(url)
        assert _inspect(url, _diff) == []
    finally:
        if admin_url:
            asyncio.run(_drop_postgres_database(admin_url, url))
