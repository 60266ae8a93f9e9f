"""Set-based grading of attempts written by other means: missing rows recorded as omissions, unscored
answers scored from the paper's key, scores summed; and a full re-score from the keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import FrozenClock
from app.exams.models import Attempt, AttemptAnswer
from app.grading.service import grade_attempts, rescore_attempts
from tests.exams.factories_attempts import make_exam_setup


async def _bare_attempt(
    session: AsyncSession, setup_exam_id: int, participant_id: int, paper_id: int, unit_id: int
) -> int:
    now = datetime(2026, 9, 10, 1, 0, tzinfo=UTC)
    attempt_id = await session.scalar(
        insert(Attempt)
        .values(
            exam_id=setup_exam_id, participant_id=participant_id, paper_id=paper_id, unit_id=unit_id, attempt_no=1,
            status="submitted", started_at=now, deadline_at=now + timedelta(minutes=30), submitted_at=now,
            submit_reason="examinee", last_seq=1, shuffle_seed=1, question_order=[1, 2, 3, 4, 5, 6],
            option_orders={}, focus_losses=0, event_count=0,
        )
        .returning(Attempt.id)
    )  # fmt: skip
    assert attempt_id is not None
    return int(attempt_id)


async def test_grading_completes_attempts_written_without_the_api(session: AsyncSession, clock: FrozenClock) -> None:
    setup = await make_exam_setup(session, examinees_per_unit=2, multiple_scoring="partial", now=clock.now())
    unit = setup.units[0]
    paper = setup.papers[unit.id]
    first, second = [
        await _bare_attempt(session, setup.exam.id, e.participant.id, paper.id, unit.id) for e in setup.examinees
    ]
    # Keys: 1 B, 2 D, 3 AC, 4 ABD, 5 T, 6 F. No points stored yet; most questions have no row at all.
    await session.execute(
        insert(AttemptAnswer),
        [
            {"attempt_id": first, "position": 1, "keys": "B", "seq": 1, "saved_at": clock.now()},
            {"attempt_id": first, "position": 3, "keys": "A", "seq": 1, "saved_at": clock.now()},
            {"attempt_id": first, "position": 6, "keys": "F", "seq": 1, "saved_at": clock.now()},
        ],
    )
    await session.commit()

    await grade_attempts(session, [first, second], now=clock.now())

    scores = dict(
        (await session.execute(select(Attempt.id, Attempt.score).where(Attempt.id.in_([first, second])))).all()
    )
    assert scores == {first: 5.5, second: 0.0}  # 2 + 1.5 (half of 3) + 2
    rows = (
        await session.execute(
            select(AttemptAnswer.position, AttemptAnswer.keys, AttemptAnswer.points, AttemptAnswer.is_correct)
            .where(AttemptAnswer.attempt_id == first)
            .order_by(AttemptAnswer.position)
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        (1, "B", 2.0, True), (2, "", 0.0, False), (3, "A", 1.5, False), (4, "", 0.0, False),
        (5, "", 0.0, False), (6, "F", 2.0, True),
    ]  # fmt: skip
    second_rows = await session.scalar(select(AttemptAnswer.keys).where(AttemptAnswer.attempt_id == second).limit(1))
    assert second_rows == ""


async def test_rescore_repairs_stored_points_and_scores(session: AsyncSession, clock: FrozenClock) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    unit = setup.units[0]
    attempt = await _bare_attempt(
        session, setup.exam.id, setup.examinees[0].participant.id, setup.papers[unit.id].id, unit.id
    )
    await session.execute(
        insert(AttemptAnswer),
        [{"attempt_id": attempt, "position": 2, "keys": "D", "seq": 1, "saved_at": clock.now()}],
    )
    await session.commit()
    await grade_attempts(session, [attempt], now=clock.now())
    await session.execute(update(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt).values(points=9.0))
    await session.execute(update(Attempt).where(Attempt.id == attempt).values(score=54.0))

    changed = await rescore_attempts(session, [attempt])

    assert changed == 6
    score = await session.scalar(
        select(Attempt.score).where(Attempt.id == attempt).execution_options(populate_existing=True)
    )
    assert score == 2.0
