"""A cadre's history and 错题本, review drills, and the knowledge points a unit's cadres miss most."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import case, exists, func, insert, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.bank.models import Question, QuestionType
from app.core.errors import ConflictError, ForbiddenError, NotFoundError, UnprocessableError, field_error
from app.core.paging import EVERY_ROW, Page, row_page
from app.exams.exam_rules import results_published
from app.exams.models import Absence, Attempt, AttemptAnswer, AttemptStatus, Exam, ExamMode, Participant
from app.grading.scorers import encode_keys, score_answer
from app.learning.models import ReviewDrill, ReviewDrillAnswer
from app.learning.schemas import (
    CadreHistory,
    DrillAnswers,
    DrillCreate,
    DrillItemResult,
    DrillQuestion,
    DrillRead,
    DrillResult,
    HistoryAttempt,
    HistoryExam,
    MissedPoint,
    MissedPoints,
    Mistake,
    MistakeBook,
    OptionRead,
)
from app.org.models import Cadre
from app.papers.models import PaperSlot

SUBMITTED = str(AttemptStatus.submitted)
PRACTICE = str(ExamMode.practice)
LEARNING_READERS = (Role.organiser, Role.supervisor, Role.bank_editor)
HISTORY_READERS = (Role.organiser, Role.supervisor)


async def cadre_of_caller(session: AsyncSession, principal: Principal) -> int:
    """The cadre behind the caller's admission ticket; any of his tickets leads to the same record."""
    cadre_id = await session.scalar(select(Participant.cadre_id).where(Participant.user_id == principal.id))
    if cadre_id is None:
        raise ForbiddenError("个人学习记录只对考生开放，请用准考证登录 (sign in with an admission ticket)")
    return cadre_id


async def _cadre(session: AsyncSession, cadre_id: int) -> Cadre:
    cadre = await session.get(Cadre, cadre_id)
    if cadre is None:
        raise NotFoundError(f"干部 {cadre_id} 不存在")
    return cadre


# History ------------------------------------------------------------------------------------------


async def cadre_history(session: AsyncSession, *, cadre_id: int, principal: Principal, own: bool) -> CadreHistory:
    """Every exam the cadre was a participant of (through any ticket) with his attempts; a score shows when the
    caller may see it (practice; formal once published; organisers and supervisors always)."""
    cadre = await _cadre(session, cadre_id)
    if not own and not principal.can_manage_unit(cadre.unit_id, *HISTORY_READERS):
        raise ForbiddenError("只能查看本单位干部的考试记录 (you may only see your own unit's cadres)")
    staff = not own and principal.has_any(*HISTORY_READERS)
    absent = exists().where(Absence.exam_id == Participant.exam_id, Absence.cadre_id == Participant.cadre_id)
    exams = (
        await session.execute(
            select(
                Participant.id.label("participant_id"),
                Participant.ticket_no,
                Exam.id,
                Exam.name,
                Exam.mode,
                Exam.status,
                Exam.published_at,
                absent.label("absent"),
            )
            .join(Exam, Exam.id == Participant.exam_id)
            .where(Participant.cadre_id == cadre_id)
            .order_by(Exam.created_at.desc(), Exam.id.desc())
        )
    ).all()
    attempts: dict[int, list[Any]] = {}
    for row in await session.execute(
        select(
            Attempt.participant_id,
            Attempt.id,
            Attempt.attempt_no,
            Attempt.status,
            Attempt.started_at,
            Attempt.submitted_at,
            Attempt.score,
        )
        .join(Participant, Participant.id == Attempt.participant_id)
        .where(Participant.cadre_id == cadre_id)
        .order_by(Attempt.participant_id, Attempt.attempt_no)
    ):
        attempts.setdefault(row.participant_id, []).append(row)
    items = []
    for exam in exams:
        published = results_published(exam)
        visible = staff or exam.mode == PRACTICE or published
        items.append(
            HistoryExam(
                exam_id=exam.id,
                name=exam.name,
                mode=exam.mode,
                status=exam.status,
                ticket_no=exam.ticket_no,
                absent=bool(exam.absent),
                results_published=published,
                attempts=[
                    HistoryAttempt(
                        attempt_id=a.id,
                        attempt_no=a.attempt_no,
                        status=a.status,
                        started_at=a.started_at,
                        submitted_at=a.submitted_at,
                        score=a.score if visible and a.status == SUBMITTED and a.score is not None else None,
                    )
                    for a in attempts.get(exam.participant_id, [])
                ],
            )
        )
    return CadreHistory(cadre_id=cadre.id, name=cadre.name, unit_id=cadre.unit_id, exams=items)


