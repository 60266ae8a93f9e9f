"""EXAMBANK_DB_TRANSACTION_POOLER: the ORM and the hot-path driver through a real PgBouncer in transaction
mode, where consecutive transactions of one client connection run on different server connections."""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from app.accounts.models import User
from app.core.db import Database, postgresql_connect_args
from app.core.driver import DriverSQL, driver_for, pooled_driver
from tests.pgbouncer import pgbouncer_binary, run_pgbouncer

COUNT_USERS = DriverSQL.of("SELECT count(*) AS n FROM users WHERE username <> :name")
# Statements of several shapes, so that a client's statement names and a server's statements collide.
SHAPES = [f"SELECT {n} + CAST(:value AS INTEGER) AS n" for n in range(6)]


def test_url_arguments_are_converted_and_checked() -> None:
    url, args = postgresql_connect_args(
        "postgresql://u@h:5432/db?statement_cache_size=0&command_timeout=30&prepared_statement_cache_size=0",
        pool_size=7,
        transaction_pooler=False,
    )
    assert make_url(url).query == {}
    assert make_url(url).drivername == "postgresql+asyncpg"
    assert args["statement_cache_size"] == 0
    assert args["command_timeout"] == 30.0
    assert args["prepared_statement_cache_size"] == 0
    assert args["server_settings"]["application_name"].endswith("pool=7")
    assert "prepared_statement_name_func" not in args
    with pytest.raises(ValueError, match="statement_cache_size"):
        postgresql_connect_args("postgresql://u@h/db?statement_cache_size=none", pool_size=1, transaction_pooler=False)


def test_pooler_mode_keeps_nothing_beyond_a_transaction() -> None:
    _, args = postgresql_connect_args("postgresql://u@h/db", pool_size=3, transaction_pooler=True)
    assert args["statement_cache_size"] == 0
    assert args["prepared_statement_cache_size"] == 0
    assert args["prepared_statement_name_func"]() == ""  # PostgreSQL's unnamed statement


@pytest.fixture
def postgres_url(committed_database_url: str) -> str:
    if make_url(committed_database_url).get_backend_name() != "postgresql":
        pytest.skip("PgBouncer is for PostgreSQL")
    if pgbouncer_binary() is None:
        pytest.skip("pgbouncer is not installed")
    return committed_database_url


async def test_url_with_statement_cache_size_connects(postgres_url: str) -> None:
    database = Database(f"{postgres_url}?statement_cache_size=0", pool_size=2, transaction_pooler=False)
    try:
        async with database.read_sessions() as session:
            assert await session.scalar(text("SELECT 1")) == 1
            assert await session.scalar(text("SELECT current_setting('application_name')")) == (
                f"exambank pid={os.getpid()} pool=2"
            )
    finally:
        await database.dispose()


async def _workload(database: Database, rounds: int) -> list[BaseException]:
    """ORM statements in transactions, driver statements in the session's transaction and on pooled
    connections outside any transaction, all at once on more client connections than PgBouncer has
    server connections."""

    async def orm(i: int) -> None:
        async with database.write_sessions() as session:
            await session.scalar(select(func.count()).select_from(User).where(User.username != f"x{i}"))
            await session.execute(text(SHAPES[i % len(SHAPES)]), {"value": i})
            driver = await driver_for(session)
            row = await driver.fetchrow(COUNT_USERS, {"name": f"y{i}"})
            assert row is not None
            await session.commit()

    async def pooled(i: int) -> None:
        raw = await database.engine.raw_connection()
        try:
            driver = pooled_driver(raw)
            for shape in SHAPES[i % 3 :]:
                rows = await driver.fetch(DriverSQL.of(shape), {"value": i})
                assert rows[0]["n"] >= i
            await driver.executemany(DriverSQL.of("SELECT CAST(:value AS INTEGER)"), [{"value": i}, {"value": 2}])
        finally:
            raw.close()

    results = await asyncio.gather(*(job(i) for i in range(rounds) for job in (orm, pooled)), return_exceptions=True)
    return [result for result in results if isinstance(result, BaseException)]


async def test_every_path_works_through_pgbouncer_in_transaction_mode(postgres_url: str) -> None:
    with run_pgbouncer(postgres_url, pool_size=2) as pooled_url:
        database = Database(pooled_url, pool_size=8, transaction_pooler=True)
        try:
            assert await _workload(database, 120) == []
        finally:
            await database.dispose()


async def test_without_the_setting_pgbouncer_in_transaction_mode_fails(postgres_url: str) -> None:
    """The check above can fail: the same workload without the setting breaks on statement names."""
    with run_pgbouncer(postgres_url, pool_size=2) as pooled_url:
        database = Database(pooled_url, pool_size=8, transaction_pooler=False)
        try:
            errors = await _workload(database, 120)
        finally:
            await database.dispose()
    assert errors
    assert any("prepared statement" in str(error) for error in errors)
