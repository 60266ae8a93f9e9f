"""Accounts: login sessions, lockout, user administration, the bootstrap administrator."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import column, select, table, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import login_rules
from app.accounts.login_rules import Account, LoginVerdict
from app.accounts.models import AuthSession, Role, User
from app.accounts.principal import Principal
from app.accounts.schemas import PasswordChange, UserCreate, UserUpdate
from app.core.audit import AuditEntry, record_audit
from app.core.config import Settings
from app.core.driver import DriverValues
from app.core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
    UnprocessableError,
    field_error,
)
from app.core.paging import Page, scalar_page
from app.core.security import (
    hash_password,
    hash_password_sync,
    is_pin_hash,
    looks_like_ticket,
    new_session_token,
    token_digest,
    verify_password,
    verify_pin,
)

# Accounts sit below the org domain, so the unit binding is checked against the table by name.
_units = table("units", column("id"))

INVALID_LOGIN = "用户名或密码错误 (invalid username or password)"


@dataclass(frozen=True, slots=True)
class IssuedSession:
    token: str
    expires_at: datetime
    user: Account


# A password nobody has, checked when the username is unknown so that the reply takes as long as for a
# real account: the timing does not tell which usernames exist.
_ABSENT_PIN_HASH = f"hmac-sha256${'0' * 16}${'0' * 64}"


@functools.cache
def _absent_password_hash() -> str:
    return hash_password_sync(secrets.token_urlsafe(16))


async def _credentials_match(account: Account, verdict: LoginVerdict, password: str, settings: Settings) -> bool:
    if verdict is LoginVerdict.ticket:
        return login_rules.pin_matches(account, password, settings.secret_key.get_secret_value())
    return await verify_password(password, account.password_hash)


def _locked_error(locked_until: datetime) -> TooManyRequestsError:
    return TooManyRequestsError(
        f"账号已锁定，请于 {locked_until.isoformat(timespec='seconds')} 后再试，或请监考员解锁 (account locked)"
    )


async def login(
    session: AsyncSession, *, username: str, password: str, settings: Settings, now: datetime
) -> IssuedSession:
    """Check credentials, count failures per account (in SQL), and open a server-side session."""
    dialect = session.get_bind().dialect.name
    values = DriverValues(dialect)
    row = (await session.execute(text(login_rules.ACCOUNT), {"username": username})).mappings().one_or_none()
    account = Account.of(row, values) if row is not None else None
    verdict = login_rules.verdict(account, now)
    if verdict is LoginVerdict.unknown:
        # As long as a real account's check: a PIN's for a ticket-shaped name, a password's otherwise.
        if looks_like_ticket(username):
            verify_pin(password, _ABSENT_PIN_HASH, settings.secret_key.get_secret_value())
        else:
            await verify_password(password, _absent_password_hash())
        raise UnauthorizedError(INVALID_LOGIN)
    assert account is not None
    if verdict is LoginVerdict.locked:
        assert account.locked_until is not None
        raise _locked_error(account.locked_until)
    if not await _credentials_match(account, verdict, password, settings):
        await session.execute(
            text(login_rules.RECORD_FAILURE),
            {
                "user_id": account.id,
                "max_failures": settings.login_max_failures,
                "locked_until": values.time(now + timedelta(minutes=settings.login_lockout_minutes)),
            },
        )
        # The failure count must survive the error response that follows.
        await session.commit()
        raise UnauthorizedError(INVALID_LOGIN)
    if account.has_failures:
        await session.execute(text(login_rules.CLEAR_FAILURES), {"user_id": account.id})
    token = new_session_token()
    expires_at = now + timedelta(hours=settings.session_ttl_hours)
    opened = await session.execute(
        text(login_rules.OPEN_SESSION[dialect]),
        {
            "token_digest": token_digest(token), "user_id": account.id, "created_at": values.time(now),
            "expires_at": values.time(expires_at), "active": values.flag(True),
        },
    )  # fmt: skip
    if opened.first() is None:
        raise UnauthorizedError(INVALID_LOGIN)
    return IssuedSession(token=token, expires_at=expires_at, user=account)


async def unlock_user(session: AsyncSession, *, user_id: int, actor_id: int, now: datetime) -> None:
    """Clear an account's failures and lockout (a proctor lets the holder of the right PIN in)."""
    await session.execute(text(login_rules.CLEAR_FAILURES), {"user_id": user_id})
    await record_audit(session, actor_id=actor_id, action="user.unlock", entity="user", entity_id=user_id, at=now)


async def resolve_token(session: AsyncSession, token: str, now: datetime) -> Principal | None:
    """The principal behind a session token, or None when it is unknown, revoked or expired."""
    digest = token_digest(token)
    row = (
        await session.execute(
            select(User.id, User.username, User.roles, User.unit_id)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(
                AuthSession.token_digest == digest,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
                User.is_active.is_(True),
            )
        )
    ).one_or_none()
    if row is None:
        return None
    return Principal(
        id=row.id,
        username=row.username,
        roles=frozenset(Role(r) for r in row.roles),
        unit_id=row.unit_id,
        session_digest=digest,
    )


async def logout(session: AsyncSession, *, principal: Principal, now: datetime) -> None:
    """Revoke the caller's session."""
    await session.execute(
        update(AuthSession).where(AuthSession.token_digest == principal.session_digest).values(revoked_at=now)
    )