# 错题本 --------------------------------------------------------------------------------------------


def _answer_events(cadre_id: int) -> Any:
    """Every graded answer of the cadre to a question — in submitted practice attempts and in review
    drills — as (question_id, is_correct, keys, at)."""
    practice = (
        select(
            PaperSlot.question_id.label("question_id"),
            AttemptAnswer.is_correct.label("is_correct"),
            AttemptAnswer.keys.label("keys"),
            Attempt.submitted_at.label("at"),
        )
        .select_from(AttemptAnswer)
        .join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
        .join(Participant, Participant.id == Attempt.participant_id)
        .join(Exam, Exam.id == Attempt.exam_id)
        .join(PaperSlot, (PaperSlot.paper_id == Attempt.paper_id) & (PaperSlot.position == AttemptAnswer.position))
        .where(
            Participant.cadre_id == cadre_id,
            Exam.mode == PRACTICE,
            Attempt.status == SUBMITTED,
            AttemptAnswer.is_correct.is_not(None),
        )
    )
    drills = (
        select(
            ReviewDrillAnswer.question_id,
            ReviewDrillAnswer.is_correct,
            ReviewDrillAnswer.keys,
            ReviewDrill.submitted_at,
        )
        .join(ReviewDrill, ReviewDrill.id == ReviewDrillAnswer.drill_id)
        .where(ReviewDrill.cadre_id == cadre_id, ReviewDrill.submitted_at.is_not(None))
    )
    return union_all(practice, drills).subquery("events")


def _keys(encoded: str | None) -> list[str]:
    return list(encoded or "")


async def mistake_book(session: AsyncSession, *, cadre_id: int, page: Page = EVERY_ROW) -> MistakeBook:
    """A page of the questions the cadre got wrong in practice (or in a drill), the unmastered and most missed
    first, with how many there are and how many he has mastered (counted by SQL)."""
    events = _answer_events(cadre_id)
    wrong = events.c.is_correct.is_(False)
    summary = (
        select(
            events.c.question_id,
            func.sum(case((wrong, 1), else_=0)).label("times_wrong"),
            func.max(case((wrong, events.c.at))).label("last_wrong_at"),
            func.max(case((events.c.is_correct.is_(True), events.c.at))).label("last_right_at"),
        )
        .group_by(events.c.question_id)
        .having(func.sum(case((wrong, 1), else_=0)) > 0)
        .subquery()
    )
    # Answered right since the last wrong answer: mastered.
    mastered = case((summary.c.last_right_at > summary.c.last_wrong_at, 1), else_=0)
    book = (
        select(Question, summary.c.times_wrong, summary.c.last_wrong_at, mastered.label("mastered"))
        .join(summary, summary.c.question_id == Question.id)
        .order_by(mastered, summary.c.times_wrong.desc(), summary.c.last_wrong_at.desc(), Question.id)
    )
    rows, total = await row_page(session, book, page)
    mastered_count = int(await session.scalar(select(func.coalesce(func.sum(mastered), 0))) or 0)
    page_ids = [q.id for q, *_ in rows]
    last_keys: dict[int, str] = {}
    if page_ids:
        for question_id, keys in await session.execute(
            select(events.c.question_id, events.c["keys"])
            .where(wrong, events.c.question_id.in_(page_ids))
            .order_by(events.c.question_id, events.c.at.desc())
        ):
            last_keys.setdefault(question_id, keys)
    items = [
        Mistake(
            question_id=q.id,
            type=q.type,
            stem=q.stem,
            options=[OptionRead(key=o["key"], text=o["text"]) for o in q.options],
            answer=list(q.answer),
            last_wrong_answer=_keys(last_keys.get(q.id)),
            explanation=q.explanation,
            legal_basis=q.legal_basis,
            knowledge_point=q.knowledge_point,
            times_wrong=int(times_wrong),
            last_wrong_at=last_wrong_at,
            mastered=bool(is_mastered),
        )
        for q, times_wrong, last_wrong_at, is_mastered in rows
    ]
    return MistakeBook(cadre_id=cadre_id, items=items, total=total, mastered=mastered_count)


