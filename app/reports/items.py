"""Item analysis and paper fairness, computed with numpy off the event loop.

Definitions (the tests recompute each with plain loops):
- facility: share of examinees who answered the item correctly (``is_correct``; no answer row = wrong);
- point-biserial (corrected, item–rest): Pearson correlation of the item's 0/1 with the examinee's attempt
  points minus the points he earned on that item; None when either side does not vary;
- upper–lower: facility in the top 27% minus facility in the bottom 27% of examinees by attempt points,
  group size ``floor(0.27·n + 0.5)`` (at least 1), ties broken by attempt id; None under two examinees;
- KR-20 per paper: k/(k−1)·(1 − Σ p·q / σ²) over the number-correct totals (population variance);
- flags: ``negative_discrimination`` (point-biserial < 0), ``too_hard`` (facility < 0.2),
  ``too_easy`` (facility > 0.95).
Per question, examinees of every paper that carried it are pooled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from app.bank.statistics import item_flags
from app.reports import repository
from app.reports.calibration import PaperExpectation, calibrate, difference_error, paper_expectation, score_error
from app.reports.numbers import published, to_decimal
from app.reports.service import build_exam_report, get_exam

UPPER_LOWER_SHARE = 0.27
FloatArray = npt.NDArray[np.float64]


@dataclass
class Slot:
    position: int
    question_id: int
    type: str
    category: str
    points: float


@dataclass
class PaperResponses:
    """One paper's answers as matrices: one row per counted attempt, one column per slot."""

    paper_id: int
    unit_id: int
    slots: list[Slot]
    attempt_ids: list[int]
    totals: FloatArray  # attempt points
    correct: FloatArray  # 0/1
    earned: FloatArray  # points earned per item
    keys: list[list[str | None]]  # answered keys per attempt and slot (None = no answer row)


@dataclass
class Responses:
    papers: list[PaperResponses] = field(default_factory=list)


async def load_responses(session: AsyncSession, exam_id: int) -> Responses:
    """Every counted attempt's answers, slot by slot, grouped per paper."""
    attempts = await repository.counted_attempt_rows(session, exam_id)
    slot_rows = await repository.exam_slots(session, exam_id)
    answers = await repository.counted_answers(session, exam_id)
    return await anyio.to_thread.run_sync(_build_responses, attempts, slot_rows, answers)


def _build_responses(attempts: Sequence[Any], slot_rows: Sequence[Any], answers: Sequence[Any]) -> Responses:
    slots: dict[int, list[Slot]] = defaultdict(list)
    for row in slot_rows:
        slots[row.paper_id].append(Slot(row.position, row.question_id, row.type, row.category, float(row.points)))
    members: dict[int, list[Any]] = defaultdict(list)
    for row in attempts:
        members[row.paper_id].append(row)
    papers: dict[int, PaperResponses] = {}
    where: dict[int, tuple[PaperResponses, int, dict[int, int]]] = {}
    for paper_id, rows in members.items():
        paper_slots = slots.get(paper_id, [])
        column = {slot.position: index for index, slot in enumerate(paper_slots)}
        paper = PaperResponses(
            paper_id=paper_id,
            unit_id=rows[0].unit_id,
            slots=paper_slots,
            attempt_ids=[row.attempt_id for row in rows],
            totals=np.array([float(row.points) for row in rows], dtype=np.float64),
            correct=np.zeros((len(rows), len(paper_slots))),
            earned=np.zeros((len(rows), len(paper_slots))),
            keys=[[None] * len(paper_slots) for _ in rows],
        )
        papers[paper_id] = paper
        for index, row in enumerate(rows):
            where[row.attempt_id] = (paper, index, column)
    for attempt_id, cells in answers:
        paper, i, column = where[attempt_id]
        for cell in (cells or "").split(repository.CELL_SEPARATOR):
            if not cell:
                continue
            position, keys, points, is_correct = cell.split(repository.FIELD_SEPARATOR)
            j = column.get(int(position))
            if j is None:
                continue
            if is_correct == "1":
                paper.correct[i, j] = 1.0
            paper.earned[i, j] = float(points)
            paper.keys[i][j] = keys
    return Responses(papers=sorted(papers.values(), key=lambda p: (p.unit_id, p.paper_id)))


