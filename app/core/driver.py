"""Driver-level SQL for the hot paths (ticket login, start, autosave, submit).

A Core statement through the async ORM session costs several times the Python of the same statement sent
straight to the driver. The hot paths therefore write their few statements once as SQL text with
``:name`` parameters (``DriverSQL``, rendered for sqlite3's named and asyncpg's numbered placeholders).
On SQLite they run as jobs of the group-commit writer (``app.core.sqlite_writer``) on a DB-API
connection; on PostgreSQL on an asyncpg connection (``Driver``): one checked out of the pool
(``pooled_driver``, each statement committing on its own) or the one under a request's session
(``driver_for``, inside its transaction). Values cross the driver boundary through ``DriverValues``
(SQLite keeps naive UTC text timestamps and JSON text; PostgreSQL takes aware datetimes).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import greenlet_spawn

_PARSED_JSON_CACHE = 32_768
# A quoted literal (left alone) or a ``:name`` parameter (not a ``::type`` cast).
_PARAM = re.compile(r"'(?:[^']|'')*'|(?<![:\w]):([a-z_][a-z0-9_]*)")
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format for SQLite DATETIME


@dataclass(frozen=True, slots=True)
class DriverSQL:
    """One statement, written once with ``:name`` parameters, rendered for each driver's placeholders."""

    text: str
    names: tuple[str, ...]
    postgresql: str
    sqlite: str

    @classmethod
    def of(cls, text: str, *, postgresql: str | None = None) -> DriverSQL:
        """``text`` for both backends, or ``postgresql`` there instead (same parameters, e.g. with casts
        or a row lock SQLite has no syntax for)."""
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return match.group(0)
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        rendered = _PARAM.sub(number, postgresql or text)
        sqlite = text  # sqlite3 takes :name parameters as they are
        return cls(text=text, names=tuple(names), postgresql=rendered, sqlite=sqlite)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]


class DriverRow(Protocol):
    def __getitem__(self, key: str | int) -> Any: ...


@functools.lru_cache(maxsize=_PARSED_JSON_CACHE)
def _parsed_json(text: str) -> Any:
    return json.loads(text)


class DriverValues:
    """How one backend's driver takes and gives timestamps, booleans and JSON."""

    def __init__(self, dialect: str) -> None:
        self.is_sqlite = dialect == "sqlite"

    def time(self, value: datetime | None) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        # SQLITE_TIME_FORMAT, as isoformat writes it (cheaper than strftime)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds") if self.is_sqlite else value

    def read_time(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @staticmethod
    def json(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def read_json(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str | bytes) else value

    @staticmethod
    def read_json_text(text: str) -> Any:
        """JSON read as text (``CAST(… AS TEXT)``), parsed once per distinct text in this process.

        For values that many requests read unchanged (an attempt's question order, a paper's key): the
        text is still read every time, so a change is seen at once. The result is shared: never mutate it.
        """
        return _parsed_json(text)

    def flag(self, value: bool) -> Any:
        return int(value) if self.is_sqlite else value


class Driver(Protocol):
    values: DriverValues

    async def fetchrow(self, sql: DriverSQL, params: Mapping[str, Any]) -> DriverRow | None: ...

    async def fetch(self, sql: DriverSQL, params: Mapping[str, Any]) -> list[DriverRow]: ...

    async def execute(self, sql: DriverSQL, params: Mapping[str, Any]) -> None: ...

    async def executemany(self, sql: DriverSQL, rows: Iterable[Mapping[str, Any]]) -> None: ...


class _AsyncpgDriver:
    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.values = DriverValues("postgresql")

    async def fetchrow(self, sql: DriverSQL, params: Mapping[str, Any]) -> DriverRow | None:
        row: DriverRow | None = await self.connection.fetchrow(sql.postgresql, *sql.args(params))
        return row

    async def fetch(self, sql: DriverSQL, params: Mapping[str, Any]) -> list[DriverRow]:
        return list(await self.connection.fetch(sql.postgresql, *sql.args(params)))

    async def execute(self, sql: DriverSQL, params: Mapping[str, Any]) -> None:
        await self.connection.execute(sql.postgresql, *sql.args(params))

    async def executemany(self, sql: DriverSQL, rows: Iterable[Mapping[str, Any]]) -> None:
        await self.connection.executemany(sql.postgresql, [sql.args(row) for row in rows])


async def driver_for(session: AsyncSession, *, transaction: bool = True) -> Driver:
    """PostgreSQL: the asyncpg connection under ``session``, inside the session's transaction (begun here
    if needed).

    SQLAlchemy's asyncpg adapter begins its transaction lazily on the first statement it sends itself;
    statements sent past it would run outside any transaction, so it is begun here — unless
    ``transaction`` is False: then each statement commits on its own, which saves the BEGIN and COMMIT
    round trips to a handler whose every write is one statement (a session that is already in a
    transaction, as in the tests, keeps it).
    """
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        raise TypeError("driver_for is for PostgreSQL; SQLite runs writer jobs (app.core.sqlite_writer.run_job)")
    raw = await connection.get_raw_connection()
    adapted = raw.dbapi_connection
    if transaction and getattr(adapted, "_transaction", None) is None:
        await adapted._start_transaction()  # type: ignore[union-attr]
    return _AsyncpgDriver(raw.driver_connection)


def pooled_driver(pooled: Any) -> Driver:
    """PostgreSQL: a driver on a connection checked out of the engine's pool (``AsyncEngine.raw_connection``),
    outside any transaction: each statement commits on its own. Give it back with ``release_pooled``."""
    return _AsyncpgDriver(pooled.driver_connection)


async def release_pooled(pooled: Any) -> None:
    """Give a connection of ``AsyncEngine.raw_connection`` back to the pool — or, when it died under its
    statement (the database restarted or went away), discard it, so that the next checkout opens a new one.

    Statements sent straight to the driver bypass SQLAlchemy, which would otherwise notice the disconnect
    and invalidate the connection itself: without this the pool hands the dead connection out again and
    again, and every request answers 503 long after the database is back."""
    connection = pooled.driver_connection
    if connection is None or connection.is_closed():
        await greenlet_spawn(pooled.invalidate)
    await greenlet_spawn(pooled.close)
