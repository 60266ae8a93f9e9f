from typing import Any

import httpx2
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from tests.factories import headers_for, make_unit, question_data


def options(keys: str) -> list[dict[str, str]]:
    return [{"key": k, "text": f"选项{k}"} for k in keys]


async def post(client: httpx2.AsyncClient, session: AsyncSession, body: dict[str, Any]) -> httpx2.Response:
    return await client.post("/api/questions", json=body, headers=await headers_for(session, Role.admin))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (question_data("single", options=options("A"), answer="A"), "options"),
        (question_data("single", options=options("ABCDEFGHI"), answer="A"), "options"),
        (question_data("multiple", options=options("ABCDEFGHI"), answer="AB"), "options"),
        (question_data("single", answer="E"), "answer"),
        (question_data("multiple", answer="AE"), "answer"),
        (question_data("single", answer="AB"), "answer"),
        (question_data("multiple", answer="A"), "answer"),
        (question_data("single", answer=[]), "answer"),
        (question_data("judge", answer="A"), "answer"),
        (question_data("judge", answer="TF"), "answer"),
        (question_data("judge", options=options("AB"), answer="T"), "options"),
        (question_data("single", options=[{"key": "A", "text": "甲"}, {"key": "C", "text": "丙"}]), "options"),
        (question_data("single", options=[{"key": "A", "text": "甲"}, {"key": "B", "text": " "}]), "options"),
        (question_data("single", stem="  "), "stem"),
        (question_data("single", difficulty=6), "difficulty"),
        (question_data("judge", "policy"), "unit_id"),
        (question_data("judge", "theory", 1), "unit_id"),
        (question_data("judge", "law", 1), "unit_id"),
    ],
    ids=[
        "one-option", "nine-options", "multiple-nine-options", "single-key-not-an-option",
        "multiple-key-not-an-option", "single-two-keys", "multiple-one-key", "no-answer", "judge-letter",
        "judge-two-answers", "judge-with-options", "option-keys-skip", "blank-option", "blank-stem",
        "difficulty-six", "policy-without-unit", "theory-with-unit", "law-with-unit",
    ],
)  # fmt: skip
async def test_invalid_questions_are_refused(
    client: httpx2.AsyncClient, session: AsyncSession, body: dict[str, Any], field: str
) -> None:
    response = await post(client, session, body)
    assert response.status_code == 422, response.text
    assert field in str(response.json()["detail"])


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (question_data("multiple", answer="ＡＣ"), ["A", "C"]),
        (question_data("multiple", answer="ac"), ["A", "C"]),
        (question_data("multiple", answer="C、A"), ["A", "C"]),
        (question_data("multiple", answer="A,C"), ["A", "C"]),
        (question_data("multiple", answer="A，C"), ["A", "C"]),
        (question_data("single", answer="ｄ"), ["D"]),
        (question_data("judge", answer="对"), ["T"]),
        (question_data("judge", answer="错误"), ["F"]),
        (question_data("judge", answer="√"), ["T"]),
        (question_data("judge", answer="×"), ["F"]),
        (question_data("judge", answer="T"), ["T"]),
        (question_data("judge", answer="false"), ["F"]),
    ],
)
async def test_answers_are_folded(
    client: httpx2.AsyncClient, session: AsyncSession, body: dict[str, Any], answer: list[str]
) -> None:
    response = await post(client, session, body)
    assert response.status_code == 201, response.text
    assert response.json()["answer"] == answer


async def test_two_and_eight_options_are_accepted(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    for keys in ("AB", "ABCDEFGH"):
        response = await post(client, session, question_data("multiple", options=options(keys), answer=keys[-2:]))
        assert response.status_code == 201, response.text
        assert [o["key"] for o in response.json()["options"]] == list(keys)


async def test_html_entities_and_markup_are_cleaned(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    body = question_data(
        "single", stem="&nbsp;依据&lt;宪法&gt;<br/>下列&amp;说法　正确的是",
        options=[{"key": "A", "text": "<p>甲&quot;</p>"}, {"key": "B", "text": "乙&#x4E59;"}], answer="A",
        explanation="<b>解析</b>&nbsp;",
    )  # fmt: skip
    response = await post(client, session, body)
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["stem"] == "依据<宪法>\n下列&说法 正确的是"
    assert [o["text"] for o in data["options"]] == ['甲"', "乙乙"]
    assert data["explanation"] == "解析"


async def test_a_created_question_reads_back(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    body = question_data("multiple", "policy", unit.id, difficulty=4, knowledge_point="社保", legal_basis="社会保险法",
                         explanation="说明", tags=["社保", "社保", " 征缴 "])  # fmt: skip
    created = (await post(client, session, body)).json()
    headers = await headers_for(session, Role.admin)
    read = (await client.get(f"/api/questions/{created['id']}", headers=headers)).json()
    assert read == created
    assert (read["unit_id"], read["difficulty"], read["status"]) == (unit.id, 4, "active")
    assert read["tags"] == ["社保", "征缴"]
    assert read["version"] == 1
    assert read["version_id"] is not None
    missing = await client.get("/api/questions/999999", headers=headers)
    assert missing.status_code == 404


async def test_unknown_unit_is_refused(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    response = await post(client, session, question_data("judge", "policy", 999_999))
    assert response.status_code == 404
