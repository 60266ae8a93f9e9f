"""The SQLite group-commit writer: jobs batched into one transaction, each under its own savepoint, every
caller answered only after the batch committed; a failed job changes nothing and fails alone."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import UnprocessableError
from app.core.sqlite_writer import SQLiteWriter, execute, fetchrow


@pytest.fixture
def database_file(tmp_path: Path) -> str:
    path = str(tmp_path / "writer.db")
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE saves (id INTEGER PRIMARY KEY, value TEXT NOT NULL)")
    return path


def _count(path: str) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM saves").fetchone()[0])


async def test_concurrent_jobs_share_transactions_and_all_are_stored(database_file: str) -> None:
    writer = SQLiteWriter(database_file)
    gate = threading.Event()

    def insert(n: int) -> Any:
        def job(connection: Any) -> int:
            gate.wait(5)  # the first job holds the writer while the others queue up
            execute(connection, "INSERT INTO saves (id, value) VALUES (:id, :value)", {"id": n, "value": f"v{n}"})
            return n

        return job

    try:
        tasks = [asyncio.create_task(writer.run(insert(n))) for n in range(200)]
        await asyncio.sleep(0.1)
        gate.set()
        assert sorted(await asyncio.gather(*tasks)) == list(range(200))
        assert _count(database_file) == 200
        assert writer.batches < 200 / 10  # grouped: far fewer commits than jobs
    finally:
        writer.close()


async def test_a_failing_job_is_undone_alone_and_its_caller_gets_the_error(database_file: str) -> None:
    writer = SQLiteWriter(database_file)

    def good(connection: Any) -> None:
        execute(connection, "INSERT INTO saves (id, value) VALUES (1, 'kept')", {})

    def bad(connection: Any) -> None:
        execute(connection, "INSERT INTO saves (id, value) VALUES (2, 'undone')", {})
        raise UnprocessableError("answers.3: no such option")

    try:
        results = await asyncio.gather(writer.run(good), writer.run(bad), return_exceptions=True)
        assert results[0] is None and isinstance(results[1], UnprocessableError)
        with sqlite3.connect(database_file) as connection:
            assert connection.execute("SELECT id, value FROM saves").fetchall() == [(1, "kept")]
    finally:
        writer.close()


async def test_a_batch_that_cannot_commit_fails_every_caller_and_keeps_nothing(database_file: str) -> None:
    """Another connection holds the write lock past the busy timeout: nobody is told "saved"."""
    writer = SQLiteWriter(database_file, busy_timeout_seconds=0.2)
    blocker = sqlite3.connect(database_file, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await writer.run(lambda c: execute(c, "INSERT INTO saves (id, value) VALUES (9, 'x')", {}))
        blocker.execute("ROLLBACK")
        assert _count(database_file) == 0
        # The writer goes on serving once the lock is free.
        assert await writer.run(lambda c: fetchrow(c, "SELECT COUNT(*) AS n FROM saves", {})["n"]) == 0  # type: ignore[index]
    finally:
        blocker.close()
        writer.close()


async def test_the_reply_comes_after_the_commit(database_file: str) -> None:
    """When a job's caller resumes, another connection already sees the job's row."""
    writer = SQLiteWriter(database_file)
    try:
        for n in range(20):
            await writer.run(lambda c, n=n: execute(c, "INSERT INTO saves (id, value) VALUES (:n, 'v')", {"n": n}))
            assert _count(database_file) == n + 1
    finally:
        writer.close()
