"""Starting and resuming an attempt: the examinee's own order, the server's deadline, nothing secret shown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx2
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.core.clock import FrozenClock
from app.exams.models import Absence, Attempt
from tests.exams.factories_attempts import (
    make_exam_setup,
    path_start,
    right_answers,
    shown_to_paper,
)
from tests.factories import headers_for

SECRET_FIELDS = {"answer", "answer_key", "right_answer", "explanation", "legal_basis", "score", "is_correct"}


def _keys_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys_in(v)}
    return set()


async def test_start_shows_the_paper_in_the_examinees_order_without_secrets(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]

    response = await client.post(path_start(setup), headers=examinee.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert _keys_in(body) & SECRET_FIELDS == set()
    assert body["remaining_seconds"] == 1800
    assert body["deadline_at"].startswith((clock.now() + timedelta(seconds=1800)).isoformat()[:19])
    assert body["answers"] == {} and body["last_seq"] == 0 and body["status"] == "in_progress"
    assert [q["no"] for q in body["questions"]] == [1, 2, 3, 4, 5, 6]
    # Sections keep the paper's order (single, multiple, judge); letters run A.. in the order shown.
    assert [q["type"] for q in body["questions"]] == ["single", "single", "multiple", "multiple", "judge", "judge"]
    for question in body["questions"]:
        keys = [o["key"] for o in question["options"]]
        assert keys == (["T", "F"] if question["type"] == "judge" else list("ABCDE"[: len(keys)]))
    assert sorted(shown_to_paper(body).values()) == [1, 2, 3, 4, 5, 6]


async def test_the_order_is_the_examinees_own_and_stable(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, examinees_per_unit=8, now=clock.now())
    layouts = []
    for examinee in setup.examinees:
        first = (await client.post(path_start(setup), headers=examinee.headers)).json()
        again = (await client.post(path_start(setup), headers=examinee.headers)).json()
        assert again["attempt_id"] == first["attempt_id"]
        assert again["questions"] == first["questions"]
        layouts.append(str([(q["stem"], [o["text"] for o in q["options"]]) for q in first["questions"]]))
    assert len(set(layouts)) > 1, "eight examinees should not all see the same layout"


async def test_without_shuffling_the_paper_is_shown_as_drawn(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, shuffle=False, now=clock.now())

    body = (await client.post(path_start(setup), headers=setup.examinees[0].headers)).json()

    assert shown_to_paper(body) == {n: n for n in range(1, 7)}
    assert right_answers(setup, body) == {
        "1": ["B"], "2": ["D"], "3": ["A", "C"], "4": ["A", "B", "D"], "5": ["T"], "6": ["F"],
    }  # fmt: skip


async def test_before_the_exam_opens_nothing_of_the_paper_is_shown(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, opens_at=clock.now() + timedelta(minutes=5), now=clock.now())

    response = await client.post(path_start(setup), headers=setup.examinees[0].headers)

    assert response.status_code == 409
    assert set(response.json()) == {"detail"}
    assert "opens at" in response.json()["detail"]
    clock.advance(minutes=5)
    assert (await client.post(path_start(setup), headers=setup.examinees[0].headers)).status_code == 200


async def test_a_closed_or_undrawn_or_ended_exam_cannot_be_started(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    for kwargs in ({"status": "closed"}, {"status": "draft"}, {"closes_at": clock.now()}):
        setup = await make_exam_setup(session, now=clock.now(), **kwargs)  # type: ignore[arg-type]
        response = await client.post(path_start(setup), headers=setup.examinees[0].headers)
        assert response.status_code == 409, kwargs


async def test_the_deadline_is_the_earlier_of_time_limit_and_closing_time(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, closes_at=clock.now() + timedelta(minutes=10), now=clock.now())

    body = (await client.post(path_start(setup), headers=setup.examinees[0].headers)).json()

    assert body["remaining_seconds"] == 600
    clock.advance(seconds=90)
    again = (await client.post(path_start(setup), headers=setup.examinees[0].headers)).json()
    assert again["remaining_seconds"] == 510


async def test_only_the_exams_examinees_may_start(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    other = await make_exam_setup(session, now=clock.now())

    assert (await client.post(path_start(setup), headers=other.examinees[0].headers)).status_code == 403
    organiser = await headers_for(session, Role.organiser)
    assert (await client.post(path_start(setup), headers=organiser)).status_code == 403
    assert (await client.post("/api/exams/999999/attempts", headers=organiser)).status_code == 404
    assert (await client.post(path_start(setup))).status_code == 401


async def test_an_examinee_recorded_absent_cannot_start(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    await session.execute(
        insert(Absence).values(
            exam_id=setup.exam.id, cadre_id=examinee.cadre.id, unit_id=examinee.cadre.unit_id, reason="因病"
        )
    )
    await session.commit()

    response = await client.post(path_start(setup), headers=examinee.headers)

    assert response.status_code == 409
    assert "absent" in response.json()["detail"]


async def test_resuming_returns_the_saved_answers_in_the_examinees_letters(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    start = (await client.post(path_start(setup), headers=examinee.headers)).json()
    sheet = right_answers(setup, start)
    saved = await client.put(
        f"/api/attempts/{start['attempt_id']}/answers", json={"seq": 1, "answers": sheet}, headers=examinee.headers
    )
    assert saved.status_code == 200, saved.text

    clock.advance(seconds=60)
    resumed = (await client.post(path_start(setup), headers=examinee.headers)).json()

    assert resumed["attempt_id"] == start["attempt_id"]
    assert resumed["answers"] == sheet
    assert resumed["last_seq"] == 1
    assert resumed["remaining_seconds"] == 1740
    count = await session.scalar(select(Attempt.id).where(Attempt.participant_id == examinee.participant.id))
    assert count == start["attempt_id"]


async def test_a_formal_exam_cannot_be_started_again_after_submission(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    start = (await client.post(path_start(setup), headers=examinee.headers)).json()
    assert (
        await client.post(f"/api/attempts/{start['attempt_id']}/submit", headers=examinee.headers)
    ).status_code == 200

    response = await client.post(path_start(setup), headers=examinee.headers)

    assert response.status_code == 409
    assert "submitted" in response.json()["detail"]


async def test_a_new_closing_time_moves_open_deadlines(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now(), closes_at=clock.now() + timedelta(hours=2))
    started = (await client.post(path_start(setup), headers=setup.examinees[0].headers)).json()
    organiser = await headers_for(session, Role.organiser)
    earlier = clock.now() + timedelta(minutes=10)
    response = await client.patch(
        f"/api/exams/{setup.exam.id}", json={"closes_at": earlier.isoformat()}, headers=organiser
    )
    assert response.status_code == 200, response.text
    attempt = await session.get(Attempt, started["attempt_id"], populate_existing=True)
    assert attempt is not None and attempt.deadline_at == earlier
    resumed = (await client.post(path_start(setup), headers=setup.examinees[0].headers)).json()
    assert resumed["remaining_seconds"] == 600
