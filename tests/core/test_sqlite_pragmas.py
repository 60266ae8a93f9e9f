"""Connections opened at the same moment on a fresh SQLite file all get it into WAL mode.

Several servers (or ``upgrade_database`` in several threads) starting together on a new file each switch it
to WAL; without a retry, SQLite answers some of them "database is locked" at once (a lock deadlock it does
not wait out), and that server fails its start-up.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from app.core import sqlite_pragmas

CONNECTIONS = 6
FRESH_FILES = 100


def _open_together(path: Path) -> list[BaseException]:
    barrier = threading.Barrier(CONNECTIONS)
    errors: list[BaseException] = []

    def connect() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            cursor = connection.cursor()
            barrier.wait()
            sqlite_pragmas.configure(cursor)
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=connect) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_connections_opened_together_on_fresh_files_all_switch_to_wal(tmp_path: Path) -> None:
    errors = [error for index in range(FRESH_FILES) for error in _open_together(tmp_path / f"fresh-{index}.db")]
    assert errors == []


def test_a_lock_that_stays_is_given_up_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None)
    waiter = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite_pragmas.switch_to_wal(waiter.cursor(), give_up_after=0.3)
        assert 0.3 <= time.monotonic() - started < 5
    finally:
        holder.close()
        waiter.close()


def test_an_error_other_than_a_lock_is_raised_at_once(tmp_path: Path) -> None:
    path = tmp_path / "not-a-database.db"
    path.write_bytes(b"this is not a SQLite file" * 100)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        started = time.monotonic()
        with pytest.raises(sqlite3.DatabaseError):
            sqlite_pragmas.switch_to_wal(connection.cursor(), give_up_after=10)
        assert time.monotonic() - started < 1
    finally:
        connection.close()
