"""The exam report: overall, by rank, by unit (ranked), spread, discipline, absences, and the extras.

Decisions where the brief is silent:
- the standard deviation is the population one (every examinee of the round is observed, none sampled);
- units are ranked on their exact (unrounded) averages with competition ranking (1, 2, 2, 4); a unit in the
  exam where nobody sat is listed last with ``average`` null and ``position`` null;
- the gap is best minus worst *unrounded* average, then rounded (99.4 − 73.9 = 25.5 either way for the seed);
- ``discipline`` lists only units with at least one recorded incident, in ranking order;
- ``headcount`` is the sum of the headcounts of the units taking part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFoundError
from app.core.paging import EVERY_ROW, Page
from app.exams.models import Exam, IncidentKind
from app.org.models import Rank
from app.reports import repository
from app.reports.numbers import exact_sum, mean, population_stdev, published, raw, share, to_decimal
from app.reports.schemas import (
    AbsenceRow,
    Band,
    Categories,
    CategoryRates,
    CrossCell,
    CrossRow,
    DisciplineRow,
    ExamReport,
    FiguresRaw,
    IncidentCounts,
    IndividualRow,
    Overall,
    OverallRaw,
    PaperSummary,
    RankCounts,
    RankRow,
    ReportRaw,
    Spread,
    UnitCategoryRates,
    UnitRow,
)

RANKS = (Rank.ting, Rank.chu, Rank.ke)
CATEGORIES = ("theory", "law", "policy")


@dataclass
class Tally:
    """Sums that add up across units and ranks; every rate and mean is derived from them."""

    sat: int = 0
    total: Decimal = field(default_factory=Decimal)
    squares: Decimal = field(default_factory=Decimal)
    passed: int = 0
    excellent: int = 0
    full: int = 0

    def add(self, other: Tally) -> None:
        self.sat += other.sat
        self.total += other.total
        self.squares += other.squares
        self.passed += other.passed
        self.excellent += other.excellent
        self.full += other.full

    @property
    def average(self) -> Decimal | None:
        return mean(self.total, self.sat)

    @property
    def failed(self) -> int:
        return self.sat - self.passed

    def rates(self) -> FiguresRaw:
        return FiguresRaw(
            average=raw(self.average),
            pass_rate=raw(share(self.passed, self.sat)),
            excellence_rate=raw(share(self.excellent, self.sat)),
            full_rate=raw(share(self.full, self.sat)),
        )


async def get_exam(session: AsyncSession, exam_id: int) -> Exam:
    exam = await repository.exam(session, exam_id)
    if exam is None:
        raise NotFoundError(f"考试 {exam_id} 不存在")
    return exam


def _competition_positions(averages: list[Decimal]) -> list[int]:
    """1-based positions of values sorted best first; equal values share a position (1, 2, 2, 4)."""
    positions: list[int] = []
    for index, value in enumerate(averages):
        positions.append(positions[-1] if index and value == averages[index - 1] else index + 1)
    return positions


async def build_exam_report(session: AsyncSession, exam_id: int) -> ExamReport:
    """Every figure of the supervisors' notice for one exam, plus cross table, distribution and categories."""
    exam = await get_exam(session, exam_id)
    score_rows = await repository.score_aggregates(session, exam_id)
    absence_rows = await repository.absences(session, exam_id)
    incident_rows = await repository.incident_counts(session, exam_id)
    participating = list(await repository.exam_units(session, exam_id))
    known = {row.id for row in participating}
    extra = {row.unit_id for row in [*score_rows, *absence_rows, *incident_rows]}
    others = list(await repository.units_by_id(session, extra - known))
    report = assemble_report(
        exam_id=exam.id,
        exam_name=exam.name,
        mode=exam.mode,
        paper=await _paper_summary(session, exam),
        score_rows=score_rows,
        absence_rows=absence_rows,
        incident_rows=incident_rows,
        participating=participating,
        others=others,
    )
    attempts_by_paper: dict[tuple[int, int], int] = defaultdict(int)
    for row in score_rows:
        attempts_by_paper[(row.unit_id, row.paper_id)] += int(row.sat)
    report.categories = await _categories(session, exam_id, attempts_by_paper, [row.unit_id for row in report.units])
    return report


