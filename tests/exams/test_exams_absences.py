"""Absences (缺考): recorded for participants only, once each, not after a submitted attempt."""

from __future__ import annotations

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.exams.models import ExamStatus
from tests.exams.test_participants_api import exam_with_units, roster
from tests.factories import headers_for, make_unit
from tests.papers.factories_papers import SMALL_SECTIONS, make_blueprint, make_exam, start_attempt, stock_bank


async def test_record_list_and_delete_absences(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 0, 1, 2)
    outsider = (await roster(session, unit, 0, 0, 1))[0]
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    proctor = await headers_for(session, Role.proctor)
    await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    url = f"/api/exams/{exam.id}/absences"

    recorded = await client.post(url, json={"cadre_id": cadres[0], "reason": "因病"}, headers=proctor)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["reason"] == "因病" and recorded.json()["unit_id"] == unit.id
    twice = await client.post(url, json={"cadre_id": cadres[0], "reason": "因公"}, headers=proctor)
    assert twice.status_code == 409
    stranger = await client.post(url, json={"cadre_id": outsider, "reason": "因病"}, headers=proctor)
    assert stranger.status_code == 404
    blank = await client.post(url, json={"cadre_id": cadres[1], "reason": ""}, headers=proctor)
    assert blank.status_code == 422
    await client.post(url, json={"cadre_id": cadres[1], "reason": "因公出差"}, headers=organiser)

    listed = (await client.get(url, headers=organiser)).json()["items"]
    assert [(a["cadre_id"], a["reason"]) for a in listed] == [(cadres[0], "因病"), (cadres[1], "因公出差")]
    participants = (await client.get(f"/api/exams/{exam.id}/participants", headers=organiser)).json()["items"]
    assert {p["cadre_id"]: p["absent"] for p in participants} == {cadres[0]: True, cadres[1]: True, cadres[2]: False}

    assert (await client.delete(f"{url}/{cadres[0]}", headers=proctor)).status_code == 204
    assert (await client.delete(f"{url}/{cadres[0]}", headers=proctor)).status_code == 404
    assert [a["cadre_id"] for a in (await client.get(url, headers=organiser)).json()["items"]] == [cadres[1]]


async def test_who_may_record_absences(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 0, 0, 1)
    exam = await exam_with_units(session, unit)
    organiser = await headers_for(session, Role.organiser)
    await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    for role in (Role.examinee, Role.supervisor, Role.bank_editor):
        headers = await headers_for(session, role, unit_id=unit.id)
        response = await client.post(
            f"/api/exams/{exam.id}/absences", json={"cadre_id": cadres[0], "reason": "因病"}, headers=headers
        )
        assert response.status_code == 403, role
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=unit.id)
    response = await client.post(
        f"/api/exams/{exam.id}/absences", json={"cadre_id": cadres[0], "reason": "因病"}, headers=unit_admin
    )
    assert response.status_code == 403
    assert (await client.get(f"/api/exams/{exam.id}/absences", headers=unit_admin)).status_code == 200


async def test_no_absence_after_a_submitted_attempt_or_publication(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit = await make_unit(session)
    cadres = await roster(session, unit, 0, 0, 2)
    await stock_bank(session, [unit.id], sections=SMALL_SECTIONS)
    blueprint = await make_blueprint(session, SMALL_SECTIONS)
    exam = await make_exam(session, blueprint, [unit.id])
    organiser = await headers_for(session, Role.organiser)
    await client.post(f"/api/exams/{exam.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    [paper] = (await client.post(f"/api/exams/{exam.id}/papers", headers=organiser)).json()
    await start_attempt(session, exam.id, paper["paper_id"], unit.id, cadres[0], status="submitted")
    response = await client.post(
        f"/api/exams/{exam.id}/absences", json={"cadre_id": cadres[0], "reason": "因病"}, headers=organiser
    )
    assert response.status_code == 409 and "已交卷" in response.json()["detail"]
    published = await exam_with_units(session, unit, status=ExamStatus.published)
    await client.post(f"/api/exams/{published.id}/participants", json={"cadre_ids": cadres}, headers=organiser)
    response = await client.post(
        f"/api/exams/{published.id}/absences", json={"cadre_id": cadres[1], "reason": "因病"}, headers=organiser
    )
    assert response.status_code == 409
