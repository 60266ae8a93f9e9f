"""Authentication and role checks as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service
from app.accounts.models import Role
from app.accounts.principal import Principal
from app.core.config import Settings
from app.core.deps import ClockDep, SessionDep
from app.core.errors import ForbiddenError, UnauthorizedError
from app.core.labels import needs_roles

SESSION_COOKIE = "exambank_session"


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    """The login session's cookie: HTTP-only, same-site strict, secure in production."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.environment == "production",
        max_age=settings.session_ttl_hours * 3600,
        path="/",
    )


def token_from(request: Request) -> str | None:
    """The session token of a request: ``Authorization: Bearer …`` or the session cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            return token.strip()
    return request.cookies.get(SESSION_COOKIE)


async def principal_of(request: Request, session: AsyncSession, now: datetime) -> Principal:
    """The caller behind the request's token; 401 when there is none or it is expired or revoked."""
    token = token_from(request)
    if not token:
        raise UnauthorizedError("请先登录")
    principal = await service.resolve_token(session, token, now)
    if principal is None:
        raise UnauthorizedError("登录已过期或已失效，请重新登录")
    request.state.principal = principal
    return principal


async def get_principal(request: Request, session: SessionDep, clock: ClockDep) -> Principal:
    return await principal_of(request, session, clock.now())


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through admins and anyone holding one of ``roles``."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any(*roles):
            raise ForbiddenError(needs_roles(roles))
        return principal

    return check


AdminPrincipal = Annotated[Principal, Depends(require_roles(Role.admin))]
