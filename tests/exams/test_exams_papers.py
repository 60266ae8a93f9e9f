"""Drawing papers through the API: shape, summary, pinned versions, shortages, previews, export, redraws."""

from __future__ import annotations

import io

import httpx2
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.org.models import Unit
from app.papers.models import Paper, PaperSlot
from tests.exams.test_exams_api import setup_exam
from tests.factories import headers_for, make_cadre, make_unit
from tests.papers.factories_papers import (
    PRESET_SECTIONS,
    SMALL_SECTIONS,
    add_questions,
    start_attempt,
    stock_bank,
)


async def test_draw_returns_one_distinct_paper_per_unit(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    organiser, exam, unit_ids = await setup_exam(client, session, units=3)
    response = await client.post(f"/api/exams/{exam['id']}/papers", headers=organiser)
    assert response.status_code == 201, response.text
    papers = response.json()
    assert sorted(p["unit_id"] for p in papers) == sorted(unit_ids)
    for paper in papers:
        assert len(paper["question_ids"]) == 15 == len(paper["question_versions"])
        assert paper["question_versions"] == [1] * 15
        assert 0 <= paper["expected_difficulty"] <= 1 and paper["total_points"] == 100
    assert len({frozenset(p["question_ids"]) for p in papers}) == 3

    summary = (await client.get(f"/api/exams/{exam['id']}/papers", headers=organiser)).json()
    assert summary["tolerance"] == 0.02 and summary["balanced"] is True
    assert summary["max_overlap"] == 0  # the shared bank holds a fresh set for every unit
    by_unit = sorted(papers, key=lambda p: p["unit_id"])
    assert [p["paper_id"] for p in summary["papers"]] == [p["paper_id"] for p in by_unit]

    paper = await session.get(Paper, papers[0]["paper_id"])
    assert paper is not None
    assert [item["no"] for item in paper.content] == list(range(1, 16))
    assert [item["type"] for item in paper.content] == ["single"] * 5 + ["multiple"] * 5 + ["judge"] * 5
    assert all("answer" not in item and "explanation" not in item for item in paper.content)
    assert set(paper.answer_key) == {str(n) for n in range(1, 16)}
    assert paper.content[-1]["options"] == [{"key": "T", "text": "正确"}, {"key": "F", "text": "错误"}]
    slots = (
        await session.scalars(select(PaperSlot).where(PaperSlot.paper_id == paper.id).order_by(PaperSlot.position))
    ).all()
    assert [s.question_id for s in slots] == papers[0]["question_ids"]


async def test_policy_questions_come_from_the_units_own_bank(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    organiser, exam, _ = await setup_exam(client, session, units=2)
    papers = (await client.post(f"/api/exams/{exam['id']}/papers", headers=organiser)).json()
    for paper in papers:
        detail = (await client.get(f"/api/exams/{exam['id']}/papers/{paper['paper_id']}", headers=organiser)).json()
        policy = [q["question_id"] for q in detail["questions"] if q["category"] == "policy"]
        assert len(policy) == 6
        for question_id in policy:
            question = (await client.get(f"/api/questions/{question_id}", headers=organiser)).json()
            assert question["unit_id"] == paper["unit_id"]


async def test_same_seed_same_papers_different_seed_different(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    organiser, first, unit_ids = await setup_exam(client, session, units=2, seed=99)
    await stock_bank(session, unit_ids, sections=SMALL_SECTIONS, shared_factor=4)
    body = {"name": "同种子", "blueprint_id": first["blueprint_id"], "mode": "formal", "unit_ids": unit_ids, "seed": 99}
    second = (await client.post("/api/exams", json=body, headers=organiser)).json()
    third = (await client.post("/api/exams", json={**body, "seed": 100}, headers=organiser)).json()
    drawn = [
        {
            p["unit_id"]: p["question_ids"]
            for p in (await client.post(f"/api/exams/{e['id']}/papers", headers=organiser)).json()
        }
        for e in (first, second, third)
    ]
    assert drawn[0] == drawn[1]
    assert drawn[0] != drawn[2]
    again = (await client.post(f"/api/exams/{first['id']}/papers", headers=organiser)).json()
    assert {p["unit_id"]: p["question_ids"] for p in again} == drawn[0]
    reseeded = (await client.post(f"/api/exams/{first['id']}/papers", json={"seed": 100}, headers=organiser)).json()
    assert {p["unit_id"]: p["question_ids"] for p in reseeded} == drawn[2]
    assert (await client.get(f"/api/exams/{first['id']}", headers=organiser)).json()["seed"] == 100


async def test_papers_keep_their_version_after_a_question_edit(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    organiser, exam, _ = await setup_exam(client, session, units=1)
    [paper] = (await client.post(f"/api/exams/{exam['id']}/papers", headers=organiser)).json()
    question_id = paper["question_ids"][0]
    before = (await client.get(f"/api/exams/{exam['id']}/papers/{paper['paper_id']}", headers=organiser)).json()
    old_stem = before["questions"][0]["stem"]
    admin = await headers_for(session, Role.admin)
    edited = await client.patch(
        f"/api/questions/{question_id}",
        headers=admin,
        json={"stem": "改过的题干：依据宪法，下列说法正确的是", "answer": ["A"]},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    after = (await client.get(f"/api/exams/{exam['id']}/papers/{paper['paper_id']}", headers=organiser)).json()
    assert after["questions"][0]["stem"] == old_stem
    assert after["questions"][0]["version"] == 1
    assert after["questions"][0]["answer"] == before["questions"][0]["answer"]
    stored = await session.get(Paper, paper["paper_id"])
    assert stored is not None
    await session.refresh(stored)
    assert stored.content[0]["stem"] == old_stem
    summary = (await client.get(f"/api/exams/{exam['id']}/papers", headers=organiser)).json()
    assert summary["papers"][0]["question_versions"][0] == 1


async def test_too_small_bank_names_each_quota_and_draws_nothing(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    organiser, exam, unit_ids = await setup_exam(client, session, units=2, stock=False)
    await stock_bank(session, unit_ids[:1], sections=SMALL_SECTIONS, spare=0)
    # The second unit has a short policy bank and the shared law bank lacks a judge question.
    await add_questions(session, type="single", category="policy", unit_id=unit_ids[1], count=1)
    response = await client.post(f"/api/exams/{exam['id']}/papers", headers=organiser)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    shortages = {(s["type"], s["category"], s["unit_id"]): (s["needed"], s["available"]) for s in detail["shortages"]}
    assert shortages == {
        ("single", "policy", unit_ids[1]): (2, 1),
        ("multiple", "policy", unit_ids[1]): (2, 0),
        ("judge", "policy", unit_ids[1]): (2, 0),
    }
    code = (await session.get(Unit, unit_ids[1])).code  # type: ignore[union-attr]
    assert f"单位 {code} 的单选题（部门政策业务）需要 2 题" in detail["message"]
    assert await session.scalar(select(func.count()).select_from(Paper).where(Paper.exam_id == exam["id"])) == 0
    assert (await client.get(f"/api/exams/{exam['id']}", headers=organiser)).json()["status"] == "draft"


async def test_preview_with_key_and_export_for_organisers_only(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    organiser, exam, unit_ids = await setup_exam(client, session, units=1)
    [paper] = (await client.post(f"/api/exams/{exam['id']}/papers", headers=organiser)).json()
    url = f"/api/exams/{exam['id']}/papers/{paper['paper_id']}"
    detail = (await client.get(url, headers=organiser)).json()
    assert [q["no"] for q in detail["questions"]] == list(range(1, 16))
    assert all(q["answer"] for q in detail["questions"])
    assert {"explanation", "legal_basis", "knowledge_point", "difficulty"} <= set(detail["questions"][0])
    exported = await client.get(f"{url}/export", headers=organiser)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = CalamineWorkbook.from_filelike(io.BytesIO(exported.content)).get_sheet_by_index(0).to_python()
    assert rows[2][:5] == ["题号", "题型", "类别", "分值", "题干"]
    assert rows[3][4] == detail["questions"][0]["stem"]
    assert len(rows) == 3 + 15
    for role in (Role.supervisor, Role.proctor, Role.examinee):
        headers = await headers_for(session, role)
        assert (await client.get(url, headers=headers)).status_code == 403
        assert (await client.get(f"{url}/export", headers=headers)).status_code == 403
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=unit_ids[0])
    assert (await client.get(url, headers=unit_admin)).status_code == 403
    supervisor = await headers_for(session, Role.supervisor)
    assert (await client.get(f"/api/exams/{exam['id']}/papers", headers=supervisor)).status_code == 200
    assert (await client.get(f"/api/exams/{exam['id']}/papers", headers=unit_admin)).status_code == 403
    other_exam = (
        await client.post(
            "/api/exams",
            headers=organiser,
            json={"name": "另一场", "blueprint_id": exam["blueprint_id"], "mode": "formal", "unit_ids": unit_ids},
        )
    ).json()
    assert (
        await client.get(f"/api/exams/{other_exam['id']}/papers/{paper['paper_id']}", headers=organiser)
    ).status_code == 404


async def test_redraw_one_paper_and_refusals_once_started(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    organiser, exam, unit_ids = await setup_exam(client, session, units=3)
    await stock_bank(session, unit_ids, sections=SMALL_SECTIONS, shared_factor=3, spare=3)
    papers = {p["unit_id"]: p for p in (await client.post(f"/api/exams/{exam['id']}/papers", headers=organiser)).json()}
    target = papers[unit_ids[0]]
    redraw = await client.post(
        f"/api/exams/{exam['id']}/papers/{target['paper_id']}/redraw", headers=organiser, json={"seed": 5}
    )
    assert redraw.status_code == 200, redraw.text
    new = redraw.json()
    assert new["paper_id"] == target["paper_id"] and new["seed"] == 5
    assert set(new["question_ids"]) != set(target["question_ids"])
    summary = (await client.get(f"/api/exams/{exam['id']}/papers", headers=organiser)).json()
    by_unit = {p["unit_id"]: p for p in summary["papers"]}
    for unit_id in unit_ids[1:]:
        assert by_unit[unit_id]["question_ids"] == papers[unit_id]["question_ids"]
    assert by_unit[unit_ids[0]]["question_ids"] == new["question_ids"]

    cadre = await make_cadre(session, await session.get(Unit, unit_ids[1]))  # type: ignore[arg-type]
    await start_attempt(session, exam["id"], papers[unit_ids[1]]["paper_id"], unit_ids[1], cadre.id)
    for method, url in (
        ("POST", f"/api/exams/{exam['id']}/papers"),
        ("POST", f"/api/exams/{exam['id']}/papers/{target['paper_id']}/redraw"),
        ("DELETE", f"/api/exams/{exam['id']}/papers"),
    ):
        response = await client.request(method, url, headers=organiser)
        assert response.status_code == 409, (url, response.text)
        assert "已有考生开始答题" in response.json()["detail"]


async def test_discard_papers_returns_to_draft(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    organiser, exam, unit_ids = await setup_exam(client, session, units=2)
    await client.post(f"/api/exams/{exam['id']}/papers", headers=organiser)
    assert (await client.delete(f"/api/exams/{exam['id']}/papers", headers=organiser)).status_code == 204
    read = (await client.get(f"/api/exams/{exam['id']}", headers=organiser)).json()
    assert read["status"] == "draft" and read["drawn_at"] is None
    assert await session.scalar(select(func.count()).select_from(Paper).where(Paper.exam_id == exam["id"])) == 0
    assert (await client.delete(f"/api/exams/{exam['id']}/papers", headers=organiser)).status_code == 409
    extra = await make_unit(session)
    await stock_bank(session, [extra.id], sections=SMALL_SECTIONS)
    changed = await client.patch(
        f"/api/exams/{exam['id']}", headers=organiser, json={"unit_ids": [*unit_ids, extra.id]}
    )
    assert changed.status_code == 200
    assert len((await client.post(f"/api/exams/{exam['id']}/papers", headers=organiser)).json()) == 3


async def test_eighteen_units_from_the_preset(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    """The issue's 'done when': 18 distinct, difficulty-balanced unit papers from the preset blueprint."""
    organiser = await headers_for(session, Role.organiser)
    unit_ids = [(await make_unit(session)).id for _ in range(18)]
    blueprint = (await client.post("/api/blueprints/presets/jiben_lilun_plus", headers=organiser)).json()
    await stock_bank(
        session, unit_ids, sections=PRESET_SECTIONS, shared_factor=6, spare=6, difficulties=[1, 2, 3, 3, 4, 5]
    )
    exam = (
        await client.post(
            "/api/exams",
            headers=organiser,
            json={
                "name": "2026年第一轮",
                "blueprint_id": blueprint["id"],
                "mode": "formal",
                "unit_ids": unit_ids,
                "difficulty_tolerance": 0.02,
            },
        )
    ).json()
    papers = (await client.post(f"/api/exams/{exam['id']}/papers", headers=organiser)).json()
    assert len(papers) == 18 and all(len(p["question_ids"]) == 45 for p in papers)
    assert len({frozenset(p["question_ids"]) for p in papers}) == 18
    summary = (await client.get(f"/api/exams/{exam['id']}/papers", headers=organiser)).json()
    assert summary["balanced"] and summary["difficulty_spread"] <= 0.02
    # Shared pools hold 6 × the quota: 18 units share some questions, but few.
    assert summary["max_overlap"] <= 12


async def test_observed_correct_rates_reach_the_draw(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    from datetime import UTC, datetime

    from app.exams.models import Attempt, AttemptAnswer
    from app.exams.service import observed_facility
    from app.papers.draw import OBSERVED_MIN_ANSWERS
    from app.papers.repository import load_candidates

    organiser, exam, unit_ids = await setup_exam(client, session, units=1)
    [paper] = (await client.post(f"/api/exams/{exam['id']}/papers", headers=organiser)).json()
    unit = await session.get(Unit, unit_ids[0])
    assert unit is not None
    graded = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)
    for n in range(OBSERVED_MIN_ANSWERS):
        cadre = await make_cadre(session, unit)
        attempt = await start_attempt(session, exam["id"], paper["paper_id"], unit.id, cadre.id, status="submitted")
        attempt_row = await session.get(Attempt, attempt.id)
        assert attempt_row is not None
        attempt_row.graded_at = graded
        # Slot 1 is answered right by 3 in 4; slot 2 wrongly by all; the other slots are left blank.
        session.add(
            AttemptAnswer(
                attempt_id=attempt.id, position=1, keys="B", seq=1, saved_at=graded, is_correct=n % 4 != 0, points=0
            )
        )
        session.add(
            AttemptAnswer(
                attempt_id=attempt.id, position=2, keys="A", seq=1, saved_at=graded, is_correct=False, points=0
            )
        )
        await session.commit()
    candidates = await load_candidates(
        session,
        types=["single", "multiple", "judge"],
        categories=["theory", "law", "policy"],
        unit_ids=unit_ids,
        observed=observed_facility(),
    )
    facility = {c[0]: c[6] for c in candidates}
    first, second, third = paper["question_ids"][:3]
    assert facility[first] == pytest.approx(22 / 30)  # n % 4 != 0 for 22 of n = 0..29
    assert facility[second] == 0.0 and facility[third] == 0.0
    unused = [qid for qid in facility if qid not in paper["question_ids"]]
    assert unused and all(facility[qid] is None for qid in unused)


async def test_overlap_cap_refuses_in_chinese_and_the_summary_shows_every_pair(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    organiser, exam, unit_ids = await setup_exam(client, session, units=4, stock=False, max_shared_questions=0)
    assert exam["max_shared_questions"] == 0
    # Shared pools of 1.5 × the quota for 4 units: sharing is forced.
    await stock_bank(session, unit_ids, sections=SMALL_SECTIONS, shared_factor=1.5, spare=0)
    refused = await client.post(f"/api/exams/{exam['id']}/papers", headers=organiser)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail["code"] == "overlap_cap" and detail["field"] == "max_shared_questions"
    assert "超过本场考试设定的上限0道" in detail["message"] and "试卷未作任何改动" in detail["message"]
    assert detail["floor"] >= 1 and detail["reached"] >= detail["floor"]
    assert (await session.scalar(select(func.count()).select_from(Paper).where(Paper.exam_id == exam["id"]))) == 0
    assert (await client.get(f"/api/exams/{exam['id']}", headers=organiser)).json()["status"] == "draft"

    allowed = detail["reached"]
    patched = await client.patch(f"/api/exams/{exam['id']}", json={"max_shared_questions": allowed}, headers=organiser)
    assert patched.status_code == 200 and patched.json()["max_shared_questions"] == allowed
    drawn = await client.post(f"/api/exams/{exam['id']}/papers", headers=organiser)
    assert drawn.status_code == 201, drawn.text
    summary = (await client.get(f"/api/exams/{exam['id']}/papers", headers=organiser)).json()
    sets = {p["unit_id"]: set(p["question_ids"]) for p in drawn.json()}
    pairs = {tuple(o["unit_ids"]): o["shared"] for o in summary["overlaps"]}
    assert len(pairs) == 6
    assert pairs == {(a, b): len(sets[a] & sets[b]) for a in sets for b in sets if a < b}
    assert summary["max_overlap"] == max(pairs.values()) <= allowed
    assert summary["min_overlap"] == min(pairs.values()) and summary["max_shared_questions"] == allowed
    negative = await client.patch(f"/api/exams/{exam['id']}", json={"max_shared_questions": -1}, headers=organiser)
    assert negative.status_code == 422 and "max_shared_questions" in negative.text
