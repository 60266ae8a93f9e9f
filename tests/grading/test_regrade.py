"""Regrade: a corrected key re-scores every attempt that used the question, re-pins the slot, audits scores."""

from __future__ import annotations

from typing import Any

import httpx2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.bank.models import Question
from app.core.audit import AuditEntry
from app.core.clock import FrozenClock
from app.exams.models import Attempt
from app.papers.models import Paper, PaperSlot
from tests.exams.factories_attempts import Examinee, ExamSetup, letters_for, make_exam_setup, path_start, shown_to_paper
from tests.factories import headers_for


async def _sit(
    client: httpx2.AsyncClient, setup: ExamSetup, examinee: Examinee, paper_answers: dict[int, str], *, submit: bool
) -> dict[str, Any]:
    start = (await client.post(path_start(setup), headers=examinee.headers)).json()
    shown_of = {paper: shown for shown, paper in shown_to_paper(start).items()}
    answers = {str(shown_of[p]): letters_for(start, shown_of[p], keys) for p, keys in paper_answers.items()}
    saved = await client.put(
        f"/api/attempts/{start['attempt_id']}/answers", json={"seq": 1, "answers": answers}, headers=examinee.headers
    )
    assert saved.status_code == 200, saved.text
    if submit:
        assert (
            await client.post(f"/api/attempts/{start['attempt_id']}/submit", headers=examinee.headers)
        ).status_code == 200
    return start


async def _scores(session: AsyncSession, starts: list[dict[str, Any]]) -> list[float | None]:
    ids = [s["attempt_id"] for s in starts]
    rows = dict(
        (await session.execute(
            select(Attempt.id, Attempt.score).where(Attempt.id.in_(ids)).execution_options(populate_existing=True)
        )).all()
    )  # fmt: skip
    return [rows[i] for i in ids]


async def test_a_corrected_key_changes_the_scores_and_every_change_is_audited(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, units=2, examinees_per_unit=2, now=clock.now())
    was_right, now_right, omitted, writing = setup.examinees
    starts = [
        await _sit(client, setup, was_right, {1: "B", 2: "D"}, submit=True),
        await _sit(client, setup, now_right, {1: "C", 2: "D"}, submit=True),
        await _sit(client, setup, omitted, {2: "D"}, submit=True),
    ]
    in_progress = await _sit(client, setup, writing, {1: "C"}, submit=False)
    assert await _scores(session, starts) == [4.0, 2.0, 2.0]
    editor = await headers_for(session, Role.bank_editor)
    question = setup.questions[0]
    patched = await client.patch(f"/api/questions/{question.id}", json={"answer": ["C"]}, headers=editor)
    assert patched.status_code == 200 and patched.json()["version"] == 2

    organiser = await headers_for(session, Role.organiser)
    response = await client.post(
        f"/api/exams/{setup.exam.id}/regrade", json={"question_id": question.id}, headers=organiser
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "exam_id": setup.exam.id, "question_id": question.id, "version": 2, "papers": 2, "slots_repinned": 2,
        "answers_rescored": 3, "attempts_rescored": 3, "attempts_changed": 2,
    }  # fmt: skip
    assert await _scores(session, starts) == [2.0, 4.0, 2.0]
    audits = (
        await session.execute(
            select(AuditEntry.entity_id, AuditEntry.detail)
            .where(AuditEntry.action == "attempt.regrade")
            .order_by(AuditEntry.id)
        )
    ).all()
    changed = {int(entity_id): (d["old_score"], d["new_score"]) for entity_id, d in audits}
    assert changed == {starts[0]["attempt_id"]: (4.0, 2.0), starts[1]["attempt_id"]: (2.0, 4.0)}
    papers = (
        (
            await session.execute(
                select(Paper.answer_key).where(Paper.exam_id == setup.exam.id).execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    assert {tuple(key["1"]) for key in papers} == {("C",)}
    pinned = (
        (await session.execute(select(PaperSlot.question_version_id).where(PaperSlot.question_id == question.id)))
        .scalars()
        .all()
    )
    current = await session.scalar(select(Question.current_version_id).where(Question.id == question.id))
    assert set(pinned) == {current} and current != question.current_version_id

    # The attempt still being written was rescored too, and later saves use the new key.
    submitted = await client.post(f"/api/attempts/{in_progress['attempt_id']}/submit", headers=writing.headers)
    assert submitted.status_code == 200
    assert await _scores(session, [in_progress]) == [2.0]

    again = await client.post(
        f"/api/exams/{setup.exam.id}/regrade", json={"question_id": question.id}, headers=organiser
    )
    assert again.json()["attempts_changed"] == 0 and again.json()["slots_repinned"] == 0


async def test_regrade_refuses_a_question_not_on_the_papers_a_type_change_and_non_organisers(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    other = await make_exam_setup(session, now=clock.now())
    organiser = await headers_for(session, Role.organiser)
    path = f"/api/exams/{setup.exam.id}/regrade"

    not_on_paper = await client.post(path, json={"question_id": other.questions[0].id}, headers=organiser)
    unknown = await client.post(path, json={"question_id": 99_999_999}, headers=organiser)
    proctor = await client.post(
        path, json={"question_id": setup.questions[0].id}, headers=await headers_for(session, Role.proctor)
    )
    editor = await headers_for(session, Role.bank_editor)
    single = setup.questions[0]
    await client.patch(f"/api/questions/{single.id}", json={"type": "multiple", "answer": ["B", "C"]}, headers=editor)
    type_change = await client.post(path, json={"question_id": single.id}, headers=organiser)

    assert not_on_paper.status_code == 422
    assert unknown.status_code == 404
    assert proctor.status_code == 403
    assert type_change.status_code == 422 and "题型" in type_change.json()["detail"][0]["msg"]
