"""Request-scoped dependencies shared by every domain: the database session, the clock, the settings.

They are ``async def`` so FastAPI calls them on the event loop instead of hopping to a worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import Clock
from app.core.config import Settings
from app.core.db import Database


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


# scope="function": the commit runs as soon as the handler returns, before the response is sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
