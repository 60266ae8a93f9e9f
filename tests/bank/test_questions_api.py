import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from tests.factories import headers_for, make_unit, question_data


async def test_create_single_question_normalises_answer(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.bank_editor)
    body = question_data("single", answer="ｂ", stem="  依据&nbsp;宪法 ， 下列  说法正确的是  ")
    response = await client.post("/api/questions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["answer"] == ["B"]
    assert data["version"] == 1
    assert data["stem"] == "依据 宪法 ， 下列 说法正确的是"


async def test_policy_question_needs_unit(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.admin)
    response = await client.post("/api/questions", json=question_data("judge", "policy"), headers=headers)
    assert response.status_code == 422
    assert "unit_id" in response.text
    ok = await client.post("/api/questions", json=question_data("judge", "policy", unit.id), headers=headers)
    assert ok.status_code == 201, ok.text
    assert ok.json()["options"] == [{"key": "T", "text": "正确"}, {"key": "F", "text": "错误"}]
