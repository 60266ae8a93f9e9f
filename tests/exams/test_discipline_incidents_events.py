"""Discipline: proctors' incidents, the exam page's events with their cap, and the focus-loss limit."""

from __future__ import annotations

from typing import Any

import httpx2
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.core.clock import FrozenClock
from app.exams.models import Attempt, AttemptEvent
from tests.exams.factories_attempts import make_exam_setup, path_start
from tests.factories import headers_for, make_cadre


async def test_a_proctor_records_incidents_and_unit_admins_see_their_own(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, units=2, now=clock.now())
    first, second = setup.examinees
    proctor = await headers_for(session, Role.proctor)
    path = f"/api/exams/{setup.exam.id}/incidents"

    created = await client.post(
        path, json={"cadre_id": first.cadre.id, "kind": "whispering", "note": "与邻座交谈"}, headers=proctor
    )
    await client.post(path, json={"cadre_id": second.cadre.id, "kind": "peeking"}, headers=proctor)

    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in ("cadre_id", "unit_id", "kind", "note")} == {
        "cadre_id": first.cadre.id, "unit_id": first.cadre.unit_id, "kind": "whispering", "note": "与邻座交谈",
    }  # fmt: skip
    listed = await client.get(path, headers=proctor)
    assert [i["kind"] for i in listed.json()["items"]] == ["whispering", "peeking"]
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=second.cadre.unit_id)
    assert [i["cadre_id"] for i in (await client.get(path, headers=unit_admin)).json()["items"]] == [second.cadre.id]
    assert (await client.get(f"{path}?unit_id={first.cadre.unit_id}", headers=unit_admin)).status_code == 403


async def test_an_incident_needs_a_participant_a_known_kind_and_a_proctor(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    proctor = await headers_for(session, Role.proctor)
    outsider = await make_cadre(session, setup.units[0])
    path = f"/api/exams/{setup.exam.id}/incidents"

    not_participant = await client.post(path, json={"cadre_id": outsider.id, "kind": "copying"}, headers=proctor)
    bad_kind = await client.post(
        path, json={"cadre_id": setup.examinees[0].cadre.id, "kind": "sleeping"}, headers=proctor
    )
    examinee = await client.post(
        path, json={"cadre_id": setup.examinees[0].cadre.id, "kind": "copying"}, headers=setup.examinees[0].headers
    )

    assert not_participant.status_code == 422
    assert not_participant.json()["detail"][0]["loc"] == ["body", "cadre_id"]
    assert bad_kind.status_code == 422
    assert examinee.status_code == 403
    assert (await client.get(path, headers=setup.examinees[0].headers)).status_code == 403


async def _start(client: httpx2.AsyncClient, path: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post(path, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_events_are_capped_per_attempt(
    app: FastAPI, client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"event_cap_per_attempt": 3})
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    start = await _start(client, path_start(setup), examinee.headers)
    path = f"/api/attempts/{start['attempt_id']}/events"

    replies = [
        await client.post(path, json={"kind": kind}, headers=examinee.headers)
        for kind in ("copy", "paste", "fullscreen_exit", "copy")
    ]

    assert [r.status_code for r in replies] == [201, 201, 201, 429]
    assert replies[2].json() == {
        "recorded": True, "event_count": 3, "focus_losses": 0, "focus_loss_limit": None, "submitted": False,
    }  # fmt: skip
    stored = await session.scalar(select(func.count()).where(AttemptEvent.attempt_id == start["attempt_id"]))
    assert stored == 3
    assert (await client.post(path, json={"kind": "sneeze"}, headers=examinee.headers)).status_code == 422


async def test_reaching_the_focus_loss_limit_submits_the_attempt(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, focus_loss_limit=3, now=clock.now())
    examinee = setup.examinees[0]
    start = await _start(client, path_start(setup), examinee.headers)
    path = f"/api/attempts/{start['attempt_id']}/events"

    replies = [
        (await client.post(path, json={"kind": kind, "detail": {"seconds": 4}}, headers=examinee.headers)).json()
        for kind in ("focus_lost", "copy", "visibility_hidden", "focus_lost", "focus_lost")
    ]
    after = await client.post(path, json={"kind": "focus_lost"}, headers=examinee.headers)

    assert [(r["focus_losses"], r["submitted"]) for r in replies] == [
        (1, False),
        (1, False),
        (1, False),
        (2, False),
        (3, True),
    ]
    assert after.status_code == 409
    attempt = await session.scalar(
        select(Attempt).where(Attempt.id == start["attempt_id"]).execution_options(populate_existing=True)
    )
    assert attempt is not None
    assert (attempt.status, attempt.submit_reason, attempt.score) == ("submitted", "focus_loss", 0.0)


async def test_someone_elses_attempt_takes_no_events(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, examinees_per_unit=2, now=clock.now())
    mine, theirs = setup.examinees
    start = await _start(client, path_start(setup), mine.headers)

    response = await client.post(
        f"/api/attempts/{start['attempt_id']}/events", json={"kind": "copy"}, headers=theirs.headers
    )

    assert response.status_code == 404
