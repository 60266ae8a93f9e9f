"""Seeding the live server through its HTTP API, as an organiser would, with questions whose keys we know."""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx2

CATEGORIES = ("theory", "law", "policy")
TYPES = ("single", "multiple", "judge")
PER_TYPE_AND_CATEGORY = 4
# A small blueprint that still has every type and category: 5 single × 10 + 2 multiple × 15 + 2 judge × 10 = 100.
SMALL_BLUEPRINT = {
    "name": "浏览器测试组卷规则",
    "time_limit_seconds": 1800,
    "sections": [
        {"type": "single", "count": 5, "points": 10},
        {"type": "multiple", "count": 2, "points": 15},
        {"type": "judge", "count": 2, "points": 10},
    ],
    "category_split": {"theory": 40, "law": 20, "policy": 40},
}


@dataclass
class SeededExam:
    exam_id: int
    unit_id: int
    ticket_no: str
    pin: str
    # stem → the texts of the right options (judge: "正确"/"错误"), and stem → points when known
    right_texts: dict[str, set[str]] = field(default_factory=dict)


def _ok(reply: httpx2.Response) -> Any:
    if reply.status_code >= 400:
        raise AssertionError(f"{reply.request.method} {reply.request.url} → {reply.status_code}: {reply.text}")
    return reply.json()


def make_unit(api: httpx2.Client, name: str = "省测试厅") -> dict[str, Any]:
    code = "W" + uuid.uuid4().hex[:6].upper()
    return dict(_ok(api.post("/api/units", json={"code": code, "name": name, "headcount": 120})))


