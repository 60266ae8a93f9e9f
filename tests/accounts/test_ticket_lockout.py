"""A lockout that cannot be turned against the examinee: unguessable ticket numbers, and a proctor's
one-click unlock that lets the holder of the right PIN in while the exam runs."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service as accounts_service
from app.accounts.models import Role, User
from app.core.audit import AuditEntry
from app.core.security import TICKET_SHAPE, looks_like_ticket
from app.exams.admission.participants import ticket_number
from tests.exams.test_participants_api import exam_with_units, login, roster
from tests.factories import headers_for, make_unit


def test_ticket_numbers_have_an_unguessable_part_and_the_login_knows_their_shape() -> None:
    numbers = {ticket_number(1, 1, 2) for _ in range(50)}
    assert len(numbers) > 45  # the random part differs from one issue to the next
    assert all(n.startswith("0001-001-0002-") and TICKET_SHAPE.match(n) for n in numbers)
    assert not looks_like_ticket("0001-001-0002") and not looks_like_ticket("organiser")


async def issued_ticket(client: httpx2.AsyncClient, session: AsyncSession) -> dict[str, Any]:
    unit = await make_unit(session)
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    cadres = await roster(session, unit, 0, 1, 1)
    response = await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    assert response.status_code == 201, response.text
    return {"exam_id": exam.id, "ticket": response.json()[0], "other": response.json()[1]}


async def test_a_proctor_unlocks_a_ticket_an_attacker_locked(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    built = await issued_ticket(client, session)
    ticket, pin = built["ticket"]["ticket_no"], built["ticket"]["pin"]
    wrong = "000000" if pin != "000000" else "111111"
    for _ in range(5):
        assert (await login(client, ticket, wrong)).status_code == 401
    locked = await login(client, ticket, pin)
    assert locked.status_code == 429 and "监考员解锁" in locked.json()["detail"]

    unlock = f"/api/exams/{built['exam_id']}/tickets/{ticket}/unlock"
    examinee = await login(client, built["other"]["ticket_no"], built["other"]["pin"])
    as_examinee = {"Authorization": f"Bearer {examinee.json()['access_token']}"}
    assert (await client.post(unlock, headers=as_examinee)).status_code == 403
    client.cookies.clear()
    assert (await client.post(unlock)).status_code == 401
    proctor = await headers_for(session, Role.proctor)
    monitor = f"/api/exams/{built['exam_id']}/monitor"

    async def locked_tickets() -> set[str]:
        reply = await client.get(monitor, headers=proctor)
        assert reply.status_code == 200, reply.text
        return {x["ticket_no"] for x in reply.json()["examinees"] if x["locked"]}

    assert await locked_tickets() == {ticket}  # the monitor shows the lockout the proctor is to lift
    missing = await client.post(f"/api/exams/{built['exam_id']}/tickets/{ticket}X/unlock", headers=proctor)
    assert missing.status_code == 404
    assert (await client.post(unlock, headers=proctor)).status_code == 204
    assert await locked_tickets() == set()
    assert (await login(client, ticket, pin)).status_code == 200
    user = await session.scalar(select(User).where(User.username == ticket))
    assert user is not None and user.failed_logins == 0 and user.locked_until is None
    audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "user.unlock",
                                                          AuditEntry.entity_id == str(user.id)))  # fmt: skip
    assert audit is not None


@pytest.mark.parametrize(("username", "checked"), [("nobody-here", "password"), ("0009-009-0009-ABCD", "pin")])
async def test_an_unknown_user_costs_the_check_a_real_one_would(
    client: httpx2.AsyncClient, monkeypatch: pytest.MonkeyPatch, username: str, checked: str
) -> None:
    calls: list[str] = []
    real_password, real_pin = accounts_service.verify_password, accounts_service.verify_pin

    async def password(*args: Any) -> bool:
        calls.append("password")
        return await real_password(*args)

    def pin(*args: Any) -> bool:
        calls.append("pin")
        return real_pin(*args)

    monkeypatch.setattr(accounts_service, "verify_password", password)
    monkeypatch.setattr(accounts_service, "verify_pin", pin)
    response = await client.post("/api/auth/login", json={"username": username, "password": "guess-1234"})
    assert response.status_code == 401
    assert calls == [checked]
