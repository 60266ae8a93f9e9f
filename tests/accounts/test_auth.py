from datetime import timedelta

import httpx2
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role, User
from app.accounts.service import ensure_bootstrap_admin
from app.core.clock import FrozenClock
from app.core.config import Settings
from tests.factories import PASSWORD, make_user


async def login(client: httpx2.AsyncClient, username: str, password: str = PASSWORD) -> httpx2.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_login_returns_bearer_token_and_httponly_cookie(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session, Role.organiser)
    response = await login(client, user.username)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"] == {
        "id": user.id,
        "username": user.username,
        "roles": ["organiser"],
        "unit_id": None,
        "display_name": None,
    }
    cookie = response.headers["set-cookie"]
    assert "exambank_session=" in cookie and "HttpOnly" in cookie
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == user.username


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session, Role.organiser)
    wrong = await login(client, user.username, "not the password")
    unknown = await login(client, "nobody-here", "whatever")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_requests_without_token_are_refused(client: httpx2.AsyncClient) -> None:
    assert (await client.get("/api/units")).status_code == 401
    assert (await client.get("/api/units", headers={"Authorization": "Bearer forged"})).status_code == 401


async def test_lockout_is_per_account_and_expires(
    client: httpx2.AsyncClient, session: AsyncSession, settings: Settings, clock: FrozenClock
) -> None:
    user = await make_user(session, Role.proctor)
    other = await make_user(session, Role.proctor)
    for _ in range(settings.login_max_failures):
        assert (await login(client, user.username, "bad password")).status_code == 401
    locked = await login(client, user.username)
    assert locked.status_code == 429
    assert "锁定" in locked.json()["detail"]
    # The same office (same address) can still log in with another account.
    assert (await login(client, other.username)).status_code == 200
    clock.advance(minutes=settings.login_lockout_minutes + 1)
    assert (await login(client, user.username)).status_code == 200


async def test_logout_revokes_the_session(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session, Role.supervisor)
    token = (await login(client, user.username)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 401


async def test_session_expires(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock, settings: Settings
) -> None:
    user = await make_user(session, Role.supervisor)
    token = (await login(client, user.username)).json()["access_token"]
    clock.advance(hours=settings.session_ttl_hours, seconds=1)
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_cookie_authenticates_pages(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session, Role.supervisor)
    token = (await login(client, user.username)).json()["access_token"]
    client.cookies.set("exambank_session", token)
    assert (await client.get("/api/auth/me")).status_code == 200


async def test_bootstrap_admin_is_created_once_with_all_roles(session: AsyncSession) -> None:
    assert await ensure_bootstrap_admin(session, username="root-admin", password="a long admin password")
    assert not await ensure_bootstrap_admin(session, username="root-admin", password="another")
    admin = await session.scalar(select(User).where(User.username == "root-admin"))
    assert admin is not None and set(admin.roles) == {str(r) for r in Role}


def test_default_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="EXAMBANK_SECRET_KEY"):
        Settings(environment="production")
    assert Settings(environment="production", secret_key="x" * 40).environment == "production"


def test_clock_offsets_are_explicit() -> None:
    clock = FrozenClock()
    start = clock.now()
    assert clock.advance(seconds=5) - start == timedelta(seconds=5)
