"""The hot-path lane: an ASGI layer that serves the few requests thousands of examinees send at once.

FastAPI's routing over every route, its dependency solving and response validation cost more Python per
request than the whole of an autosave's own work. The lane sits in front of the whole application
(``LaneApplication``: ahead of FastAPI's telemetry check and Starlette's middleware stack too). For a
request matching one of its routes it reads the body and calls the route's handler, which either
settles the request itself (the common case: a valid save, a first start, a correct ticket login) and
returns a ``LaneReply``, or returns ``None`` — or raises an ``AppError`` — when the request needs
anything more (an error to explain, a resume, a lockout; or its batch failed, ``app.core.batches``).
Then the handler's transaction is rolled back and the request goes on, body replayed, to the FastAPI
route of the same path: that route is the reference implementation and what the OpenAPI document
describes, so a client can never tell which of the two answered.

Every HTTP request is stamped with the time it arrived (``app.core.deps.ARRIVED_AT``, decided by
``app.core.arrival``: the application's clock, or a trusted proxy's stamp) before anything else runs; the
lane's handlers and the routes judge deadlines by it.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.core.asgi_body import read_body
from app.core.batches import Batches, BatchFailed, Pending
from app.core.db import RETRY_AFTER_SECONDS, database_unavailable, unavailable_body
from app.core.deps import ARRIVED_AT, arrival_of, get_session
from app.core.driver import Driver, DriverRow, driver_for, pooled_driver, release_pooled
from app.core.errors import AppError
from app.core.http_guard import BODY, HttpGuard, send_refusal, with_security_headers
from app.core.metrics import LANE_ROUTE, count_request
from app.core.sqlite_writer import Job, SQLiteWriter, run_job

T = TypeVar("T")
B = TypeVar("B", bound=Batches)

MAX_LANE_BODY = 64 * 1024  # larger bodies go the ordinary way (an autosave of 45 answers is ~1 KB)


@dataclass(slots=True)
class LaneReply:
    body: bytes
    status: int = 200
    headers: Sequence[tuple[bytes, bytes]] = ()


@dataclass(slots=True)
class LaneCall:
    """What a lane handler gets: the application, the path parameters, the headers, the raw body and the
    time the request arrived; the request's write session when it asks for one."""

    app: Any
    params: Mapping[str, str]
    headers: Mapping[bytes, bytes]
    body: bytes
    arrived_at: datetime
    _stack: AsyncExitStack | None = None  # what the request opened (a session, a pooled connection), if anything
    _session: AsyncSession | None = None
    _driver: Driver | None = None
    _pooled: Any = None

    @property
    def state(self) -> Any:
        return self.app.state

    @property
    def stack(self) -> AsyncExitStack:
        """Closed when the handler is done: committed if it settled the request, rolled back if not."""
        if self._stack is None:
            self._stack = AsyncExitStack()
        return self._stack

    def bearer_token(self, cookie_name: str) -> str | None:
        """The session token: ``Authorization: Bearer …`` or the session cookie."""
        header = self.headers.get(b"authorization")
        if header:
            scheme, _, token = header.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        cookie = self.headers.get(b"cookie")
        if cookie:
            return cookie_parser(cookie.decode("latin-1")).get(cookie_name)
        return None

    async def session(self) -> AsyncSession:
        """The request's write session, opened on first use; committed if the handler settles the
        request, rolled back if it does not."""
        if self._session is None:
            self._session = await self.stack.enter_async_context(request_session(self.app))
        return self._session

    @property
    def session_overridden(self) -> bool:
        """Whether the request's session is an override of ``get_session`` (the tests' rolled-back
        transaction): then no write may leave the request's own connection."""
        return get_session in self.app.dependency_overrides

    async def driver(self) -> Driver:
        """PostgreSQL, for handlers whose every write is one statement: driver-level statements that commit
        on their own, on a connection straight from the engine's pool — no ORM session — or, when the
        request's session is overridden (the tests), on that session's connection and transaction."""
        if self.session_overridden:
            return await driver_for(await self.session(), transaction=False)
        if self._driver is None:
            self._pooled = await self.app.state.database.engine.raw_connection()
            self.stack.push_async_callback(self.release_driver)
            self._driver = pooled_driver(self._pooled)
        return self._driver

    async def release_driver(self) -> None:
        """Give the pooled connection of ``driver()`` back now (before waiting on something that needs
        connections of its own); a later ``driver()`` checks out another."""
        pooled, self._pooled, self._driver = self._pooled, None, None
        if pooled is not None:
            await release_pooled(pooled)

    async def batched(self, kind: type[B], pending: Pending) -> DriverRow | None:
        """Send ``pending`` with this process's batches of ``kind`` — or, when the request's session is
        overridden, the same statement alone on that session's connection."""
        if self.session_overridden:
            return await self.batches(kind).send_alone(await self.driver(), pending)
        await self.release_driver()  # the batch takes a connection of its own
        return await self.batches(kind).send(pending)

    def batches(self, kind: type[B]) -> B:
        """This process's batches of ``kind`` (``app.core.batches``) for the application's database."""
        name = f"lane_{kind.__module__}.{kind.__qualname__}"
        batches: B | None = getattr(self.app.state, name, None)
        if batches is None:
            batches = kind(self.app.state.database)
            setattr(self.app.state, name, batches)
        return batches

    @property
    def is_sqlite(self) -> bool:
        return bool(self.app.state.database.is_sqlite)

    async def run_sqlite_job(self, job: Job[T]) -> T:
        """A SQLite write job: on the process's group-commit writer, or — when the request's session is
        overridden (the tests' rolled-back transaction) — on that session's connection."""
        writer: SQLiteWriter | None = self.app.state.database.sqlite_writer
        if writer is None or self.session_overridden:
            result: T = await run_job(await self.session(), job)
            return result
        return await writer.run(job)


