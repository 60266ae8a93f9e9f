"""Request-scoped dependencies shared by every domain: the database session, the clock, the settings, the
time the request arrived (decided by ``app.core.arrival``).

They are ``async def`` so FastAPI calls them on the event loop instead of hopping to a worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.arrival import arrival_time
from app.core.clock import Clock
from app.core.config import Settings
from app.core.db import Database
from app.core.errors import ConflictError


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; services flush, this commits once the handler returned without error.

    The commit happens before the response is sent, so a reply means the write is durable.
    """
    database: Database = request.app.state.database
    write = request.method not in {"GET", "HEAD", "OPTIONS"}
    factory = database.write_sessions if write else database.read_sessions
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


@asynccontextmanager
async def commit_on_conflict(session: AsyncSession) -> AsyncIterator[None]:
    """On a 409, commit what was done on the way (an overdue attempt submitted) before refusing; on success
    the request's session dependency commits before the reply is sent; any other error rolls back."""
    try:
        yield
    except ConflictError:
        await session.commit()
        raise


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session that only reads, beside the request's own: on SQLite it never takes the write lock, so a
    long check (an import's validation and duplicate search) runs while the exam keeps writing."""
    database: Database = request.app.state.database
    async with database.read_sessions() as session:
        yield session


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# The ASGI scope's key for the moment the request reached the application (``app.core.lane.LaneApplication``
# stamps it before anything else runs).
ARRIVED_AT = "exambank.arrived_at"


def arrival_of(scope: Any, app: Any) -> datetime:
    """When the request of ``scope`` arrived (``app.core.arrival``): its stamp, or decided now."""
    arrived: datetime | None = scope.get(ARRIVED_AT)
    if arrived is None:
        arrived = arrival_time(scope, app.state.clock.now(), app.state.settings.trusted_proxies)
    return arrived


async def get_arrival_time(request: Request) -> datetime:
    """When the request arrived — not when its handler runs, which under load may be seconds later (its
    write session waited for the lock): a deadline is judged by it."""
    return arrival_of(request.scope, request.app)


# scope="function": the commit runs as soon as the handler returns, before the response is sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
ArrivalDep = Annotated[datetime, Depends(get_arrival_time)]
