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


def unique_tag(digits: int = 6) -> str:
    """A random tag of digits for names shown on pages: a hex tag such as "bccd" would read as an English word."""
    return str(uuid.uuid4().int)[:digits]


def _ok(reply: httpx2.Response) -> Any:
    if reply.status_code >= 400:
        raise AssertionError(f"{reply.request.method} {reply.request.url} → {reply.status_code}: {reply.text}")
    return reply.json()


def make_unit(api: httpx2.Client, name: str = "省测试厅") -> dict[str, Any]:
    code = "W" + unique_tag()
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
    tag = unique_tag(4)
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


# Demo units and the scores their examinees get (the last cadre of each roster slice is recorded absent).
REPORT_UNITS = [("GAT", "省公安厅", [100, 96, 94, 90, 88]), ("GTT", "省国土资源厅", [90, 85, 80, 76, 70]),
                ("RST", "省人力资源和社会保障厅", [94, 82, 66, 58])]  # fmt: skip


@dataclass
class SeededReport:
    exam_id: int
    unit_ids: list[int]
    participant_count: int


def _wrong_set(questions: list[dict[str, Any]], deficit: float) -> set[int]:
    """Which questions to get wrong so that exactly ``deficit`` points are lost (a small subset-sum)."""
    reachable: dict[float, set[int]] = {0.0: set()}
    for question in questions:
        for total, chosen in list(reachable.items()):
            reached = total + float(question["points"])
            if reached <= deficit and reached not in reachable:
                reachable[reached] = chosen | {question["no"]}
    if deficit not in reachable:
        raise AssertionError(f"cannot lose exactly {deficit} points on this paper")
    return reachable[deficit]


def _answers_for(questions: list[dict[str, Any]], right_texts: dict[str, set[str]], score: float) -> dict[str, Any]:
    total = sum(float(q["points"]) for q in questions)
    wrong = _wrong_set(questions, total - score)
    answers: dict[str, list[str]] = {}
    for question in questions:
        right = [o["key"] for o in question["options"] if o["text"] in right_texts[question["stem"]]]
        if question["no"] not in wrong:
            answers[str(question["no"])] = sorted(right)
        elif question["type"] == "multiple":
            answers[str(question["no"])] = sorted(right)[:1]  # too few: no points
        else:
            answers[str(question["no"])] = [next(o["key"] for o in question["options"] if o["key"] not in right)]
    return answers


def sit_exam(
    base_url: str, exam_id: int, ticket_no: str, pin: str, right_texts: dict[str, set[str]], score: float
) -> None:
    """One examinee logs in with his ticket, answers to reach ``score`` points and submits, through the API."""
    with httpx2.Client(base_url=base_url, timeout=30) as examinee:
        token = _ok(examinee.post("/api/auth/login", json={"username": ticket_no, "password": pin}))["access_token"]
        examinee.headers["Authorization"] = f"Bearer {token}"
        attempt = _ok(examinee.post(f"/api/exams/{exam_id}/attempts"))
        answers = _answers_for(attempt["questions"], right_texts, score)
        _ok(examinee.put(f"/api/attempts/{attempt['attempt_id']}/answers", json={"seq": 1, "answers": answers}))
        _ok(examinee.post(f"/api/attempts/{attempt['attempt_id']}/submit"))


def seed_report_exam(api: httpx2.Client, base_url: str) -> SeededReport:
    """A formal “基本理论+” exam over three demo units, sat through the API with known scores, incidents, absences."""
    units = [demo_unit(api, code) for code, _name, _scores in REPORT_UNITS]
    exam = _ok(api.post("/api/exams", json={
        "name": f"2026年第四季度“基本理论+”考试（{unique_tag(4)}）", "blueprint_id": preset_blueprint_id(api),
        "mode": "formal", "unit_ids": [u["id"] for u in units],
    }))  # fmt: skip
    exam_id = exam["id"]
    _ok(api.post(f"/api/exams/{exam_id}/papers"))
    right_texts = right_texts_from_bank(api)
    sat = 0
    for unit, (_code, _name, scores) in zip(units, REPORT_UNITS, strict=True):
        roster = _ok(api.get(f"/api/units/{unit['id']}/cadres"))
        of_rank = {rank: [c for c in roster if c["rank"] == rank][::-1] for rank in ("ting", "chu", "ke")}
        cadres = of_rank["ting"][:1] + of_rank["chu"][:2] + of_rank["ke"][: len(scores) - 2]
        tickets = _ok(api.post(f"/api/exams/{exam_id}/participants", json={"cadre_ids": [c["id"] for c in cadres]}))
        by_cadre = {t["cadre_id"]: t for t in tickets}
        for cadre, score in zip(cadres, scores, strict=False):
            ticket = by_cadre[cadre["id"]]
            sit_exam(base_url, exam_id, ticket["ticket_no"], ticket["pin"], right_texts, score)
            sat += 1
        _ok(api.post(f"/api/exams/{exam_id}/absences", json={"cadre_id": cadres[-1]["id"], "reason": "因病"}))
        if unit is not units[0]:
            kind = "whispering" if unit is units[1] else "peeking"
            _ok(api.post(f"/api/exams/{exam_id}/incidents", json={"cadre_id": cadres[0]["id"], "kind": kind}))
    return SeededReport(exam_id=exam_id, unit_ids=[u["id"] for u in units], participant_count=sat)


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
