"""What the attempt, discipline and monitor services need to know about an exam, read with Core SQL.

(The exams CRUD service owns exams; these few reads stay here so the hot paths load one narrow row.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.accounts.visibility import is_published
from app.core.errors import ConflictError, ForbiddenError, NotFoundError
from app.core.labels import needs_roles
from app.exams.models import Exam, ExamMode, ExamStatus

ExamRow = Row[*tuple[Any, ...]]

_EXAM_COLUMNS = (
    Exam.id,
    Exam.name,
    Exam.mode,
    Exam.status,
    Exam.opens_at,
    Exam.closes_at,
    Exam.seed,
    Exam.shuffle_questions,
    Exam.shuffle_options,
    Exam.time_limit_seconds,
    Exam.multiple_scoring,
    Exam.max_attempts,
    Exam.required_attempts,
    Exam.required_score,
    Exam.focus_loss_limit,
    Exam.owner_unit_id,
    Exam.published_at,
)

_BY_ID = select(*_EXAM_COLUMNS).where(Exam.id == bindparam("b_exam_id"))
_EXAM_BY_ID = {
    None: _BY_ID,
    "share": _BY_ID.with_for_update(read=True),
    "update": _BY_ID.with_for_update(),
}


async def load_exam(session: AsyncSession, exam_id: int, *, lock: Literal["share", "update"] | None = None) -> ExamRow:
    """The exam's row, optionally locked (PostgreSQL; SQLite writers are serialised anyway)."""
    row: ExamRow | None = (await session.execute(_EXAM_BY_ID[lock], {"b_exam_id": exam_id})).one_or_none()
    if row is None:
        raise NotFoundError(f"考试 {exam_id} 不存在")
    return row


def not_open_because(exam: Any, now: datetime, extra_time_seconds: int = 0) -> str | None:
    """Why the exam takes no attempts now (papers not drawn, window not open, closed), or None when it does.

    An examinee's extra time moves his own closing time by as much (``app.exams.room.room.deadline_of``)."""
    if exam.status == ExamStatus.draft:
        return "考试尚未开始：试卷尚未抽取 (the exam's papers are not drawn yet)"
    if exam.status in (ExamStatus.closed, ExamStatus.published):
        return "考试已结束 (the exam is closed)"
    if exam.opens_at is not None and now < exam.opens_at:
        return f"考试尚未开始 (the exam opens at {exam.opens_at.isoformat(timespec='seconds')})"
    closes_at = None if exam.closes_at is None else exam.closes_at + timedelta(seconds=extra_time_seconds)
    if closes_at is not None and now >= closes_at:
        return f"考试已结束 (the exam closed at {closes_at.isoformat(timespec='seconds')})"
    return None


def ensure_exam_open(exam: ExamRow, now: datetime, extra_time_seconds: int = 0) -> None:
    """Refuse with 409 unless the exam takes attempts now (``not_open_because``)."""
    refusal = not_open_because(exam, now, extra_time_seconds)
    if refusal is not None:
        raise ConflictError(refusal)


def results_published(exam: ExamRow) -> bool:
    """Whether the examinee may read his result (``app.accounts.visibility.is_published``: the same rule as
    the reports')."""
    return is_published(str(exam.status), exam.published_at)


def is_practice(exam: ExamRow) -> bool:
    return bool(exam.mode == ExamMode.practice)


def may_manage_exam(principal: Principal, exam: Any, *roles: Role) -> bool:
    """Holders of ``roles`` manage every exam; a unit admin manages his own unit's practice exams."""
    return principal.has_any(*roles) or (
        Role.unit_admin in principal.roles
        and exam.mode == ExamMode.practice
        and exam.owner_unit_id is not None
        and exam.owner_unit_id == principal.unit_id
    )


def ensure_can_manage_exam(principal: Principal, exam: ExamRow, *roles: Role) -> None:
    if not may_manage_exam(principal, exam, *roles):
        raise ForbiddenError(needs_roles(roles))
