"""Browsing the bank (filters, text search) and who may see and edit what."""

from typing import Any

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.org.models import Unit
from tests.factories import headers_for, make_unit, question_data, unique


async def create(client: httpx2.AsyncClient, headers: dict[str, str], *args: Any, **overrides: Any) -> int:
    response = await client.post("/api/questions", json=question_data(*args, **overrides), headers=headers)
    assert response.status_code == 201, response.text
    question_id: int = response.json()["id"]
    return question_id


async def listed(client: httpx2.AsyncClient, headers: dict[str, str], **params: Any) -> list[int]:
    response = await client.get("/api/questions", params={"limit": 500, **params}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["total"] == len(response.json()["items"])
    return [q["id"] for q in response.json()["items"]]


async def test_filters(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    admin = await headers_for(session, Role.admin)
    tag, point = unique("标签"), unique("知识点")
    single = await create(client, admin, "single", "theory", tags=[tag], knowledge_point=point)
    multiple = await create(client, admin, "multiple", "law", tags=[tag])
    judge = await create(client, admin, "judge", "policy", unit.id, tags=[tag])
    retired = await create(client, admin, "judge", "theory", tags=[tag])
    await client.post(f"/api/questions/{retired}/retire", headers=admin)
    assert await listed(client, admin, tag=tag) == [single, multiple, judge, retired]
    assert await listed(client, admin, tag=tag, type="judge") == [judge, retired]
    assert await listed(client, admin, tag=tag, category="law") == [multiple]
    assert await listed(client, admin, unit_id=unit.id) == [judge]
    assert await listed(client, admin, knowledge_point=point) == [single]
    assert await listed(client, admin, tag=tag, status="retired") == [retired]
    assert await listed(client, admin, tag=tag, status="active", type="judge") == [judge]
    page = await client.get("/api/questions", params={"tag": tag, "limit": 2, "offset": 1}, headers=admin)
    assert ([q["id"] for q in page.json()["items"]], page.json()["total"]) == ([multiple, judge], 4)


async def test_text_search_finds_a_two_character_chinese_word(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    admin = await headers_for(session, Role.admin)
    tag = unique("检索")
    in_stem = await create(client, admin, stem="根据宪法规定，下列说法正确的是", tags=[tag])
    in_option = await create(client, admin, stem="下列哪部法律效力最高", tags=[tag],
                             options=[{"key": "A", "text": "刑法"}, {"key": "B", "text": "宪法"}])  # fmt: skip
    await create(client, admin, stem="劳动合同的订立", tags=[tag],
                 options=[{"key": "A", "text": "书面"}, {"key": "B", "text": "口头"}])  # fmt: skip
    assert await listed(client, admin, tag=tag, q="宪法") == [in_stem, in_option]
    assert await listed(client, admin, tag=tag, q="宪法 正确") == [in_stem]
    assert await listed(client, admin, tag=tag, q="100%") == []


async def shared_and_policy(client: httpx2.AsyncClient, session: AsyncSession) -> tuple[Unit, Unit, dict[str, int]]:
    own, other = await make_unit(session), await make_unit(session)
    admin = await headers_for(session, Role.admin)
    ids = {
        "theory": await create(client, admin, "single", "theory"),
        "law": await create(client, admin, "judge", "law"),
        "own": await create(client, admin, "judge", "policy", own.id),
        "other": await create(client, admin, "judge", "policy", other.id),
    }
    return own, other, ids


async def test_a_unit_admin_sees_the_shared_bank_and_only_his_units_policy(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    own, other, ids = await shared_and_policy(client, session)
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=own.id)
    visible = set(await listed(client, unit_admin))
    assert {ids["theory"], ids["law"], ids["own"]} <= visible
    assert ids["other"] not in visible
    assert await listed(client, unit_admin, category="policy") == [ids["own"]]
    assert await listed(client, unit_admin, unit_id=other.id) == []
    hidden = await client.get(f"/api/questions/{ids['other']}", headers=unit_admin)
    assert hidden.status_code == 404
    hidden_versions = await client.get(f"/api/questions/{ids['other']}/versions", headers=unit_admin)
    assert hidden_versions.status_code == 404


async def test_a_unit_admin_edits_only_his_units_policy_questions(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    own, other, ids = await shared_and_policy(client, session)
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=own.id)
    mine = await client.patch(f"/api/questions/{ids['own']}", json={"answer": "F"}, headers=unit_admin)
    assert mine.status_code == 200, mine.text
    for key in ("theory", "law", "other"):
        refused = await client.patch(f"/api/questions/{ids[key]}", json={"difficulty": 1}, headers=unit_admin)
        assert refused.status_code == 403, key
        retire = await client.post(f"/api/questions/{ids[key]}/retire", headers=unit_admin)
        assert retire.status_code == 403, key
    created = await client.post("/api/questions", json=question_data("judge", "policy", own.id), headers=unit_admin)
    assert created.status_code == 201
    for body in (question_data("judge", "policy", other.id), question_data("judge", "theory")):
        assert (await client.post("/api/questions", json=body, headers=unit_admin)).status_code == 403
    moved = await client.patch(f"/api/questions/{ids['own']}", json={"unit_id": other.id}, headers=unit_admin)
    assert moved.status_code == 403


async def test_a_bank_editor_edits_theory_and_law_only(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    own, _other, ids = await shared_and_policy(client, session)
    editor = await headers_for(session, Role.bank_editor)
    for key in ("theory", "law"):
        edited = await client.patch(f"/api/questions/{ids[key]}", json={"difficulty": 1}, headers=editor)
        assert edited.status_code == 200, edited.text
    refused = await client.patch(f"/api/questions/{ids['own']}", json={"difficulty": 1}, headers=editor)
    assert refused.status_code == 403
    policy = await client.post("/api/questions", json=question_data("judge", "policy", own.id), headers=editor)
    assert policy.status_code == 403
    assert ids["other"] in await listed(client, editor, category="policy")


async def test_examinees_see_nothing(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    _own, _other, ids = await shared_and_policy(client, session)
    examinee = await headers_for(session, Role.examinee)
    for path in ("/api/questions", f"/api/questions/{ids['theory']}", f"/api/questions/{ids['theory']}/versions"):
        assert (await client.get(path, headers=examinee)).status_code == 403, path
    created = await client.post("/api/questions", json=question_data(), headers=examinee)
    assert created.status_code == 403
    assert (await client.get("/api/questions")).status_code == 401
