"""Batches of one kind of PostgreSQL statement: requests queued while others are at the database go in
one statement; one key never in two batches at once; a refused request gets None; a failed statement
fails every request of its batch as ``BatchFailed`` (nothing of it stored)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from app.core.batches import Batches, BatchFailed, Inputs, Pending
from app.core.db import Database
from app.core.driver import DriverSQL

pytestmark = pytest.mark.real_commit


class Marks(Batches):
    """Each request inserts (key, mark); a negative mark is refused (no row returned for it)."""

    statement = DriverSQL.of(
        "-- PostgreSQL only",
        postgresql="""
        INSERT INTO batch_marks (key, mark, batch)
        SELECT i.key, i.mark, txid_current() FROM unnest(CAST(:keys AS INTEGER[]), CAST(:marks AS INTEGER[]))
          AS i(key, mark)
        WHERE i.mark >= 0
        RETURNING key, mark
        """,
    )
    arrays = ("keys", "marks")
    key_column = "key"


@pytest.fixture
async def database(committed_database_url: str, is_postgres: bool) -> AsyncIterator[Database]:
    if not is_postgres:
        pytest.skip("batches are for PostgreSQL (SQLite has its group-commit writer)")
    db = Database(committed_database_url)
    async with db.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE batch_marks (key INTEGER, mark INTEGER, batch BIGINT)"))
    yield db
    await db.dispose()


async def _rows(database: Database) -> list[Any]:
    async with database.engine.connect() as connection:
        rows = await connection.execute(text("SELECT key, mark, batch FROM batch_marks ORDER BY key, mark"))
        return list(rows.all())


async def test_concurrent_requests_share_statements(database: Database) -> None:
    marks = Marks(database)
    replies = await asyncio.gather(*(marks.send(Pending(key, (key, key * 10))) for key in range(100)))
    assert [reply["mark"] for reply in replies if reply is not None] == [key * 10 for key in range(100)]
    rows = await _rows(database)
    assert len(rows) == 100 and marks.batches < 100 / 5
    assert len({row.batch for row in rows}) == marks.batches  # one transaction per statement


async def test_one_key_waits_for_the_next_batch_and_refusals_get_none(database: Database) -> None:
    marks = Marks(database)
    replies = await asyncio.gather(
        marks.send(Pending(1, (1, 1))), marks.send(Pending(1, (1, 2))), marks.send(Pending(2, (2, -1)))
    )
    assert replies[0]["mark"] == 1 and replies[1]["mark"] == 2 and replies[2] is None  # type: ignore[index]
    rows = await _rows(database)
    assert [(row.key, row.mark) for row in rows] == [(1, 1), (1, 2)]
    assert rows[0].batch != rows[1].batch  # key 1 never twice in one statement


async def test_a_failed_statement_fails_its_whole_batch_and_stores_nothing(database: Database) -> None:
    marks = Marks(database)
    # 2**40 does not fit an INTEGER: the statement fails, for every request in it.
    replies = await asyncio.gather(
        marks.send(Pending(1, (1, 1))), marks.send(Pending(2, (2, 2**40))), return_exceptions=True
    )
    assert isinstance(replies[1], BatchFailed) and replies[1].__cause__ is not None
    stored = {row.key for row in await _rows(database)}
    for key, reply in zip((1, 2), replies, strict=True):
        # A request failed with its batch left nothing; one answered is stored.
        assert (key in stored) is (not isinstance(reply, BaseException))
    # And the batches go on.
    assert (await marks.send(Pending(3, (3, 3))))["mark"] == 3  # type: ignore[index]


# Inputs: one template rendered for one request and for a batch -------------------------------------------

TABLE_UPDATE = """
    UPDATE marks SET mark = i.mark, seen = i.mark + 1
    FROM {inputs}
    WHERE marks.key = i.key AND marks.mark < i.mark
    RETURNING marks.key, marks.mark
"""


def test_an_inline_update_does_what_its_one_row_join_does() -> None:

    inputs = Inputs.of(key="INTEGER", mark="INTEGER")
    inline, joined = inputs.inline(TABLE_UPDATE), TABLE_UPDATE.format(inputs=inputs.one())
    assert "i." not in inline and ":key" in inline and "FROM" not in inline
    for requests in ([(1, 5), (1, 3), (2, 9), (7, 1)], [(2, 0), (3, 4), (3, 4)]):
        results = []
        for statement in (inline, joined):
            db = sqlite3.connect(":memory:")
            db.execute("CREATE TABLE marks (key INTEGER PRIMARY KEY, mark INTEGER, seen INTEGER)")
            db.executemany("INSERT INTO marks VALUES (?, ?, NULL)", [(1, 4), (2, 1), (3, 3)])
            returned = [db.execute(statement, {"key": k, "mark": m}).fetchall() for k, m in requests]
            results.append((returned, db.execute("SELECT * FROM marks ORDER BY key").fetchall()))
        assert results[0] == results[1]


def test_inline_refuses_templates_it_cannot_render() -> None:
    inputs = Inputs.of(key="INTEGER", mark="INTEGER")
    with pytest.raises(ValueError, match="UPDATE"):
        inputs.inline("SELECT i.key FROM {inputs} JOIN marks ON marks.key = i.key")
    with pytest.raises(ValueError, match="columns"):
        inputs.inline("UPDATE marks SET mark = i.other FROM {inputs} WHERE marks.key = i.key")
