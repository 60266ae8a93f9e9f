"""Scratch databases for the tests and the benchmarks: a new, migrated database of the backend a URL names
(a PostgreSQL database created next to it, or a SQLite file in a temporary folder), removed afterwards."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import asyncpg
from sqlalchemy.engine import make_url

from app.core.migrate import upgrade_database


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() in {"postgresql", "postgres"}


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_postgresql_database(server_url: str, prefix: str = "exambank_scratch") -> str:
    """A new, empty database on the server of ``server_url``; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(_admin_dsn(server_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_postgresql_database(server_url: str, url: str) -> None:
    """Drop the database of ``url`` (connections to it are ended), through the server of ``server_url``."""
    connection = await asyncpg.connect(_admin_dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await connection.close()


@asynccontextmanager
async def scratch_database(server_url: str | None, prefix: str = "exambank_scratch") -> AsyncIterator[str]:
    """A fresh, migrated database for the block: on the PostgreSQL server of ``server_url``, or (None or a
    SQLite URL) a SQLite file in a temporary folder."""
    if server_url is None or not is_postgresql(server_url):
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as folder:
            url = f"sqlite:///{folder}/{prefix}.db"
            await anyio.to_thread.run_sync(upgrade_database, url)
            yield url
        return
    url = await create_postgresql_database(server_url, prefix)
    try:
        await anyio.to_thread.run_sync(upgrade_database, url)
        yield url
    finally:
        await drop_postgresql_database(server_url, url)