def _correlation(x: FloatArray, y: FloatArray) -> float | None:
    if len(x) < 2 or float(np.std(x)) == 0.0 or float(np.std(y)) == 0.0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _upper_lower(item: FloatArray, totals: FloatArray, attempt_ids: list[int]) -> float | None:
    n = len(item)
    if n < 2:
        return None
    group = max(1, int(np.floor(UPPER_LOWER_SHARE * n + 0.5)))
    # Best first; equal totals in attempt-id order, so the groups are reproducible.
    order = np.lexsort((np.array(attempt_ids), -totals))
    return float(item[order[:group]].mean() - item[order[-group:]].mean())


def _options(keys: list[str | None]) -> tuple[dict[str, int], int]:
    counts: dict[str, int] = defaultdict(int)
    unanswered = 0
    for answer in keys:
        if not answer:
            unanswered += 1
            continue
        for key in answer:
            counts[key] += 1
    return dict(sorted(counts.items())), unanswered


def _flags(facility: float | None, discrimination: float | None) -> list[str]:
    return item_flags(facility, discrimination)


def _item_figures(
    item: FloatArray, rest: FloatArray, totals: FloatArray, attempt_ids: list[int], keys: list[str | None]
) -> dict[str, Any]:
    facility = float(item.mean()) if len(item) else None
    discrimination = _correlation(item, rest)
    options, unanswered = _options(keys)
    return {
        "attempts": len(item),
        "facility": facility,
        "point_biserial": discrimination,
        "upper_lower": _upper_lower(item, totals, attempt_ids),
        "options": options,
        "unanswered": unanswered,
        "flags": _flags(facility, discrimination),
    }


def kr20(correct: FloatArray) -> float | None:
    """Kuder–Richardson 20 of a 0/1 matrix (rows examinees, columns items)."""
    examinees, items = correct.shape
    if items < 2 or examinees < 2:
        return None
    variance = float(np.var(correct.sum(axis=1)))
    if variance == 0.0:
        return None
    p = correct.mean(axis=0)
    return float(items / (items - 1) * (1 - float((p * (1 - p)).sum()) / variance))


def analyse(responses: Responses) -> dict[str, Any]:
    """Per paper and per question figures (pure; runs in a worker thread)."""
    papers = []
    pooled: dict[int, dict[str, Any]] = {}
    for paper in responses.papers:
        items = []
        for j, slot in enumerate(paper.slots):
            item = paper.correct[:, j]
            rest = paper.totals - paper.earned[:, j]
            column_keys = [row[j] for row in paper.keys]
            items.append(
                {
                    "position": slot.position,
                    "question_id": slot.question_id,
                    "type": slot.type,
                    "category": slot.category,
                    "points": slot.points,
                    **_item_figures(item, rest, paper.totals, paper.attempt_ids, column_keys),
                }
            )
            bucket = pooled.setdefault(
                slot.question_id,
                {"slot": slot, "papers": [], "item": [], "rest": [], "totals": [], "ids": [], "keys": []},
            )
            bucket["papers"].append(paper.paper_id)
            bucket["item"].append(item)
            bucket["rest"].append(rest)
            bucket["totals"].append(paper.totals)
            bucket["ids"].extend(paper.attempt_ids)
            bucket["keys"].extend(column_keys)
        papers.append(
            {
                "paper_id": paper.paper_id,
                "unit_id": paper.unit_id,
                "attempts": len(paper.attempt_ids),
                "items_count": len(paper.slots),
                "kr20": kr20(paper.correct),
                "mean_points": float(paper.totals.mean()) if len(paper.totals) else None,
                "items": items,
            }
        )
    questions = []
    for question_id, bucket in sorted(pooled.items()):
        slot = bucket["slot"]
        questions.append(
            {
                "question_id": question_id,
                "type": slot.type,
                "category": slot.category,
                "papers": bucket["papers"],
                **_item_figures(
                    np.concatenate(bucket["item"]),
                    np.concatenate(bucket["rest"]),
                    np.concatenate(bucket["totals"]),
                    bucket["ids"],
                    bucket["keys"],
                ),
            }
        )
    return {"papers": papers, "questions": questions}