def draw_drill(question_ids: Sequence[int], count: int, seed: int) -> list[int]:
    """A seeded, reproducible pick of up to ``count`` of the questions, in drill order."""
    ordered = sorted(question_ids)
    return random.Random(seed).sample(ordered, min(count, len(ordered)))


def _shown(no: int, question: Question) -> DrillQuestion:
    return DrillQuestion(
        no=no,
        question_id=question.id,
        type=question.type,
        stem=question.stem,
        options=[OptionRead(key=o["key"], text=o["text"]) for o in question.options],
    )


async def _questions(session: AsyncSession, ids: Sequence[int]) -> dict[int, Question]:
    return {q.id: q for q in await session.scalars(select(Question).where(Question.id.in_(list(ids))))}


async def create_drill(
    session: AsyncSession, *, cadre_id: int, principal: Principal, data: DrillCreate, now: datetime
) -> DrillRead:
    """A review drill of the cadre's wrong answers (unmastered ones unless asked otherwise); no keys shown."""
    book = await mistake_book(session, cadre_id=cadre_id)
    candidates = [m.question_id for m in book.items if data.include_mastered or not m.mastered]
    if not candidates:
        raise ConflictError("错题本中没有需要练习的题目 (no wrong answers to practise)")
    seed = random.SystemRandom().randrange(1, 2**31 - 1)
    picked = draw_drill(candidates, data.count, seed)
    drill = ReviewDrill(cadre_id=cadre_id, user_id=principal.id, question_ids=picked, seed=seed, created_at=now)
    session.add(drill)
    await session.flush()
    questions = await _questions(session, picked)
    return DrillRead(
        drill_id=drill.id, created_at=now, questions=[_shown(no, questions[q]) for no, q in enumerate(picked, start=1)]
    )


async def _own_drill(session: AsyncSession, drill_id: int, cadre_id: int) -> ReviewDrill:
    drill = await session.get(ReviewDrill, drill_id)
    if drill is None or drill.cadre_id != cadre_id:
        raise NotFoundError(f"练习 {drill_id} 不存在")
    return drill


async def get_drill(session: AsyncSession, *, drill_id: int, cadre_id: int) -> DrillRead:
    drill = await _own_drill(session, drill_id, cadre_id)
    questions = await _questions(session, drill.question_ids)
    return DrillRead(
        drill_id=drill.id,
        created_at=drill.created_at,
        questions=[_shown(no, questions[q]) for no, q in enumerate(drill.question_ids, start=1) if q in questions],
    )


def _checked_answer(question: Question, no: str, keys: list[str]) -> str:
    allowed = {o["key"] for o in question.options}
    unknown = sorted(set(keys) - allowed)
    if unknown:
        raise UnprocessableError(
            field_error(f"answers.{no}", f"第{no}题没有选项 {'、'.join(unknown)} (no such option)")
        )
    if question.type != QuestionType.multiple and len(set(keys)) > 1:
        raise UnprocessableError(field_error(f"answers.{no}", f"第{no}题只能选一项 (choose one option)"))
    return encode_keys(keys)