def make_cadres(api: httpx2.Client, unit_id: int, names: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [_ok(api.post(f"/api/units/{unit_id}/cadres", json={"name": name, "rank": rank})) for name, rank in names]


def bank_items(unit_code: str, tag: str) -> tuple[list[dict[str, Any]], dict[str, set[str]]]:
    """Questions of every type and category with unique stems; returns them and their right option texts."""
    items: list[dict[str, Any]] = []
    right: dict[str, set[str]] = {}
    for qtype in TYPES:
        for category in CATEGORIES:
            for n in range(PER_TYPE_AND_CATEGORY):
                stem = f"【{tag}】{qtype}-{category}-{n}：下列说法中符合规定的是？"
                item: dict[str, Any] = {
                    "type": qtype,
                    "category": category,
                    "stem": stem,
                    "difficulty": 3,
                    "explanation": f"解析：{stem} 的依据见相关规定。",
                }
                if category == "policy":
                    item["unit_code"] = unit_code
                if qtype == "judge":
                    item["answer"] = ["T"] if n % 2 == 0 else ["F"]
                    right[stem] = {"正确"} if n % 2 == 0 else {"错误"}
                else:
                    texts = [f"{tag}-{qtype}-{category}-{n}-选项{k}" for k in "ABCD"]
                    item["options"] = [{"key": k, "text": t} for k, t in zip("ABCD", texts, strict=True)]
                    keys = ["B"] if qtype == "single" else ["A", "C"]
                    item["answer"] = keys
                    right[stem] = {texts["ABCD".index(k)] for k in keys}
                items.append(item)
    return items, right


def import_bank(api: httpx2.Client, items: list[dict[str, Any]]) -> dict[str, Any]:
    payload = io.BytesIO(json.dumps(items, ensure_ascii=False).encode("utf-8"))
    reply = api.post("/api/questions/import", files={"file": ("bank.json", payload, "application/json")})
    return dict(_ok(reply))


def demo_unit(api: httpx2.Client, code: str) -> dict[str, Any]:
    return next(u for u in _ok(api.get("/api/units")) if u["code"] == code)


def preset_blueprint_id(api: httpx2.Client) -> int:
    """The stored “基本理论+” preset (45 questions, 100 points, 30 minutes), created on first use."""
    preset = _ok(api.get("/api/blueprints/presets"))[0]
    if preset.get("blueprint_id"):
        return int(preset["blueprint_id"])
    return int(_ok(api.post(f"/api/blueprints/presets/{preset['key']}"))["id"])


def seed_exam(
    api: httpx2.Client, *, mode: str = "practice", unit_code: str = "GTT", cadre_index: int = 0, preset: bool = False
) -> SeededExam:
    """An exam for one demo unit (its bank is the demo bank) with its paper drawn and one cadre's ticket."""
    tag = uuid.uuid4().hex[:4]
    unit = demo_unit(api, unit_code)
    cadre = _ok(api.get(f"/api/units/{unit['id']}/cadres"))[cadre_index]
    if preset:
        blueprint_id = preset_blueprint_id(api)
    else:
        blueprint_id = _ok(api.post("/api/blueprints", json={**SMALL_BLUEPRINT, "name": f"浏览器测试 {tag}"}))["id"]
    name = ("2026年第四季度“基本理论+”考试" if mode == "formal" else "“基本理论+”在线练习") + f"（{tag}）"
    exam = _ok(api.post("/api/exams", json={
        "name": name, "blueprint_id": blueprint_id, "mode": mode, "unit_ids": [unit["id"]],
        "shuffle_questions": True, "shuffle_options": True,
    }))  # fmt: skip
    _ok(api.post(f"/api/exams/{exam['id']}/papers"))
    ticket = _ok(api.post(f"/api/exams/{exam['id']}/participants", json={"cadre_ids": [cadre["id"]]}))[0]
    return SeededExam(
        exam_id=exam["id"], unit_id=unit["id"], ticket_no=ticket["ticket_no"], pin=ticket["pin"],
        right_texts=right_texts_from_bank(api),
    )  # fmt: skip


def has_route(api: httpx2.Client, method: str, path: str) -> bool:
    """Whether the server's OpenAPI document has ``method path`` (the APIs land at different times)."""
    spec = api.get("/openapi.json").json()
    shapes = {re.sub(r"\{[^}]+\}", "{}", p): ops for p, ops in spec.get("paths", {}).items()}
    return method.lower() in shapes.get(path, {})


REPORT_UNITS = [("省公安厅", [96, 92, 100, 88, 90]), ("省法院", [85, 78, 91, 66]), ("省财政厅", [72, 58, 81, 95])]
RANK_CYCLE = ("chu", "ke", "ting", "ke", "chu")


@dataclass
class SeededReport:
    exam_id: int
    unit_ids: list[int]
    participant_count: int


def seed_report_exam(api: httpx2.Client, database_url: str) -> SeededReport:
    """A formal exam over three units whose attempts are written straight to the database with known scores.

    The exam, its papers and tickets go through the API; the sittings are inserted as submitted, graded
    attempts so the dashboard can be tested whatever the state of the attempts API.
    """
    tag = uuid.uuid4().hex[:6]
    units = [make_unit(api, name) for name, _scores in REPORT_UNITS]
    items: list[dict[str, Any]] = []
    for unit in units:
        unit_items, _right = bank_items(unit["code"], f"{tag}{unit['code']}")
        items += [i for i in unit_items if i["category"] == "policy"]
    import_bank(api, items)
    blueprint = _ok(api.post("/api/blueprints", json={**SMALL_BLUEPRINT, "name": f"报告测试 {tag}"}))
    exam = _ok(api.post("/api/exams", json={
        "name": f"2026年第四季度“基本理论+”考试 {tag}", "blueprint_id": blueprint["id"], "mode": "formal",
        "unit_ids": [u["id"] for u in units],
    }))  # fmt: skip
    _ok(api.post(f"/api/exams/{exam['id']}/papers"))
    scores: dict[int, float] = {}
    for unit, (_name, unit_scores) in zip(units, REPORT_UNITS, strict=True):
        people = [(f"{unit['name'][1:3]}干部{n + 1}", RANK_CYCLE[n % 5]) for n in range(len(unit_scores) + 1)]
        cadres = make_cadres(api, unit["id"], people)
        _ok(api.post(f"/api/exams/{exam['id']}/participants", json={"cadre_ids": [c["id"] for c in cadres]}))
        for cadre, score in zip(cadres, unit_scores, strict=False):
            scores[cadre["id"]] = score
        _ok(api.post(f"/api/exams/{exam['id']}/absences", json={"cadre_id": cadres[-1]["id"], "reason": "因病"}))
    _in_thread_run(_write_sittings(database_url, exam["id"], scores, units[1]["id"]))
    return SeededReport(exam_id=exam["id"], unit_ids=[u["id"] for u in units], participant_count=len(scores))


def _in_thread_run(coroutine: Any) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _write_sittings(database_url: str, exam_id: int, scores: dict[int, float], incident_unit_id: int) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from app.core.db import Database
    from app.exams.models import Attempt, AttemptStatus, Incident, Participant
    from app.papers.models import Paper

    database = Database(database_url)
    now = datetime.now(UTC)
    try:
        async with database.write_sessions() as session:
            papers = {p.unit_id: p for p in (await session.scalars(select(Paper).where(Paper.exam_id == exam_id)))}
            participants = (await session.scalars(select(Participant).where(Participant.exam_id == exam_id))).all()
            for participant in participants:
                if participant.cadre_id not in scores:
                    continue
                paper = papers[participant.unit_id]
                session.add(Attempt(
                    exam_id=exam_id, participant_id=participant.id, paper_id=paper.id, unit_id=participant.unit_id,
                    attempt_no=1, status=AttemptStatus.submitted, started_at=now - timedelta(minutes=25),
                    deadline_at=now + timedelta(minutes=5), submitted_at=now, submit_reason="examinee",
                    shuffle_seed=1, question_order=[], option_orders={},
                    score=scores[participant.cadre_id] * paper.total_points / 100, graded_at=now,
                ))  # fmt: skip
            whisperer = next(p for p in participants if p.unit_id == incident_unit_id)
            session.add(
                Incident(
                    exam_id=exam_id,
                    cadre_id=whisperer.cadre_id,
                    unit_id=incident_unit_id,
                    kind="whispering",
                    note="与邻座交谈",
                )
            )
            await session.commit()
    finally:
        await database.dispose()


def right_texts_from_bank(api: httpx2.Client) -> dict[str, set[str]]:
    """stem → the texts of its right options, for every question in the bank (other tests share the bank)."""
    right: dict[str, set[str]] = {}
    offset = 0
    while True:
        page = _ok(api.get("/api/questions", params={"limit": 500, "offset": offset}))
        for question in page["items"]:
            texts = {o["key"]: o["text"] for o in question["options"]}
            judge = {"T": "正确", "F": "错误"}
            right[question["stem"]] = {texts.get(key, judge.get(key, key)) for key in question["answer"]}
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return right