def assemble_report(
    *,
    exam_id: int,
    exam_name: str,
    mode: str,
    paper: PaperSummary | None,
    score_rows: Sequence[Any],
    absence_rows: Sequence[Any],
    incident_rows: Sequence[Any],
    participating: Sequence[Any],
    others: Sequence[Any],
) -> ExamReport:
    """The report from the aggregate rows the repository returns (pure: the notice's property tests feed it
    generated rounds). ``categories`` is left empty; ``build_exam_report`` fills it."""
    tallies: dict[tuple[int, str], Tally] = defaultdict(Tally)
    bands: dict[int, int] = defaultdict(int)
    for row in score_rows:
        tallies[(row.unit_id, row.rank)].add(
            Tally(
                sat=int(row.sat),
                total=exact_sum(row.total),
                squares=exact_sum(row.total_of_squares),
                passed=int(row.pass_count or 0),
                excellent=int(row.excellent_count or 0),
                full=int(row.full_count or 0),
            )
        )
        for low in repository.BANDS:
            bands[low] += int(getattr(row, f"band_{low}") or 0)
    units = [*participating, *others]
    headcount = sum(int(row.headcount) for row in (participating or units))

    overall = Tally()
    by_rank: dict[str, Tally] = defaultdict(Tally)
    by_unit: dict[int, Tally] = defaultdict(Tally)
    for (unit_id, rank), tally in tallies.items():
        overall.add(tally)
        by_rank[rank].add(tally)
        by_unit[unit_id].add(tally)
    absent_by_unit: dict[int, int] = defaultdict(int)
    for absence in absence_rows:
        absent_by_unit[absence.unit_id] += 1

    unit_rows = _rank_units(units, by_unit, absent_by_unit)
    ranked = [u for u in unit_rows if u.position is not None]
    best, worst = (ranked[0], ranked[-1]) if ranked else (None, None)
    gap = None
    if best is not None and worst is not None:
        best_average, worst_average = by_unit[best.unit_id].average, by_unit[worst.unit_id].average
        if best_average is not None and worst_average is not None:
            gap = best_average - worst_average

    order = {row.unit_id: index for index, row in enumerate(unit_rows)}
    incidents: dict[int, IncidentCounts] = {}
    for row in incident_rows:
        counts = incidents.setdefault(row.unit_id, IncidentCounts())
        kind = row.kind if row.kind in IncidentKind.__members__ else IncidentKind.other
        setattr(counts, kind, getattr(counts, kind) + int(row.incidents))

    rates = overall.rates()
    return ExamReport(
        exam_id=exam_id,
        exam_name=exam_name,
        mode=mode,
        paper=paper,
        overall=Overall(
            sat=overall.sat,
            absent=len(absence_rows),
            by_rank=RankCounts(**{rank: by_rank[rank].sat for rank in RANKS}),
            headcount=headcount,
            headcount_share=published(share(overall.sat, headcount)),
            average=published(overall.average),
            stdev=published(population_stdev(overall.total, overall.squares, overall.sat)),
            pass_count=overall.passed,
            pass_rate=published(share(overall.passed, overall.sat)),
            excellent_count=overall.excellent,
            excellence_rate=published(share(overall.excellent, overall.sat)),
            full_count=overall.full,
            full_rate=published(share(overall.full, overall.sat)),
            fail_count=overall.failed,
        ),
        ranks=[_rank_row(rank, by_rank[rank]) for rank in RANKS],
        units=unit_rows,
        spread=Spread(
            best_unit_id=best.unit_id if best else None,
            worst_unit_id=worst.unit_id if worst else None,
            gap=published(gap),
        ),
        discipline=[
            DisciplineRow(unit_id=unit_id, incidents=counts)
            for unit_id, counts in sorted(incidents.items(), key=lambda i: (order.get(i[0], 1 << 30), i[0]))
        ],
        absences=[AbsenceRow(cadre_id=a.cadre_id, unit_id=a.unit_id, reason=a.reason) for a in absence_rows],
        cross=[_cross_row(u.unit_id, tallies) for u in unit_rows],
        distribution=_distribution(bands, overall.sat),
        categories=Categories(overall=CategoryRates(), units=[]),
        raw=ReportRaw(
            overall=OverallRaw(
                headcount_share=raw(share(overall.sat, headcount)),
                average=rates.average,
                stdev=raw(population_stdev(overall.total, overall.squares, overall.sat)),
                pass_rate=rates.pass_rate,
                excellence_rate=rates.excellence_rate,
                full_rate=rates.full_rate,
            ),
            ranks={rank: by_rank[rank].rates() for rank in RANKS},
            units={str(row.unit_id): by_unit[row.unit_id].rates() for row in unit_rows},
            gap=raw(gap),
        ),
    )


TYPE_ORDER = ("single", "multiple", "judge")


