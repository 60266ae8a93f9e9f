"""Rasch calibration: simulated rounds with planted difficulties are recovered within their intervals,
papers no examinee links are refused, and the fairness report adjusts only what the calibration supports."""

from __future__ import annotations

import math
import random
from itertools import combinations

import httpx2
import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.reports.calibration import calibrate, difference_error, paper_expectation
from tests.factories import headers_for
from tests.reports.factories_reports import Answer, Seat, SlotSpec, make_exam, make_paper, make_units, seat_examinees


def simulate(
    papers: dict[int, list[int]], difficulty: np.ndarray, sitters: int, seed: int, ability_shift: float = 0.3
) -> tuple[list[int], list[int], list[bool], list[float]]:
    rng = np.random.default_rng(seed)
    persons, items, correct, abilities = [], [], [], []
    person = 0
    for unit, questions in papers.items():
        for _ in range(sitters):
            ability = rng.normal(ability_shift * unit, 1)
            abilities.append(ability)
            for question in questions:
                persons.append(person)
                items.append(question)
                correct.append(bool(rng.random() < 1 / (1 + math.exp(difficulty[question] - ability))))
            person += 1
    return persons, items, correct, abilities


def test_planted_difficulties_and_paper_differences_are_recovered_within_their_intervals() -> None:
    inside, pairs = 0, 0
    for seed in (1, 2, 3):
        rng = np.random.default_rng(100 + seed)
        planted = rng.normal(0, 1, 70)
        # Four unit papers: ten questions every paper shares, fifteen of its own.
        papers = {u: list(range(10)) + list(range(10 + 15 * u, 25 + 15 * u)) for u in range(4)}
        persons, items, correct, abilities = simulate(papers, planted, 200, seed)
        calibration = calibrate(np.array(persons), np.array(items), np.array(correct))
        index = calibration.index()
        estimated = np.array([calibration.difficulty[index[q]] for q in range(70)])
        errors = np.array([calibration.standard_error[index[q]] for q in range(70)])
        centred = planted - planted.mean()  # the scale's origin is the mean difficulty
        assert np.mean(np.abs(estimated - centred) <= 1.96 * errors) >= 0.9
        assert set(calibration.component.tolist()) == {int(calibration.component[0])}

        reference = calibration.mean_ability
        true_reference = float(np.mean(abilities)) - planted.mean()

        def true_score(
            questions: list[int], true_reference: float = true_reference, centred: np.ndarray = centred
        ) -> float:
            return 100 * float(np.mean([1 / (1 + math.exp(centred[q] - true_reference)) for q in questions]))

        expected = {u: paper_expectation(calibration, [(q, 2.0) for q in qs], reference) for u, qs in papers.items()}
        for a, b in combinations(papers, 2):
            estimate = expected[a].score - expected[b].score
            truth = true_score(papers[a]) - true_score(papers[b])
            error = difference_error(calibration, expected[a], expected[b])
            # A 95% interval misses now and then; none may miss by far.
            assert abs(estimate - truth) <= 3 * error, (seed, a, b)
            inside += abs(estimate - truth) <= 1.96 * error
            pairs += 1
    assert inside >= 0.8 * pairs


def test_papers_no_examinee_links_are_separate_components_and_extremes_are_set_aside() -> None:
    planted = np.linspace(-1, 1, 20)
    persons, items, correct, _ = simulate({0: list(range(10)), 1: list(range(10, 20))}, planted, 80, 9)
    # One more question everybody answered right: no finite difficulty.
    last = max(persons)
    persons += list(range(last + 1))
    items += [99] * (last + 1)
    correct += [True] * (last + 1)
    calibration = calibrate(np.array(persons), np.array(items), np.array(correct))
    index = calibration.index()
    components = {int(calibration.component[index[q]]) for q in range(20)}
    assert len(components) == 2
    assert calibration.extreme_items == frozenset({99}) and np.isnan(calibration.difficulty[index[99]])


def _seat(rng: random.Random, specs: list[SlotSpec], planted: dict[int, float], ability: float) -> Seat:
    answers = {}
    for position, spec in enumerate(specs, 1):
        assert spec.question is not None
        right = rng.random() < 1 / (1 + math.exp(planted[spec.question.id] - ability))
        answers[position] = Answer(spec.answer if right else "A", spec.points if right else 0, right)
    return Seat("ke", sum(a.points for a in answers.values()), answers=answers)


async def test_fairness_adjusts_only_once_practice_links_the_papers(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit_a, unit_b = await make_units(session, ["单位甲", "单位乙"], [200, 200])
    exam = await make_exam(session, [unit_a, unit_b])
    rng = random.Random(5)
    specs = {unit.id: [SlotSpec("single", "theory", 10, "B") for _ in range(10)] for unit in (unit_a, unit_b)}
    papers = {unit.id: await make_paper(session, exam, unit, specs[unit.id]) for unit in (unit_a, unit_b)}
    planted = {}
    for unit_id, unit_specs in specs.items():
        for n, spec in enumerate(unit_specs):
            assert spec.question is not None
            # Unit B's paper is harder by a logit.
            planted[spec.question.id] = (n - 4.5) / 4.5 + (1.0 if unit_id == unit_b.id else 0.0)
    for unit_id, paper in papers.items():
        await seat_examinees(
            session, exam, paper, [_seat(rng, specs[unit_id], planted, rng.gauss(0, 1)) for _ in range(60)]
        )
    headers = await headers_for(session, Role.supervisor)
    url = f"/api/exams/{exam.id}/fairness"
    disjoint = (await client.get(url, headers=headers)).json()
    assert disjoint["calibration"]["linked"] is False
    assert "没有共同试题" in disjoint["calibration"]["reason"]
    for row in disjoint["units"]:
        assert row["estimable"] is False and row["adjusted_position"] is None and row["adjusted_average"] is None
        assert row["reason"] == disjoint["calibration"]["reason"]

    # A practice round over both papers' questions links them onto one scale.
    practice = await make_exam(session, [unit_a], name="练习", mode="practice")
    both = [SlotSpec("single", "theory", 10, "B", question=s.question) for s in specs[unit_a.id] + specs[unit_b.id]]
    practice_paper = await make_paper(session, practice, unit_a, both)
    await seat_examinees(
        session, practice, practice_paper, [_seat(rng, both, planted, rng.gauss(0, 1)) for _ in range(150)]
    )
    linked = (await client.get(url, headers=headers)).json()
    assert linked["calibration"]["linked"] is True and linked["calibration"]["reason"] is None
    rows = {row["unit_id"]: row for row in linked["units"]}
    assert all(row["estimable"] for row in rows.values())
    # The harder paper expects less of the same examinee, and the adjustment lifts its unit.
    harder, easier = rows[unit_b.id], rows[unit_a.id]
    assert harder["paper_expected_score"] < easier["paper_expected_score"]
    assert harder["paper_offset"] < 0 < easier["paper_offset"]
    assert harder["paper_offset_significant"] is True
    for row in rows.values():
        low, high = row["paper_expected_score_interval"]
        assert low < row["paper_expected_score"] < high
        assert row["adjusted_average"] == round(row["adjusted_average_raw"] + 1e-9, 1)
    assert sorted(row["adjusted_position"] for row in rows.values()) in ([1, 2], [1, 1])
