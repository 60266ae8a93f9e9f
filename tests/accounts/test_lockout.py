"""The login lockout counts every failure, even those sent at the same moment, on a real server
(its lane, SQLite's group-commit writer or PostgreSQL's batches, sessions that really commit)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from app.accounts.models import Role, User
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import Database
from app.core.security import hash_pin
from tests.conftest import TEST_SECRET
from tests.exams.factories_attempts import live_client
from tests.factories import make_user, unique

PIN = "135790"


async def test_twelve_wrong_pins_at_once_lock_the_ticket(committed_settings: Settings, clock: FrozenClock) -> None:
    database = Database(committed_settings.database_url)
    try:
        async with database.write_sessions() as session:
            user = User(username=unique("0001-001-"), password_hash=hash_pin(PIN, TEST_SECRET), roles=["examinee"])
            session.add(user)
            await session.commit()
            username, user_id = user.username, user.id
        async with live_client(committed_settings, database, clock) as client:
            wrong = await asyncio.gather(*(
                client.post("/api/auth/login", json={"username": username, "password": f"{n:06d}"})
                for n in range(12)
            ))  # fmt: skip
            refused = [r.status_code for r in wrong]
            assert set(refused) <= {401, 429} and refused.count(401) >= committed_settings.login_max_failures
            right = await client.post("/api/auth/login", json={"username": username, "password": PIN})
            assert right.status_code == 429, right.text
            assert "账号已锁定" in right.json()["detail"]
        async with database.read_sessions() as session:
            stored = await session.scalar(select(User).where(User.id == user_id))
        assert stored is not None and stored.locked_until is not None
        # Every wrong PIN that was checked (401; those that found the ticket locked got 429) is counted:
        # the count starts afresh each time it reaches the limit and locks the ticket.
        assert stored.failed_logins == refused.count(401) % committed_settings.login_max_failures
    finally:
        await database.dispose()


async def test_parallel_wrong_passwords_of_a_staff_account_are_all_counted(
    committed_settings: Settings, clock: FrozenClock
) -> None:
    database = Database(committed_settings.database_url)
    try:
        async with database.write_sessions() as session:
            user = await make_user(session, Role.organiser)
            username, user_id = user.username, user.id
        async with live_client(committed_settings, database, clock) as client:
            wrong = await asyncio.gather(*(
                client.post("/api/auth/login", json={"username": username, "password": f"wrong-{n}"})
                for n in range(4)
            ))  # fmt: skip
            assert [r.status_code for r in wrong] == [401] * 4
        async with database.read_sessions() as session:
            assert await session.scalar(select(User.failed_logins).where(User.id == user_id)) == 4
    finally:
        await database.dispose()
