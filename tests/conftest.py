"""Test fixtures: one migrated database per run (SQLite file or a fresh PostgreSQL database), each test in a
rolled-back transaction, and an HTTP client that goes through the real application.

``EXAMBANK_TEST_DATABASE_URL`` selects the backend: unset → a SQLite file; ``postgresql://…`` → a new
database created next to the named one and dropped at the end.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import Database
from app.core.deps import get_read_session, get_session
from app.core.migrate import upgrade_database
from app.core.scratch import create_postgresql_database, drop_postgresql_database
from app.main import create_app

TEST_SECRET = "exambank-test-secret-0123456789abcdef"
SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


async def _create_postgres_database(url: str) -> str:
    """A new database next to the one ``url`` names (``app.core.scratch``, shared with the benchmarks)."""
    return await create_postgresql_database(url, "exambank_test")


_drop_postgres_database = drop_postgresql_database


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("EXAMBANK_TEST_DATABASE_URL")
    if configured and make_url(configured).get_backend_name() in {"postgresql", "postgres"}:
        url = asyncio.run(_create_postgres_database(configured))
        upgrade_database(url)
        yield url
        asyncio.run(_drop_postgres_database(configured, url))
        return
    url = configured or f"sqlite:///{tmp_path_factory.mktemp('db') / 'exambank-test.db'}"
    upgrade_database(url)
    yield url


@pytest.fixture
def committed_database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of the run's backend for a test that commits for real (two engines,
    crashes, concurrency): what it leaves behind cannot leak into the other tests."""
    configured = os.environ.get("EXAMBANK_TEST_DATABASE_URL")
    if configured and make_url(configured).get_backend_name() in {"postgresql", "postgres"}:
        url = asyncio.run(_create_postgres_database(configured))
        upgrade_database(url)
        yield url
        asyncio.run(_drop_postgres_database(configured, url))
        return
    url = f"sqlite:///{tmp_path / 'committed.db'}"
    upgrade_database(url)
    yield url


@pytest.fixture
def committed_settings(committed_database_url: str) -> Settings:
    return Settings(environment="test", database_url=committed_database_url, secret_key=TEST_SECRET, run_sweeper=False)


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, pool_size=5)
    yield db
    await db.dispose()


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test; commits become savepoints."""
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        db_session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield db_session
        finally:
            await db_session.close()
            await transaction.rollback()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(environment="test", database_url=database_url, secret_key=TEST_SECRET, run_sweeper=False)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 9, 10, 1, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def shared_app(database_url: str, database: Database):  # type: ignore[no-untyped-def]
    """One application for the whole run: FastAPI builds every route's dependencies once per application
    (about half a second here), so each test borrows this one (``app``) instead of building its own."""
    settings = Settings(environment="test", database_url=database_url, secret_key=TEST_SECRET, run_sweeper=False)
    application = create_app(settings, database=database, clock=FrozenClock(datetime(2026, 9, 10, 1, 0, tzinfo=UTC)),
                             background=False)  # fmt: skip
    return application, dict(application.state._state)


@pytest.fixture
def app(shared_app, settings: Settings, clock: FrozenClock, session: AsyncSession):  # type: ignore[no-untyped-def]
    """The run's application with this test's settings, clock and rolled-back session; whatever the test
    or its requests left on it (state, overrides, the lane switch) is taken off afterwards."""
    application, pristine = shared_app
    application.state._state.clear()
    application.state._state.update(pristine, settings=settings, clock=clock)

    async def _test_session() -> AsyncIterator[AsyncSession]:
        # Like production: the handler's writes are flushed by services and committed here (a savepoint).
        session.expunge_all()
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()

    application.dependency_overrides.clear()
    application.dependency_overrides[get_session] = _test_session
    application.dependency_overrides[get_read_session] = _test_session
    yield application
    application.dependency_overrides.clear()
    application.state._state.clear()
    application.state._state.update(pristine)
    application.__dict__.pop("lane_enabled", None)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx2.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://exambank.test") as http:
        yield http


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.skip("../shared is not present next to the repository")
    return SHARED_DIR
