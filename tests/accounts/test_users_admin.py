import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from tests.factories import auth_headers, headers_for, make_unit, make_user


async def test_admin_creates_user_and_it_is_audited(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    admin = await make_user(session, Role.admin)
    headers = await auth_headers(session, admin)
    unit = await make_unit(session)
    response = await client.post(
        "/api/users",
        json={
            "username": "li.ming",
            "password": "long enough pw",
            "roles": ["unit_admin"],
            "unit_id": unit.id,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["roles"] == ["unit_admin"] and created["unit_id"] == unit.id
    login = await client.post("/api/auth/login", json={"username": "li.ming", "password": "long enough pw"})
    assert login.status_code == 200
    audit = await client.get("/api/audit", params={"entity": "user", "entity_id": str(created["id"])}, headers=headers)
    assert audit.status_code == 200
    (entry,) = audit.json()["items"]
    assert entry["action"] == "user.create" and entry["actor_id"] == admin.id


async def test_user_validation_names_the_field(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.admin)
    no_unit = await client.post(
        "/api/users",
        json={"username": "ua", "password": "long enough pw", "roles": ["unit_admin"]},
        headers=headers,
    )
    assert no_unit.status_code == 422 and "unit_id" in no_unit.text
    bad_role = await client.post(
        "/api/users",
        json={"username": "ub", "password": "long enough pw", "roles": ["king"]},
        headers=headers,
    )
    assert bad_role.status_code == 422 and "roles" in bad_role.text
    short = await client.post(
        "/api/users", json={"username": "uc", "password": "short", "roles": ["proctor"]}, headers=headers
    )
    assert short.status_code == 422 and "password" in short.text
    listed = await client.get("/api/users", headers=headers)
    assert all(u["username"] not in {"ua", "ub", "uc"} for u in listed.json()["items"])


async def test_duplicate_username_conflicts(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.admin)
    existing = await make_user(session, Role.proctor)
    response = await client.post(
        "/api/users",
        json={"username": existing.username, "password": "long enough pw", "roles": ["proctor"]},
        headers=headers,
    )
    assert response.status_code == 409


async def test_only_admins_manage_users(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    for role in (Role.organiser, Role.supervisor, Role.examinee, Role.bank_editor):
        headers = await headers_for(session, role)
        assert (await client.get("/api/users", headers=headers)).status_code == 403
        assert (await client.get("/api/audit", headers=headers)).status_code == 403


async def test_disable_revokes_sessions_and_blocks_login(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    admin_headers = await headers_for(session, Role.admin)
    user = await make_user(session, Role.organiser)
    user_headers = await auth_headers(session, user)
    assert (await client.get("/api/auth/me", headers=user_headers)).status_code == 200
    response = await client.patch(f"/api/users/{user.id}", json={"is_active": False}, headers=admin_headers)
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert (await client.get("/api/auth/me", headers=user_headers)).status_code == 401


async def test_set_roles_and_reset_password(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    admin_headers = await headers_for(session, Role.admin)
    user = await make_user(session, Role.proctor)
    old_headers = await auth_headers(session, user)
    changed = await client.patch(
        f"/api/users/{user.id}", json={"roles": ["proctor", "supervisor"]}, headers=admin_headers
    )
    assert changed.json()["roles"] == ["proctor", "supervisor"]
    reset = await client.post(
        f"/api/users/{user.id}/password", json={"password": "brand new secret"}, headers=admin_headers
    )
    assert reset.status_code == 204
    assert (await client.get("/api/auth/me", headers=old_headers)).status_code == 401
    login = await client.post("/api/auth/login", json={"username": user.username, "password": "brand new secret"})
    assert login.status_code == 200 and login.json()["user"]["roles"] == ["proctor", "supervisor"]


async def test_admin_cannot_lock_himself_out(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    admin = await make_user(session, Role.admin)
    headers = await auth_headers(session, admin)
    response = await client.patch(f"/api/users/{admin.id}", json={"is_active": False}, headers=headers)
    assert response.status_code == 400


async def test_change_own_password(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session, Role.organiser)
    headers = await auth_headers(session, user)
    wrong = await client.post(
        "/api/auth/password",
        json={"current_password": "nope", "new_password": "new secret 1"},
        headers=headers,
    )
    assert wrong.status_code == 422 and "current_password" in wrong.text
    from tests.factories import PASSWORD

    ok = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "new secret 1"},
        headers=headers,
    )
    assert ok.status_code == 204
    assert (
        await client.post("/api/auth/login", json={"username": user.username, "password": "new secret 1"})
    ).status_code == 200
