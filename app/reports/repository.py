"""Read-only queries for the reports: every figure is a GROUP BY in SQL, never a loop over attempt rows.

The attempt that counts: per participant, the latest *submitted and graded* attempt of the exam (highest
``attempt_no``, then highest id). A formal exam allows one attempt, so this only matters for practice.
Scores are compared on a 0–100 scale (``score * 100 / paper.total_points``), so a paper whose total is not
100 is judged by the same thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Float, String, Subquery, and_, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bank.models import Question, QuestionVersion
from app.core.paging import EVERY_ROW, Page, row_page
from app.exams.models import (
    Absence,
    Attempt,
    AttemptAnswer,
    AttemptStatus,
    Exam,
    ExamMode,
    ExamUnit,
    Incident,
    Participant,
)
from app.org.models import Cadre, Unit, UnitDuty
from app.papers.models import Paper, PaperSlot

# Result rows of the queries below; attribute access by label.
Rows = Sequence[Any]

PASS_MARK = 60
EXCELLENT_MARK = 90
FULL_MARK = 100
# Lower bounds of the score bands, best first; the top band is 90–100 inclusive.
BANDS = tuple(range(90, -1, -10))


def counted_attempts(exam_id: int) -> Subquery:
    """One row per participant who sat: the latest submitted, graded attempt, with its 0–100 score."""
    recency = func.row_number().over(
        partition_by=Attempt.participant_id, order_by=(Attempt.attempt_no.desc(), Attempt.id.desc())
    )
    ranked = (
        select(
            Attempt.id.label("attempt_id"),
            Attempt.participant_id,
            Attempt.unit_id,
            Attempt.paper_id,
            Attempt.score,
            Attempt.submitted_at,
            recency.label("recency"),
        )
        .where(
            Attempt.exam_id == exam_id,
            Attempt.status == AttemptStatus.submitted,
            Attempt.score.is_not(None),
        )
        .subquery("ranked")
    )
    return (
        select(
            ranked.c.attempt_id,
            ranked.c.participant_id,
            ranked.c.unit_id,
            ranked.c.paper_id,
            ranked.c.submitted_at,
            ranked.c.score.label("points"),
            Participant.rank,
            Participant.cadre_id,
            Paper.total_points,
            (cast(ranked.c.score, Float) * 100.0 / Paper.total_points).label("score"),
        )
        .join(Participant, Participant.id == ranked.c.participant_id)
        .join(Paper, Paper.id == ranked.c.paper_id)
        .where(ranked.c.recency == 1)
        .subquery("counted")
    )


def _at_least(counted: Subquery, mark: int) -> Any:
    # Multiplied out so that the threshold test is exact even when the paper's total is not 100.
    return func.sum(case((counted.c.points * 100 >= mark * counted.c.total_points, 1), else_=0))


async def exam(session: AsyncSession, exam_id: int) -> Exam | None:
    return await session.get(Exam, exam_id)


async def score_aggregates(session: AsyncSession, exam_id: int) -> Rows:
    """Per unit, rank and paper: count, sum, sum of squares, pass / excellent / full counts and the
    10-point bands (``band_90`` … ``band_0``), all in one pass over the counted attempts."""
    counted = counted_attempts(exam_id)
    bands = []
    for index, low in enumerate(BANDS):
        above = counted.c.points * 100 >= low * counted.c.total_points
        below = counted.c.points * 100 < BANDS[index - 1] * counted.c.total_points if index else None
        condition = and_(above, below) if below is not None else above
        bands.append(func.sum(case((condition, 1), else_=0)).label(f"band_{low}"))
    query = select(
        counted.c.unit_id,
        counted.c.rank,
        counted.c.paper_id,
        func.count().label("sat"),
        func.sum(counted.c.score).label("total"),
        func.sum(counted.c.score * counted.c.score).label("total_of_squares"),
        _at_least(counted, PASS_MARK).label("pass_count"),
        _at_least(counted, EXCELLENT_MARK).label("excellent_count"),
        _at_least(counted, FULL_MARK).label("full_count"),
        *bands,
    ).group_by(counted.c.unit_id, counted.c.rank, counted.c.paper_id)
    return (await session.execute(query)).all()


async def exam_units(session: AsyncSession, exam_id: int) -> Rows:
    query = (
        select(Unit.id, Unit.name, Unit.headcount)
        .join(ExamUnit, ExamUnit.unit_id == Unit.id)
        .where(ExamUnit.exam_id == exam_id)
        .order_by(Unit.id)
    )
    return (await session.execute(query)).all()


async def units_by_id(session: AsyncSession, unit_ids: set[int]) -> Rows:
    if not unit_ids:
        return []
    query = select(Unit.id, Unit.name, Unit.headcount).where(Unit.id.in_(unit_ids)).order_by(Unit.id)
    return (await session.execute(query)).all()


async def absences(session: AsyncSession, exam_id: int) -> Rows:
    query = (
        select(Absence.cadre_id, Absence.unit_id, Absence.reason)
        .where(Absence.exam_id == exam_id)
        .order_by(Absence.unit_id, Absence.cadre_id)
    )
    return (await session.execute(query)).all()


async def incident_counts(session: AsyncSession, exam_id: int) -> Rows:
    query = (
        select(Incident.unit_id, Incident.kind, func.count().label("incidents"))
        .where(Incident.exam_id == exam_id)
        .group_by(Incident.unit_id, Incident.kind)
    )
    return (await session.execute(query)).all()


async def correct_answers_by_unit_category(session: AsyncSession, exam_id: int) -> Rows:
    """Correct answers per unit and category among the counted attempts."""
    counted = counted_attempts(exam_id)
    query = (
        select(counted.c.unit_id, PaperSlot.category, func.count().label("correct"))
        .select_from(counted)
        .join(AttemptAnswer, AttemptAnswer.attempt_id == counted.c.attempt_id)
        .join(
            PaperSlot,
            and_(PaperSlot.paper_id == counted.c.paper_id, PaperSlot.position == AttemptAnswer.position),
        )
        .where(AttemptAnswer.is_correct.is_(True))
        .group_by(counted.c.unit_id, PaperSlot.category)
    )
    return (await session.execute(query)).all()


async def slots_by_paper_category(session: AsyncSession, exam_id: int) -> Rows:
    query = (
        select(PaperSlot.paper_id, PaperSlot.category, func.count().label("slots"))
        .join(Paper, Paper.id == PaperSlot.paper_id)
        .where(Paper.exam_id == exam_id)
        .group_by(PaperSlot.paper_id, PaperSlot.category)
    )
    return (await session.execute(query)).all()


async def paper_shapes(session: AsyncSession, exam_id: int) -> Rows:
    """Per paper: its unit, drawn difficulty, total points and number of slots."""
    slot_count = select(func.count()).where(PaperSlot.paper_id == Paper.id).correlate(Paper).scalar_subquery()
    query = (
        select(Paper.id, Paper.unit_id, Paper.expected_difficulty, Paper.total_points, slot_count.label("slots"))
        .where(Paper.exam_id == exam_id)
        .order_by(Paper.unit_id)
    )
    return (await session.execute(query)).all()


async def slot_types(session: AsyncSession, exam_id: int) -> list[str]:
    query = (
        select(PaperSlot.type)
        .join(Paper, Paper.id == PaperSlot.paper_id)
        .where(Paper.exam_id == exam_id)
        .group_by(PaperSlot.type)
    )
    return [str(value) for value in (await session.execute(query)).scalars().all()]


async def individuals(
    session: AsyncSession, exam_id: int, unit_id: int | None, page: Page = EVERY_ROW
) -> tuple[Rows, int]:
    """A page of the counted attempts of the examinees who sat, by unit and best first (only one unit's when
    ``unit_id`` is set), and how many there are."""
    counted = counted_attempts(exam_id)
    query = (
        select(
            counted.c.participant_id,
            counted.c.attempt_id,
            counted.c.cadre_id,
            Cadre.name.label("cadre_name"),
            counted.c.rank,
            counted.c.unit_id,
            Unit.name.label("unit_name"),
            counted.c.points,
            counted.c.score,
            counted.c.submitted_at,
        )
        .join(Cadre, Cadre.id == counted.c.cadre_id)
        .join(Unit, Unit.id == counted.c.unit_id)
        .order_by(Unit.id, counted.c.score.desc(), Cadre.name, counted.c.participant_id)
    )
    if unit_id is not None:
        query = query.where(counted.c.unit_id == unit_id)
    return await row_page(session, query, page)


async def counted_attempt_rows(session: AsyncSession, exam_id: int) -> Rows:
    counted = counted_attempts(exam_id)
    query = select(counted.c.attempt_id, counted.c.paper_id, counted.c.unit_id, counted.c.points).order_by(
        counted.c.paper_id, counted.c.attempt_id
    )
    return (await session.execute(query)).all()


async def exam_slots(session: AsyncSession, exam_id: int) -> Rows:
    query = (
        select(
            PaperSlot.paper_id,
            PaperSlot.position,
            PaperSlot.question_id,
            PaperSlot.type,
            PaperSlot.category,
            PaperSlot.points,
        )
        .join(Paper, Paper.id == PaperSlot.paper_id)
        .where(Paper.exam_id == exam_id)
        .order_by(PaperSlot.paper_id, PaperSlot.position)
    )
    return (await session.execute(query)).all()


# Separators of the packed answers below: option keys are letters, positions and points are numbers.
CELL_SEPARATOR, FIELD_SEPARATOR = ";", ":"


async def counted_answers(session: AsyncSession, exam_id: int) -> Rows:
    """Per counted attempt, its answers packed as ``position:keys:points:correct;…`` (slots never saved
    are absent). One string per attempt instead of 45 rows makes reading 10,000 attempts twice as fast."""
    counted = counted_attempts(exam_id)
    cell = (
        cast(AttemptAnswer.position, String)
        + FIELD_SEPARATOR
        + AttemptAnswer.keys
        + FIELD_SEPARATOR
        + cast(func.coalesce(AttemptAnswer.points, 0), String)
        + FIELD_SEPARATOR
        + case((AttemptAnswer.is_correct.is_(True), "1"), else_="0")
    )
    query = (
        select(AttemptAnswer.attempt_id, func.aggregate_strings(cell, CELL_SEPARATOR).label("cells"))
        .join(counted, counted.c.attempt_id == AttemptAnswer.attempt_id)
        .group_by(AttemptAnswer.attempt_id)
    )
    return (await session.execute(query)).all()


async def practice_by_unit(session: AsyncSession, unit_ids: set[int] | None) -> tuple[Rows, Rows, Rows]:
    """Practice exams per unit, submitted practice attempts (and the practice exams they sat) per unit, and
    active cadres per unit."""
    exams_query = (
        select(ExamUnit.unit_id, func.count(func.distinct(Exam.id)).label("exams"))
        .join(Exam, Exam.id == ExamUnit.exam_id)
        .where(Exam.mode == ExamMode.practice)
        .group_by(ExamUnit.unit_id)
    )
    attempts_query = (
        select(Attempt.unit_id, func.count().label("attempts"), func.count(func.distinct(Attempt.exam_id)).label("sat"))
        .join(Exam, Exam.id == Attempt.exam_id)
        .where(Exam.mode == ExamMode.practice, Attempt.status == AttemptStatus.submitted)
        .group_by(Attempt.unit_id)
    )
    cadres_query = (
        select(Cadre.unit_id, func.count().label("cadres")).where(Cadre.is_active.is_(True)).group_by(Cadre.unit_id)
    )
    if unit_ids is not None:
        exams_query = exams_query.where(ExamUnit.unit_id.in_(unit_ids))
        attempts_query = attempts_query.where(Attempt.unit_id.in_(unit_ids))
        cadres_query = cadres_query.where(Cadre.unit_id.in_(unit_ids))
    return (
        (await session.execute(exams_query)).all(),
        (await session.execute(attempts_query)).all(),
        (await session.execute(cadres_query)).all(),
    )


async def all_units(session: AsyncSession, unit_ids: set[int] | None) -> Rows:
    query = select(Unit.id, Unit.name, Unit.headcount).order_by(Unit.id)
    if unit_ids is not None:
        query = query.where(Unit.id.in_(unit_ids))
    return (await session.execute(query)).all()


def _filled(column: Any) -> Any:
    return func.sum(case((and_(column.is_not(None), func.length(func.trim(column)) > 0), 1), else_=0))


async def policy_bank_by_unit(session: AsyncSession, unit_ids: set[int] | None) -> Rows:
    """Active policy questions per unit and type, with how many carry an explanation and a legal basis."""
    query = (
        select(
            Question.unit_id,
            Question.type,
            func.count().label("questions"),
            _filled(Question.explanation).label("with_explanation"),
            _filled(Question.legal_basis).label("with_legal_basis"),
        )
        .where(Question.category == "policy", Question.status == "active", Question.unit_id.is_not(None))
        .group_by(Question.unit_id, Question.type)
    )
    if unit_ids is not None:
        query = query.where(Question.unit_id.in_(unit_ids))
    return (await session.execute(query)).all()


async def duty_coverage(session: AsyncSession, unit_ids: set[int] | None) -> Rows:
    """Each duty-list knowledge point with whether an active policy question of its unit covers it."""
    covered = (
        select(literal(1))
        .where(
            Question.unit_id == UnitDuty.unit_id,
            Question.knowledge_point == UnitDuty.knowledge_point,
            Question.category == "policy",
            Question.status == "active",
        )
        .correlate(UnitDuty)
        .exists()
    )
    query = select(UnitDuty.unit_id, UnitDuty.knowledge_point, case((covered, 1), else_=0).label("covered")).order_by(
        UnitDuty.unit_id, UnitDuty.id
    )
    if unit_ids is not None:
        query = query.where(UnitDuty.unit_id.in_(unit_ids))
    return (await session.execute(query)).all()


async def calibration_responses(session: AsyncSession, exam_id: int) -> Rows:
    """Every graded response the bank holds to the questions of this exam's papers — from this exam,
    earlier rounds and practice — as (attempt, question, correct); a slot never saved counts as wrong."""
    on_exam = (
        select(PaperSlot.question_id)
        .join(Paper, Paper.id == PaperSlot.paper_id)
        .where(Paper.exam_id == exam_id)
        .distinct()
        .scalar_subquery()
    )
    query = (
        select(
            Attempt.id.label("attempt_id"),
            PaperSlot.question_id,
            func.coalesce(AttemptAnswer.is_correct, False).label("correct"),
        )
        .select_from(PaperSlot)
        .join(Attempt, Attempt.paper_id == PaperSlot.paper_id)
        .outerjoin(
            AttemptAnswer,
            and_(AttemptAnswer.attempt_id == Attempt.id, AttemptAnswer.position == PaperSlot.position),
        )
        .where(
            PaperSlot.question_id.in_(on_exam),
            Attempt.status == AttemptStatus.submitted,
            Attempt.score.is_not(None),
        )
    )
    return (await session.execute(query)).all()


async def raw_responses(session: AsyncSession, exam_id: int, unit_id: int | None) -> Rows:
    """One row per counted attempt and paper slot (a slot never saved has no answer), in unit, attempt and
    paper order; only one unit's when ``unit_id`` is set."""
    counted = counted_attempts(exam_id)
    query = (
        select(
            counted.c.attempt_id,
            counted.c.participant_id,
            counted.c.rank,
            Unit.code.label("unit_code"),
            Unit.name.label("unit_name"),
            PaperSlot.position,
            PaperSlot.question_id,
            PaperSlot.type,
            PaperSlot.points.label("max_points"),
            QuestionVersion.version.label("question_version"),
            AttemptAnswer.keys,
            AttemptAnswer.is_correct,
            AttemptAnswer.points,
            Attempt.question_order,
            Attempt.option_orders,
            Paper.answer_key,
        )
        .select_from(counted)
        .join(Unit, Unit.id == counted.c.unit_id)
        .join(Attempt, Attempt.id == counted.c.attempt_id)
        .join(Paper, Paper.id == counted.c.paper_id)
        .join(PaperSlot, PaperSlot.paper_id == counted.c.paper_id)
        .join(QuestionVersion, QuestionVersion.id == PaperSlot.question_version_id)
        .outerjoin(
            AttemptAnswer,
            and_(AttemptAnswer.attempt_id == counted.c.attempt_id, AttemptAnswer.position == PaperSlot.position),
        )
        .order_by(Unit.id, counted.c.attempt_id, PaperSlot.position)
    )
    if unit_id is not None:
        query = query.where(counted.c.unit_id == unit_id)
    return (await session.execute(query)).all()
