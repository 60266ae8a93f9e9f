"""Submitting and grading, results for formal and practice exams, practice attempts, closing an exam."""

from __future__ import annotations

from typing import Any

import httpx2
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.core.audit import AuditEntry
from app.core.clock import FrozenClock
from app.exams.models import Attempt, AttemptAnswer, Exam
from tests.exams.factories_attempts import (
    Examinee,
    letters_for,
    make_exam_setup,
    path_start,
    right_answers,
    shown_to_paper,
    start_attempt,
)
from tests.factories import headers_for, make_unit


async def _answer(
    client: httpx2.AsyncClient, start: dict[str, Any], examinee: Examinee, answers: dict[str, list[str]], seq: int = 1
) -> None:
    response = await client.put(
        f"/api/attempts/{start['attempt_id']}/answers", json={"seq": seq, "answers": answers}, headers=examinee.headers
    )
    assert response.status_code == 200 and response.json()["saved"], response.text


async def _submit(client: httpx2.AsyncClient, start: dict[str, Any], examinee: Examinee) -> dict[str, Any]:
    response = await client.post(f"/api/attempts/{start['attempt_id']}/submit", headers=examinee.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _by_paper(start: dict[str, Any], paper_answers: dict[int, str]) -> dict[str, list[str]]:
    """Answers given as paper position → paper keys, turned into this examinee's numbers and letters."""
    shown_of = {paper: shown for shown, paper in shown_to_paper(start).items()}
    return {str(shown_of[p]): letters_for(start, shown_of[p], keys) for p, keys in paper_answers.items()}


async def _score(session: AsyncSession, attempt_id: int) -> float | None:
    return await session.scalar(
        select(Attempt.score).where(Attempt.id == attempt_id).execution_options(populate_existing=True)
    )


async def test_shuffled_answers_grade_correctly_for_every_examinee(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, examinees_per_unit=6, now=clock.now())
    # Paper keys: 1 B, 2 D, 3 AC, 4 ABD, 5 T, 6 F.
    sheets = [
        ({1: "B", 2: "D", 3: "AC", 4: "ABD", 5: "T", 6: "F"}, 14.0),
        ({1: "A", 2: "A", 3: "A", 4: "A", 5: "T"}, 2.0),
        ({1: "B", 3: "ACD", 4: "ABD", 6: "T"}, 5.0),
        ({2: "D", 3: "CA", 5: "F", 6: "F"}, 7.0),
        ({}, 0.0),
        ({1: "C", 2: "D", 3: "C", 4: "ABDE", 5: "T", 6: "F"}, 6.0),
    ]
    for examinee, (paper_answers, expected) in zip(setup.examinees, sheets, strict=True):
        start = await start_attempt(client, setup, examinee)
        if paper_answers:
            await _answer(client, start, examinee, _by_paper(start, paper_answers))
        submitted = await _submit(client, start, examinee)
        assert (submitted["status"], submitted["submit_reason"]) == ("submitted", "examinee")
        assert submitted["result"] is None  # a formal exam shows nothing on submit
        assert await _score(session, start["attempt_id"]) == expected, paper_answers


async def test_partial_credit_gives_half_for_a_strict_subset_without_a_wrong_key(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, examinees_per_unit=3, multiple_scoring="partial", now=clock.now())
    for examinee, (paper_answers, expected) in zip(
        setup.examinees,
        [({3: "A", 4: "AB"}, 3.0), ({3: "AC", 4: "ABDE"}, 3.0), ({3: "AD", 4: "D"}, 1.5)],
        strict=True,
    ):
        start = await start_attempt(client, setup, examinee)
        await _answer(client, start, examinee, _by_paper(start, paper_answers))
        await _submit(client, start, examinee)
        assert await _score(session, start["attempt_id"]) == expected, paper_answers
        correct = dict(
            (await session.execute(
                select(AttemptAnswer.position, AttemptAnswer.is_correct).where(
                    AttemptAnswer.attempt_id == start["attempt_id"], AttemptAnswer.position.in_([3, 4])
                )
            )).all()
        )  # fmt: skip
        assert correct == {3: paper_answers[3] == "AC", 4: False}


async def test_submit_is_idempotent_and_records_every_omission(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    await _answer(client, start, examinee, _by_paper(start, {1: "B"}))

    first = await _submit(client, start, examinee)
    clock.advance(seconds=30)
    again = await _submit(client, start, examinee)

    assert first == again
    rows = (
        await session.execute(
            select(AttemptAnswer.position, AttemptAnswer.keys, AttemptAnswer.points, AttemptAnswer.is_correct)
            .where(AttemptAnswer.attempt_id == start["attempt_id"])
            .order_by(AttemptAnswer.position)
        )
    ).all()
    assert [tuple(r) for r in rows] == [(1, "B", 2.0, True)] + [(p, "", 0.0, False) for p in range(2, 7)]


async def test_a_formal_result_waits_for_publication(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    result_path = f"/api/attempts/{start['attempt_id']}/result"
    assert (await client.get(result_path, headers=examinee.headers)).status_code == 409  # not submitted
    await _answer(client, start, examinee, right_answers(setup, start))
    await _submit(client, start, examinee)

    before = await client.get(result_path, headers=examinee.headers)
    organiser = await client.get(result_path, headers=await headers_for(session, Role.organiser))
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=setup.units[0].id)
    admin_before = await client.get(result_path, headers=unit_admin)
    other_unit_admin = await headers_for(session, Role.unit_admin, unit_id=(await make_unit(session)).id)
    assert (await client.get(result_path, headers=other_unit_admin)).status_code == 404
    await session.execute(update(Exam).where(Exam.id == setup.exam.id).values(status="published"))
    await session.commit()
    after = await client.get(result_path, headers=examinee.headers)
    admin_after = await client.get(result_path, headers=unit_admin)

    assert before.status_code == 409 and "not published" in before.json()["detail"]
    assert organiser.status_code == 200 and organiser.json()["score"] == 14.0
    assert len(organiser.json()["questions"]) == 6
    assert after.status_code == 200
    assert (after.json()["score"], after.json()["passed"], after.json()["excellent"]) == (14.0, True, True)
    assert after.json()["questions"] is None
    assert admin_before.status_code == 409
    assert admin_after.status_code == 200 and admin_after.json()["score"] == 14.0


async def test_practice_shows_score_right_answers_and_explanations_on_submit(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, mode="practice", max_attempts=2, now=clock.now())
    examinee = setup.examinees[0]
    start = await start_attempt(client, setup, examinee)
    await _answer(client, start, examinee, _by_paper(start, {1: "B", 2: "A"}))

    submitted = await _submit(client, start, examinee)

    result = submitted["result"]
    assert (result["score"], result["total_points"], result["passed"]) == (2.0, 14.0, False)
    review = {q["no"]: q for q in result["questions"]}
    shown_of = {paper: shown for shown, paper in shown_to_paper(start).items()}
    first, second = review[shown_of[1]], review[shown_of[2]]
    assert (first["is_correct"], first["points_earned"], first["explanation"]) == (True, 2.0, "解析：答案为B")
    assert first["your_answer"] == first["right_answer"] == letters_for(start, shown_of[1], "B")
    assert second["your_answer"] == letters_for(start, shown_of[2], "A")
    assert second["right_answer"] == letters_for(start, shown_of[2], "D")
    assert not second["is_correct"]
    result_again = await client.get(f"/api/attempts/{start['attempt_id']}/result", headers=examinee.headers)
    assert result_again.json() == result


async def test_practice_allows_attempts_up_to_the_maximum(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, mode="practice", max_attempts=3, now=clock.now())
    examinee = setup.examinees[0]
    seen = []
    for expected_no in (1, 2, 3):
        start = await start_attempt(client, setup, examinee)
        assert (start["attempt_no"], start["answers"], start["last_seq"]) == (expected_no, {}, 0)
        await _answer(client, start, examinee, dict(list(right_answers(setup, start).items())[:expected_no]))
        await _submit(client, start, examinee)
        seen.append(start["attempt_id"])

    fourth = await client.post(path_start(setup), headers=examinee.headers)

    assert fourth.status_code == 409 and "3 attempts" in fourth.json()["detail"]
    scores = (await session.execute(select(Attempt.attempt_no, Attempt.score).where(Attempt.id.in_(seen)))).all()
    assert sorted(tuple(r) for r in scores) == [(1, 2.0), (2, 4.0), (3, 7.0)]


async def test_closing_submits_every_open_attempt(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, units=2, examinees_per_unit=2, now=clock.now())
    writing = setup.examinees[:3]
    starts = []
    for examinee in writing:
        start = await start_attempt(client, setup, examinee)
        await _answer(client, start, examinee, right_answers(setup, start))
        starts.append(start)
    await _submit(client, starts[0], writing[0])
    organiser = await headers_for(session, Role.organiser)

    assert (await client.post(f"/api/exams/{setup.exam.id}/close", headers=writing[1].headers)).status_code == 403
    clock.advance(seconds=60)
    closed = await client.post(f"/api/exams/{setup.exam.id}/close", headers=organiser)
    again = await client.post(f"/api/exams/{setup.exam.id}/close", headers=organiser)
    late_start = await client.post(path_start(setup), headers=setup.examinees[3].headers)
    late_save = await client.put(
        f"/api/attempts/{starts[1]['attempt_id']}/answers", json={"seq": 2, "answers": {}}, headers=writing[1].headers
    )

    assert closed.status_code == 200
    assert closed.json()["status"] == "closed" and closed.json()["attempts_submitted"] == 2
    assert again.status_code == 200 and again.json()["attempts_submitted"] == 0
    assert late_start.status_code == 409 and late_save.status_code == 409
    rows = (
        await session.execute(
            select(Attempt.submit_reason, Attempt.score)
            .where(Attempt.exam_id == setup.exam.id)
            .order_by(Attempt.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    assert [tuple(r) for r in rows] == [("examinee", 14.0), ("closed", 14.0), ("closed", 14.0)]
    audit = await session.scalar(
        select(AuditEntry).where(AuditEntry.action == "exam.close", AuditEntry.entity_id == str(setup.exam.id))
    )
    assert audit is not None and audit.detail == {"attempts_submitted": 2}


async def test_a_unit_admin_closes_his_own_practice_exam_only(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    practice = await make_exam_setup(session, mode="practice", now=clock.now())
    formal = await make_exam_setup(session, now=clock.now())
    admin = await headers_for(session, Role.unit_admin, unit_id=practice.units[0].id)

    assert (await client.post(f"/api/exams/{formal.exam.id}/close", headers=admin)).status_code == 403
    assert (await client.post(f"/api/exams/{practice.exam.id}/close", headers=admin)).status_code == 200
