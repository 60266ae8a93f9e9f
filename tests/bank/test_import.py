from typing import Any

import httpx2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.bank.models import Question, QuestionVersion
from app.core.audit import AuditEntry
from tests.bank.factories_bank import count_questions, csv_bytes, json_bytes, sheet_row, upload, xlsx_bytes
from tests.factories import headers_for, make_unit, question_data


def single_row(stem: str = "宪法规定的根本制度是", answer: str = "B", **cells: Any) -> dict[str, Any]:
    return sheet_row(题型="单选", 类别="基本理论", 题干=stem, 选项A="甲", 选项B="乙", 选项C="丙", 答案=answer, **cells)


async def stored(session: AsyncSession, stem: str) -> Question:
    question = await session.scalar(select(Question).where(Question.stem == stem))
    assert question is not None, stem
    return question


async def test_xlsx_import_normalises_answers_and_writes_versions(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    headers = await headers_for(session, Role.bank_editor)
    rows = [
        single_row("单选题一", "ｂ", 难度=4, 知识点="宪法", 解析="见宪法", 依据="宪法第一条", 标签="宪法,基础"),
        sheet_row(题型="多选题", 类别="法律", 题干="多选题一", 选项A="甲", 选项B="乙", 选项C="丙", 答案="A、C"),
        sheet_row(题型="判断", 类别="theory", 题干="判断题一", 答案="√"),
    ]
    response = await upload(client, headers, "bank.xlsx", xlsx_bytes(rows))
    assert response.status_code == 200, response.text
    assert response.json() | {"duplicates": [], "warnings": []} == {
        "created": 3, "updated": 0, "unchanged": 0, "errors": [], "skipped": [], "duplicates": [], "warnings": [],
    }  # fmt: skip
    single = await stored(session, "单选题一")
    assert (single.answer, single.difficulty, single.knowledge_point) == (["B"], 4, "宪法")
    assert single.tags == ["宪法", "基础"]
    assert (single.explanation, single.legal_basis, single.version) == ("见宪法", "宪法第一条", 1)
    assert (await stored(session, "多选题一")).answer == ["A", "C"]
    judge = await stored(session, "判断题一")
    assert (judge.answer, judge.options) == (["T"], [{"key": "T", "text": "正确"}, {"key": "F", "text": "错误"}])
    version = await session.get(QuestionVersion, single.current_version_id)
    assert version is not None
    assert (version.question_id, version.version, version.stem) == (single.id, 1, "单选题一")
    tagged = await client.get("/api/questions", params={"tag": "基础"}, headers=headers)
    assert [q["stem"] for q in tagged.json()["items"]] == ["单选题一"]


async def test_import_writes_one_audit_row(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    user_headers = await headers_for(session, Role.bank_editor)
    content = csv_bytes([single_row("审计题一"), single_row("审计题二")])
    response = await upload(client, user_headers, "audit.csv", content)
    assert response.status_code == 200, response.text
    entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "question.import"))).all()
    assert len(entries) == 1
    assert entries[0].actor_id is not None
    assert entries[0].detail | {"near_duplicates": 0} == {
        "filename": "audit.csv", "created": 2, "updated": 0, "unchanged": 0, "skipped": 0, "near_duplicates": 0,
        "repeats": 0,
    }  # fmt: skip


