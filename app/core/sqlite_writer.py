"""Group commit for SQLite: one writer thread per process runs the hot paths' write jobs in batches.

SQLite has one write lock per database. Taken by a request on the event loop, it is held across every
``await`` of that request's statements, each a hop to aiosqlite's thread and back, while the loop serves
other requests: under a burst the lock's hold time grows with the loop's queue, and throughput falls.
The writer instead owns a connection in a thread of its own and runs whatever jobs are queued, back to
back, in ONE transaction: ``BEGIN IMMEDIATE``, each job under its own savepoint (a job that raises is
rolled back alone and its caller gets the exception), ``COMMIT``, and only then does any caller learn its
result — so an answer still means the write is durable. A job is a plain function of a DB-API
connection (``sqlite3``); it runs on SQLAlchemy's adapted connection too (``run_job``), which is how a
request's own session runs it when there is no writer (the tests' rolled-back transaction).

The lock is what the workers of a server share, so the less a batch does while holding it, the more
batches pass: a ``ReadThenWrite`` job does its reads and its Python (parsing, scoring, shuffling) before
the batch's transaction begins, with no lock held, and only its writes inside it.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import sqlite_pragmas

T = TypeVar("T")
R = TypeVar("R")
Job = Callable[[Any], T]  # called with a DB-API connection

MAX_BATCH = 512  # jobs per transaction
BUSY_POLL_SECONDS = 0.0005
HANDOFF_SECONDS = 0.0012  # more than two polls


class SyncRow:
    """A DB-API row addressable by column name."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: Sequence[str], values: Sequence[Any]) -> None:
        self._names, self._values = names, values

    def __getitem__(self, key: str | int) -> Any:
        return self._values[key if isinstance(key, int) else self._names.index(key)]


def fetchrow(connection: Any, sql: str, params: Mapping[str, Any]) -> SyncRow | None:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return None if row is None else SyncRow([d[0] for d in cursor.description], row)
    finally:
        cursor.close()


def execute(connection: Any, sql: str, params: Mapping[str, Any]) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, params)
    finally:
        cursor.close()


def executemany(connection: Any, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
    cursor = connection.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


@dataclass(slots=True)  # made per request: not frozen, whose __init__ costs several times more
class ReadThenWrite(Generic[R, T]):
    """A job in two steps. ``read`` runs before the batch's transaction, holding no lock — another
    process may commit between it and the write, so ``write`` must re-check, in its own statements,
    whatever it relies on that could have changed. ``read`` returning None settles the job with None
    and nothing is written. Run in one go (``run_job``), both steps share the caller's transaction."""

    read: Callable[[Any], R | None]
    write: Callable[[Any, R], T | None]

    def __call__(self, connection: Any) -> T | None:
        read = self.read(connection)
        return None if read is None else self.write(connection, read)


class SQLiteWriter:
    def __init__(self, path: str, *, busy_timeout_seconds: float = 30.0) -> None:
        self._path = path
        self._busy_timeout = busy_timeout_seconds
        self._jobs: queue.SimpleQueue[tuple[Job[Any], asyncio.Future[Any], asyncio.AbstractEventLoop] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0  # transactions committed (for tests and benchmarks)

    async def run(self, job: Job[T]) -> T:
        """Run ``job`` in the next batch; its result once that batch has committed."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, future, loop))
        return await future

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._serve, name="exambank-sqlite-writer", daemon=True)
                    self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        # No busy handler of SQLite's own: it sleeps 1, 2, 5, 10 … up to 100 ms between tries, far longer
        # than another worker's batch holds the lock. ``_begin`` polls instead.
        connection = sqlite3.connect(self._path, timeout=self._busy_timeout, isolation_level=None)
        sqlite_pragmas.configure(connection.cursor(), busy_timeout_seconds=self._busy_timeout)
        connection.execute("PRAGMA busy_timeout=0")
        return connection

    def _serve(self) -> None:
        connection = self._connect()
        try:
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._jobs.put(None)
                        break
                    batch.append(more)
                self._run_batch(connection, batch)
                if not self._jobs.empty():
                    # Another process's writer polls for the lock every BUSY_POLL_SECONDS: taking it again
                    # at once would starve it.
                    time.sleep(HANDOFF_SECONDS)
        finally:
            connection.close()

    def _begin(self, connection: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, trying again while another connection (another worker process, or this
        one's ORM writes) holds the write lock."""
        self._while_busy(lambda: connection.execute("BEGIN IMMEDIATE"))

    def _while_busy(self, step: Callable[[], T]) -> T:
        """``step``, tried again every half millisecond while SQLite answers busy or locked, for up to the
        busy timeout (a read step too: outside a transaction, SQLite may still answer busy for a moment)."""
        give_up = time.monotonic() + self._busy_timeout
        while True:
            try:
                return step()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= give_up:
                    raise
                time.sleep(BUSY_POLL_SECONDS)

    def _run_batch(
        self,
        connection: sqlite3.Connection,
        batch: list[tuple[Job[Any], asyncio.Future[Any], asyncio.AbstractEventLoop]],
    ) -> None:
        # Reads first, holding no lock; a job its read settled (an error, or nothing to write) is done.
        outcomes: list[tuple[Any, BaseException | None]] = []
        writes: list[tuple[int, Callable[[Any], Any]]] = []
        for index, (job, _future, _loop) in enumerate(batch):
            if not isinstance(job, ReadThenWrite):
                outcomes.append((None, None))
                writes.append((index, job))
                continue
            try:
                read = self._while_busy(partial(job.read, connection))
            except Exception as exc:
                outcomes.append((None, exc))
                continue
            outcomes.append((None, None))
            if read is not None:
                writes.append((index, _bound(job.write, read)))
        try:
            if writes:
                self._begin(connection)
                for index, write in writes:
                    connection.execute("SAVEPOINT job")
                    try:
                        outcomes[index] = (write(connection), None)
                    except Exception as exc:  # the job alone is undone; its caller gets the error
                        connection.execute("ROLLBACK TO job")
                        outcomes[index] = (None, exc)
                    connection.execute("RELEASE job")
                connection.execute("COMMIT")
                self.batches += 1
        except Exception as exc:  # the batch could not commit: nothing of it is kept, its writers are told
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            for index, _write in writes:
                outcomes[index] = (None, exc)
        for (_job, future, loop), (result, error) in zip(batch, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, future, result, error)


def _bound(write: Callable[[Any, R], T], read: R) -> Callable[[Any], T]:
    return lambda connection: write(connection, read)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


async def run_job(session: AsyncSession, job: Job[T]) -> T:
    """Run a writer job on the connection of ``session`` instead, in its transaction."""
    connection = await session.connection()
    return await connection.run_sync(lambda sync: job(sync.connection.dbapi_connection))
