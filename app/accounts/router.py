from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.accounts import service
from app.accounts.dependencies import SESSION_COOKIE, AdminPrincipal, CurrentPrincipal, set_session_cookie
from app.accounts.schemas import (
    AuditRead,
    LoginRequest,
    LoginResponse,
    PasswordChange,
    PasswordReset,
    UserBrief,
    UserCreate,
    UserRead,
    UserUpdate,
)
from app.core.deps import ClockDep, SessionDep, SettingsDep
from app.core.paging import Paged, PageQuery

router = APIRouter(tags=["accounts"])


@router.post("/api/auth/login", response_model=LoginResponse)
async def login(
    body: LoginRequest, response: Response, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> LoginResponse:
    """Log in with a username and password, or an admission ticket number and its PIN; returns the bearer token."""
    issued = await service.login(
        session, username=body.username, password=body.password, settings=settings, now=clock.now()
    )
    set_session_cookie(response, issued.token, settings)
    return LoginResponse(
        access_token=issued.token, expires_at=issued.expires_at, user=UserBrief.model_validate(issued.user)
    )


@router.post("/api/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, response: Response, session: SessionDep, clock: ClockDep) -> None:
    """End the caller's login session."""
    await service.logout(session, principal=principal, now=clock.now())
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/api/auth/me", response_model=UserBrief)
async def me(principal: CurrentPrincipal) -> UserBrief:
    """The caller: id, username, roles and unit."""
    return UserBrief(
        id=principal.id, username=principal.username, roles=sorted(principal.roles), unit_id=principal.unit_id
    )


@router.post("/api/auth/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordChange, principal: CurrentPrincipal, session: SessionDep) -> None:
    """Change the caller's own password (the current one is required)."""
    await service.change_own_password(session, principal=principal, data=body)


@router.post("/api/users", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, admin: AdminPrincipal, session: SessionDep) -> UserRead:
    """Create a staff account (administrators only)."""
    user = await service.create_user(session, data=body, actor_id=admin.id)
    return UserRead.model_validate(user)


@router.get("/api/users", response_model=Paged[UserRead])
async def list_users(admin: AdminPrincipal, session: SessionDep, page: PageQuery) -> Paged[UserRead]:
    """Staff and examinee accounts, oldest first, a page at a time: `{items, total}` (administrators only)."""
    users, total = await service.list_users(session, page=page)
    return Paged[UserRead](items=[UserRead.model_validate(u) for u in users], total=total)


@router.patch("/api/users/{user_id}", response_model=UserRead)
async def update_user(
    user_id: int, body: UserUpdate, admin: AdminPrincipal, session: SessionDep, clock: ClockDep
) -> UserRead:
    """Change an account's roles, unit, name or active flag (administrators only)."""
    user = await service.update_user(session, user_id=user_id, data=body, actor_id=admin.id, now=clock.now())
    return UserRead.model_validate(user)


@router.post("/api/users/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT)
async def reset_password(
    user_id: int, body: PasswordReset, admin: AdminPrincipal, session: SessionDep, clock: ClockDep
) -> None:
    """Set a new password for an account and end its sessions (administrators only)."""
    await service.reset_password(session, user_id=user_id, password=body.password, actor_id=admin.id, now=clock.now())


@router.get("/api/audit", response_model=Paged[AuditRead])
async def list_audit(
    admin: AdminPrincipal,
    session: SessionDep,
    page: PageQuery,
    entity: str | None = None,
    entity_id: str | None = None,
    actor_id: int | None = None,
    action: str | None = None,
) -> Paged[AuditRead]:
    """The audit log, newest first, a page at a time: `{items, total}` (administrators only)."""
    rows, total = await service.list_audit(
        session,
        entity=entity,
        entity_id=entity_id,
        actor_id=actor_id,
        action=action,
        page=page,
    )
    return Paged[AuditRead](items=[AuditRead.model_validate(r) for r in rows], total=total)