async def _paper_summary(session: AsyncSession, exam: Exam) -> PaperSummary | None:
    shapes = {(int(row.slots), float(row.total_points)) for row in await repository.paper_shapes(session, exam.id)}
    if len(shapes) != 1:
        return None
    ((questions, total_points),) = shapes
    if questions == 0:
        return None
    types = await repository.slot_types(session, exam.id)
    return PaperSummary(
        questions=questions,
        total_points=total_points,
        time_limit_minutes=round(exam.time_limit_seconds / 60),
        types=sorted(types, key=lambda t: TYPE_ORDER.index(t) if t in TYPE_ORDER else len(TYPE_ORDER)),
    )


def _rank_units(units: list, by_unit: dict[int, Tally], absent_by_unit: dict[int, int]) -> list[UnitRow]:  # type: ignore[type-arg]
    sitting = sorted(
        (u for u in units if by_unit[u.id].sat > 0),
        key=lambda u: (-by_unit[u.id].average, u.name, u.id),  # type: ignore[operator]
    )
    empty = sorted((u for u in units if by_unit[u.id].sat == 0), key=lambda u: (u.name, u.id))
    positions = _competition_positions([by_unit[u.id].average for u in sitting])  # type: ignore[misc]
    rows: list[UnitRow] = []
    for unit, position in [*zip(sitting, positions, strict=True), *((u, None) for u in empty)]:
        tally = by_unit[unit.id]
        rows.append(
            UnitRow(
                unit_id=unit.id,
                name=unit.name,
                sat=tally.sat,
                absent=absent_by_unit.get(unit.id, 0),
                average=published(tally.average),
                pass_rate=published(share(tally.passed, tally.sat)),
                excellence_rate=published(share(tally.excellent, tally.sat)),
                full_rate=published(share(tally.full, tally.sat)),
                pass_count=tally.passed,
                excellent_count=tally.excellent,
                full_count=tally.full,
                fail_count=tally.failed,
                headcount=int(unit.headcount),
                position=position,
            )
        )
    return rows


def _rank_row(rank: str, tally: Tally) -> RankRow:
    return RankRow(
        rank=rank,
        sat=tally.sat,
        average=published(tally.average),
        pass_rate=published(share(tally.passed, tally.sat)),
        excellence_rate=published(share(tally.excellent, tally.sat)),
        full_rate=published(share(tally.full, tally.sat)),
        pass_count=tally.passed,
        excellent_count=tally.excellent,
        full_count=tally.full,
        fail_count=tally.failed,
    )


def _cross_row(unit_id: int, tallies: dict[tuple[int, str], Tally]) -> CrossRow:
    cells = {rank: _cross_cell(tallies.get((unit_id, rank))) for rank in RANKS}
    return CrossRow(unit_id=unit_id, ting=cells[Rank.ting], chu=cells[Rank.chu], ke=cells[Rank.ke])


def _cross_cell(tally: Tally | None) -> CrossCell:
    tally = tally or Tally()
    return CrossCell(
        sat=tally.sat,
        average=published(tally.average),
        excellence_rate=published(share(tally.excellent, tally.sat)),
    )


def _distribution(counts: dict[int, int], sat: int) -> list[Band]:
    bands = []
    for low in sorted(repository.BANDS):
        high = 100 if low == repository.BANDS[0] else low + 10
        label = f"{low}–{high}" if high == 100 else f"{low}–{high}以下"
        count = counts.get(low, 0)
        bands.append(Band(low=low, high=high, label=label, count=count, share=published(share(count, sat))))
    return bands


async def _categories(
    session: AsyncSession, exam_id: int, attempts_by_paper: dict[tuple[int, int], int], unit_ids: list[int]
) -> Categories:
    """Correct rate per category: correct answers over (attempts × slots of that category)."""
    slots: dict[int, dict[str, int]] = defaultdict(dict)
    for row in await repository.slots_by_paper_category(session, exam_id):
        slots[row.paper_id][row.category] = int(row.slots)
    asked: dict[tuple[int, str], int] = defaultdict(int)
    for (unit_id, paper_id), attempts in attempts_by_paper.items():
        for category, count in slots[paper_id].items():
            asked[(unit_id, category)] += attempts * count
    correct: dict[tuple[int, str], int] = {
        (row.unit_id, row.category): int(row.correct)
        for row in await repository.correct_answers_by_unit_category(session, exam_id)
    }

    def rates(keys: list[int]) -> CategoryRates:
        values: dict[str, float | None] = {}
        for category in CATEGORIES:
            total_asked = sum(asked.get((unit_id, category), 0) for unit_id in keys)
            total_correct = sum(correct.get((unit_id, category), 0) for unit_id in keys)
            values[category] = published(share(total_correct, total_asked))
        return CategoryRates(**values)

    return Categories(
        overall=rates(unit_ids),
        units=[UnitCategoryRates(unit_id=unit_id, rates=rates([unit_id])) for unit_id in unit_ids],
    )


