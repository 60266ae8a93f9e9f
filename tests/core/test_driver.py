"""Driver-level SQL: placeholders per backend, values as SQLAlchemy stores them, the session's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.driver import DriverSQL, DriverValues, driver_for
from app.org.models import Unit


def test_parameters_are_numbered_once_per_name_for_postgresql() -> None:
    sql = DriverSQL.of("SELECT :a, :b::text, CAST(:a AS INT) WHERE x = ':literal' AND y = :b_2")
    assert sql.names == ("a", "b", "b_2")
    assert sql.postgresql == "SELECT $1, $2::text, CAST($1 AS INT) WHERE x = ':literal' AND y = $3"
    assert sql.sqlite == "SELECT :a, :b::text, CAST(:a AS INT) WHERE x = ':literal' AND y = :b_2"
    assert sql.args({"b_2": 3, "a": 1, "b": 2, "unused": 4}) == [1, 2, 3]


def test_a_postgresql_variant_takes_the_same_parameters() -> None:
    sql = DriverSQL.of("SELECT :x", postgresql="SELECT CAST(:x AS INTEGER) FOR SHARE")
    assert sql.postgresql == "SELECT CAST($1 AS INTEGER) FOR SHARE" and sql.sqlite == "SELECT :x"


def test_sqlite_times_are_naive_utc_text_and_read_back_aware() -> None:
    values = DriverValues("sqlite")
    moment = datetime(2026, 9, 10, 9, 30, 5, 123, tzinfo=UTC)
    assert values.time(moment) == "2026-09-10 09:30:05.000123"
    assert values.read_time("2026-09-10 09:30:05.000123") == moment
    assert values.flag(True) == 1 and DriverValues("postgresql").flag(True) is True


def test_json_read_as_text_is_parsed_once() -> None:
    first = DriverValues.read_json_text('{"1": ["A"]}')
    assert first == {"1": ["A"]} and DriverValues.read_json_text('{"1": ["A"]}') is first


async def test_driver_statements_run_in_the_sessions_transaction(session: AsyncSession, is_postgres: bool) -> None:
    """PostgreSQL: a row written by the driver and a row written by the ORM are visible to each other, and
    the session's rollback takes both back. (SQLite's hot paths are writer jobs on the DB-API connection.)"""
    if not is_postgres:
        pytest.skip("the asyncpg driver")
    insert = DriverSQL.of(
        "INSERT INTO units (code, name, headcount, large, created_at) VALUES (:code, :name, 10, :large, :now)"
    )
    now = datetime(2026, 9, 10, 1, 0, tzinfo=UTC)
    await session.execute(text("SAVEPOINT driver_test"))
    driver = await driver_for(session)
    await driver.execute(
        insert, {"code": "DRV-1", "name": "驱动", "large": driver.values.flag(False), "now": driver.values.time(now)}
    )
    session.add(Unit(code="ORM-1", name="映射", headcount=10))
    await session.flush()
    found = await driver.fetch(DriverSQL.of("SELECT code FROM units WHERE code IN ('DRV-1', 'ORM-1')"), {})
    assert sorted(row["code"] for row in found) == ["DRV-1", "ORM-1"]
    stored = await session.scalar(select(Unit.created_at).where(Unit.code == "DRV-1"))
    assert stored == now  # the driver's timestamp reads back through SQLAlchemy's type unchanged
    await session.execute(text("ROLLBACK TO SAVEPOINT driver_test"))
    assert await session.scalar(select(Unit.id).where(Unit.code.in_(["DRV-1", "ORM-1"]))) is None