async def item_analysis(session: AsyncSession, exam_id: int) -> dict[str, Any]:
    """Item analysis of one exam: per paper (with KR-20) and per question pooled over papers."""
    exam = await get_exam(session, exam_id)
    responses = await load_responses(session, exam_id)
    figures = await anyio.to_thread.run_sync(analyse, responses)
    return {"exam_id": exam.id, **figures}


def _paper_difficulty(responses: Responses) -> dict[int, dict[str, Any]]:
    """Per paper: mean pooled facility of its questions and the expected 0–100 score they imply."""
    seen: dict[int, list[float]] = defaultdict(list)
    for paper in responses.papers:
        for j, slot in enumerate(paper.slots):
            seen[slot.question_id].extend(paper.correct[:, j].tolist())
    facility = {question_id: float(np.mean(values)) for question_id, values in seen.items()}
    result = {}
    for paper in responses.papers:
        total = sum(slot.points for slot in paper.slots)
        facilities = [facility[slot.question_id] for slot in paper.slots]
        expected = sum(slot.points * facility[slot.question_id] for slot in paper.slots)
        result[paper.paper_id] = {
            "observed_facility": float(np.mean(facilities)) if facilities else None,
            "observed_expected_score": expected * 100 / total if total else None,
            "own_facility": float(paper.correct.mean()) if paper.correct.size else None,
        }
    return result


# Papers whose expected scores differ by less than this many standard errors are not told apart.
Z_95 = 1.96


def _calibrated_papers(
    rows: Sequence[Any], slots: Sequence[Any], papers: Sequence[Any]
) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """Rasch-calibrate every response to the exam's questions; per paper its expected score for the same
    reference examinee with a 95% interval, or the reason it cannot be estimated (pure; in a thread)."""
    calibration = calibrate(
        np.array([int(r.attempt_id) for r in rows], dtype=np.int64),
        np.array([int(r.question_id) for r in rows], dtype=np.int64),
        np.array([bool(r.correct) for r in rows], dtype=bool),
    )
    index = calibration.index()
    items: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for slot in slots:
        items[slot.paper_id].append((int(slot.question_id), float(slot.points)))
    result: dict[int, dict[str, Any]] = {}
    expectations: dict[int, PaperExpectation] = {}
    components: set[int] = set()
    for paper in papers:
        paper_items = items.get(paper.id, [])
        unseen = [q for q, _ in paper_items if q not in index]
        extreme = [q for q, _ in paper_items if q in calibration.extreme_items]
        reason = None
        if not paper_items:
            reason = "试卷没有试题"
        elif unseen:
            reason = f"试卷中有{len(unseen)}道题尚无作答记录，无法估计其难度"
        elif extreme:
            reason = f"试卷中有{len(extreme)}道题所有作答者全部答对或全部答错，无法估计其难度"
        if reason is not None:
            result[paper.id] = {"estimable": False, "reason": reason}
            continue
        paper_components = {int(calibration.component[index[q]]) for q, _ in paper_items}
        components |= paper_components
        expectation = paper_expectation(calibration, paper_items, calibration.mean_ability)
        expectations[paper.id] = expectation
        error = score_error(calibration, expectation)
        result[paper.id] = {
            "estimable": True,
            "reason": None,
            "expected_score": float(expectation.score),
            "standard_error": float(error),
            "interval": [float(expectation.score - Z_95 * error), float(expectation.score + Z_95 * error)],
            "components": paper_components,
        }
    linked = len(components) == 1 and len(expectations) == len(papers) > 0
    summary: dict[str, Any] = {
        "method": "rasch_jml",
        "questions": int(np.isfinite(calibration.difficulty).sum()),
        "examinees": calibration.persons,
        "responses": calibration.responses,
        "reference_ability": calibration.mean_ability,
        "linked": linked,
    }
    if expectations and not linked:
        summary["reason"] = (
            "各单位试卷之间没有共同试题，这些试题也未在其他考试或练习中被同一批干部共同作答，"
            "试卷难度与单位水平无法区分，不能据此调整排名"
        )
    elif len(expectations) < len(papers):
        summary["reason"] = "部分单位的试卷难度无法估计，不能据此调整排名"
    else:
        summary["reason"] = None
    if linked:
        baseline = float(np.mean([e.score for e in expectations.values()]))
        mean_gradient: dict[int, float] = defaultdict(float)
        for expectation in expectations.values():
            for question_id, slope in expectation.gradient.items():
                mean_gradient[question_id] += slope / len(expectations)
        centre = PaperExpectation(score=baseline, gradient=dict(mean_gradient))
        for paper_id, expectation in expectations.items():
            offset = expectation.score - baseline
            error = difference_error(calibration, expectation, centre)
            result[paper_id].update(
                offset=float(offset),
                offset_interval=[float(offset - Z_95 * error), float(offset + Z_95 * error)],
                offset_significant=bool(abs(offset) > Z_95 * error),
            )
        summary["mean_expected_score"] = baseline
    for figures in result.values():
        figures.pop("components", None)
    return result, summary


