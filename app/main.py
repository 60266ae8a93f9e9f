"""The application factory: settings, database, background sweeper, routers and error handlers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.accounts import lane as accounts_lane
from app.accounts import service as accounts_service
from app.accounts.dependencies import get_principal
from app.accounts.router import router as accounts_router
from app.bank.router import router as bank_router
from app.core.clock import Clock, SystemClock
from app.core.config import Settings, get_settings
from app.core.db import Database
from app.core.deps import SessionDep
from app.core.errors import AppError, ImportRejectedError
from app.core.gc_tuning import tune_for_serving
from app.core.lane import LaneApplication
from app.core.logging import configure_logging, get_logger
from app.core.openapi import install_openapi
from app.exams.admission.seats import router as seats_router
from app.exams.room import lane as exams_lane
from app.exams.room.attempts_router import router as attempts_router
from app.exams.room.sweeper import run_sweeper
from app.exams.router import router as exams_router
from app.handbook.router import router as handbook_router
from app.learning.router import router as learning_router
from app.org.router import router as org_router
from app.papers.router import router as papers_router
from app.reports.router import router as reports_router
from app.web.router import router as web_router

log = get_logger("exambank")

BackgroundTask = Callable[[FastAPI], Coroutine[Any, Any, None]]
BACKGROUND_TASKS: tuple[BackgroundTask, ...] = (run_sweeper,)


async def _bootstrap_admin(database: Database, settings: Settings) -> None:
    if not (settings.admin_username and settings.admin_password):
        return
    async with database.write_sessions() as session:
        created = await accounts_service.ensure_bootstrap_admin(
            session, username=settings.admin_username, password=settings.admin_password.get_secret_value()
        )
        await session.commit()
    if created:
        log.info("bootstrap administrator created", username=settings.admin_username)


def create_served_app() -> FastAPI:
    """The application as ``exambank serve`` runs it in each worker process: configured from the
    environment, with the garbage collector tuned for serving (``app.core.gc_tuning``)."""
    app = create_app()
    tune_for_serving()
    return app


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    background: bool = True,
) -> FastAPI:
    """Build the exambank application; tests pass their own database and clock."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owns_database = database is None
        app.state.database = database or Database(settings.database_url, pool_size=settings.db_pool_size)
        await _bootstrap_admin(app.state.database, settings)
        jobs: list[asyncio.Task[None]] = []
        if background and settings.run_sweeper:
            jobs = [asyncio.create_task(task(app)) for task in BACKGROUND_TASKS]
        try:
            yield
        finally:
            for job in jobs:
                job.cancel()
            if owns_database:
                await app.state.database.dispose()

    app = LaneApplication(
        title="exambank", version="0.1.0", lifespan=lifespan,
        description="“基本理论+”考试系统：题库、组卷、准考证、在线考试、阅卷、统计与通报。 Every call but login and"
        " health sends `Authorization: Bearer <access_token>` (the Authorize button above).",
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    if database is not None:
        app.state.database = database

    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        if isinstance(exc, ImportRejectedError):
            return JSONResponse(exc.body(), status_code=exc.status_code)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(_request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error", error=str(exc.orig))
        return JSONResponse({"detail": "修改与已有数据冲突"}, status_code=409)

    @app.get("/api/health", tags=["health"])
    async def health(session: SessionDep) -> dict[str, str]:
        """`{"status": "ok"}` once the database answers (no login)."""
        await session.execute(text("SELECT 1"))
        return {"status": "ok"}

    # The hot paths (ticket login, first start, autosave, submit) are settled ahead of the application
    # when they can be; see app.core.lane.
    app.use_lane([*accounts_lane.LANE_ROUTES, *exams_lane.LANE_ROUTES])
    for router in (
        accounts_router,
        org_router,
        bank_router,
        papers_router,
        exams_router,
        attempts_router,
        seats_router,
        handbook_router,
        learning_router,
        reports_router,
        web_router,
    ):
        app.include_router(router)
    install_openapi(app, authenticated_by={get_principal})
    return app