async def revoke_user_sessions(session: AsyncSession, *, user_id: int, now: datetime) -> None:
    """Revoke every open session of a user (disable, password reset)."""
    await revoke_sessions_of_users(session, user_ids=[user_id], now=now)


async def revoke_sessions_of_users(session: AsyncSession, *, user_ids: list[int], now: datetime) -> None:
    """Revoke every open session of these users in one statement (PIN re-issue for a whole exam)."""
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id.in_(user_ids), AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def _check_unit_binding(session: AsyncSession, roles: list[Role], unit_id: int | None) -> None:
    if unit_id is not None and await session.scalar(select(_units.c.id).where(_units.c.id == unit_id)) is None:
        raise UnprocessableError(field_error("unit_id", f"单位 {unit_id} 不存在"))
    if Role.unit_admin in roles and unit_id is None:
        raise UnprocessableError(field_error("unit_id", "单位管理员必须指定所属单位"))


async def create_user(session: AsyncSession, *, data: UserCreate, actor_id: int | None) -> User:
    """Create a staff account."""
    if await session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise ConflictError(f"用户名 {data.username} 已被使用")
    await _check_unit_binding(session, data.roles, data.unit_id)
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=await hash_password(data.password),
        roles=[str(r) for r in data.roles],
        unit_id=data.unit_id,
    )
    session.add(user)
    await session.flush()
    await record_audit(
        session,
        actor_id=actor_id,
        action="user.create",
        entity="user",
        entity_id=user.id,
        detail={"username": user.username, "roles": user.roles, "unit_id": user.unit_id},
    )
    return user


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"用户 {user_id} 不存在")
    return user


async def list_users(session: AsyncSession, *, page: Page) -> tuple[list[User], int]:
    """Staff and examinee accounts, newest last."""
    return await scalar_page(session, select(User).order_by(User.id), page)


async def update_user(session: AsyncSession, *, user_id: int, data: UserUpdate, actor_id: int, now: datetime) -> User:
    """Change roles, unit binding, display name or the active flag (disabling revokes sessions)."""
    user = await get_user(session, user_id)
    changes = data.model_dump(exclude_unset=True)
    if "roles" in changes and changes["roles"] is None:
        raise UnprocessableError(field_error("roles", "角色不能为空"))
    roles = [Role(r) for r in changes.get("roles", user.roles)]
    unit_id = changes.get("unit_id", user.unit_id)
    await _check_unit_binding(session, roles, unit_id)
    if user_id == actor_id and (changes.get("is_active") is False or Role.admin not in roles):
        raise BadRequestError("不能停用自己的账号，也不能取消自己的系统管理员角色")
    before = {"roles": user.roles, "unit_id": user.unit_id, "is_active": user.is_active}
    if "roles" in changes:
        user.roles = [str(r) for r in roles]
    for name in ("unit_id", "display_name", "is_active"):
        if name in changes:
            setattr(user, name, changes[name])
    if changes.get("is_active") is False:
        await revoke_user_sessions(session, user_id=user.id, now=now)
    await session.flush()
    after = {"roles": user.roles, "unit_id": user.unit_id, "is_active": user.is_active}
    await record_audit(
        session,
        actor_id=actor_id,
        action="user.update",
        entity="user",
        entity_id=user.id,
        detail={"before": before, "after": after},
    )
    return user


async def reset_password(session: AsyncSession, *, user_id: int, password: str, actor_id: int, now: datetime) -> None:
    """Set a new password, unlock the account and end its sessions."""
    user = await get_user(session, user_id)
    user.password_hash = await hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    await revoke_user_sessions(session, user_id=user.id, now=now)
    await session.flush()
    await record_audit(session, actor_id=actor_id, action="user.reset_password", entity="user", entity_id=user.id)


async def change_own_password(session: AsyncSession, *, principal: Principal, data: PasswordChange) -> None:
    """A staff member changes his own password after proving the current one."""
    user = await get_user(session, principal.id)
    if is_pin_hash(user.password_hash):
        raise BadRequestError("准考证密码不能在此修改")
    if not await verify_password(data.current_password, user.password_hash):
        raise UnprocessableError(field_error("current_password", "当前密码不正确"))
    user.password_hash = await hash_password(data.new_password)
    await session.flush()
    await record_audit(session, actor_id=principal.id, action="user.change_password", entity="user", entity_id=user.id)


async def ensure_bootstrap_admin(session: AsyncSession, *, username: str, password: str) -> bool:
    """Create the configured administrator once; returns whether it was created.

    Idempotent when several servers start at once: the insert does nothing when another one got there
    first (``ON CONFLICT DO NOTHING``), instead of failing on the unique username.
    """
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        return False  # the common case: no password hash to compute
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(User)
        .values(username=username, password_hash=await hash_password(password), roles=[str(r) for r in Role])
        .on_conflict_do_nothing(index_elements=[User.username])
        .returning(User.id)
    )
    if await session.scalar(statement) is None:
        return False
    await record_audit(
        session, actor_id=None, action="user.bootstrap_admin", entity="user", detail={"username": username}
    )
    return True


async def list_audit(
    session: AsyncSession,
    *,
    entity: str | None,
    entity_id: str | None,
    actor_id: int | None,
    action: str | None,
    page: Page,
) -> tuple[list[AuditEntry], int]:
    """A page of the audit rows, newest first, filtered, and how many the filters select."""
    query = select(AuditEntry)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    return await scalar_page(session, query.order_by(AuditEntry.id.desc()), page)
