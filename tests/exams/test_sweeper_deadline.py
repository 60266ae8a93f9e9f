"""The deadline sweeper: overdue attempts are submitted with what was saved and graded, exactly once, even
with two sweepers at once and after a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import Database
from app.exams.models import Attempt, AttemptAnswer
from app.exams.room.sweeper import sweep_batch, sweep_overdue
from app.main import create_app
from tests.exams.factories_attempts import (
    ExamSetup,
    live_client,
    make_exam_setup,
    path_start,
    purge_exam,
    right_answers,
)

GRACE = 10


async def _start_and_answer(
    client: httpx2.AsyncClient, setup: ExamSetup, *, right: int, headers: list[dict[str, str]] | None = None
) -> list[dict[str, Any]]:
    """Start every examinee and save the right answer to the first ``right`` questions he sees."""
    starts = []
    for examinee_headers in headers or [e.headers for e in setup.examinees]:
        start = (await client.post(path_start(setup), headers=examinee_headers)).json()
        sheet = dict(list(right_answers(setup, start).items())[:right])
        saved = await client.put(
            f"/api/attempts/{start['attempt_id']}/answers", json={"seq": 1, "answers": sheet}, headers=examinee_headers
        )
        assert saved.status_code == 200, saved.text
        starts.append(start)
    return starts


async def test_the_sweeper_submits_overdue_attempts_with_what_was_saved(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, examinees_per_unit=3, time_limit_seconds=600, now=clock.now())
    early = await _start_and_answer(client, setup, right=2, headers=[e.headers for e in setup.examinees[:2]])
    clock.advance(seconds=30)
    late = await _start_and_answer(client, setup, right=2, headers=[setup.examinees[2].headers])

    clock.advance(seconds=570 + GRACE + 1)  # the first two are past deadline + grace, the last one is not
    swept = await sweep_batch(session, now=clock.now(), grace_seconds=GRACE)

    assert sorted(swept) == sorted(s["attempt_id"] for s in early)
    rows = (await session.execute(select(Attempt).where(Attempt.exam_id == setup.exam.id))).scalars().all()
    by_id = {a.id: a for a in rows}
    for start in early:
        attempt = by_id[start["attempt_id"]]
        await session.refresh(attempt)
        assert (attempt.status, attempt.submit_reason, attempt.submitted_at) == ("submitted", "deadline", clock.now())
        assert attempt.graded_at == clock.now()
        assert attempt.score is not None and attempt.score > 0
    assert by_id[late[0]["attempt_id"]].status == "in_progress"
    # Omitted questions are recorded as rows with no keys and no points.
    omitted = await session.scalar(
        select(func.count()).where(AttemptAnswer.attempt_id == early[0]["attempt_id"], AttemptAnswer.keys == "")
    )
    assert omitted == 4
    assert await sweep_batch(session, now=clock.now(), grace_seconds=GRACE) == []


async def test_every_request_checks_the_deadline_lazily(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, time_limit_seconds=60, now=clock.now())
    examinee = setup.examinees[0]
    (start,) = await _start_and_answer(client, setup, right=6)

    clock.advance(seconds=60 + GRACE)
    still_open = (await client.get(f"/api/attempts/{start['attempt_id']}", headers=examinee.headers)).json()
    clock.advance(seconds=1)
    state = (await client.get(f"/api/attempts/{start['attempt_id']}", headers=examinee.headers)).json()

    assert still_open["status"] == "in_progress" and still_open["remaining_seconds"] == 0
    assert (state["status"], state["submit_reason"], state["remaining_seconds"]) == ("submitted", "deadline", 0)
    attempt = await session.get(Attempt, start["attempt_id"])
    assert attempt is not None
    await session.refresh(attempt)
    assert attempt.score == setup.total_points


async def test_a_late_submit_keeps_the_saved_answers_and_says_deadline(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, time_limit_seconds=60, now=clock.now())
    examinee = setup.examinees[0]
    (start,) = await _start_and_answer(client, setup, right=3)
    clock.advance(seconds=60 + GRACE + 5)

    response = await client.post(f"/api/attempts/{start['attempt_id']}/submit", headers=examinee.headers)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["submit_reason"]) == ("submitted", "deadline")


@pytest.mark.real_commit
async def test_two_sweepers_at_once_grade_every_attempt_exactly_once(
    committed_database_url: str, committed_settings: Settings, clock: FrozenClock
) -> None:
    database_url, settings = committed_database_url, committed_settings
    database = Database(database_url)
    other_process = Database(database_url)
    async with database.write_sessions() as session:
        setup = await make_exam_setup(session, units=2, examinees_per_unit=15, time_limit_seconds=300, now=clock.now())
    try:
        async with live_client(settings, database, clock) as client:
            starts = await _start_and_answer(client, setup, right=4)
        clock.advance(seconds=300 + GRACE + 1)

        first, second = await asyncio.gather(
            sweep_overdue(database, now=clock.now(), grace_seconds=GRACE, batch_size=4),
            sweep_overdue(other_process, now=clock.now(), grace_seconds=GRACE, batch_size=4),
        )

        expected = {s["attempt_id"] for s in starts}
        assert set(first) & set(second) == set()
        assert sorted(first + second) == sorted(expected)
        async with database.read_sessions() as session:
            attempts = (await session.execute(select(Attempt).where(Attempt.exam_id == setup.exam.id))).scalars().all()
            answer_rows = await session.scalar(
                select(func.count()).select_from(AttemptAnswer).where(AttemptAnswer.attempt_id.in_(expected))
            )
        assert {(a.status, a.submit_reason, a.graded_at) for a in attempts} == {("submitted", "deadline", clock.now())}
        # Four right answers of the first four shown: singles (2+2) and the multiples (3+3) in every order.
        assert {a.score for a in attempts} == {10.0}
        assert answer_rows == 6 * len(expected)  # omissions recorded once, never twice
        # A third sweep finds nothing left.
        assert await sweep_overdue(other_process, now=clock.now(), grace_seconds=GRACE) == []
    finally:
        async with database.write_sessions() as session:
            await purge_exam(session, setup.exam.id)
        await database.dispose()
        await other_process.dispose()


@pytest.mark.real_commit
async def test_a_restart_in_the_middle_of_an_exam_loses_nothing(
    committed_database_url: str, committed_settings: Settings, clock: FrozenClock
) -> None:
    database_url, settings = committed_database_url, committed_settings
    database = Database(database_url)
    async with database.write_sessions() as session:
        setup = await make_exam_setup(session, examinees_per_unit=2, time_limit_seconds=600, now=clock.now())
    resumer = setup.examinees[0]
    try:
        async with live_client(settings, database, clock) as client:
            first, second = await _start_and_answer(client, setup, right=3)
        await database.dispose()  # the server dies

        restarted = Database(database_url)
        database = restarted
        clock.advance(seconds=120)
        async with live_client(settings, restarted, clock) as client:
            resumed = (await client.post(path_start(setup), headers=resumer.headers)).json()
        assert resumed["attempt_id"] == first["attempt_id"]
        assert resumed["answers"] == dict(list(right_answers(setup, first).items())[:3])
        assert resumed["remaining_seconds"] == 480

        # Down again past the deadline; on start-up the sweeper catches up.
        await restarted.dispose()
        clock.advance(seconds=600)
        live_settings = settings.model_copy(update={"run_sweeper": True, "sweep_interval_seconds": 0.05})
        app = create_app(live_settings, database=restarted, clock=clock)
        async with app.router.lifespan_context(app):
            for _ in range(100):
                async with restarted.read_sessions() as session:
                    open_left = await session.scalar(
                        select(func.count()).where(Attempt.exam_id == setup.exam.id, Attempt.status == "in_progress")
                    )
                if open_left == 0:
                    break
                await asyncio.sleep(0.05)
        async with restarted.read_sessions() as session:
            scores = dict(
                (await session.execute(select(Attempt.id, Attempt.score).where(Attempt.exam_id == setup.exam.id))).all()
            )
        assert open_left == 0
        assert scores[first["attempt_id"]] == scores[second["attempt_id"]] == 7.0  # 2 + 2 + 3
    finally:
        async with database.write_sessions() as session:
            await purge_exam(session, setup.exam.id)
        await database.dispose()
