"""Database plumbing: URL translation, engines for SQLite (WAL) and PostgreSQL, the declarative base."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from app.core import sqlite_pragmas
from app.core.sqlite_writer import SQLiteWriter

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")

# A write transaction on SQLite takes the lock up front, so two writers never deadlock on an upgrade.
SQLITE_BEGIN_OPTION = "exambank_sqlite_begin"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


# asyncpg.connect() arguments a PostgreSQL URL may carry as query parameters: a URL gives them as text, which
# asyncpg does not convert (``?statement_cache_size=0`` would fail with a TypeError on connect).
_ASYNCPG_URL_ARGS: dict[str, type[int] | type[float]] = {
    "statement_cache_size": int,
    "max_cached_statement_lifetime": int,
    "max_cacheable_statement_size": int,
    "command_timeout": float,
    "timeout": float,
}
# The pool's per-process label in pg_stat_activity (application_name), read by the start-up budget check.
APPLICATION_NAME_PREFIX = "exambank"


def async_database_url(url: str) -> str:
    """Translate a plain ``sqlite:///`` or ``postgresql://`` URL to its async driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL {parsed.drivername!r}: use sqlite:/// or postgresql://")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def application_name(pool_size: int) -> str:
    """What this process's connections call themselves in ``pg_stat_activity``: the process and the size
    of its pool, so that another server starting can count what the running ones may hold."""
    return f"{APPLICATION_NAME_PREFIX} pid={os.getpid()} pool={pool_size}"


def _unnamed_statement() -> str:
    # An empty name is PostgreSQL's unnamed statement: replaced by the next one, never left behind on a
    # server connection that a transaction pooler hands to another client afterwards.
    return ""


def postgresql_connect_args(url: str, *, pool_size: int, transaction_pooler: bool) -> tuple[str, dict[str, Any]]:
    """The async URL without the asyncpg arguments it carried, and the ``connect_args`` for them.

    Behind a pooler in transaction mode (PgBouncer ``pool_mode=transaction``) consecutive transactions of
    one client connection may run on different server connections, so nothing may outlive a transaction:
    no asyncpg statement cache (its statements are named and kept), no SQLAlchemy prepared-statement cache,
    and the statements SQLAlchemy prepares are unnamed. asyncpg then sends each unnamed statement's Parse
    again with its Bind and Execute, in one message, so even a statement outside a transaction is whole on
    one server connection.
    """
    parsed = make_url(async_database_url(url))
    connect_args: dict[str, Any] = {}
    query = dict(parsed.query)
    for name, kind in _ASYNCPG_URL_ARGS.items():
        if name not in query:
            continue
        raw = query.pop(name)
        value = raw[-1] if isinstance(raw, tuple) else raw
        try:
            connect_args[name] = kind(value)
        except ValueError:
            raise ValueError(f"数据库地址参数 {name}={value!r} 不是数字（database URL parameter {name})") from None
    if "prepared_statement_cache_size" in query:
        raw = query.pop("prepared_statement_cache_size")
        value = raw[-1] if isinstance(raw, tuple) else raw
        try:
            connect_args["prepared_statement_cache_size"] = int(value)
        except ValueError:
            raise ValueError(
                f"数据库地址参数 prepared_statement_cache_size={value!r} 不是整数"
                " (database URL parameter prepared_statement_cache_size)"
            ) from None
    if transaction_pooler:
        connect_args["statement_cache_size"] = 0
        connect_args["prepared_statement_cache_size"] = 0
        connect_args["prepared_statement_name_func"] = _unnamed_statement
    server_settings = {"application_name": application_name(pool_size)}
    connect_args["server_settings"] = server_settings
    return parsed.set(query=query).render_as_string(hide_password=False), connect_args


