"""Item analysis, category rates and fairness against an independent, straightforward computation."""

from __future__ import annotations

import math
import random
from typing import Any

import httpx2
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from tests.factories import headers_for
from tests.reports.factories_reports import (
    Answer,
    Seat,
    SlotSpec,
    make_exam,
    make_paper,
    make_units,
    seat_examinees,
)

OPTIONS = {"single": ["A", "B", "C", "D"], "multiple": ["AC", "A", "ABC", "C", "BD"], "judge": ["T", "F"]}


def pearson(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def upper_lower(people: list[dict[str, Any]], slot: int) -> float:
    ordered = sorted(people, key=lambda p: (-p["total"], p["attempt_id"]))
    group = max(1, int(0.27 * len(people) + 0.5))
    upper = sum(p["correct"][slot] for p in ordered[:group]) / group
    lower = sum(p["correct"][slot] for p in ordered[-group:]) / group
    return upper - lower


async def build_item_exam(session: AsyncSession) -> dict[str, Any]:
    unit_a, unit_b = await make_units(session, ["单位甲", "单位乙"], [50, 50])
    exam = await make_exam(session, [unit_a, unit_b])
    shared = [
        SlotSpec("single", "theory", 2, "B"),
        SlotSpec("multiple", "theory", 3, "AC"),
        SlotSpec("judge", "law", 2, "T"),
    ]
    paper_a = await make_paper(
        session,
        exam,
        unit_a,
        [*shared, SlotSpec("single", "law", 2, "C"), SlotSpec("judge", "policy", 2, "F")],
        expected_difficulty=0.6,
    )
    # ``shared`` now holds the questions created for A's paper, so B's paper carries the same three.
    paper_b = await make_paper(
        session,
        exam,
        unit_b,
        [*shared, SlotSpec("single", "policy", 2, "D"), SlotSpec("judge", "policy", 2, "T")],
        expected_difficulty=0.7,
    )
    rng = random.Random(7)
    people: dict[int, list[dict[str, Any]]] = {paper_a.id: [], paper_b.id: []}
    for paper, unit, size, skill in ((paper_a, unit_a, 9, 0.75), (paper_b, unit_b, 7, 0.5)):
        specs = [
            *shared,
            *(
                [SlotSpec("single", "law", 2, "C"), SlotSpec("judge", "policy", 2, "F")]
                if paper is paper_a
                else [SlotSpec("single", "policy", 2, "D"), SlotSpec("judge", "policy", 2, "T")]
            ),
        ]
        seats = []
        for _ in range(size):
            answers: dict[int, Answer] = {}
            for position, spec in enumerate(specs, 1):
                draw = rng.random()
                if draw < 0.08:
                    continue  # never saved: no answer row at all
                if draw < 0.15:
                    answers[position] = Answer("", 0, False)
                    continue
                keys = spec.answer if rng.random() < skill else rng.choice(OPTIONS[spec.type])
                right = keys == spec.answer
                answers[position] = Answer(keys, spec.points if right else 0, right)
            total = sum(a.points for a in answers.values())
            seats.append(Seat("ke", total, answers=answers))
        seated = await seat_examinees(session, exam, paper, seats)
        for seat, who in zip(seats, seated, strict=True):
            people[paper.id].append(
                {
                    "attempt_id": who.attempt_id,
                    "total": seat.score,
                    "unit_id": unit.id,
                    "correct": [1 if seat.answers.get(p) and seat.answers[p].is_correct else 0 for p in range(1, 6)],
                    "earned": [seat.answers[p].points if p in seat.answers else 0 for p in range(1, 6)],
                    "keys": [seat.answers[p].keys if p in seat.answers else None for p in range(1, 6)],
                }
            )
    return {
        "exam": exam,
        "papers": {paper_a.id: specs_of(paper_a.id, shared, "a"), paper_b.id: specs_of(paper_b.id, shared, "b")},
        "people": people,
        "units": (unit_a, unit_b),
        "paper_units": {paper_a.id: unit_a.id, paper_b.id: unit_b.id},
    }


def specs_of(_paper_id: int, shared: list[SlotSpec], which: str) -> list[tuple[str, float]]:
    tail = [("law", 2.0), ("policy", 2.0)] if which == "a" else [("policy", 2.0), ("policy", 2.0)]
    return [(s.category, float(s.points)) for s in shared] + tail


async def test_item_analysis_matches_plain_loops(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    built = await build_item_exam(session)
    headers = await headers_for(session, Role.supervisor)
    response = await client.get(f"/api/exams/{built['exam'].id}/items", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["papers"]) == 2
    for paper in body["papers"]:
        people = built["people"][paper["paper_id"]]
        n = len(people)
        assert paper["attempts"] == n and paper["items_count"] == 5
        for j, item in enumerate(paper["items"]):
            correct = [p["correct"][j] for p in people]
            rest = [p["total"] - p["earned"][j] for p in people]
            assert item["facility"] == pytest.approx(sum(correct) / n)
            expected_pb = pearson([float(c) for c in correct], rest)
            assert (item["point_biserial"] is None) == (expected_pb is None)
            if expected_pb is not None:
                assert item["point_biserial"] == pytest.approx(expected_pb)
            assert item["upper_lower"] == pytest.approx(upper_lower(people, j))
            counts: dict[str, int] = {}
            for p in people:
                for key in p["keys"][j] or "":
                    counts[key] = counts.get(key, 0) + 1
            assert item["options"] == dict(sorted(counts.items()))
            assert item["unanswered"] == sum(1 for p in people if not p["keys"][j])
            facility = sum(correct) / n
            assert ("too_easy" in item["flags"]) == (facility > 0.95)
            assert ("too_hard" in item["flags"]) == (facility < 0.2)
            assert ("negative_discrimination" in item["flags"]) == (expected_pb is not None and expected_pb < 0)
        totals = [sum(p["correct"]) for p in people]
        mean_total = sum(totals) / n
        variance = sum((t - mean_total) ** 2 for t in totals) / n
        pq = sum(
            (sum(p["correct"][j] for p in people) / n) * (1 - sum(p["correct"][j] for p in people) / n)
            for j in range(5)
        )
        assert paper["kr20"] == pytest.approx(5 / 4 * (1 - pq / variance))

    everyone = [p for group in built["people"].values() for p in group]
    shared_question = next(q for q in body["questions"] if len(q["papers"]) == 2 and q["type"] == "multiple")
    assert shared_question["attempts"] == len(everyone)
    assert shared_question["facility"] == pytest.approx(sum(p["correct"][1] for p in everyone) / len(everyone))
    assert len(body["questions"]) == 7  # three shared + two own per paper


async def test_category_rates_and_fairness(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    built = await build_item_exam(session)
    headers = await headers_for(session, Role.supervisor)
    report = (await client.get(f"/api/exams/{built['exam'].id}/report", headers=headers)).json()
    asked: dict[tuple[int, str], int] = {}
    right: dict[tuple[int, str], int] = {}
    for paper_id, people in built["people"].items():
        for p in people:
            for j, (category, _points) in enumerate(built["papers"][paper_id]):
                key = (p["unit_id"], category)
                asked[key] = asked.get(key, 0) + 1
                right[key] = right.get(key, 0) + p["correct"][j]
    for row in report["categories"]["units"]:
        for category, value in row["rates"].items():
            key = (row["unit_id"], category)
            expected = round(100 * right[key] / asked[key] + 1e-9, 1) if key in asked else None
            assert value == expected, (key, value, expected)
    for category, value in report["categories"]["overall"].items():
        total_asked = sum(v for k, v in asked.items() if k[1] == category)
        total_right = sum(v for k, v in right.items() if k[1] == category)
        assert value == round(100 * total_right / total_asked + 1e-9, 1)

    fairness = (await client.get(f"/api/exams/{built['exam'].id}/fairness", headers=headers)).json()
    # Pooled facility per (question) = per shared slot across both papers, per own slot within its paper.
    people = built["people"]
    paper_ids = list(people)
    everyone = people[paper_ids[0]] + people[paper_ids[1]]
    expected_scores = {}
    for paper_id in paper_ids:
        expected = 0.0
        for j, (_category, points) in enumerate(built["papers"][paper_id]):
            pool = everyone if j < 3 else people[paper_id]
            expected += points * sum(p["correct"][j] for p in pool) / len(pool)
        expected_scores[paper_id] = expected * 100 / 11
    baseline = sum(expected_scores.values()) / 2
    rows = {row["paper_id"]: row for row in fairness["units"]}
    assert sum(row["facility_expected_score"] for row in rows.values()) / 2 == pytest.approx(baseline)
    for paper_id in paper_ids:
        row = rows[paper_id]
        assert row["facility_expected_score"] == pytest.approx(expected_scores[paper_id])
        assert row["drawn_difficulty"] in (0.6, 0.7)
        average = sum(p["total"] for p in people[paper_id]) * 100 / 11 / len(people[paper_id])
        if row["estimable"]:
            assert fairness["calibration"]["linked"] is True
            low, high = row["paper_expected_score_interval"]
            assert low < row["paper_expected_score"] < high
            assert row["paper_offset"] == pytest.approx(
                row["paper_expected_score"] - fairness["mean_paper_expected_score"]
            )
            assert row["adjusted_average_raw"] == pytest.approx(average - row["paper_offset"])
            assert row["adjusted_average"] == round(row["adjusted_average_raw"] + 1e-9, 1)
        else:
            assert row["reason"] and row["adjusted_position"] is None and row["adjusted_average"] is None
