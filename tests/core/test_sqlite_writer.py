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
from app.core.sqlite_writer import ReadThenWrite, SQLiteWriter, execute, fetchrow


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


async def test_a_read_then_write_job_reads_holding_no_lock(database_file: str) -> None:
    """While a job's read step runs, another process can still write: the lock is taken for the writes."""
    writer = SQLiteWriter(database_file)

    def read(connection: Any) -> int:
        other = sqlite3.connect(database_file, isolation_level=None, timeout=0)
        try:  # would fail with "database is locked" if the writer held the write lock now
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO saves (id, value) VALUES (1, 'other process')")
            other.execute("COMMIT")
        finally:
            other.close()
        return int(fetchrow(connection, "SELECT COUNT(*) AS n FROM saves", {})["n"])  # type: ignore[index]

    def write(connection: Any, seen: int) -> int:
        execute(connection, "INSERT INTO saves (id, value) VALUES (2, :value)", {"value": f"saw {seen}"})
        return seen

    try:
        assert await writer.run(ReadThenWrite(read, write)) == 1
        with sqlite3.connect(database_file) as connection:
            assert connection.execute("SELECT value FROM saves ORDER BY id").fetchall() == [
                ("other process",),
                ("saw 1",),
            ]
    finally:
        writer.close()


async def test_read_steps_that_settle_their_jobs_write_nothing(database_file: str) -> None:
    """A read returning None is answered None with no write; a read raising reaches its caller alone."""
    writer = SQLiteWriter(database_file)
    written: list[str] = []

    def write(connection: Any, value: str) -> str:
        written.append(value)
        execute(connection, "INSERT INTO saves (value) VALUES (:value)", {"value": value})
        return value

    def refuse(_connection: Any) -> str:
        raise UnprocessableError("answers.1: no such option")

    gate = threading.Event()

    def hold(connection: Any) -> None:
        gate.wait(5)  # the next three jobs queue up and run as one batch

    try:
        first = asyncio.create_task(writer.run(hold))
        await asyncio.sleep(0.05)
        jobs = [
            writer.run(ReadThenWrite(lambda _c: None, write)),
            writer.run(ReadThenWrite(refuse, write)),
            writer.run(ReadThenWrite(lambda _c: "kept", write)),
        ]
        gathered = asyncio.gather(*jobs, return_exceptions=True)
        await asyncio.sleep(0.05)
        gate.set()
        await first
        results = await gathered
        assert results[0] is None and isinstance(results[1], UnprocessableError) and results[2] == "kept"
        assert written == ["kept"]
        assert _count(database_file) == 1
    finally:
        writer.close()


async def test_a_failing_write_step_is_undone_alone(database_file: str) -> None:
    writer = SQLiteWriter(database_file)

    def write(connection: Any, value: str) -> str:
        execute(connection, "INSERT INTO saves (value) VALUES (:value)", {"value": value})
        if value == "bad":
            raise UnprocessableError("refused after writing")
        return value

    try:
        results = await asyncio.gather(
            writer.run(ReadThenWrite(lambda _c: "good", write)),
            writer.run(ReadThenWrite(lambda _c: "bad", write)),
            return_exceptions=True,
        )
        assert results[0] == "good" and isinstance(results[1], UnprocessableError)
        with sqlite3.connect(database_file) as connection:
            assert connection.execute("SELECT value FROM saves").fetchall() == [("good",)]
    finally:
        writer.close()


async def test_a_read_step_answered_busy_is_tried_again(database_file: str) -> None:
    """Outside a transaction SQLite may still answer "database is locked" for a moment: the read step is
    retried like BEGIN, not failed."""
    writer = SQLiteWriter(database_file)
    attempts: list[int] = []

    def read(connection: Any) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "read"

    def write(connection: Any, value: str) -> str:
        execute(connection, "INSERT INTO saves (value) VALUES (:value)", {"value": value})
        return value

    try:
        assert await writer.run(ReadThenWrite(read, write)) == "read"
        assert len(attempts) == 3 and _count(database_file) == 1
    finally:
        writer.close()