LaneHandler = Callable[[LaneCall], Awaitable[LaneReply | None]]


@dataclass(frozen=True, slots=True)
class LaneRoute:
    method: str
    path: str  # "/api/attempts/{attempt_id}/answers"; parameters are integers
    handler: LaneHandler

    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[0-9]{1,18})", self.path) + "$")


@asynccontextmanager
async def request_session(app: Any) -> AsyncIterator[AsyncSession]:
    """The write session a FastAPI handler would get from ``get_session`` (or from an override of it,
    which takes no parameters, as the tests' does): committed when the block ends normally, rolled back
    on an exception."""
    provider = app.dependency_overrides.get(get_session)
    if provider is None:
        async with app.state.database.write_sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
        return
    generator = provider()
    session = await generator.__anext__()
    try:
        yield session
    except BaseException as exc:
        await generator.athrow(exc)
        raise
    else:
        with suppress(StopAsyncIteration):
            await generator.__anext__()


# The database cannot be reached: answered here, as the application would (app.main), with no retry.
UNAVAILABLE_REPLY = LaneReply(
    body=unavailable_body(), status=503, headers=((b"retry-after", str(RETRY_AFTER_SECONDS).encode()),)
)


class _Fallthrough(Exception):
    """The handler could not settle the request: roll back and let the application answer it."""


class HotPathLane:
    def __init__(self, app: ASGIApp, routes: Sequence[LaneRoute]) -> None:
        self.app = app
        self.routes: dict[str, list[tuple[re.Pattern[str], LaneRoute]]] = {}
        for route in routes:
            self.routes.setdefault(route.method, []).append((route.pattern(), route))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        candidates = self.routes.get(scope.get("method", "")) if scope["type"] == "http" else None
        if candidates:
            path = scope["path"]
            for pattern, route in candidates:
                match = pattern.match(path)
                if match is not None:
                    await self._serve(route, match.groupdict(), scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(
        self, route: LaneRoute, params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        body: bytes | None = scope.get(BODY)  # read whole by the HTTP guard, which replays it to ``receive``
        if body is None:
            buffered = await read_body(receive, MAX_LANE_BODY)
            receive = buffered.replaying(receive)
            body = buffered.body if buffered.complete else None
        reply = None
        if body is not None and len(body) <= MAX_LANE_BODY:
            app = scope["app"]
            call = LaneCall(
                app=app, params=params, headers=dict(scope["headers"]), body=body, arrived_at=arrival_of(scope, app)
            )
            reply = await self._settle(route.handler, call)
        if reply is None:
            await self.app(scope, receive, send)
            return
        scope[LANE_ROUTE] = route.path  # counted under the lane's route (app.core.metrics)
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(reply.body)).encode()),
                    *reply.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})

    @staticmethod
    async def _settle(handler: LaneHandler, call: LaneCall) -> LaneReply | None:
        try:
            try:
                reply = await handler(call)
                if reply is None:
                    raise _Fallthrough
            except BaseException as exc:
                # What the handler opened sees the exception (a session rolls back), as ``async with`` would.
                if call._stack is not None and await call._stack.__aexit__(type(exc), exc, exc.__traceback__):
                    return None
                raise
            if call._stack is not None:
                await call._stack.aclose()  # a session commits
            return reply
        except (_Fallthrough, AppError, BatchFailed) as exc:
            if isinstance(exc, BatchFailed) and database_unavailable(exc):
                return UNAVAILABLE_REPLY
            return None
        except Exception as exc:
            if database_unavailable(exc):
                return UNAVAILABLE_REPLY
            raise


class LaneApplication(FastAPI):
    """A FastAPI application with its front in one layer, ahead of everything else: each HTTP request is
    stamped with its arrival, passes the HTTP guard (``app.core.http_guard``) and goes to the hot-path
    lane, which leaves to FastAPI (its telemetry, middleware, router) what it does not settle; the reply
    gets the guard's security headers, and the request is counted (``app.core.metrics``)."""

    _lane: HotPathLane | None = None
    _guard: HttpGuard | None = None
    _proxy_headers: ASGIApp | None = None
    lane_enabled = True  # off: every request goes the ordinary way (the tests compare both)

    def use_lane(self, routes: Sequence[LaneRoute]) -> None:
        self._lane = HotPathLane(partial(FastAPI.__call__, self), routes)

    def use_guard(self, guard: HttpGuard) -> None:
        self._guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        scope[ARRIVED_AT] = arrival_of(scope, self)  # from the TCP peer, before X-Forwarded-For names the client
        scope["app"] = self
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = with_security_headers(message)
            await send(message)

        try:
            refusal = None
            if self._guard is not None:
                refusal, receive = await self._guard.check(scope, receive)
            if refusal is None:
                await self._forwarded(scope, receive, sending)
            else:
                await send_refusal(sending, refusal)
        finally:
            count_request(scope, status, time.perf_counter() - started)

    async def _forwarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The client behind a trusted proxy (``EXAMBANK_TRUSTED_PROXIES``) is the one its X-Forwarded-For
        names, for the logs (``exambank serve`` leaves uvicorn's own rewriting off: the arrival needs the
        TCP peer)."""
        served = self._proxy_headers
        if served is None:
            proxies = self.state.settings.trusted_proxies
            served = self._serve_http
            if proxies:
                forwarded = ProxyHeadersMiddleware(served, trusted_hosts=[str(p) for p in proxies])  # type: ignore[arg-type]
                served = forwarded  # type: ignore[assignment]
            self._proxy_headers = served
        await served(scope, receive, send)

    async def _serve_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._lane is not None and self.lane_enabled:
            await self._lane(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)
