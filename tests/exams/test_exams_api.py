"""Exams over HTTP: creation, who may create what, the lifecycle, what PATCH may change in each state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.core.clock import FrozenClock
from app.core.errors import ConflictError
from app.exams import service
from app.exams.models import Exam, ExamStatus
from tests.factories import headers_for, make_cadre, make_unit
from tests.papers.factories_papers import SMALL_SECTIONS, make_blueprint, start_attempt, stock_bank


async def setup_exam(
    client: httpx2.AsyncClient, session: AsyncSession, *, units: int = 2, stock: bool = True, **extra: Any
) -> tuple[dict[str, str], dict[str, Any], list[int]]:
    organiser = await headers_for(session, Role.organiser)
    unit_ids = [(await make_unit(session)).id for _ in range(units)]
    blueprint = await make_blueprint(session, SMALL_SECTIONS, time_limit_seconds=1200, multiple_scoring="partial")
    if stock:
        await stock_bank(session, unit_ids, sections=SMALL_SECTIONS, shared_factor=units)
    body = {
        "name": "2026年基本理论+考试",
        "blueprint_id": blueprint.id,
        "mode": "formal",
        "unit_ids": unit_ids,
        **extra,
    }
    response = await client.post("/api/exams", json=body, headers=organiser)
    assert response.status_code == 201, response.text
    return organiser, response.json(), unit_ids


async def test_create_copies_blueprint_settings_and_stores_a_seed(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    _, exam, unit_ids = await setup_exam(client, session, stock=False)
    assert exam["status"] == "draft" and exam["phase"] == "draft" and exam["is_open"] is False
    assert exam["time_limit_seconds"] == 1200 and exam["multiple_scoring"] == "partial"
    assert exam["unit_ids"] == sorted(unit_ids)
    assert isinstance(exam["seed"], int) and 0 <= exam["seed"] < 2**63
    assert exam["max_attempts"] == 1 and exam["difficulty_tolerance"] == 0.02
    _, seeded, _ = await setup_exam(client, session, stock=False, seed=424242, shuffle_options=False)
    assert seeded["seed"] == 424242 and seeded["shuffle_options"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"unit_ids": [999_999]}, "unit_ids"),
        ({"opens_at": "2026-09-10T02:00:00Z", "closes_at": "2026-09-10T01:00:00Z"}, "closes_at"),
        ({"opens_at": "2026-09-10T02:00:00Z", "closes_at": "2026-09-10T02:00:00Z"}, "closes_at"),
        ({"blueprint_id": 999_999}, "blueprint_id"),
        ({"max_attempts": 3}, "max_attempts"),
        ({"required_attempts": 2}, "required_attempts"),
        ({"opens_at": "2026-09-10T02:00:00"}, "opens_at"),  # naive datetimes are refused
    ],
)
async def test_create_refuses_bad_input(
    client: httpx2.AsyncClient, session: AsyncSession, change: dict[str, Any], field: str
) -> None:
    organiser = await headers_for(session, Role.organiser)
    unit = await make_unit(session)
    blueprint = await make_blueprint(session, SMALL_SECTIONS)
    body = {"name": "考试", "blueprint_id": blueprint.id, "mode": "formal", "unit_ids": [unit.id], **change}
    response = await client.post("/api/exams", json=body, headers=organiser)
    assert response.status_code == 422, response.text
    assert field in response.text


async def test_duplicate_units_are_refused(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    organiser = await headers_for(session, Role.organiser)
    unit = await make_unit(session)
    blueprint = await make_blueprint(session, SMALL_SECTIONS)
    body = {"name": "考试", "blueprint_id": blueprint.id, "mode": "formal", "unit_ids": [unit.id, unit.id]}
    response = await client.post("/api/exams", json=body, headers=organiser)
    assert response.status_code == 422 and "重复列出" in response.text


async def test_who_may_create_exams(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    own, other = await make_unit(session), await make_unit(session)
    blueprint = await make_blueprint(session, SMALL_SECTIONS)
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=own.id)

    def body(mode: str, unit_ids: list[int]) -> dict[str, Any]:
        return (
            {
                "name": "练习",
                "blueprint_id": blueprint.id,
                "mode": mode,
                "unit_ids": unit_ids,
                "max_attempts": 5,
                "required_attempts": 2,
                "required_score": 80,
            }
            if mode == "practice"
            else {"name": "督导考试", "blueprint_id": blueprint.id, "mode": mode, "unit_ids": unit_ids}
        )

    practice = await client.post("/api/exams", json=body("practice", [own.id]), headers=unit_admin)
    assert practice.status_code == 201, practice.text
    assert practice.json()["owner_unit_id"] == own.id and practice.json()["max_attempts"] == 5
    assert (await client.post("/api/exams", json=body("practice", [other.id]), headers=unit_admin)).status_code == 403
    assert (
        await client.post("/api/exams", json=body("practice", [own.id, other.id]), headers=unit_admin)
    ).status_code == 403
    assert (await client.post("/api/exams", json=body("formal", [own.id]), headers=unit_admin)).status_code == 403
    for role in (Role.examinee, Role.proctor, Role.supervisor, Role.bank_editor):
        headers = await headers_for(session, role, unit_id=own.id)
        assert (await client.post("/api/exams", json=body("formal", [own.id]), headers=headers)).status_code == 403
    organiser = await headers_for(session, Role.organiser)
    assert (
        await client.post("/api/exams", json=body("practice", [own.id, other.id]), headers=organiser)
    ).status_code == 201


async def test_visibility_of_exams(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    organiser, exam, unit_ids = await setup_exam(client, session, stock=False)
    outsider_unit = await make_unit(session)
    inside = await headers_for(session, Role.unit_admin, unit_id=unit_ids[0])
    outside = await headers_for(session, Role.unit_admin, unit_id=outsider_unit.id)
    examinee = await headers_for(session, Role.examinee)
    assert (await client.get(f"/api/exams/{exam['id']}", headers=inside)).status_code == 200
    assert (await client.get(f"/api/exams/{exam['id']}", headers=inside)).json()["seed"] is None
    assert (await client.get(f"/api/exams/{exam['id']}", headers=outside)).status_code == 404
    assert (await client.get(f"/api/exams/{exam['id']}", headers=examinee)).status_code == 404
    assert exam["id"] in [e["id"] for e in (await client.get("/api/exams", headers=inside)).json()["items"]]
    assert exam["id"] not in [e["id"] for e in (await client.get("/api/exams", headers=outside)).json()["items"]]
    assert (await client.get("/api/exams", headers=examinee)).json() == {"items": [], "total": 0}
    listed = (await client.get("/api/exams?status=draft&mode=formal", headers=organiser)).json()["items"]
    assert exam["id"] in [e["id"] for e in listed]


async def test_lifecycle_draft_drawn_open_closed_published(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    opens = clock.now() + timedelta(hours=1)
    organiser, exam, _ = await setup_exam(
        client, session, opens_at=opens.isoformat(), closes_at=(opens + timedelta(hours=2)).isoformat()
    )
    exam_id = exam["id"]
    publish = await client.post(f"/api/exams/{exam_id}/publish", headers=organiser)
    assert publish.status_code == 409 and "已结束" in publish.json()["detail"]
    assert (await client.post(f"/api/exams/{exam_id}/papers", headers=organiser)).status_code == 201
    read = (await client.get(f"/api/exams/{exam_id}", headers=organiser)).json()
    assert (read["status"], read["phase"], read["is_open"]) == ("drawn", "drawn", False)
    clock.advance(hours=1)
    read = (await client.get(f"/api/exams/{exam_id}", headers=organiser)).json()
    assert (read["phase"], read["is_open"]) == ("open", True)
    clock.advance(hours=2)
    read = (await client.get(f"/api/exams/{exam_id}", headers=organiser)).json()
    assert (read["phase"], read["is_open"]) == ("ended", False)
    row = await session.get(Exam, exam_id)
    assert row is not None
    service.transition(row, ExamStatus.closed, clock.now())
    await session.commit()
    assert (await client.post(f"/api/exams/{exam_id}/papers", headers=organiser)).status_code == 409
    published = await client.post(f"/api/exams/{exam_id}/publish", headers=organiser)
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert published.json()["published_at"] is not None
    again = await client.post(f"/api/exams/{exam_id}/publish", headers=organiser)
    assert again.status_code == 409


async def test_patch_follows_the_state(client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock) -> None:
    organiser, exam, unit_ids = await setup_exam(client, session, units=3)
    exam_id = exam["id"]
    extra_unit = await make_unit(session)
    other_blueprint = await make_blueprint(session, SMALL_SECTIONS, time_limit_seconds=900)
    draft = await client.patch(
        f"/api/exams/{exam_id}",
        headers=organiser,
        json={
            "name": "改名",
            "unit_ids": [*unit_ids[:2], extra_unit.id],
            "blueprint_id": other_blueprint.id,
            "seed": 7,
        },
    )
    assert draft.status_code == 200, draft.text
    assert draft.json()["unit_ids"] == sorted([*unit_ids[:2], extra_unit.id])
    assert draft.json()["time_limit_seconds"] == 900 and draft.json()["seed"] == 7
    await client.patch(f"/api/exams/{exam_id}", headers=organiser, json={"unit_ids": unit_ids[:2]})
    bad_window = await client.patch(
        f"/api/exams/{exam_id}",
        headers=organiser,
        json={"opens_at": "2026-09-11T00:00:00Z", "closes_at": "2026-09-10T00:00:00Z"},
    )
    assert bad_window.status_code == 422
    assert (await client.post(f"/api/exams/{exam_id}/papers", headers=organiser)).status_code == 201

    refused = await client.patch(f"/api/exams/{exam_id}", headers=organiser, json={"unit_ids": unit_ids, "seed": 1})
    assert refused.status_code == 409 and "seed" in refused.json()["detail"] and "unit_ids" in refused.json()["detail"]
    allowed = await client.patch(
        f"/api/exams/{exam_id}", headers=organiser, json={"shuffle_questions": False, "time_limit_seconds": 1500}
    )
    assert allowed.status_code == 200 and allowed.json()["time_limit_seconds"] == 1500

    papers = (await client.get(f"/api/exams/{exam_id}/papers", headers=organiser)).json()["papers"]
    cadre = await make_cadre(session, await session.get(type(extra_unit), unit_ids[0]))
    await start_attempt(session, exam_id, papers[0]["paper_id"], unit_ids[0], cadre.id)
    started = await client.patch(f"/api/exams/{exam_id}", headers=organiser, json={"shuffle_questions": True})
    assert started.status_code == 409 and "under way" in started.json()["detail"]
    later = (clock.now() + timedelta(hours=5)).isoformat()
    extended = await client.patch(f"/api/exams/{exam_id}", headers=organiser, json={"closes_at": later})
    assert extended.status_code == 200, extended.text
    past = await client.patch(
        f"/api/exams/{exam_id}", headers=organiser, json={"closes_at": (clock.now() - timedelta(minutes=1)).isoformat()}
    )
    assert past.status_code == 422


async def test_unit_admin_cannot_manage_a_formal_exam(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    _, exam, unit_ids = await setup_exam(client, session, stock=False)
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=unit_ids[0])
    assert (await client.patch(f"/api/exams/{exam['id']}", headers=unit_admin, json={"name": "x"})).status_code == 403
    assert (await client.post(f"/api/exams/{exam['id']}/papers", headers=unit_admin)).status_code == 403
    assert (await client.post(f"/api/exams/{exam['id']}/publish", headers=unit_admin)).status_code == 403


def test_exam_is_open_and_transitions() -> None:
    now = datetime(2026, 9, 10, 1, 0, tzinfo=UTC)
    exam = Exam(id=1, status=ExamStatus.draft, opens_at=None, closes_at=None)
    assert not service.exam_is_open(exam, now)
    service.transition(exam, ExamStatus.drawn, now)
    assert exam.drawn_at == now and service.exam_is_open(exam, now)
    exam.opens_at = now + timedelta(minutes=5)
    assert not service.exam_is_open(exam, now) and service.exam_phase(exam, now) == "drawn"
    exam.opens_at, exam.closes_at = None, now
    assert not service.exam_is_open(exam, now) and service.exam_phase(exam, now) == "ended"
    with pytest.raises(ConflictError):
        service.transition(exam, ExamStatus.published, now)
    service.transition(exam, ExamStatus.closed, now)
    assert not service.exam_is_open(exam, now)
    service.transition(exam, ExamStatus.published, now)
    with pytest.raises(ConflictError):
        service.ensure_transition(exam, ExamStatus.closed)
