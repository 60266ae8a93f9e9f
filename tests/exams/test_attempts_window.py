"""A changed closing time moves the deadlines of attempts already open."""

from __future__ import annotations

from datetime import timedelta

import httpx2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import FrozenClock
from app.exams.models import Attempt
from app.exams.service import reclamp_open_deadlines
from tests.exams.factories_attempts import make_exam_setup, path_start


async def test_moving_the_closing_time_moves_open_deadlines(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, examinees_per_unit=2, time_limit_seconds=1800, now=clock.now())
    started = clock.now()
    for examinee in setup.examinees:
        assert (await client.post(path_start(setup), headers=examinee.headers)).status_code == 200
    submitted = setup.examinees[1]
    attempt_id = (await client.post(path_start(setup), headers=submitted.headers)).json()["attempt_id"]
    await client.post(f"/api/attempts/{attempt_id}/submit", headers=submitted.headers)

    earlier = await reclamp_open_deadlines(
        session, exam_id=setup.exam.id, time_limit_seconds=1800, closes_at=started + timedelta(minutes=10)
    )
    deadlines = (await session.execute(select(Attempt.status, Attempt.deadline_at).order_by(Attempt.id).where(
        Attempt.exam_id == setup.exam.id).execution_options(populate_existing=True))).all()  # fmt: skip
    later = await reclamp_open_deadlines(session, exam_id=setup.exam.id, time_limit_seconds=1800, closes_at=None)

    assert earlier == 1 and later == 1
    assert [tuple(d) for d in deadlines] == [
        ("in_progress", started + timedelta(minutes=10)),
        ("submitted", started + timedelta(minutes=30)),
    ]
    remaining = (await client.post(path_start(setup), headers=setup.examinees[0].headers)).json()["remaining_seconds"]
    assert remaining == 1800