async def fairness(session: AsyncSession, exam_id: int) -> dict[str, Any]:
    """Each unit's paper difficulty as drawn, as observed and as calibrated (Rasch over every response the
    bank holds to its questions): the expected score of the same reference examinee on each unit's paper
    with a 95% interval, and the average adjusted for the paper — only where the calibration links every
    paper onto one scale; otherwise ``not estimable`` with the reason."""
    report = await build_exam_report(session, exam_id)
    papers = await repository.paper_shapes(session, exam_id)
    responses = await load_responses(session, exam_id)
    observed = await anyio.to_thread.run_sync(_paper_difficulty, responses)
    rows_in = await repository.calibration_responses(session, exam_id)
    slots = await repository.exam_slots(session, exam_id)
    calibrated, summary = await anyio.to_thread.run_sync(_calibrated_papers, rows_in, slots, papers)
    raw_averages = report.raw.units
    paper_of_unit = {p.unit_id: p for p in papers}
    rows: list[dict[str, Any]] = []
    for unit in report.units:
        paper = paper_of_unit.get(unit.unit_id)
        figures = observed.get(paper.id, {}) if paper is not None else {}
        rasch = calibrated.get(paper.id, {}) if paper is not None else {}
        average = raw_averages[str(unit.unit_id)].average
        offset = rasch.get("offset") if summary["linked"] else None
        adjusted = average - offset if average is not None and offset is not None else None
        estimable = bool(rasch.get("estimable")) and summary["linked"] and adjusted is not None
        rows.append(
            {
                "unit_id": unit.unit_id,
                "name": unit.name,
                "position": unit.position,
                "sat": unit.sat,
                "average": unit.average,
                "paper_id": paper.id if paper is not None else None,
                "drawn_difficulty": paper.expected_difficulty if paper is not None else None,
                "observed_facility": figures.get("observed_facility"),
                "own_facility": figures.get("own_facility"),
                "facility_expected_score": figures.get("observed_expected_score"),
                "paper_expected_score": rasch.get("expected_score"),
                "paper_expected_score_interval": rasch.get("interval"),
                "paper_offset": offset,
                "paper_offset_interval": rasch.get("offset_interval") if summary["linked"] else None,
                "paper_offset_significant": rasch.get("offset_significant") if summary["linked"] else None,
                "adjusted_average": published(to_decimal(adjusted)) if adjusted is not None else None,
                "adjusted_average_raw": adjusted,
                "estimable": estimable,
                "reason": None if estimable else (rasch.get("reason") or summary.get("reason") or "该单位无人完成考试"),
            }
        )
    # Ranked on the published one-decimal figure: float noise never splits or joins a tie.
    adjusted_rows = sorted((r for r in rows if r["estimable"]), key=lambda r: -r["adjusted_average"])
    for index, row in enumerate(adjusted_rows):
        same = index and row["adjusted_average"] == adjusted_rows[index - 1]["adjusted_average"]
        row["adjusted_position"] = adjusted_rows[index - 1]["adjusted_position"] if same else index + 1
    for row in rows:
        row.setdefault("adjusted_position", None)
    return {
        "exam_id": report.exam_id,
        "calibration": summary,
        "mean_paper_expected_score": summary.get("mean_expected_score"),
        "units": rows,
    }
