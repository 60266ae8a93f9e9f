"""Question statistics in the bank, refreshed from every graded attempt when an exam is graded.

Per question, in SQL over every submitted, graded attempt of any exam or practice whose paper carried it
(a slot never saved counts as wrong): times answered, facility, and the corrected item–total correlation
(the item's 0/1 against the attempt's points minus the points earned on that item), from sums; times drawn
(papers that carried it) and when it was last answered. Flags follow ``app.bank.statistics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Float, case, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.bank.models import Question
from app.bank.statistics import BANK_MIN_ANSWERS, correlation_from_sums, encode_flags, item_flags
from app.exams.models import Attempt, AttemptAnswer, AttemptStatus
from app.papers.models import Paper, PaperSlot


async def exam_question_ids(session: AsyncSession, exam_id: int) -> list[int]:
    query = (
        select(PaperSlot.question_id)
        .join(Paper, Paper.id == PaperSlot.paper_id)
        .where(Paper.exam_id == exam_id)
        .distinct()
    )
    return [int(q) for q in (await session.scalars(query)).all()]


async def refresh_question_statistics(session: AsyncSession, question_ids: Sequence[int]) -> int:
    """Recompute the statistics of ``question_ids`` from everything the bank has seen; returns how many."""
    ids = sorted(set(question_ids))
    if not ids:
        return 0
    drawn = {
        int(row.question_id): int(row.papers)
        for row in (
            await session.execute(
                select(PaperSlot.question_id, func.count(func.distinct(PaperSlot.paper_id)).label("papers"))
                .where(PaperSlot.question_id.in_(ids))
                .group_by(PaperSlot.question_id)
            )
        ).all()
    }
    x = case((AttemptAnswer.is_correct.is_(True), 1.0), else_=0.0)
    rest = cast(Attempt.score, Float) - func.coalesce(AttemptAnswer.points, 0.0)
    answered: dict[int, Any] = {
        int(row.question_id): row
        for row in (
            await session.execute(
                select(
                    PaperSlot.question_id,
                    func.count().label("n"),
                    func.sum(x).label("sx"),
                    func.sum(rest).label("sr"),
                    func.sum(x * rest).label("sxr"),
                    func.sum(rest * rest).label("srr"),
                    func.max(Attempt.submitted_at).label("last_used_at"),
                )
                .select_from(PaperSlot)
                .join(Attempt, Attempt.paper_id == PaperSlot.paper_id)
                .outerjoin(
                    AttemptAnswer,
                    (AttemptAnswer.attempt_id == Attempt.id) & (AttemptAnswer.position == PaperSlot.position),
                )
                .where(
                    PaperSlot.question_id.in_(ids),
                    Attempt.status == AttemptStatus.submitted,
                    Attempt.score.is_not(None),
                )
                .group_by(PaperSlot.question_id)
            )
        ).all()
    }
    rows = []
    for question_id in ids:
        row = answered.get(question_id)
        n = int(row.n) if row is not None else 0
        facility = discrimination = None
        if n:
            sx, sr, sxr, srr = (float(getattr(row, name) or 0) for name in ("sx", "sr", "sxr", "srr"))
            facility = sx / n
            # x is 0/1, so Σx² = Σx.
            discrimination = correlation_from_sums(n, sx, sr, sxr, sx, srr)
        flags = item_flags(facility, discrimination) if n >= BANK_MIN_ANSWERS else []
        rows.append(
            {
                "id": question_id,
                "times_drawn": int(drawn.get(question_id, 0)),
                "times_answered": n,
                "facility": facility,
                "discrimination": discrimination,
                "last_used_at": row.last_used_at if row is not None else None,
                "stat_flags": encode_flags(flags),
            }
        )
    await session.execute(update(Question), rows)
    return len(rows)


async def refresh_exam_statistics(session: AsyncSession, exam_id: int) -> int:
    """Refresh the bank statistics of every question on the exam's papers (after grading or regrading)."""
    return await refresh_question_statistics(session, await exam_question_ids(session, exam_id))
