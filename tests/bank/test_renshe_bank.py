"""The real 人社 knowledge-contest bank of 2020 (SOURCES.md section 5), imported through the .json import."""

import json
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from tests.bank.factories_bank import json_bytes, upload
from tests.factories import headers_for, make_unit, unique

TYPES = {"001001单选": "single", "001002多选": "multiple", "001003判断": "judge"}
CATEGORIES = {"6239劳动关系": "law", "6242人事人才": "law", "6240十九大": "theory"}  # the rest are policy
COUNTS = {"single": 1354, "multiple": 687, "judge": 484}
# Answer letters that are not among the choice codes (duplicate or missing codes), per SOURCES.md.
ANSWER_NOT_AN_OPTION = {"65562", "65674", "65732", "65795", "66701", "66704", "66705", "66720", "66722", "66726"}
# Two choices share one code (A,A,C,D) though the answer letter exists: the key is ambiguous.
REPEATED_OPTION_KEYS = {"65506", "65534", "65577", "65611", "65665", "65753", "65778", "65779", "65822", "66692",
                        "66724"}  # fmt: skip
# Second copies of a question (same type, stem, options and answer, spacing aside): imported once, listed under
# duplicates.
REPEATED_QUESTIONS = {"67129", "67130", "67131", "67132", "67133", "67134", "67136", "67137", "67138", "67139",
                      "67140", "67141", "67142", "67143", "67144", "67617", "67750", "67752"}  # fmt: skip


def import_item(raw: dict[str, Any], kind: str, category: str, unit_code: str, tag: str) -> dict[str, Any]:
    """One question of the dump as a ``POST /api/questions/import`` item."""
    choices = sorted(raw["choices"], key=lambda c: c["sort"])
    item: dict[str, Any] = {"type": kind, "category": category, "stem": raw["content"],
                            "explanation": raw["analysis"], "tags": [tag], "source_id": raw["id"]}  # fmt: skip
    if category == "policy":
        item["unit_code"] = unit_code
    if kind == "judge":
        # The dump's 判断 questions answer "A" for the choice 正确 (or 对): pass the word on.
        words = {c["code"]: c["content"] for c in choices}
        return item | {"answer": words.get(raw["answer"], raw["answer"])}
    return item | {"options": [{"key": c["code"], "text": c["content"]} for c in choices], "answer": raw["answer"]}


def renshe_items(folder: Path, unit_code: str, tag: str) -> list[dict[str, Any]]:
    items = []
    for type_dir, kind in TYPES.items():
        for path in sorted((folder / type_dir).glob("*.json")):
            category = CATEGORIES.get(path.stem, "policy")
            data = json.loads(path.read_text(encoding="utf-8"))["data"]
            items += [import_item(raw, kind, category, unit_code, tag) for raw in data]
    return items


async def count(client: httpx2.AsyncClient, headers: dict[str, str], **params: str) -> int:
    response = await client.get("/api/questions", params={**params, "limit": 1}, headers=headers)
    total: int = response.json()["total"]
    return total


async def test_the_renshe_bank_imports_once_its_defects_are_left_out(
    client: httpx2.AsyncClient, session: AsyncSession, shared_dir: Path
) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.admin)
    tag = unique("人社2020-")
    items = renshe_items(shared_dir / "data/renshe-dati/guo2020/json", unit.code, tag)
    assert len(items) == sum(COUNTS.values())

    rejected = await upload(client, headers, "renshe.json", json_bytes(items))
    assert rejected.status_code == 422
    errors = rejected.json()["errors"]
    source_of = {row: item["source_id"] for row, item in enumerate(items, start=1)}
    answer_errors = {source_of[e["row"]] for e in errors if e["field"] == "answer"}
    assert answer_errors == ANSWER_NOT_AN_OPTION
    for error in (e for e in errors if e["field"] == "answer"):
        assert "不在选项中" in error["message"]
    assert {source_of[e["row"]] for e in errors} == ANSWER_NOT_AN_OPTION | REPEATED_OPTION_KEYS
    repeats = {d["row"] for d in rejected.json()["duplicates"] if d["kind"] == "exact" and d.get("similar_to_row")}
    assert {source_of[row] for row in repeats} == REPEATED_QUESTIONS
    assert await count(client, headers, tag=tag) == 0

    failed = {e["row"] for e in errors}
    good = [item for row, item in enumerate(items, start=1) if row not in failed]
    imported = await upload(client, headers, "renshe-good.json", json_bytes(good))
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == len(good) - len(REPEATED_QUESTIONS)
    # Left out — single: 4 answers + 9 repeated keys; multiple: 6 answers + 2 keys + 15 copies; judge: 3 copies.
    assert {kind: await count(client, headers, tag=tag, type=kind) for kind in COUNTS} == {
        "single": 1354 - 13, "multiple": 687 - 23, "judge": 484 - 3,
    }  # fmt: skip
    assert await count(client, headers, tag=tag, category="theory") == 11 + 10 + 9
    assert await count(client, headers, tag=tag, category="law") == 889 - 18
    assert await count(client, headers, tag=tag, unit_id=str(unit.id)) == 1606 - 21
    inherited = await client.get("/api/questions", params={"tag": tag, "q": "余额可以依法继承"}, headers=headers)
    assert {tuple(q["answer"]) for q in inherited.json()["items"]} == {("T",)}  # 正确 (A in the dump)
    judges = await client.get("/api/questions", params={"tag": tag, "type": "judge", "limit": 500}, headers=headers)
    assert {tuple(q["answer"]) for q in judges.json()["items"]} == {("T",), ("F",)}
