import io
from typing import Any

import httpx2
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.bank.models import Question
from app.bank.sheet import HEADERS
from app.core.tabular import read_table
from app.org.models import Unit
from tests.bank.factories_bank import portable, upload
from tests.factories import headers_for, make_unit, question_data, unique

TRICKY_TEXTS = ('=HYPERLINK("http://x")', "+1", "-5%", "@SUM(A1)", "'引号开头")
TRICKY_OPTIONS = [{"key": k, "text": t} for k, t in zip("ABCDE", TRICKY_TEXTS, strict=True)]


async def fill_bank(client: httpx2.AsyncClient, headers: dict[str, str], unit: Unit, tag: str) -> list[int]:
    """Questions of every type and category, with every optional field and text a spreadsheet would run."""
    bodies = [
        question_data("single", "theory", stem="依据宪法，国家的根本任务是", difficulty=2, knowledge_point="宪法",
                      explanation="第一行\n第二行", legal_basis="《宪法》序言", tags=[tag, "宪法"]),
        question_data("multiple", "law", options=TRICKY_OPTIONS, answer=["A", "C", "E"], stem="=1+1 开头的题干",
                      tags=[tag]),
        question_data("judge", "policy", unit.id, answer=["F"], stem="政策题：本单位……", difficulty=5, tags=[tag],
                      explanation="-负号开头的解析"),
        question_data("single", "theory", stem="八个选项", options=[{"key": k, "text": f"第{k}项"} for k in "ABCDEFGH"],
                      answer="H", tags=[tag]),
    ]  # fmt: skip
    ids = []
    for body in bodies:
        response = await client.post("/api/questions", json=body, headers=headers)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def export(client: httpx2.AsyncClient, headers: dict[str, str], fmt: str, **params: Any) -> httpx2.Response:
    response = await client.get("/api/questions/export", params={"format": fmt, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def empty_bank(session: AsyncSession, ids: list[int]) -> None:
    await session.execute(delete(Question).where(Question.id.in_(ids)))
    await session.commit()


@pytest.mark.parametrize(("fmt", "filename"), [("json", "q.json"), ("xlsx", "q.xlsx"), ("csv", "q.csv")])
async def test_an_export_imports_back_into_an_empty_bank_unchanged(
    client: httpx2.AsyncClient, session: AsyncSession, fmt: str, filename: str
) -> None:
    headers = await headers_for(session, Role.admin)
    tag = unique("导出")
    ids = await fill_bank(client, headers, await make_unit(session), tag)
    before = (await export(client, headers, "json", tag=tag)).json()
    assert len(before) == len(ids)
    exported = (await export(client, headers, fmt, tag=tag)).content
    await empty_bank(session, ids)
    assert (await export(client, headers, "json", tag=tag)).json() == []
    imported = await upload(client, headers, filename, exported)
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == len(ids)
    after = (await export(client, headers, "json", tag=tag)).json()
    assert [portable(item) for item in after] == [portable(item) for item in before]


async def test_json_export_names_units_by_code_and_omits_judge_options(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    headers = await headers_for(session, Role.admin)
    unit = await make_unit(session)
    tag = unique("导出")
    await fill_bank(client, headers, unit, tag)
    items = (await export(client, headers, "json", tag=tag, type="judge")).json()
    assert items == [{
        "type": "judge", "category": "policy", "unit_code": unit.code, "stem": "政策题：本单位……", "answer": ["F"],
        "difficulty": 5, "knowledge_point": None, "explanation": "-负号开头的解析", "legal_basis": None, "tags": [tag],
    }]  # fmt: skip


async def test_spreadsheet_exports_guard_formulas_and_csv_has_a_bom(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    headers = await headers_for(session, Role.admin)
    tag = unique("导出")
    await fill_bank(client, headers, await make_unit(session), tag)
    csv_response = await export(client, headers, "csv", tag=tag, type="multiple")
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert csv_response.content.startswith(b"\xef\xbb\xbf")
    text = csv_response.content.decode("utf-8-sig")
    assert text.splitlines()[0].split(",") == list(HEADERS)
    for guarded in ("'=1+1 开头的题干", "'+1", "'-5%", "'@SUM(A1)", "'=HYPERLINK"):
        assert guarded in text
    assert "''引号开头" not in text
    xlsx = await export(client, headers, "xlsx", tag=tag, type="multiple")
    assert 'filename="questions.xlsx"' in xlsx.headers["content-disposition"]
    (row,) = read_table("q.xlsx", xlsx.content)
    assert list(row.values) == list(HEADERS)
    assert (row.values["题干"], row.values["选项A"], row.values["选项D"]) == ("'=1+1 开头的题干", "'=HYPERLINK(\"http://x\")",
                                                                    "'@SUM(A1)")  # fmt: skip
    assert (row.values["题型"], row.values["类别"], row.values["答案"]) == ("多选", "基础法律", "ACE")


async def test_export_is_scoped_like_the_list(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    admin = await headers_for(session, Role.admin)
    own, other = await make_unit(session), await make_unit(session)
    tag = unique("导出")
    await fill_bank(client, admin, own, tag)
    await fill_bank(client, admin, other, tag)
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=own.id)
    items = (await export(client, unit_admin, "json", tag=tag)).json()
    assert len(items) == 7  # both copies of the shared bank, one policy question
    assert [i["unit_code"] for i in items if i["category"] == "policy"] == [own.code]
    by_category = (await export(client, admin, "json", tag=tag, category="policy")).json()
    assert sorted(i["unit_code"] for i in by_category) == sorted([own.code, other.code])
    examinee = await headers_for(session, Role.examinee)
    forbidden = await client.get("/api/questions/export", params={"format": "json"}, headers=examinee)
    assert forbidden.status_code == 403


async def test_interchange_exports(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.admin)
    tag = unique("导出")
    await fill_bank(client, headers, await make_unit(session), tag)
    gift = await export(client, headers, "gift", tag=tag)
    assert "依据宪法，国家的根本任务是" in gift.text
    aiken = await export(client, headers, "aiken", tag=tag)
    assert aiken.headers["x-exambank-skipped"] == "1"  # Aiken has no multiple-answer questions
    assert (await export(client, headers, "moodle_xml", tag=tag)).content.lstrip().startswith(b"<?xml")
    assert (await export(client, headers, "qti", tag=tag)).content.startswith(b"PK")
    back = await upload(client, headers, "again.gift.txt", gift.content, category="theory")
    assert back.status_code == 200, back.text


async def test_blank_template(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.bank_editor)
    response = await client.get("/api/questions/template", headers=headers)
    assert response.status_code == 200
    rows = read_table("template.xlsx", response.content)
    assert list(rows[0].values) == list(HEADERS)
    assert [row.values["题型"] for row in rows] == ["单选", "多选", "判断"]
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    assert workbook.sheet_names == ["题目", "填写说明"]
    guide = workbook.get_sheet_by_name("填写说明").to_python()
    guide_text = "\n".join(str(cell) for line in guide for cell in line)
    for words in ("对/错", "AC、A,C 或 A、C", "部门政策业务", "基本理论", "基础法律"):
        assert words in guide_text
    forbidden = await client.get("/api/questions/template", headers=await headers_for(session, Role.examinee))
    assert forbidden.status_code == 403


async def test_the_template_examples_import(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    await make_unit(session, code="U001")
    headers = await headers_for(session, Role.admin)
    template = (await client.get("/api/questions/template", headers=headers)).content
    response = await upload(client, headers, "template.xlsx", template)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 3
