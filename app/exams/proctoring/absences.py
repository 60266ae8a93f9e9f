"""Absences (缺考): a participant who did not sit, with a reason; recorded by proctors and organisers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.principal import Principal
from app.core.audit import record_audit
from app.core.errors import ConflictError, NotFoundError
from app.core.paging import EVERY_ROW, Page, row_page
from app.exams import service
from app.exams.admission.participants import get_participant
from app.exams.models import Absence, Attempt, AttemptStatus, Exam, ExamStatus
from app.exams.schemas import AbsenceCreate, AbsenceRead
from app.org.models import Cadre


def _ensure_changeable(exam: Exam) -> None:
    if exam.status == ExamStatus.published:
        raise ConflictError(f"考试 {exam.id} 成绩已公布，缺考记录不能再修改")


async def record_absence(
    session: AsyncSession, *, exam: Exam, data: AbsenceCreate, principal: Principal, now: datetime
) -> AbsenceRead:
    """Record that a participant did not sit; refused once he has submitted an attempt."""
    service.ensure_can_proctor(principal, exam)
    _ensure_changeable(exam)
    participant = await get_participant(session, exam.id, data.cadre_id)
    if await session.scalar(select(exists().where(Absence.exam_id == exam.id, Absence.cadre_id == data.cadre_id))):
        raise ConflictError(f"干部 {data.cadre_id} 已登记缺考")
    submitted = exists().where(Attempt.participant_id == participant.id, Attempt.status == AttemptStatus.submitted)
    if await session.scalar(select(submitted)):
        raise ConflictError(f"干部 {data.cadre_id} 已交卷，不能登记为缺考")
    absence = Absence(
        exam_id=exam.id,
        cadre_id=data.cadre_id,
        unit_id=participant.unit_id,
        reason=data.reason.strip(),
        recorded_by=principal.id,
        created_at=now,
    )
    session.add(absence)
    await session.flush()
    await record_audit(
        session,
        actor_id=principal.id,
        action="exam.absence.record",
        entity="exam",
        entity_id=exam.id,
        detail={"cadre_id": data.cadre_id, "reason": absence.reason},
        at=now,
    )
    name = await session.scalar(select(Cadre.name).where(Cadre.id == data.cadre_id))
    return AbsenceRead(
        cadre_id=absence.cadre_id,
        unit_id=absence.unit_id,
        name=name or "",
        reason=absence.reason,
        recorded_by=absence.recorded_by,
        created_at=absence.created_at,
    )


async def list_absences(
    session: AsyncSession, *, exam: Exam, unit_id: int | None = None, page: Page = EVERY_ROW
) -> tuple[list[AbsenceRead], int]:
    """A page of the exam's absences, by unit then cadre, and how many there are."""
    query = select(Absence, Cadre.name).join(Cadre, Cadre.id == Absence.cadre_id).where(Absence.exam_id == exam.id)
    if unit_id is not None:
        query = query.where(Absence.unit_id == unit_id)
    rows, total = await row_page(session, query.order_by(Absence.unit_id, Absence.cadre_id, Absence.id), page)
    return [
        AbsenceRead(
            cadre_id=a.cadre_id,
            unit_id=a.unit_id,
            name=name,
            reason=a.reason,
            recorded_by=a.recorded_by,
            created_at=a.created_at,
        )
        for a, name in rows
    ], total


async def delete_absence(
    session: AsyncSession, *, exam: Exam, cadre_id: int, principal: Principal, now: datetime
) -> None:
    """Withdraw a recorded absence."""
    service.ensure_can_proctor(principal, exam)
    _ensure_changeable(exam)
    result = await session.execute(delete(Absence).where(Absence.exam_id == exam.id, Absence.cadre_id == cadre_id))
    if not getattr(result, "rowcount", 0):
        raise NotFoundError(f"考试 {exam.id} 中没有干部 {cadre_id} 的缺考记录")
    await record_audit(
        session,
        actor_id=principal.id,
        action="exam.absence.delete",
        entity="exam",
        entity_id=exam.id,
        detail={"cadre_id": cadre_id},
        at=now,
    )
