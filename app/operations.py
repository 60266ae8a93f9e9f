"""Routes for the proxy and the people running the servers: health, readiness, Prometheus metrics.

* ``GET /api/health`` — liveness: the process answers and so does its database.
* ``GET /api/ready``  — readiness for a proxy or an orchestrator: the database answers within a few seconds
  and its schema is the one this code expects (a server started on a database not yet migrated, or one
  left behind by a newer release, must not be sent examinees). 503 with ``Retry-After`` otherwise.
* ``GET /metrics``    — the Prometheus text format (``app.core.metrics``); the reference nginx
  configuration does not pass it through: scrape each server directly.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from functools import lru_cache

from alembic.script import ScriptDirectory
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics
from app.core.deps import ClockDep, SessionDep, SettingsDep
from app.core.migrate import alembic_config
from app.exams.room.attempts import ATTEMPTS
from app.exams.room.rules import IN_PROGRESS

router = APIRouter(tags=["operations"])

READY_TIMEOUT_SECONDS = 3.0
RETRY_AFTER_SECONDS = 5


@lru_cache(maxsize=1)
def expected_schema_revisions() -> frozenset[str]:
    """The Alembic head revisions of this code's migrations (read once)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())


@router.get("/api/health")
async def health(session: SessionDep) -> dict[str, str]:
    """`{"status": "ok"}` once the database answers (no login)."""
    await session.execute(text("SELECT 1"))
    return {"status": "ok"}


async def _schema_revisions(session: AsyncSession) -> frozenset[str]:
    rows = await session.execute(text("SELECT version_num FROM alembic_version"))
    return frozenset(str(row[0]) for row in rows)


def _not_ready(detail: str, code: str) -> JSONResponse:
    return JSONResponse(
        {"status": "unavailable", "code": code, "detail": detail},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class ReadyRead(BaseModel):
    """The readiness reply: ``ready`` and the schema revisions the database is at."""

    status: str
    schema_revisions: list[str] = Field(alias="schema")


@router.get(
    "/api/ready",
    responses={
        200: {"model": ReadyRead, "description": "可以接收请求"},
        503: {"description": "数据库不可用或数据库结构不是最新版本"},
    },
)
async def ready(session: SessionDep) -> Response:
    """Whether this server should be sent requests: its database answers and is migrated to this code's head."""
    expected = await asyncio.to_thread(expected_schema_revisions)
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            found = await _schema_revisions(session)
    except TimeoutError:
        return _not_ready(f"数据库在 {READY_TIMEOUT_SECONDS:g} 秒内未响应", "database_timeout")
    except Exception as exc:  # any driver or pool error means the same to a proxy: not now
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return _not_ready(f"数据库无法访问：{message}", "database_unavailable")
    if found != expected:
        shown = "、".join(sorted(found)) or "无"
        wanted = "、".join(sorted(expected))
        return _not_ready(
            f"数据库结构版本为 {shown}，本程序需要 {wanted}：请先运行 exambank migrate", "schema_not_current"
        )
    return JSONResponse({"status": "ready", "schema": sorted(found)})


async def database_figures(session: AsyncSession, *, now: datetime, grace_seconds: float) -> dict[str, float]:
    """The figures every server reports alike: the sweeper's lag and the attempts in progress."""
    cutoff = now - timedelta(seconds=grace_seconds)
    overdue = (ATTEMPTS.c.status == IN_PROGRESS, ATTEMPTS.c.deadline_at < cutoff)
    oldest = await session.scalar(select(func.min(ATTEMPTS.c.deadline_at)).where(*overdue))
    in_progress = await session.scalar(select(func.count()).where(ATTEMPTS.c.status == IN_PROGRESS))
    lag = 0.0 if oldest is None else (cutoff - oldest).total_seconds()
    return {"sweeper_lag_seconds": lag, "attempts_in_progress": float(in_progress or 0)}


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(session: SessionDep, clock: ClockDep, settings: SettingsDep) -> Response:
    figures = await database_figures(session, now=clock.now(), grace_seconds=settings.save_grace_seconds)
    metrics.flush()  # this worker's requests up to now; the others' reach their files each second
    body = await asyncio.to_thread(metrics.render, figures)
    return Response(body, media_type=metrics.CONTENT_TYPE)
