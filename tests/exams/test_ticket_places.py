"""Venue and seat per admission ticket: set by the organiser in one request, read back for printing."""

from __future__ import annotations

import httpx2
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.exams.admission.seats import TicketPlace
from tests.exams.test_participants_api import exam_with_units, roster
from tests.factories import headers_for, make_unit


async def test_the_organiser_assigns_venues_and_seats(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 1, 1, 1)
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    added = await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    issued = added.json()
    tickets = [i["ticket_no"] for i in issued]
    url = f"/api/exams/{exam.id}/tickets/places"

    empty = (await client.get(url, headers=organiser)).json()
    assert empty == {"items": [{"ticket_no": t, "venue": None, "seat": None} for t in sorted(tickets)], "total": 3}
    body = [{"ticket_no": t, "venue": " 第一考场 ", "seat": str(n)} for n, t in enumerate(tickets, start=1)]
    saved = await client.put(url, json=body, headers=organiser)
    assert saved.status_code == 200, saved.text
    assert {(p["ticket_no"], p["venue"], p["seat"]) for p in saved.json()} == {
        (t, "第一考场", str(n)) for n, t in enumerate(tickets, start=1)
    }
    moved = await client.put(url, json=[{"ticket_no": tickets[0], "venue": "第二考场", "seat": "9"}], headers=organiser)
    assert next(p for p in moved.json() if p["ticket_no"] == tickets[0])["venue"] == "第二考场"
    assert await session.scalar(select(func.count()).select_from(TicketPlace)) == 3


async def test_unknown_tickets_and_other_roles_change_nothing(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 0, 1, 1)
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    added = await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    issued = added.json()
    url = f"/api/exams/{exam.id}/tickets/places"
    bad = await client.put(url, json=[{"ticket_no": issued[0]["ticket_no"], "seat": "1"},
                                      {"ticket_no": "9999-999-9999", "seat": "2"}], headers=organiser)  # fmt: skip
    assert bad.status_code == 422 and "9999-999-9999" in bad.text and "准考证" in bad.text
    supervisor = await headers_for(session, Role.supervisor)
    refused = await client.put(url, json=[{"ticket_no": issued[0]["ticket_no"], "seat": "1"}], headers=supervisor)
    assert refused.status_code == 403
    assert await session.scalar(select(func.count()).select_from(TicketPlace)) == 0


async def test_places_are_read_as_the_tickets_are(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    """A unit admin reads his own unit's venues and seats only (as his tickets); an examinee none."""
    own, other = await make_unit(session), await make_unit(session)
    exam = await exam_with_units(session, own, other)
    organiser = await headers_for(session, Role.organiser)
    issued = {}
    for unit in (own, other):
        cadres = await roster(session, unit, 0, 1, 1)
        added = await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
        issued[unit.id] = sorted(i["ticket_no"] for i in added.json())
    url = f"/api/exams/{exam.id}/tickets/places"
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=own.id)
    mine = await client.get(url, headers=unit_admin)
    assert mine.status_code == 200, mine.text
    assert [p["ticket_no"] for p in mine.json()["items"]] == issued[own.id] and mine.json()["total"] == 2
    tickets = await client.get(f"/api/exams/{exam.id}/tickets", headers=unit_admin)
    assert [t["ticket_no"] for t in tickets.json()] == issued[own.id]
    assert (await client.get(url, params={"unit_id": other.id}, headers=unit_admin)).status_code == 403
    everyone = await client.get(url, headers=organiser)
    assert everyone.json()["total"] == 4
    examinee = await headers_for(session, Role.examinee, unit_id=own.id)
    assert (await client.get(url, headers=examinee)).status_code in (403, 404)