def transaction_pooler_setting(transaction_pooler: bool | None) -> bool:
    """An explicit choice, or the process's ``EXAMBANK_DB_TRANSACTION_POOLER``."""
    if transaction_pooler is not None:
        return transaction_pooler
    from app.core.config import get_settings

    return get_settings().db_transaction_pooler


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (savepoints need it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        sqlite_pragmas.configure(cursor)
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    echo: bool = False,
    transaction_pooler: bool | None = None,
    pool_timeout: float = 120,
) -> AsyncEngine:
    """An async engine for a plain database URL, tuned per backend.

    ``transaction_pooler`` (default: ``EXAMBANK_DB_TRANSACTION_POOLER``) says the URL names a pooler in
    transaction mode; ``pool_timeout`` is how long a request waits for a pooled connection before it is
    answered 503 (PostgreSQL).
    """
    async_url = async_database_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database in (None, "", ":memory:"):
            raise ValueError("exambank needs a SQLite file, not an in-memory database")
        engine = create_async_engine(
            async_url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=pool_timeout,
            connect_args={"timeout": sqlite_pragmas.BUSY_TIMEOUT_SECONDS},
        )
        _configure_sqlite(engine)
        return engine
    # No pre-ping: on asyncpg it is a transaction and a round trip on every checkout (~10% of an autosave's
    # CPU). A connection that died with a database restart fails its request once and is discarded;
    # recycling keeps idle connections from outliving server-side timeouts.
    # Overflow connections are opened and closed per burst (TLS negotiation included); a fixed pool that
    # queues a burst (up to two minutes) costs less and never exceeds the server's max_connections.
    async_url, connect_args = postgresql_connect_args(
        url, pool_size=pool_size, transaction_pooler=transaction_pooler_setting(transaction_pooler)
    )
    return create_async_engine(
        async_url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,
        pool_recycle=1800,
        connect_args=connect_args,
    )


class Database:
    """An engine and two session factories: one for reads, one for writes.

    On SQLite a write transaction takes the database lock up front (BEGIN IMMEDIATE) and each process
    keeps ONE write connection: concurrent writers then queue in the pool, first come first served,
    instead of polling in SQLite's unfair busy handler (which starves some of them past the timeout).
    Reads keep their own pool; WAL lets them run beside the writer.
    """

    def __init__(
        self, url: str, *, pool_size: int = 20, transaction_pooler: bool | None = None, pool_timeout: float = 120
    ) -> None:
        self.url = url
        self.transaction_pooler = transaction_pooler_setting(transaction_pooler) and not is_sqlite(url)
        self.engine = create_engine(
            url, pool_size=pool_size, transaction_pooler=self.transaction_pooler, pool_timeout=pool_timeout
        )
        self.is_sqlite = is_sqlite(url)
        self.write_engine = self.engine
        if self.is_sqlite:
            self.write_engine = create_async_engine(
                async_database_url(url),
                pool_size=1,
                max_overflow=0,
                pool_timeout=pool_timeout,
                connect_args={"timeout": sqlite_pragmas.BUSY_TIMEOUT_SECONDS},
            )
            _configure_sqlite(self.write_engine)
        # The hot paths' group-commit writer (app.core.sqlite_writer); its thread starts on first use.
        self.sqlite_writer = SQLiteWriter(str(make_url(url).database)) if self.is_sqlite else None
        write_bind = self.write_engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self.read_sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.write_sessions = async_sessionmaker(write_bind, expire_on_commit=False, autoflush=False)

    async def session(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        factory = self.write_sessions if write else self.read_sessions
        async with factory() as session:
            yield session

    async def dispose(self) -> None:
        if self.sqlite_writer is not None:
            await asyncio.to_thread(self.sqlite_writer.close)
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()


# A request that cannot reach the database (no pooled connection in time, too many connections, the
# server restarting or gone) is answered 503 with Retry-After, never 500: the client sends it again.
RETRY_AFTER_SECONDS = 2
UNAVAILABLE_CODE = "database_unavailable"
UNAVAILABLE_DETAIL = "数据库暂时不可用，请稍后重试（database temporarily unavailable, retry）"
_UNAVAILABLE_SQLSTATES = frozenset(
    {
        "53300",  # too_many_connections
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, shutting down)
        "08000",  # connection_exception
        "08001",
        "08003",  # connection_does_not_exist
        "08004",
        "08006",  # connection_failure
    }
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database cannot be reached now, rather than that
    the request or the code is wrong."""
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.TimeoutError):  # no pooled connection within the pool timeout
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, ConnectionError | TimeoutError):
            return True
        if isinstance(current, OSError) and current.errno in {errno.EHOSTUNREACH, errno.ENETUNREACH}:
            return True
        if getattr(current, "sqlstate", None) in _UNAVAILABLE_SQLSTATES:
            return True
        name = type(current).__name__
        if name in {"ConnectionDoesNotExistError", "InterfaceError"} and "connection" in str(current).lower():
            return True  # asyncpg: "connection is closed", "connection was closed in the middle of operation"
        nested = getattr(current, "orig", None)
        current = nested if isinstance(nested, BaseException) else (current.__cause__ or current.__context__)
    return False


def unavailable_body() -> bytes:
    import json

    return json.dumps({"detail": UNAVAILABLE_DETAIL, "code": UNAVAILABLE_CODE}, ensure_ascii=False).encode()
