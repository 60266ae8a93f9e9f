"""Back-pressure: a request that cannot get a database connection in time is answered 503 with Retry-After
(never 500), by the application and by the hot-path lane alike; the start-up connection budget."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from app.core import budget
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import RETRY_AFTER_SECONDS, UNAVAILABLE_CODE, Database, database_unavailable
from tests.exams.factories_attempts import live_client, make_exam_setup


def test_what_counts_as_unavailable() -> None:
    assert database_unavailable(sa_exc.TimeoutError("QueuePool limit"))
    assert database_unavailable(ConnectionRefusedError(111, "refused"))

    class TooMany(Exception):
        sqlstate = "53300"

    wrapped = sa_exc.DBAPIError("SELECT 1", None, TooMany("sorry, too many clients already"))
    assert database_unavailable(wrapped)
    outer = RuntimeError("batch failed")
    outer.__cause__ = TooMany("x")
    assert database_unavailable(outer)
    assert not database_unavailable(ValueError("bad input"))
    assert not database_unavailable(FileNotFoundError(2, "no such file"))
    assert not database_unavailable(sa_exc.IntegrityError("INSERT", None, Exception("duplicate key")))


async def _exhaust(database: Database) -> list[Any]:
    """Check out every connection the engine's pool can give."""
    held: list[Any] = []
    while True:
        try:
            held.append(await asyncio.wait_for(database.engine.connect(), timeout=5))
        except sa_exc.TimeoutError:
            return held


def _assert_503(response: httpx2.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["code"] == UNAVAILABLE_CODE
    assert "数据库" in response.json()["detail"]


@pytest.mark.real_commit
async def test_no_connection_in_time_is_503_with_retry_after(committed_settings: Settings, clock: FrozenClock) -> None:
    database = Database(committed_settings.database_url, pool_size=1, pool_timeout=0.3)
    try:
        async with database.write_sessions() as session:
            setup = await make_exam_setup(session, now=clock.now())
        examinee = setup.examinees[0]
        async with live_client(committed_settings, database, clock) as client:
            assert (await client.get("/api/health")).status_code == 200
            start = await client.post(f"/api/exams/{setup.exam.id}/attempts", headers=examinee.headers)
            assert start.status_code in (200, 201), start.text
            attempt_id = start.json()["attempt_id"]
            held = await _exhaust(database)
            try:
                _assert_503(await client.get("/api/health"))  # the application
                save = await client.put(  # the hot-path lane
                    f"/api/attempts/{attempt_id}/answers",
                    json={"seq": 1, "answers": {"1": ["A"]}},
                    headers=examinee.headers,
                )
                if database.is_sqlite:
                    # SQLite's saves go through the group-commit writer's own connection, not the pool.
                    assert save.status_code == 200, save.text
                else:
                    _assert_503(save)
            finally:
                for connection in held:
                    await connection.close()
            saved = await client.put(
                f"/api/attempts/{attempt_id}/answers",
                json={"seq": 1, "answers": {"1": ["A"]}},
                headers=examinee.headers,
            )
            assert saved.status_code == 200, saved.text
    finally:
        await database.dispose()


@pytest.fixture
def postgres_url(committed_database_url: str) -> str:
    if make_url(committed_database_url).get_backend_name() != "postgresql":
        pytest.skip("the connection budget is PostgreSQL's max_connections")
    if Settings().db_transaction_pooler:
        pytest.skip("behind a transaction pooler the pooler's pool bounds PostgreSQL's connections (no check)")
    return committed_database_url


async def test_budget_sees_running_servers(postgres_url: str) -> None:
    alone = await budget.survey(postgres_url, pool_size=1, workers=1)
    assert alone.max_connections > 0 and alone.available < alone.max_connections
    running = Database(postgres_url, pool_size=150, transaction_pooler=False)
    try:
        async with running.engine.connect() as connection:  # a running server holds a connection
            await connection.exec_driver_sql("SELECT 1")
            # Fits alone by a margin, not beside the running server's pool of 150.
            pool = max(1, alone.available - alone.claimed - 75)
            found = await budget.survey(postgres_url, pool_size=pool, workers=1)
            assert found.claimed - alone.claimed == 150
            # Servers are counted by process: this one is the test's own, already counted when the run's
            # shared pool had a connection open at the first survey.
            assert found.servers >= max(alone.servers, 1)
            assert found.needed <= found.available
            assert not found.fits
            assert "max_connections" in found.message(workers=1, pool_size=pool)
    finally:
        await running.dispose()
    assert (await budget.survey(postgres_url, pool_size=1, workers=1)).fits


def test_serve_refuses_a_pool_the_database_cannot_hold(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.cli as command

    served: list[str] = []
    monkeypatch.setattr(command.uvicorn, "run", lambda target, **_: served.append(target))
    for key, value in {
        "EXAMBANK_DATABASE_URL": postgres_url,
        "EXAMBANK_ENVIRONMENT": "test",
        "EXAMBANK_DB_POOL_SIZE": "1000",
        "EXAMBANK_DB_TRANSACTION_POOLER": "false",
    }.items():
        monkeypatch.setenv(key, value)
    command.get_settings.cache_clear()
    try:
        refused = CliRunner().invoke(command.cli, ["serve", "--workers", "2"])
        assert refused.exit_code == 2, refused.output
        assert "数据库连接不够" in refused.output and "2 个进程 × 每进程 1000 个连接 = 2000" in refused.output
        assert served == []

        monkeypatch.setenv("EXAMBANK_DB_BUDGET_CHECK", "warn")
        command.get_settings.cache_clear()
        warned = CliRunner().invoke(command.cli, ["serve", "--workers", "2"])
        assert warned.exit_code == 0, warned.output
        assert "数据库连接不够" in warned.output and served == ["app.main:create_served_app"]
    finally:
        command.get_settings.cache_clear()
