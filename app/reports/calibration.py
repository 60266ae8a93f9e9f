"""Rasch (1PL) calibration of item difficulty from sparse 0/1 responses, with standard errors (numpy).

Model: P(correct | person p, item i) = 1 / (1 + exp(b_i − θ_p)). Joint maximum likelihood, alternating
Newton steps on abilities and difficulties, with the mean difficulty of the calibrated items fixed at 0
(the scale's origin is arbitrary; differences are what the fairness report uses).

- Persons and items whose responses are all correct or all wrong have no finite estimate: they are set
  aside, repeatedly, until none is left (``extreme`` items are reported as not calibrated).
- Only items linked to each other through persons who answered both can be placed on one scale: the
  connected components of the person–item graph are returned, so callers can refuse to compare papers
  that no examinee links.
- Joint ML overstates the spread of difficulties by about L/(L−1) for L items per person; estimates are
  multiplied by (L−1)/L (Wright and Douglas' correction, L the mean items per person).
- The standard error of b_i is 1/√(Σ_p P(1−P)) over its responses, the inverse information.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
MAX_ITERATIONS = 200
TOLERANCE = 1e-6
MAX_STEP = 1.0


@dataclass(frozen=True)
class Calibration:
    """Item difficulties on one logit scale; ``component`` labels which items share a scale."""

    items: IntArray  # item keys (question ids), in the order of the arrays below
    difficulty: FloatArray  # NaN where not calibrated
    standard_error: FloatArray  # NaN where not calibrated
    component: IntArray  # -1 where not calibrated
    mean_ability: float  # of the calibrated persons (the reference examinee's ability)
    persons: int
    responses: int
    extreme_items: frozenset[int]

    def index(self) -> dict[int, int]:
        return {int(item): position for position, item in enumerate(self.items)}


def _sigmoid(values: FloatArray) -> FloatArray:
    result: FloatArray = 1.0 / (1.0 + np.exp(-values))
    return result


def _components(person: IntArray, item: IntArray, persons: int, items: int) -> IntArray:
    """Connected components of the bipartite person–item graph, as the smallest item index in each."""
    labels = np.arange(items, dtype=np.int64)
    while True:
        person_label = np.full(persons, items, dtype=np.int64)
        np.minimum.at(person_label, person, labels[item])
        updated = labels.copy()
        np.minimum.at(updated, item, person_label[person])
        if np.array_equal(updated, labels):
            return labels
        labels = updated


def calibrate(person_keys: IntArray, item_keys: IntArray, correct: npt.NDArray[np.bool_]) -> Calibration:
    """Rasch difficulties of the items in ``item_keys`` from one row per response (pure; CPU-bound)."""
    items, item = np.unique(item_keys, return_inverse=True)
    persons, person = np.unique(person_keys, return_inverse=True)
    x = correct.astype(np.float64)
    keep = np.ones(len(x), dtype=bool)
    # Set aside perfect and zero scores, persons and items alike, until every one left has both.
    while True:
        person_n = np.bincount(person[keep], minlength=len(persons))
        person_r = np.bincount(person[keep], weights=x[keep], minlength=len(persons))
        item_n = np.bincount(item[keep], minlength=len(items))
        item_r = np.bincount(item[keep], weights=x[keep], minlength=len(items))
        bad_person = (person_r == 0) | (person_r == person_n)
        bad_item = (item_r == 0) | (item_r == item_n)
        drop = keep & (bad_person[person] | bad_item[item])
        if not drop.any():
            break
        keep &= ~drop
    answered = np.bincount(item, minlength=len(items)) > 0
    calibrated = np.bincount(item[keep], minlength=len(items)) > 0
    extreme = frozenset(int(items[i]) for i in np.flatnonzero(answered & ~calibrated))
    p, i, y = person[keep], item[keep], x[keep]
    theta = np.zeros(len(persons))
    b = np.zeros(len(items))
    if len(y):
        # Start from the logits of the raw proportions.
        person_count = np.maximum(np.bincount(p, minlength=len(persons)), 1)
        item_count = np.maximum(np.bincount(i, minlength=len(items)), 1)
        person_rate = np.bincount(p, weights=y, minlength=len(persons)) / person_count
        item_rate = np.bincount(i, weights=y, minlength=len(items)) / item_count
        theta = np.log(np.clip(person_rate, 1e-3, 1 - 1e-3) / np.clip(1 - person_rate, 1e-3, 1))
        b = -np.log(np.clip(item_rate, 1e-3, 1 - 1e-3) / np.clip(1 - item_rate, 1e-3, 1))
        for _ in range(MAX_ITERATIONS):
            probability = _sigmoid(theta[p] - b[i])
            gradient = np.bincount(p, weights=y - probability, minlength=len(persons))
            information = np.bincount(p, weights=probability * (1 - probability), minlength=len(persons))
            theta_step = np.clip(gradient / np.maximum(information, 1e-12), -MAX_STEP, MAX_STEP)
            theta += theta_step
            probability = _sigmoid(theta[p] - b[i])
            gradient = np.bincount(i, weights=y - probability, minlength=len(items))
            information = np.bincount(i, weights=probability * (1 - probability), minlength=len(items))
            b_step = np.clip(-gradient / np.maximum(information, 1e-12), -MAX_STEP, MAX_STEP)
            b += b_step
            shift = float(b[calibrated].mean())
            b -= shift
            theta -= shift
            if max(float(np.abs(theta_step).max()), float(np.abs(b_step).max())) < TOLERANCE:
                break
    probability = _sigmoid(theta[p] - b[i]) if len(y) else np.zeros(0)
    information = np.bincount(i, weights=probability * (1 - probability), minlength=len(items))
    per_person = np.bincount(p, minlength=len(persons))
    fitted_persons = per_person > 0
    length = float(per_person[fitted_persons].mean()) if fitted_persons.any() else 0.0
    shrink = (length - 1) / length if length > 1 else 1.0
    difficulty = np.where(calibrated, b * shrink, np.nan)
    standard_error = np.where(calibrated, 1 / np.sqrt(np.maximum(information, 1e-12)), np.nan)
    labels = _components(p, i, len(persons), len(items)) if len(y) else np.arange(len(items), dtype=np.int64)
    component = np.where(calibrated, labels, -1)
    mean_ability = float(theta[fitted_persons].mean() * shrink) if fitted_persons.any() else 0.0
    return Calibration(
        items=items.astype(np.int64),
        difficulty=difficulty,
        standard_error=standard_error,
        component=component.astype(np.int64),
        mean_ability=mean_ability,
        persons=int(fitted_persons.sum()),
        responses=len(y),
        extreme_items=extreme,
    )


@dataclass(frozen=True)
class PaperExpectation:
    """A paper's expected 0–100 score for the reference examinee, with its gradient over item difficulties."""

    score: float
    gradient: dict[int, float]  # d score / d b_i per question id