async def submit_drill(
    session: AsyncSession, *, drill_id: int, cadre_id: int, data: DrillAnswers, now: datetime
) -> DrillResult:
    """Grade the drill with the exam's own scorer (all or nothing); shows keys, explanation and legal basis."""
    drill = await _own_drill(session, drill_id, cadre_id)
    if drill.submitted_at is not None:
        raise ConflictError("本次练习已交卷 (this drill is already submitted)")
    numbers = {str(no): q for no, q in enumerate(drill.question_ids, start=1)}
    outside = sorted(set(data.answers) - set(numbers))
    if outside:
        raise UnprocessableError(field_error("answers", f"没有这些题号 (no such questions): {', '.join(outside)}"))
    questions = await _questions(session, drill.question_ids)
    given = {
        no: _checked_answer(questions[q], no, data.answers.get(no, [])) for no, q in numbers.items() if q in questions
    }
    results = []
    for no, question_id in numbers.items():
        question = questions.get(question_id)
        if question is None:
            continue
        scored = score_answer(question.type, given[no], encode_keys(question.answer), 1.0, "all_or_nothing")
        results.append(
            DrillItemResult(
                no=int(no),
                question_id=question_id,
                given=_keys(given[no]),
                answer=list(question.answer),
                is_correct=scored.is_correct,
                explanation=question.explanation,
                legal_basis=question.legal_basis,
            )
        )
    if results:
        await session.execute(
            insert(ReviewDrillAnswer),
            [
                {
                    "drill_id": drill.id,
                    "question_id": r.question_id,
                    "keys": encode_keys(r.given),
                    "is_correct": r.is_correct,
                }
                for r in results
            ],
        )
    drill.submitted_at, drill.correct = now, sum(r.is_correct for r in results)
    await session.flush()
    return DrillResult(drill_id=drill.id, submitted_at=now, correct=drill.correct, total=len(results), items=results)


# What a unit's cadres miss ------------------------------------------------------------------------


def ensure_unit_learning_read(principal: Principal, unit_id: int) -> None:
    if not principal.can_manage_unit(unit_id, *LEARNING_READERS):
        raise ForbiddenError("只能查看本单位的统计 (you may only see your own unit's figures)")


def _percent(part: int, whole: int) -> float:
    if not whole:
        return 0.0
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _missed_query(unit_id: int, mode: ExamMode | None) -> Any:
    wrong = AttemptAnswer.is_correct.is_(False)
    query = (
        select(
            Question.knowledge_point,
            func.count().label("answers"),
            func.sum(case((wrong, 1), else_=0)).label("wrong"),
            func.count(func.distinct(case((wrong, Participant.cadre_id)))).label("cadres_wrong"),
        )
        .select_from(AttemptAnswer)
        .join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
        .join(Participant, Participant.id == Attempt.participant_id)
        .join(PaperSlot, (PaperSlot.paper_id == Attempt.paper_id) & (PaperSlot.position == AttemptAnswer.position))
        .join(Question, Question.id == PaperSlot.question_id)
        .where(Attempt.unit_id == unit_id, Attempt.status == SUBMITTED, AttemptAnswer.is_correct.is_not(None))
        .group_by(Question.knowledge_point)
        .having(func.sum(case((wrong, 1), else_=0)) > 0)
    )
    if mode is not None:
        query = query.join(Exam, Exam.id == Attempt.exam_id).where(Exam.mode == str(mode))
    return query


async def missed_points(session: AsyncSession, *, unit_id: int, mode: ExamMode | None, page: Page) -> MissedPoints:
    """The knowledge points the unit's cadres answer wrong most (submitted attempts; counted by SQL)."""
    query = _missed_query(unit_id, mode)
    ranked = query.order_by(
        func.sum(case((AttemptAnswer.is_correct.is_(False), 1), else_=0)).desc(),
        Question.knowledge_point.is_(None),
        Question.knowledge_point,
    )
    rows, total = await row_page(session, ranked, page)
    items = [
        MissedPoint(
            knowledge_point=row.knowledge_point,
            answers=int(row.answers),
            wrong=int(row.wrong),
            wrong_rate=_percent(int(row.wrong), int(row.answers)),
            cadres_wrong=int(row.cadres_wrong),
        )
        for row in rows
    ]
    return MissedPoints(unit_id=unit_id, items=items, total=total)
