"""The application factory: settings, database, background sweeper, routers and error handlers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.types import Scope

from app.accounts import lane as accounts_lane
from app.accounts import service as accounts_service
from app.accounts.dependencies import get_principal, token_from
from app.accounts.router import router as accounts_router
from app.bank.importer import discard_abandoned_imports
from app.bank.router import router as bank_router
from app.core import metrics
from app.core.clock import Clock, SystemClock
from app.core.config import Settings, get_settings
from app.core.db import RETRY_AFTER_SECONDS, Database, database_unavailable, unavailable_body
from app.core.deps import get_session
from app.core.errors import AppError, ImportRejectedError, capped_validation_errors
from app.core.gc_tuning import tune_for_serving
from app.core.http_guard import HttpGuard
from app.core.lane import LaneApplication, request_session
from app.core.logging import configure_logging, get_logger
from app.core.openapi import install_openapi, integer_query_parameters
from app.exams.admission.seats import router as seats_router
from app.exams.proctoring.router import router as proctoring_router
from app.exams.room import lane as exams_lane
from app.exams.room.attempts_router import router as attempts_router
from app.exams.room.sweeper import run_sweeper
from app.exams.router import router as exams_router
from app.handbook.router import router as handbook_router
from app.learning.router import router as learning_router
from app.operations import router as operations_router
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


async def _discard_abandoned_imports(database: Database, clock: Clock) -> None:
    # What an import that died with its process staged is invisible; its rows go at start-up (or the
    # next import). Not fatal: the server serves without this.
    try:
        async with database.write_sessions() as session:
            discarded = await discard_abandoned_imports(session, now=clock.now())
    except Exception:
        log.warning("abandoned imports not cleaned at start-up", exc_info=True)
        return
    if discarded:
        log.info("staged rows of abandoned imports deleted", imports=discarded)


def _watch_pools(database: Database) -> None:
    metrics.watch_pool(database.engine)
    if database.write_engine is not database.engine:
        metrics.watch_pool(database.write_engine)


def _out_of_range(exc: BaseException) -> bool:
    """Whether a database error says a value was out of range (a number too large for its column)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OverflowError) or type(seen).__name__ == "DataError":
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _authenticated(app: FastAPI, scope: Scope) -> bool:
    """Whether the request's session token is valid (checked before an upload is read)."""
    token = token_from(Request(scope))
    if not token:
        return False
    now = app.state.clock.now()
    if get_session in app.dependency_overrides:
        async with request_session(app) as session:
            return await accounts_service.resolve_token(session, token, now) is not None
    async with app.state.database.read_sessions() as session:
        return await accounts_service.resolve_token(session, token, now) is not None


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
        app.state.database = database or Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            transaction_pooler=settings.db_transaction_pooler,
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        _watch_pools(app.state.database)
        await _bootstrap_admin(app.state.database, settings)
        await _discard_abandoned_imports(app.state.database, app.state.clock)
        jobs = [asyncio.create_task(metrics.flush_periodically())]
        if background and settings.run_sweeper:
            jobs += [asyncio.create_task(task(app)) for task in BACKGROUND_TASKS]
        try:
            yield
        finally:
            for job in jobs:
                job.cancel()
            if owns_database:
                await app.state.database.dispose()
            metrics.forget_process()

    # The interactive documentation is off in production unless asked for.
    docs = settings.environment != "production" or settings.docs_enabled
    app = LaneApplication(
        title="exambank",
        version="0.1.0",
        lifespan=lifespan,
        description="“基本理论+”考试系统：题库、组卷、准考证、在线考试、阅卷、统计与通报。 Every call but login and"
        " health sends `Authorization: Bearer <access_token>` (the Authorize button above).",
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
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

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # The errors without the input they were given (a 5 MB body must not come back as 5 MB).
        return JSONResponse({"detail": capped_validation_errors(exc.errors())}, status_code=422)

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> Response:
        # A value the database refused as out of range is the client's; a database that is gone or gave
        # no connection in time is 503 (the page resends); anything else is ours.
        if isinstance(exc, DataError) or _out_of_range(exc):
            log.warning("value refused by the database", error=str(exc.orig)[:200])
            return JSONResponse({"detail": "输入值超出允许范围 (a value is out of range)"}, status_code=422)
        if database_unavailable(exc):
            return await _unavailable(request, exc)
        log.error("database error", error=str(exc.orig)[:500])
        return JSONResponse({"detail": "服务器内部错误 (internal error)"}, status_code=500)

    @app.exception_handler(OverflowError)
    async def _overflow_error(_request: Request, _exc: OverflowError) -> JSONResponse:
        return JSONResponse({"detail": "输入值超出允许范围 (a value is out of range)"}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(_request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error", error=str(exc.orig))
        return JSONResponse({"detail": "修改与已有数据冲突"}, status_code=409)

    async def _unavailable(_request: Request, exc: Exception) -> Response:
        if not database_unavailable(exc):
            raise exc
        log.warning("database unavailable", error=f"{type(exc).__name__}: {exc}")
        return Response(
            unavailable_body(),
            status_code=503,
            media_type="application/json",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    # No connection in time, the database restarting or gone: 503 with Retry-After (the page resends).
    for unavailable in (sa_exc.TimeoutError, ConnectionError, TimeoutError, OSError):
        app.add_exception_handler(unavailable, _unavailable)

    # The hot paths (ticket login, first start, autosave, submit) are settled ahead of the application
    # when they can be; see app.core.lane.
    app.use_lane([*accounts_lane.LANE_ROUTES, *exams_lane.LANE_ROUTES])
    app.use_guard(
        HttpGuard(
            authenticate=partial(_authenticated, app),
            public_paths=frozenset({"/api/auth/login"}),
            integer_params=partial(integer_query_parameters, app),
        )
    )
    for router in (
        operations_router,
        accounts_router,
        org_router,
        bank_router,
        papers_router,
        exams_router,
        attempts_router,
        proctoring_router,
        seats_router,
        handbook_router,
        learning_router,
        reports_router,
        web_router,
    ):
        app.include_router(router)
    install_openapi(app, authenticated_by={get_principal})
    return app
