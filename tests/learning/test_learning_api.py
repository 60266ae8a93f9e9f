"""A cadre's history across his tickets, his 错题本 from practice attempts, review drills drawn from it, and the
knowledge points a unit's cadres miss most."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx2
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.dependencies import SESSION_COOKIE
from app.accounts.models import Role
from app.bank.models import Question
from app.core.clock import FrozenClock
from app.exams.models import Exam, Participant
from tests.exams.factories_attempts import (
    Examinee,
    ExamSetup,
    letters_for,
    make_exam_setup,
    path_start,
    shown_to_paper,
)
from tests.factories import headers_for, make_unit

RIGHT = {1: "B", 2: "D", 3: "AC", 4: "ABD", 5: "T", 6: "F"}
POINTS = {1: "宪法", 2: "宪法", 3: "民法典", 4: "民法典", 5: "党章", 6: "党章"}


async def sit(
    client: httpx2.AsyncClient, setup: ExamSetup, examinee: Examinee, wrong: dict[int, str]
) -> dict[str, Any]:
    """Start, answer every question (right unless given in ``wrong``, by paper position) and submit."""
    start = (await client.post(path_start(setup), headers=examinee.headers)).json()
    paper_of = shown_to_paper(start)
    answers = {
        str(shown): letters_for(start, shown, wrong.get(paper, RIGHT[paper])) for shown, paper in paper_of.items()
    }
    saved = await client.put(
        f"/api/attempts/{start['attempt_id']}/answers", json={"seq": 1, "answers": answers}, headers=examinee.headers
    )
    assert saved.status_code == 200, saved.text
    submitted = await client.post(f"/api/attempts/{start['attempt_id']}/submit", headers=examinee.headers)
    assert submitted.status_code == 200, submitted.text
    return start


async def practice_setup(session: AsyncSession, clock: FrozenClock) -> ExamSetup:
    setup = await make_exam_setup(session, mode="practice", max_attempts=3, examinees_per_unit=2, now=clock.now())
    for no, question in enumerate(setup.questions, start=1):
        await session.execute(update(Question).where(Question.id == question.id).values(
            knowledge_point=POINTS[no], legal_basis=f"依据第{no}条"))  # fmt: skip
    await session.commit()
    return setup


async def test_the_mistake_book_and_a_drill_drawn_from_it(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await practice_setup(session, clock)
    cadre = setup.examinees[0]
    qid = {no: q.id for no, q in enumerate(setup.questions, start=1)}
    await sit(client, setup, cadre, {2: "A", 4: "AB", 6: "T"})
    clock.advance(seconds=3600)
    await sit(client, setup, cadre, {4: "AD", 6: "T"})

    book = (await client.get("/api/me/mistakes", headers=cadre.headers)).json()
    assert (book["total"], book["mastered"]) == (3, 1)
    items = {item["question_id"]: item for item in book["items"]}
    assert [i["question_id"] for i in book["items"]] == [qid[4], qid[6], qid[2]]  # unmastered, most missed first
    assert items[qid[4]]["times_wrong"] == 2 and items[qid[4]]["last_wrong_answer"] == ["A", "D"]
    assert items[qid[4]]["answer"] == ["A", "B", "D"] and items[qid[4]]["explanation"] == "解析：答案为ABD"
    assert items[qid[4]]["legal_basis"] == "依据第4条" and items[qid[4]]["knowledge_point"] == "民法典"
    assert items[qid[2]]["mastered"] is True and items[qid[6]]["mastered"] is False
    other = (await client.get("/api/me/mistakes", headers=setup.examinees[1].headers)).json()
    assert other["total"] == 0

    clock.advance(seconds=600)
    drill = await client.post("/api/me/mistakes/drills", json={"count": 10}, headers=cadre.headers)
    assert drill.status_code == 201, drill.text
    questions = drill.json()["questions"]
    assert sorted(q["question_id"] for q in questions) == sorted([qid[4], qid[6]])
    assert not any(k in q for q in questions for k in ("answer", "explanation"))
    numbers = {q["question_id"]: str(q["no"]) for q in questions}
    path = f"/api/me/mistakes/drills/{drill.json()['drill_id']}/submit"
    bad = await client.post(path, json={"answers": {numbers[qid[6]]: ["A"]}}, headers=cadre.headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "answers", numbers[qid[6]]]
    assert "没有选项" in bad.json()["detail"][0]["msg"]
    result = await client.post(
        path, json={"answers": {numbers[qid[6]]: ["F"], numbers[qid[4]]: ["A"]}}, headers=cadre.headers
    )
    assert result.status_code == 200, result.text
    body = result.json()
    assert (body["correct"], body["total"]) == (1, 2)
    by_question = {i["question_id"]: i for i in body["items"]}
    assert by_question[qid[6]]["is_correct"] and not by_question[qid[4]]["is_correct"]
    assert by_question[qid[4]]["answer"] == ["A", "B", "D"] and by_question[qid[4]]["legal_basis"] == "依据第4条"
    assert (await client.post(path, json={"answers": {}}, headers=cadre.headers)).status_code == 409

    book = (await client.get("/api/me/mistakes", headers=cadre.headers)).json()
    items = {item["question_id"]: item for item in book["items"]}
    assert items[qid[6]]["mastered"] is True and items[qid[4]]["times_wrong"] == 3
    # Someone else's drill is not his to see.
    assert (
        await client.get(f"/api/me/mistakes/drills/{drill.json()['drill_id']}", headers=setup.examinees[1].headers)
    ).status_code == 404
    staff = await headers_for(session, Role.organiser)
    assert (await client.get("/api/me/mistakes", headers=staff)).status_code == 403


async def test_the_mistake_book_pages_in_its_order_with_the_whole_counts(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await practice_setup(session, clock)
    cadre = setup.examinees[0]
    qid = {no: q.id for no, q in enumerate(setup.questions, start=1)}
    await sit(client, setup, cadre, {2: "A", 4: "AB", 6: "T"})
    clock.advance(seconds=3600)
    await sit(client, setup, cadre, {4: "AD", 6: "T"})
    pages = [
        (await client.get(f"/api/me/mistakes?limit=1&offset={offset}", headers=cadre.headers)).json()
        for offset in range(4)
    ]
    assert [i["question_id"] for p in pages for i in p["items"]] == [qid[4], qid[6], qid[2]]
    assert {(p["total"], p["mastered"]) for p in pages} == {(3, 1)} and pages[3]["items"] == []
    refused = await client.get("/api/me/mistakes?limit=501", headers=cadre.headers)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_a_drill_needs_mistakes(client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock) -> None:
    setup = await practice_setup(session, clock)
    await sit(client, setup, setup.examinees[0], {})
    reply = await client.post("/api/me/mistakes/drills", headers=setup.examinees[0].headers)
    assert reply.status_code == 409 and "错题本" in reply.json()["detail"]


async def test_history_follows_the_cadre_across_his_tickets(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    practice = await practice_setup(session, clock)
    cadre = practice.examinees[0]
    formal = await make_exam_setup(session, now=clock.now())
    second_ticket = formal.examinees[0]
    # The formal exam's ticket belongs to the same cadre (another exam, another ticket).
    await session.execute(update(Participant).where(Participant.id == second_ticket.participant.id)
                          .values(cadre_id=cadre.cadre.id))  # fmt: skip
    await session.commit()
    await sit(client, practice, cadre, {2: "A"})
    clock.advance(seconds=60)
    await sit(client, formal, second_ticket, {})

    for headers in (cadre.headers, second_ticket.headers):
        history = (await client.get("/api/me/history", headers=headers)).json()
        assert history["cadre_id"] == cadre.cadre.id
        exams = {e["exam_id"]: e for e in history["exams"]}
        assert set(exams) == {practice.exam.id, formal.exam.id}
        assert exams[practice.exam.id]["attempts"][0]["score"] == 12.0
        assert exams[formal.exam.id]["attempts"][0]["status"] == "submitted"
        assert exams[formal.exam.id]["attempts"][0]["score"] is None  # not published yet
    organiser = await headers_for(session, Role.organiser)
    staff_view = (await client.get(f"/api/cadres/{cadre.cadre.id}/history", headers=organiser)).json()
    assert {e["exam_id"]: e["attempts"][0]["score"] for e in staff_view["exams"]}[formal.exam.id] == 14.0

    await session.execute(update(Exam).where(Exam.id == formal.exam.id).values(
        status="published", published_at=clock.now()))  # fmt: skip
    await session.commit()
    history = (await client.get("/api/me/history", headers=cadre.headers)).json()
    assert {e["exam_id"]: e["attempts"][0]["score"] for e in history["exams"]}[formal.exam.id] == 14.0

    own_admin = await headers_for(session, Role.unit_admin, unit_id=cadre.cadre.unit_id)
    assert (await client.get(f"/api/cadres/{cadre.cadre.id}/history", headers=own_admin)).status_code == 200
    stranger = await headers_for(session, Role.unit_admin, unit_id=(await make_unit(session)).id)
    assert (await client.get(f"/api/cadres/{cadre.cadre.id}/history", headers=stranger)).status_code == 403
    assert (await client.get("/api/me/history", headers=organiser)).status_code == 403


async def test_unit_admins_see_the_knowledge_points_missed_most(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await practice_setup(session, clock)
    first, second = setup.examinees
    await sit(client, setup, first, {2: "A", 4: "AB", 6: "T"})
    clock.advance(seconds=timedelta(hours=1).total_seconds())
    await sit(client, setup, first, {4: "AD", 6: "T"})
    await sit(client, setup, second, {4: "B"})
    unit_id = setup.units[0].id
    admin = await headers_for(session, Role.unit_admin, unit_id=unit_id)

    reply = await client.get(f"/api/units/{unit_id}/missed-points", headers=admin)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["total"] == 3
    assert [
        (i["knowledge_point"], i["answers"], i["wrong"], i["wrong_rate"], i["cadres_wrong"]) for i in body["items"]
    ] == [("民法典", 6, 3, 50.0, 2), ("党章", 6, 2, 33.3, 1), ("宪法", 6, 1, 16.7, 1)]
    page = (await client.get(f"/api/units/{unit_id}/missed-points?limit=2&offset=1", headers=admin)).json()
    assert [i["knowledge_point"] for i in page["items"]] == ["党章", "宪法"] and page["total"] == 3
    formal_only = (await client.get(f"/api/units/{unit_id}/missed-points?mode=formal", headers=admin)).json()
    assert formal_only == {"unit_id": unit_id, "items": [], "total": 0}
    stranger = await headers_for(session, Role.unit_admin, unit_id=(await make_unit(session)).id)
    assert (await client.get(f"/api/units/{unit_id}/missed-points", headers=stranger)).status_code == 403
    assert (await client.get(f"/api/units/{unit_id}/missed-points?limit=0", headers=admin)).status_code == 422


async def test_the_learning_page_renders_for_an_examinee(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await practice_setup(session, clock)
    client.cookies.update({SESSION_COOKIE: setup.examinees[0].headers["Authorization"].removeprefix("Bearer ")})
    page = await client.get("/learning")
    assert page.status_code == 200 and "learningView" in page.text and "错题本" in page.text
    room = await client.get("/exam")
    assert 'href="/learning"' in room.text
