"""Several ``exambank serve`` started at the same moment on one fresh database: each comes up and stays up;
the schema is migrated once and the bootstrap administrator created once."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from app.accounts.models import User
from app.accounts.service import ensure_bootstrap_admin
from app.core.db import Database
from app.core.migrate import alembic_config, upgrade_database
from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.servers import running, start_server, wait_healthy

ADMIN = {"username": "province-admin", "password": "a long administrator password"}
HEAD = ScriptDirectory.from_config(alembic_config("sqlite:///unused.db")).get_current_head()


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the run's backend: no schema, no administrator."""
    configured = os.environ.get("EXAMBANK_TEST_DATABASE_URL")
    if configured and make_url(configured).get_backend_name() in {"postgresql", "postgres"}:
        url = asyncio.run(_create_postgres_database(configured))
        yield url
        asyncio.run(_drop_postgres_database(configured, url))
        return
    yield f"sqlite:///{tmp_path / 'fresh.db'}"


async def _state(url: str) -> tuple[list[str], int]:
    database = Database(url, pool_size=1)
    try:
        async with database.read_sessions() as session:
            versions = list((await session.scalars(text("SELECT version_num FROM alembic_version"))).all())
            admins = await session.scalar(
                select(func.count()).select_from(User).where(User.username == ADMIN["username"])
            )
            return versions, int(admins or 0)
    finally:
        await database.dispose()


@pytest.mark.real_commit
def test_three_servers_and_one_with_two_workers_start_together(fresh_database_url: str, tmp_path: Path) -> None:
    environment = {"EXAMBANK_ADMIN_USERNAME": ADMIN["username"], "EXAMBANK_ADMIN_PASSWORD": ADMIN["password"]}
    servers = [start_server(fresh_database_url, tmp_path, workers=workers, **environment) for workers in (1, 1, 1, 2)]
    with running(servers):
        for server in servers:
            wait_healthy(server)
        time.sleep(3)  # a worker that failed its start-up stops the whole server a few seconds later
        for server in servers:
            assert server.process.poll() is None, server.output()
            response = httpx2.post(f"{server.url}/api/auth/login", json=ADMIN, timeout=10)
            assert response.status_code == 200, response.text
        two_workers = servers[-1].output()
        assert two_workers.count("Application startup complete") == 2, two_workers
        for server in servers:
            assert "Traceback" not in server.output(), server.output()
    assert asyncio.run(_state(fresh_database_url)) == ([HEAD], 1)


async def _bootstrap(database: Database, hold: asyncio.Event | None) -> bool:
    async with database.write_sessions() as session:
        created = await ensure_bootstrap_admin(session, username=ADMIN["username"], password=ADMIN["password"])
        if hold is not None:
            await hold.wait()
        await session.commit()
    return created


@pytest.mark.real_commit
async def test_bootstrap_admin_created_once_when_two_race(committed_database_url: str) -> None:
    """Both pass the check for an existing administrator before either commits: the second insert does
    nothing (on PostgreSQL it waits for the first transaction, then finds the row)."""
    first_db, second_db = Database(committed_database_url, pool_size=1), Database(committed_database_url, pool_size=1)
    try:
        hold = asyncio.Event()
        first = asyncio.create_task(_bootstrap(first_db, hold))
        await asyncio.sleep(0.5)  # the first has inserted and holds its transaction open
        second = asyncio.create_task(_bootstrap(second_db, None))
        await asyncio.sleep(0.5)
        hold.set()
        assert sorted([await first, await second]) == [False, True]
    finally:
        await first_db.dispose()
        await second_db.dispose()
    assert (await _state(committed_database_url))[1] == 1


def test_migrations_started_together_run_once(fresh_database_url: str) -> None:
    """Migrations from four threads at once (each its own engine and event loop) on a fresh database."""

    async def together() -> None:
        await asyncio.gather(*(asyncio.to_thread(upgrade_database, fresh_database_url) for _ in range(4)))

    asyncio.run(together())
    assert asyncio.run(_state(fresh_database_url))[0] == [HEAD]
