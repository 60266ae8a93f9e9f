"""Question statistics in the bank: refreshed when an exam is graded (closed or regraded), agreeing with
the exam's pooled item analysis, flagged, filtered in the bank list, and retired from the flag list."""

from __future__ import annotations

import random

import httpx2
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.bank.models import Question
from app.exams.statistics import refresh_exam_statistics
from tests.factories import headers_for
from tests.reports.factories_reports import Answer, Seat, SlotSpec, make_exam, make_paper, make_units, seat_examinees
from tests.reports.test_items_fairness import build_item_exam


async def test_bank_statistics_agree_with_the_pooled_item_analysis(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    built = await build_item_exam(session)
    exam_id = built["exam"].id
    assert await refresh_exam_statistics(session, exam_id) == 7
    headers = await headers_for(session, Role.supervisor)
    pooled = (await client.get(f"/api/exams/{exam_id}/items", headers=headers)).json()["questions"]
    for item in pooled:
        question = await session.get(Question, item["question_id"])
        assert question is not None
        await session.refresh(question)
        assert question.times_drawn == len(item["papers"])
        assert question.times_answered == item["attempts"]
        assert question.facility == pytest.approx(item["facility"])
        if item["point_biserial"] is None:
            assert question.discrimination is None
        else:
            assert question.discrimination == pytest.approx(item["point_biserial"])
        assert question.last_used_at is not None
        # Fewer than 20 answers: no flag yet, whatever the figures.
        assert question.stat_flags == ""


def _answer(spec: SlotSpec, right: bool) -> Answer:
    return Answer(spec.answer if right else "A", spec.points if right else 0, right)


async def test_closing_flags_questions_and_the_flag_list_filters_and_retires(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    (unit,) = await make_units(session, ["单位丙"], [100])
    exam = await make_exam(session, [unit])
    specs = [SlotSpec("single", "theory", 10, "B") for _ in range(7)]
    paper = await make_paper(session, exam, unit, specs)
    rng = random.Random(3)
    seats = []
    for n in range(30):
        skill = n / 29
        # easy, four that follow skill, one inverted, one hard
        right = [True, *(rng.random() < skill for _ in range(4)), skill < 0.4, rng.random() < 0.1]
        answers = {position: _answer(spec, ok) for position, (spec, ok) in enumerate(zip(specs, right, strict=True), 1)}
        seats.append(Seat("ke", sum(a.points for a in answers.values()), answers=answers))
    await seat_examinees(session, exam, paper, seats)
    easy, good, *_, inverted, hard = (spec.question.id for spec in specs if spec.question is not None)

    organiser = await headers_for(session, Role.organiser)
    closed = await client.post(f"/api/exams/{exam.id}/close", headers=organiser)
    assert closed.status_code == 200, closed.text
    editor = await headers_for(session, Role.bank_editor)
    listed = (await client.get("/api/questions", params={"flag": "any", "limit": 500}, headers=editor)).json()
    flagged = {item["id"]: item for item in listed["items"]}
    assert {easy, inverted, hard} <= set(flagged) and good not in flagged
    assert flagged[easy]["flags"] == ["too_easy"] and flagged[easy]["facility"] == 1.0
    assert flagged[easy]["discrimination"] is None and flagged[easy]["times_answered"] == 30
    assert "negative_discrimination" in flagged[inverted]["flags"] and flagged[inverted]["discrimination"] < 0
    assert "too_hard" in flagged[hard]["flags"] and flagged[hard]["times_drawn"] == 1
    only_easy = (await client.get("/api/questions", params={"flag": "too_easy", "limit": 500}, headers=editor)).json()
    assert easy in {item["id"] for item in only_easy["items"]} and inverted not in {i["id"] for i in only_easy["items"]}
    bad = await client.get("/api/questions", params={"flag": "odd"}, headers=editor)
    assert bad.status_code == 422 and "flag" in bad.text

    retired = await client.post("/api/questions/retire", json={"question_ids": [easy, inverted]}, headers=editor)
    assert retired.status_code == 200, retired.text
    assert [item["status"] for item in retired.json()] == ["retired", "retired"]
    active = (
        await client.get("/api/questions", params={"flag": "any", "status": "active", "limit": 500}, headers=editor)
    ).json()
    assert {easy, inverted}.isdisjoint({item["id"] for item in active["items"]})
    assert hard in {item["id"] for item in active["items"]}
    examinee = await headers_for(session, Role.examinee)
    refused = await client.post("/api/questions/retire", json={"question_ids": [hard]}, headers=examinee)
    assert refused.status_code == 403
    question = await session.get(Question, hard)
    assert question is not None
    await session.refresh(question)
    assert question.status == "active"
