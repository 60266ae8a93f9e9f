"""Imports that lose or refuse nothing they should not (issue 16, point 3).

* a re-import in every format brings back what the file says and keeps every field the format cannot carry;
* the third-party interchange samples import, their exact repeats once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from tests.bank.factories_bank import upload
from tests.factories import headers_for, unique

FORMATS = ("xlsx", "csv", "json", "moodle_xml", "gift", "aiken", "qti")
FILENAMES = {"xlsx": "q.xlsx", "csv": "q.csv", "json": "q.json", "moodle_xml": "q.xml", "gift": "q.gift.txt",
             "aiken": "q.aiken.txt", "qti": "q.zip"}  # fmt: skip
KEPT = ("knowledge_point", "explanation", "legal_basis", "tags", "difficulty", "category")


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_reimport_restores_the_file_and_keeps_what_the_format_cannot_carry(
    client: httpx2.AsyncClient, session: AsyncSession, fmt: str
) -> None:
    headers = await headers_for(session, Role.bank_editor)
    tag = unique("往返")
    body = {"type": "single", "category": "law", "stem": unique("依据劳动合同法，下列哪一项是必备条款"),
            "options": [{"key": k, "text": t} for k, t in zip("ABC", ("劳动报酬", "试用期", "服务期"), strict=True)],
            "answer": ["A"], "difficulty": 5, "knowledge_point": "劳动合同", "explanation": "第十七条列明必备条款。",
            "legal_basis": "《中华人民共和国劳动合同法》第十七条", "tags": [tag, "必备条款"]}  # fmt: skip
    created = await client.post("/api/questions", json=body, headers=headers)
    assert created.status_code == 201, created.text
    question_id = created.json()["id"]
    before = created.json()
    exported = await client.get("/api/questions/export", params={"format": fmt, "tag": tag}, headers=headers)
    assert exported.status_code == 200, exported.text

    # the bank moves on after the export: the re-import must bring the file's answer back
    changed = await client.patch(f"/api/questions/{question_id}", json={"answer": ["B"]}, headers=headers)
    assert changed.status_code == 200, changed.text
    reimported = await upload(client, headers, FILENAMES[fmt], exported.content, category="law", difficulty=1)
    assert reimported.status_code == 200, reimported.text
    result = reimported.json()
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 0), result

    after = (await client.get(f"/api/questions/{question_id}", headers=headers)).json()
    assert (after["answer"], after["version"]) == (["A"], 3)
    assert {key: after[key] for key in KEPT} == {key: before[key] for key in KEPT}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_reimport_of_an_unchanged_bank_changes_nothing(
    client: httpx2.AsyncClient, session: AsyncSession, fmt: str
) -> None:
    headers = await headers_for(session, Role.bank_editor)
    tag = unique("不变")
    judge = {"type": "judge", "category": "theory", "stem": unique("宪法是国家的根本法"), "answer": ["T"],
             "knowledge_point": "宪法", "explanation": "宪法序言。", "legal_basis": "宪法序言",
             "tags": [tag]}  # fmt: skip
    created = await client.post("/api/questions", json=judge, headers=headers)
    assert created.status_code == 201, created.text
    exported = await client.get("/api/questions/export", params={"format": fmt, "tag": tag}, headers=headers)
    reimported = await upload(client, headers, FILENAMES[fmt], exported.content, category="theory")
    assert reimported.status_code == 200, reimported.text
    assert (reimported.json()["created"], reimported.json()["updated"], reimported.json()["unchanged"]) == (0, 0, 1)
    after = (await client.get(f"/api/questions/{created.json()['id']}", headers=headers)).json()
    assert {key: after[key] for key in (*KEPT, "version")} == {key: created.json()[key] for key in (*KEPT, "version")}


def _samples(shared_dir: Path) -> list[Path]:
    root = shared_dir / "data" / "interchange"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in {".xml", ".txt"})


async def test_the_interchange_samples_import_without_refusing_repeats(
    client: httpx2.AsyncClient, session: AsyncSession, shared_dir: Path
) -> None:
    headers = await headers_for(session, Role.admin)
    gift = shared_dir / "data/interchange/moodle/question/format/gift/tests/fixtures/questions.gift.txt"
    response = await upload(client, headers, gift.name, gift.read_bytes(), category="theory")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["created"] == 4  # five items, one of them twice
    assert [(d["row"], d["similar_to_row"]) for d in body["duplicates"] if d["kind"] == "exact"] == [(9, 8)]

    refused = []
    for path in _samples(shared_dir):
        answer = await upload(client, headers, path.name, path.read_bytes(), category="law")
        if answer.status_code != 200:
            refused.append((path.name, [e["message"] for e in answer.json()["errors"]]))
    # Only the samples that are broken on purpose are refused, never for a repeat.
    assert {name for name, _ in refused} <= {"aiken_errors.txt", "Choicesingle_853928446.xml"}, refused
    assert not [m for _, messages in refused for m in messages if "相同" in m]
