from typing import Any

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from tests.factories import headers_for, question_data


async def create(client: httpx2.AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/questions", json=question_data(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_edit_writes_version_two_and_keeps_version_one(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    headers = await headers_for(session, Role.bank_editor)
    question = await create(client, headers, stem="原来的题干", answer="B")
    edited = await client.patch(f"/api/questions/{question['id']}", headers=headers,
                                json={"answer": "C", "stem": "修改后的题干", "change_note": "更正答案"})  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert (edited.json()["version"], edited.json()["answer"]) == (2, ["C"])
    assert edited.json()["version_id"] != question["version_id"]
    versions = (await client.get(f"/api/questions/{question['id']}/versions", headers=headers)).json()
    assert [(v["version"], v["stem"], v["answer"], v["change_note"]) for v in versions] == [
        (1, "原来的题干", ["B"], None), (2, "修改后的题干", ["C"], "更正答案"),
    ]  # fmt: skip
    assert versions[0]["id"] == question["version_id"]
    assert versions[1]["id"] == edited.json()["version_id"]


async def test_an_unchanged_edit_writes_no_version(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.bank_editor)
    question = await create(client, headers, stem="不变的题目", answer="B")
    same = await client.patch(f"/api/questions/{question['id']}", headers=headers,
                              json={"answer": "ｂ", "stem": " 不变的题目 ", "change_note": "没有改动"})  # fmt: skip
    assert same.status_code == 200, same.text
    assert same.json()["version"] == 1
    versions = (await client.get(f"/api/questions/{question['id']}/versions", headers=headers)).json()
    assert [v["version"] for v in versions] == [1]


async def test_an_invalid_edit_changes_nothing(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.bank_editor)
    question = await create(client, headers, type="multiple", answer="AC")
    refused = await client.patch(f"/api/questions/{question['id']}", headers=headers, json={"answer": "A"})
    assert refused.status_code == 422
    current = (await client.get(f"/api/questions/{question['id']}", headers=headers)).json()
    assert (current["version"], current["answer"]) == (1, ["A", "C"])


async def test_changing_type_to_judge_drops_the_options(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.bank_editor)
    question = await create(client, headers)
    edited = await client.patch(f"/api/questions/{question['id']}", headers=headers,
                                json={"type": "judge", "answer": "错"})  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert (edited.json()["type"], edited.json()["answer"], edited.json()["version"]) == ("judge", ["F"], 2)
    assert [o["key"] for o in edited.json()["options"]] == ["T", "F"]


async def test_retire_and_restore(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.bank_editor)
    question = await create(client, headers, stem="退役的题目")
    retired = await client.post(f"/api/questions/{question['id']}/retire", headers=headers)
    assert (retired.status_code, retired.json()["status"]) == (200, "retired")
    listed = await client.get("/api/questions", params={"q": "退役的题目", "status": "retired"}, headers=headers)
    assert [q["id"] for q in listed.json()["items"]] == [question["id"]]
    active = await client.get("/api/questions", params={"q": "退役的题目", "status": "active"}, headers=headers)
    assert active.json()["total"] == 0
    restored = await client.post(f"/api/questions/{question['id']}/restore", headers=headers)
    assert (restored.status_code, restored.json()["status"], restored.json()["version"]) == (200, "active", 1)
