"""A proposal measured by the benchmark (``--sqlite-single-writer``), not part of the product.

On SQLite every write transaction takes the database lock up front (BEGIN IMMEDIATE). With the default
pool (20 + 20 connections per process) dozens of connections wait in SQLite's busy handler, which polls
with growing sleeps and is unfair: throughput collapses and some requests starve past the 30 s timeout
("database is locked"). Giving each process one write connection makes requests queue in the pool
(asyncio, first come first served) instead; only the processes contend for the lock. Reads keep their pool.
The real change belongs in ``app.core.db.Database``; this hook applies it to a served process.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

import app.core.db as db

_original_init = db.Database.__init__


def _init(self: db.Database, url: str, *, pool_size: int = 20) -> None:
    _original_init(self, url, pool_size=pool_size)
    if self.is_sqlite:
        writer = create_async_engine(
            db.async_database_url(url), pool_size=1, max_overflow=0, pool_timeout=120, connect_args={"timeout": 30}
        )
        db._configure_sqlite(writer)
        bind: Any = writer.execution_options(**{db.SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self.write_sessions = async_sessionmaker(bind, expire_on_commit=False, autoflush=False)


db.Database.__init__ = _init  # type: ignore[method-assign]
