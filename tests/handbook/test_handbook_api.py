"""The unit handbook: sections edited by the unit's own admin, linked to duty items and questions; the .docx
export; and the coverage report 清单 → 手册 → 题库 with its gaps named."""

from __future__ import annotations

import io

import httpx2
from docx import Document
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.dependencies import SESSION_COOKIE
from app.accounts.models import Role
from app.handbook.models import HandbookSection
from app.org.models import Unit
from tests.factories import headers_for, make_question, make_unit

DUTIES = ["行政许可审批", "执法检查程序", "信访事项办理"]


async def _unit_with_duties(client: httpx2.AsyncClient, session: AsyncSession) -> tuple[Unit, dict[str, str]]:
    unit = await make_unit(session, name="省自然资源厅")
    admin = await headers_for(session, Role.unit_admin, unit_id=unit.id)
    reply = await client.put(f"/api/units/{unit.id}/duties", json={"knowledge_points": DUTIES}, headers=admin)
    assert reply.status_code == 200, reply.text
    return unit, admin


def _section(unit_id: int, title: str, **extra: object) -> tuple[str, dict[str, object]]:
    return f"/api/units/{unit_id}/handbook/sections", {"title": title, "body": "第一段。\n第二段。", **extra}


async def test_the_unit_admin_writes_his_handbook_and_others_read_it(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit, admin = await _unit_with_duties(client, session)
    policy = await make_question(session, "single", "policy", unit.id, knowledge_point=DUTIES[0])
    theory = await make_question(session, "judge", "theory")
    path, body = _section(
        unit.id,
        "行政许可",
        legal_basis="《行政许可法》第二条",
        duty_points=[DUTIES[0]],
        question_ids=[policy.id, theory.id],
    )
    first = await client.post(path, json=body, headers=admin)
    assert first.status_code == 201, first.text
    assert first.json()["position"] == 1 and first.json()["question_ids"] == sorted([policy.id, theory.id])
    path, body = _section(unit.id, "总则", position=1)
    second = await client.post(path, json=body, headers=admin)
    assert second.status_code == 201

    handbook = (await client.get(f"/api/units/{unit.id}/handbook", headers=admin)).json()
    assert handbook["unit_name"] == "省自然资源厅"
    assert [s["title"] for s in handbook["sections"]] == ["总则", "行政许可"]  # by position, then by age
    assert handbook["sections"][1]["duty_points"] == [DUTIES[0]]
    for role in (Role.organiser, Role.supervisor, Role.bank_editor):
        reader = await headers_for(session, role)
        assert (await client.get(f"/api/units/{unit.id}/handbook", headers=reader)).status_code == 200
        assert (await client.post(path, json=body, headers=reader)).status_code == 403
    stranger = await headers_for(session, Role.unit_admin, unit_id=(await make_unit(session)).id)
    assert (await client.get(f"/api/units/{unit.id}/handbook", headers=stranger)).status_code == 403
    refused = await client.post(path, json=body, headers=stranger)
    assert refused.status_code == 403 and "本单位管理员" in refused.json()["detail"]

    path, body = _section(unit.id, "附则")
    third = (await client.post(path, json=body, headers=admin)).json()
    moved = await client.patch(
        f"/api/units/{unit.id}/handbook/sections/{second.json()['id']}", headers=admin, json={"position": 3}
    )
    assert moved.status_code == 200 and moved.json()["position"] == 3
    handbook = (await client.get(f"/api/units/{unit.id}/handbook", headers=admin)).json()
    assert [(s["title"], s["position"]) for s in handbook["sections"]] == [("行政许可", 1), ("附则", 2), ("总则", 3)]
    await client.patch(f"/api/units/{unit.id}/handbook/sections/{third['id']}", headers=admin, json={"position": 1})
    handbook = (await client.get(f"/api/units/{unit.id}/handbook", headers=admin)).json()
    assert [s["title"] for s in handbook["sections"]] == ["附则", "行政许可", "总则"]

    section_id = first.json()["id"]
    changed = await client.patch(
        f"/api/units/{unit.id}/handbook/sections/{section_id}",
        headers=admin,
        json={"duty_points": [DUTIES[1]], "legal_basis": None, "title": "许可与检查"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["duty_points"] == [DUTIES[1]] and changed.json()["legal_basis"] is None
    assert changed.json()["question_ids"] == sorted([policy.id, theory.id])  # not sent: kept
    elsewhere = await client.patch(
        f"/api/units/999999/handbook/sections/{section_id}", json={"title": "x"}, headers=admin
    )
    assert elsewhere.status_code == 403
    assert (
        await client.delete(f"/api/units/{unit.id}/handbook/sections/{section_id}", headers=admin)
    ).status_code == 204
    assert (
        await client.delete(f"/api/units/{unit.id}/handbook/sections/{section_id}", headers=admin)
    ).status_code == 404


async def test_bad_links_are_refused_by_field_and_change_nothing(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit, admin = await _unit_with_duties(client, session)
    other = await make_unit(session)
    foreign = await make_question(session, "single", "policy", other.id)
    path, body = _section(unit.id, "章节", duty_points=[DUTIES[0], "不存在的职责"], question_ids=[foreign.id, 987_654])
    reply = await client.post(path, json=body, headers=admin)
    assert reply.status_code == 422
    detail = reply.json()["detail"]
    assert [e["loc"] for e in detail] == [["body", "duty_points", 1]]
    assert "不存在的职责" in detail[0]["msg"] and "职责清单" in detail[0]["msg"]
    reply = await client.post(path, json={**body, "duty_points": []}, headers=admin)
    assert [(e["loc"], "其他单位" in e["msg"] or "不存在" in e["msg"]) for e in reply.json()["detail"]] == [
        (["body", "question_ids", 0], True),
        (["body", "question_ids", 1], True),
    ]
    assert (await client.post(path, json={"title": "", "body": ""}, headers=admin)).status_code == 422
    count = await session.scalar(select(func.count()).select_from(HandbookSection).where(
        HandbookSection.unit_id == unit.id))  # fmt: skip
    assert count == 0


async def test_coverage_names_the_gaps_from_duty_list_to_handbook_to_bank(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit, admin = await _unit_with_duties(client, session)
    await make_question(session, "single", "policy", unit.id, knowledge_point=DUTIES[0])
    await make_question(session, "judge", "policy", unit.id, knowledge_point=DUTIES[0])
    shared = await make_question(session, "single", "law")
    path = f"/api/units/{unit.id}/handbook/sections"
    permits = (await client.post(path, headers=admin, json={
        "title": "行政许可", "body": "……", "legal_basis": "《行政许可法》", "duty_points": [DUTIES[0]],
        "question_ids": [shared.id]})).json()  # fmt: skip
    checks = (await client.post(path, headers=admin, json={
        "title": "执法检查", "body": "……", "duty_points": [DUTIES[1]]})).json()  # fmt: skip
    await client.post(path, headers=admin, json={"title": "廉政要求", "body": "……", "legal_basis": "《监察法》"})

    coverage = (await client.get(f"/api/units/{unit.id}/handbook/coverage", headers=admin)).json()
    assert (coverage["duty_points"], coverage["sections"], coverage["policy_questions"]) == (3, 3, 2)
    assert coverage["duties"] == [
        {"knowledge_point": DUTIES[0], "section_ids": [permits["id"]], "questions": 2},
        {"knowledge_point": DUTIES[1], "section_ids": [checks["id"]], "questions": 0},
        {"knowledge_point": DUTIES[2], "section_ids": [], "questions": 0},
    ]
    assert {s["title"]: s["questions"] for s in coverage["sections_coverage"]} == {
        "行政许可": 3,
        "执法检查": 0,
        "廉政要求": 0,
    }
    assert coverage["gaps"] == {
        "duties_without_section": [DUTIES[2]],
        "duties_without_questions": [DUTIES[1], DUTIES[2]],
        "sections_without_duty": ["廉政要求"],
        "sections_without_questions": ["执法检查", "廉政要求"],
        "sections_without_legal_basis": ["执法检查"],
        "stale_duty_points": [],
    }
    assert any("「信访事项办理」在手册中没有对应章节" in note for note in coverage["gap_notes"])

    # The duty list drops an item a section still names: the report says so.
    await client.put(f"/api/units/{unit.id}/duties", json={"knowledge_points": DUTIES[1:]}, headers=admin)
    everyone = (await client.get("/api/handbooks/coverage", headers=await headers_for(session, Role.supervisor))).json()
    [mine] = [u for u in everyone["units"] if u["unit_id"] == unit.id]
    assert mine["gaps"]["stale_duty_points"] == [DUTIES[0]]
    own = (await client.get("/api/handbooks/coverage", headers=admin)).json()
    assert [u["unit_id"] for u in own["units"]] == [unit.id]


async def test_the_handbook_exports_as_a_word_document(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit, admin = await _unit_with_duties(client, session)
    await make_question(session, "single", "policy", unit.id, knowledge_point=DUTIES[0])
    path = f"/api/units/{unit.id}/handbook/sections"
    await client.post(path, headers=admin, json={
        "title": "行政许可", "body": "许可的条件。\n许可的程序。", "legal_basis": "《行政许可法》第十二条",
        "duty_points": [DUTIES[0]]})  # fmt: skip
    await client.post(path, headers=admin, json={"title": "执法检查", "body": "检查的程序。"})

    reply = await client.get(f"/api/units/{unit.id}/handbook/export", headers=admin)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    document = Document(io.BytesIO(reply.content))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "省自然资源厅岗位履职手册"
    assert "一、行政许可" in texts and "二、执法检查" in texts
    assert "许可的条件。" in texts and "法律依据：《行政许可法》第十二条" in texts
    assert f"对应职责：{DUTIES[0]}" in texts and "题库覆盖：1 道题" in texts and "题库覆盖：尚无题目" in texts
    assert any("「执法检查程序」" in t and "没有对应章节" in t for t in texts)


async def test_the_handbook_page_renders_for_the_unit_admin(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit, admin = await _unit_with_duties(client, session)
    client.cookies.update({SESSION_COOKIE: admin["Authorization"].removeprefix("Bearer ")})
    page = await client.get("/console/handbook")
    assert page.status_code == 200 and "handbookView" in page.text and str(unit.id) in page.text
    assert 'href="/console/handbook"' in page.text  # in his navigation
    client.cookies.update({SESSION_COOKIE: (await headers_for(session, Role.examinee))["Authorization"][7:]})
    assert (await client.get("/console/handbook")).status_code == 403