async def list_individuals(
    session: AsyncSession, exam_id: int, unit_id: int | None, page: Page = EVERY_ROW
) -> tuple[list[IndividualRow], int]:
    """A page of one exam's individual results, all units or one unit's, and how many there are."""
    await get_exam(session, exam_id)
    rows, total = await repository.individuals(session, exam_id, unit_id, page)
    return [
        IndividualRow(
            participant_id=row.participant_id,
            attempt_id=row.attempt_id,
            cadre_id=row.cadre_id,
            cadre_name=row.cadre_name,
            rank=row.rank,
            unit_id=row.unit_id,
            unit_name=row.unit_name,
            points=float(row.points),
            score=float(round(to_decimal(row.score), 4)),
            submitted_at=row.submitted_at,
        )
        for row in rows
    ], total


PRACTICE_TARGET = Decimal("1.5")


async def practice_report(session: AsyncSession, unit_ids: set[int] | None) -> dict[str, Any]:
    """Per unit: practice exams set up and sat, submitted practice attempts per active cadre (target 1.5), and
    whether it ran none (no practice exam sat by its cadres)."""
    exams, attempts, cadres = await repository.practice_by_unit(session, unit_ids)
    exams_by_unit = {row.unit_id: int(row.exams) for row in exams}
    attempts_by_unit = {row.unit_id: int(row.attempts) for row in attempts}
    # A practice exam counts as run once the unit's cadres have sat it (drawn alone, or set up, is not run).
    sat_by_unit = {row.unit_id: int(row.sat) for row in attempts}
    cadres_by_unit = {row.unit_id: int(row.cadres) for row in cadres}
    rows = []
    for unit in await repository.all_units(session, unit_ids):
        count, cadre_count = attempts_by_unit.get(unit.id, 0), cadres_by_unit.get(unit.id, 0)
        per_cadre = Decimal(count) / Decimal(cadre_count) if cadre_count else None
        rows.append(
            {
                "unit_id": unit.id,
                "name": unit.name,
                "practice_exams": exams_by_unit.get(unit.id, 0),
                "practice_exams_sat": sat_by_unit.get(unit.id, 0),
                "attempts": count,
                "active_cadres": cadre_count,
                "attempts_per_cadre": published(per_cadre),
                "attempts_per_cadre_raw": raw(per_cadre),
                "below_target": per_cadre is None or per_cadre < PRACTICE_TARGET,
                "ran_none": sat_by_unit.get(unit.id, 0) == 0,
            }
        )
    return {
        "target_attempts_per_cadre": float(PRACTICE_TARGET),
        "units": rows,
        "units_without_practice": [row["name"] for row in rows if row["ran_none"]],
    }


async def bank_report(session: AsyncSession, unit_ids: set[int] | None) -> dict[str, Any]:
    """Per unit: its policy bank by type, shares with explanation and legal basis, duty-list coverage."""
    banks: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"by_type": {"single": 0, "multiple": 0, "judge": 0}, "total": 0, "explained": 0, "based": 0}
    )
    for row in await repository.policy_bank_by_unit(session, unit_ids):
        bank = banks[row.unit_id]
        bank["by_type"][row.type] = int(row.questions)
        bank["total"] += int(row.questions)
        bank["explained"] += int(row.with_explanation or 0)
        bank["based"] += int(row.with_legal_basis or 0)
    duties: dict[int, list[tuple[str, bool]]] = defaultdict(list)
    for row in await repository.duty_coverage(session, unit_ids):
        duties[row.unit_id].append((row.knowledge_point, bool(row.covered)))
    rows = []
    for unit in await repository.all_units(session, unit_ids):
        bank = banks[unit.id]
        points = duties.get(unit.id, [])
        covered = sum(1 for _, is_covered in points if is_covered)
        rows.append(
            {
                "unit_id": unit.id,
                "name": unit.name,
                "policy_questions": bank["total"],
                "by_type": bank["by_type"],
                "explanation_share": published(share(bank["explained"], bank["total"])),
                "legal_basis_share": published(share(bank["based"], bank["total"])),
                "duty_points": len(points),
                "duty_points_covered": covered,
                "duty_coverage": published(share(covered, len(points))),
                "uncovered_duty_points": [point for point, is_covered in points if not is_covered],
            }
        )
    return {"units": rows}
