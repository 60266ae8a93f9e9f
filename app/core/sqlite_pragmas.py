"""How every SQLite connection of exambank is set up: the ORM's (``db.py``) and the group-commit writer's."""

from __future__ import annotations

import random
import sqlite3
import time
from typing import Any

BUSY_TIMEOUT_SECONDS = 30.0


def configure(cursor: Any, *, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> None:
    """WAL, ``synchronous=NORMAL``, foreign keys on and the busy timeout, on a DB-API cursor."""
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
    switch_to_wal(cursor, give_up_after=busy_timeout_seconds)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")


def switch_to_wal(cursor: Any, *, give_up_after: float = BUSY_TIMEOUT_SECONDS) -> None:
    """Put the file in WAL mode (persistent: later connections find it done and change nothing).

    On a fresh file, processes switching at once each hold a shared lock and want the exclusive one;
    SQLite answers that deadlock "database is locked" at once, without waiting out the busy timeout, so
    the switch is retried. Only the first connections to a new file meet this, before any request is
    served, which is why a short blocking pause is acceptable here.
    """
    deadline = time.monotonic() + give_up_after
    while True:
        try:
            cursor.execute("PRAGMA journal_mode")
            if str(cursor.fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.01, 0.05))