async def test_csv_import_takes_answer_spellings_and_strips_formula_guard(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    headers = await headers_for(session, Role.bank_editor)
    rows = [
        sheet_row(题型="多选", 类别="基本理论", 题干="CSV多选", 选项A="'=SUM(A1)", 选项B="'-1", 选项C="丙", 答案="A,C"),
        sheet_row(题型="多选", 类别="基本理论", 题干="CSV全角", 选项A="甲", 选项B="乙", 选项C="丙", 答案="ＡＣ"),
        sheet_row(题型="判断", 类别="基本理论", 题干="CSV判断一", 答案="错误"),
        sheet_row(题型="判断", 类别="基本理论", 题干="CSV判断二", 答案="F"),
        sheet_row(题型="判断", 类别="基本理论", 题干="CSV判断三", 答案="×"),
        sheet_row(题型="判断", 类别="基本理论", 题干="CSV判断四", 答案="对"),
    ]
    response = await upload(client, headers, "bank.csv", csv_bytes(rows, encoding="gb18030"))
    assert response.status_code == 200, response.text
    question = await stored(session, "CSV多选")
    assert question.options[:2] == [{"key": "A", "text": "=SUM(A1)"}, {"key": "B", "text": "-1"}]
    assert question.answer == ["A", "C"]
    assert (await stored(session, "CSV全角")).answer == ["A", "C"]
    answers = [(await stored(session, f"CSV判断{n}")).answer for n in "一二三四"]
    assert answers == [["F"], ["F"], ["F"], ["T"]]


async def test_json_import_takes_unit_code_or_unit_id(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.admin)
    items = [
        question_data("single", "policy", stem="JSON政策一") | {"unit_code": unit.code},
        question_data("judge", "policy", unit.id, stem="JSON政策二", answer="正确"),
        question_data("multiple", "law", stem="JSON法律一", answer="A,B"),
    ]
    response = await upload(client, headers, "bank.json", json_bytes(items))
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 3
    assert (await stored(session, "JSON政策一")).unit_id == unit.id
    assert (await stored(session, "JSON政策二")).answer == ["T"]
    assert (await stored(session, "JSON法律一")).unit_id is None


async def test_every_bad_row_is_reported_and_nothing_is_written(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    headers = await headers_for(session, Role.admin)
    before = await count_questions(session)
    rows = [
        single_row("好的一行"),
        single_row("答案不在选项中", "E"),
        sheet_row(题型="单选", 类别="政策", 单位代码="NO-UNIT", 题干="单位不存在", 选项A="甲", 选项B="乙", 答案="A"),
        sheet_row(题型="判断", 类别="部门政策业务", 题干="政策题没有单位", 答案="对"),
        sheet_row(题型="多选", 类别="基本理论", 题干="多选只有一个答案", 选项A="甲", 选项B="乙", 答案="A"),
        sheet_row(题型="单选", 类别="理论", 单位代码="X1", 题干="理论题不能有单位", 选项A="甲", 选项B="乙", 答案="A"),
        sheet_row(题型="单选", 类别="基本理论", 题干="只有一个选项", 选项A="甲", 答案="A"),
        sheet_row(题型="判断", 类别="基本理论", 题干="判断题答案错误", 答案="也许"),
        sheet_row(题型="填空", 类别="基本理论", 题干="填空题跳过", 答案="甲"),
    ]
    response = await upload(client, headers, "bad.xlsx", xlsx_bytes(rows))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["created"] == 0
    assert "未导入任何内容" in body["detail"]["message"]
    assert body["detail"]["errors"] == body["errors"]
    reported = {(e["row"], e["field"]) for e in body["errors"]}
    assert reported == {
        (3, "答案"), (4, "单位代码"), (5, "单位代码"), (6, "答案"), (7, "单位代码"), (8, "选项"), (9, "答案"),
    }  # fmt: skip
    assert body["skipped"] == [{"row": 10, "reason": body["skipped"][0]["reason"]}]
    assert "填空" in body["skipped"][0]["reason"]
    assert await count_questions(session) == before


async def test_bad_json_items_are_reported_by_index(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.admin)
    items: list[Any] = [question_data(stem="好题"), "not an object", question_data("single", answer="Z")]
    response = await upload(client, headers, "bad.json", json_bytes(items))
    assert response.status_code == 422
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(2, "item"), (3, "answer")]
    not_a_list = await upload(client, headers, "bad.json", b'{"type": "single"}')
    assert not_a_list.status_code == 422
    assert not_a_list.json()["errors"][0]["field"] == "file"


async def test_missing_columns_and_unknown_formats_are_rejected(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    headers = await headers_for(session, Role.admin)
    no_answer = await upload(client, headers, "bank.xlsx", xlsx_bytes([single_row()], headers=("题型", "题干")))
    assert no_answer.status_code == 422
    assert no_answer.json()["errors"] == [{"row": 1, "field": "答案", "message": "缺少“答案”列"}]
    docx = await upload(client, headers, "bank.docx", b"PK\x03\x04 not ours")
    assert docx.status_code == 422
    assert "不支持的文件格式" in docx.json()["errors"][0]["message"]
    empty = await upload(client, headers, "bank.csv", "题型,题干,答案\n".encode())
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["message"] == "文件中没有题目"


async def test_form_defaults_apply_to_items_that_state_none(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.admin)
    items = [
        {"type": "single", "stem": "默认值一", "options": ["甲", "乙"], "answer": "A"},
        {"type": "judge", "stem": "默认值二", "answer": "T", "difficulty": 1},
        {"type": "judge", "category": "theory", "stem": "默认值三", "answer": "F"},
    ]
    response = await upload(client, headers, "d.json", json_bytes(items), category="policy", unit_code=unit.code,
                            difficulty=5)  # fmt: skip
    assert response.status_code == 200, response.text
    first, second, third = [await stored(session, f"默认值{n}") for n in "一二三"]
    assert (first.category, first.unit_id, first.difficulty) == ("policy", unit.id, 5)
    assert (second.category, second.unit_id, second.difficulty) == ("policy", unit.id, 1)
    assert (third.category, third.unit_id, third.difficulty) == ("theory", None, 5)


async def test_interchange_files_import_with_defaults(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.bank_editor)
    gift = "::q1:: GIFT单选题目 {=甲 ~乙 ~丙}\n\n::q2:: GIFT判断题目 {TRUE}\n\n::q3:: 问答 {}\n".encode()
    response = await upload(client, headers, "bank.gift.txt", gift, category="law")
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    assert [s["row"] for s in response.json()["skipped"]] == [3]
    assert (await stored(session, "GIFT单选题目")).category == "law"
    assert (await stored(session, "GIFT判断题目")).answer == ["T"]
    aiken = "Aiken题目\nA. 甲\nB. 乙\nANSWER: B\n".encode()
    no_category = await upload(client, headers, "bank.aiken.txt", aiken)
    assert no_category.status_code == 422
    assert no_category.json()["errors"][0]["field"] == "category"


async def test_permissions_are_checked_row_by_row(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    own, other = await make_unit(session), await make_unit(session)
    unit_admin = await headers_for(session, Role.unit_admin, unit_id=own.id)
    items = [
        question_data("judge", "policy", stem="本单位题") | {"unit_code": own.code},
        question_data("judge", "policy", stem="别的单位题") | {"unit_code": other.code},
        question_data("judge", "theory", stem="理论题"),
    ]
    response = await upload(client, unit_admin, "p.json", json_bytes(items))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(2, "unit_code"), (3, "category")]
    assert all(e["message"].startswith("无权导入") for e in errors)
    allowed = await upload(client, unit_admin, "p.json", json_bytes(items[:1]))
    assert allowed.status_code == 200, allowed.text
    editor = await headers_for(session, Role.bank_editor)
    editor_policy = await upload(client, editor, "p.json", json_bytes(items[1:]))
    assert [(e["row"], e["field"]) for e in editor_policy.json()["errors"]] == [(1, "unit_code")]
    for role in (Role.examinee, Role.organiser):
        forbidden = await upload(client, await headers_for(session, role), "p.json", json_bytes(items[2:]))
        assert forbidden.status_code == 403


async def test_a_repeat_with_another_answer_rejects_the_file(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.bank_editor)
    rows = [single_row("重复的题目"), single_row("其他题目"), single_row(" 重复的题目。", "C")]
    response = await upload(client, headers, "dup.xlsx", xlsx_bytes(rows))
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [{"row": 4, "field": "答案", "message": "与第 2 行题干和选项相同，但答案不同"}]
    assert {"row": 4, "kind": "exact", "similar_to_row": 2, "score": 100.0} in body["duplicates"]
    assert await count_questions(session) == 0


async def test_an_exact_repeat_in_the_file_is_imported_once(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.bank_editor)
    reordered = sheet_row(题型="单选", 类别="基本理论", 题干="重复的题目！", 选项A="丙", 选项B="甲", 选项C="乙",
                          答案="C")  # fmt: skip
    rows = [single_row("重复的题目"), single_row("其他题目"), single_row(" 重复的题目。"), reordered]
    response = await upload(client, headers, "dup.xlsx", xlsx_bytes(rows))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"], body["errors"]) == (2, 0, [])
    repeats = [(d["row"], d["similar_to_row"]) for d in body["duplicates"] if d["kind"] == "exact"]
    assert repeats == [(4, 2), (5, 2)]
    assert await count_questions(session) == 2


async def test_the_same_stem_and_options_under_another_type_is_a_bad_row(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    headers = await headers_for(session, Role.bank_editor)
    multiple = sheet_row(题型="多选", 类别="基本理论", 题干="题型冲突", 选项A="甲", 选项B="乙", 选项C="丙", 答案="AB")
    response = await upload(client, headers, "t.xlsx", xlsx_bytes([single_row("题型冲突"), multiple]))
    assert response.status_code == 422
    assert response.json()["errors"] == [{"row": 3, "field": "题型", "message": "与第 2 行题干和选项相同，但题型不同"}]


async def test_same_stem_with_other_options_is_a_near_duplicate(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    headers = await headers_for(session, Role.bank_editor)
    other_options = sheet_row(题型="单选", 类别="基本理论", 题干="下列说法错误的是", 选项A="丁", 选项B="戊", 答案="A")
    response = await upload(client, headers, "d.xlsx", xlsx_bytes([single_row("下列说法错误的是"), other_options]))
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    assert response.json()["duplicates"] == [
        {"row": 3, "kind": "near", "similar_to_row": 2, "question_id": None, "score": 100.0}
    ]


async def test_duplicates_against_the_bank_update_or_stay_unchanged(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    headers = await headers_for(session, Role.bank_editor)
    for stem in ("依据宪法，国家的一切权力属于谁", "宪法由谁负责解释"):
        created = await client.post("/api/questions", headers=headers, json=question_data(stem=stem, answer="A"))
        assert created.status_code == 201, created.text
    first, second = await stored(session, "依据宪法，国家的一切权力属于谁"), await stored(session, "宪法由谁负责解释")
    rows = [
        sheet_row(题型="单选", 类别="基本理论", 题干="依据宪法,国家的一切权力属于谁？", 选项A="选项A", 选项B="选项B",
                  选项C="选项C", 选项D="选项D", 答案="B", 解析="人民"),
        sheet_row(题型="单选", 类别="基本理论", 题干="宪法由谁负责解释", 选项A="选项A", 选项B="选项B",
                  选项C="选项C", 选项D="选项D", 答案="A"),
        sheet_row(题型="单选", 类别="基本理论", 题干="宪法由谁负责解释呢", 选项A="选项甲", 选项B="选项乙", 答案="A"),
    ]  # fmt: skip
    response = await upload(client, headers, "dup.xlsx", xlsx_bytes(rows))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (1, 1, 1)
    assert body["duplicates"] == [
        {"row": 2, "kind": "exact", "similar_to_row": None, "question_id": first.id, "score": 100.0},
        {"row": 3, "kind": "exact", "similar_to_row": None, "question_id": second.id, "score": 100.0},
        {"row": 4, "kind": "near", "similar_to_row": None, "question_id": second.id, "score": 94.1},
        {"row": 4, "kind": "near", "similar_to_row": 3, "question_id": None, "score": 94.1},
    ]
    versions = (await client.get(f"/api/questions/{first.id}/versions", headers=headers)).json()
    assert [(v["version"], v["answer"], v["explanation"]) for v in versions] == [(1, ["A"], None), (2, ["B"], "人民")]
    assert versions[1]["stem"] == "依据宪法,国家的一切权力属于谁？"
    assert versions[1]["change_note"] == "imported from dup.xlsx"
    refreshed = (await client.get(f"/api/questions/{first.id}", headers=headers)).json()
    assert (refreshed["version"], refreshed["version_id"]) == (2, versions[1]["id"])
    assert (await client.get(f"/api/questions/{second.id}", headers=headers)).json()["version"] == 1


async def test_an_update_keeps_fields_the_file_does_not_state(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    headers = await headers_for(session, Role.bank_editor)
    body = question_data("judge", stem="保留未写明的字段", difficulty=5, legal_basis="宪法", explanation="旧解析")
    created = (await client.post("/api/questions", headers=headers, json=body)).json()
    gift = "::x:: 保留未写明的字段 {FALSE####新解析}\n".encode()
    response = await upload(client, headers, "u.gift", gift, category="theory", difficulty=1)
    assert response.status_code == 200, response.text
    assert response.json()["updated"] == 1
    question = (await client.get(f"/api/questions/{created['id']}", headers=headers)).json()
    assert (question["answer"], question["explanation"]) == (["F"], "新解析")
    assert (question["difficulty"], question["legal_basis"]) == (5, "宪法")


async def test_ten_thousand_generated_questions_import(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.bank_editor)
    before = await count_questions(session)
    items = [
        {"type": "single", "category": "theory", "stem": f"第{n}题：依据宪法{n * 7919 % 10007}号规定，下列说法正确的是",
         "options": ["甲", "乙", "丙", "丁"], "answer": "ABCD"[n % 4], "tags": [f"批{n % 10}"]}
        for n in range(10_000)
    ]  # fmt: skip
    response = await upload(client, headers, "big.json", json_bytes(items))
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 10_000
    assert await count_questions(session) == before + 10_000
    tagged = await client.get("/api/questions", params={"tag": "批3", "limit": 1}, headers=headers)
    assert tagged.json()["total"] == 1000