def paper_expectation(calibration: Calibration, items: list[tuple[int, float]], ability: float) -> PaperExpectation:
    """Expected score (0–100) on a paper of (question id, points) for an examinee of ``ability``."""
    index = calibration.index()
    total = sum(points for _, points in items)
    score, gradient = 0.0, dict[int, float]()
    for question_id, points in items:
        b = float(calibration.difficulty[index[question_id]])
        chance = 1 / (1 + np.exp(b - ability))
        score += points * chance
        gradient[question_id] = gradient.get(question_id, 0.0) - 100 * points * chance * (1 - chance) / total
    return PaperExpectation(score=100 * score / total, gradient=gradient)


def difference_error(calibration: Calibration, first: PaperExpectation, second: PaperExpectation) -> float:
    """Standard error of ``first.score − second.score`` (delta method, items independent): a question on
    both papers moves both scores alike, so it adds little to the error of their difference."""
    index = calibration.index()
    variance = 0.0
    for question_id in set(first.gradient) | set(second.gradient):
        slope = first.gradient.get(question_id, 0.0) - second.gradient.get(question_id, 0.0)
        variance += slope * slope * float(calibration.standard_error[index[question_id]]) ** 2
    return float(np.sqrt(variance))


def score_error(calibration: Calibration, expectation: PaperExpectation) -> float:
    """Standard error of one paper's expected score (delta method)."""
    return difference_error(calibration, expectation, PaperExpectation(score=0.0, gradient={}))
