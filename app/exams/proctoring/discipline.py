"""Discipline: incidents recorded by proctors, and the examinee page's own events (focus lost, copy, paste …)
with a per-attempt cap and an optional automatic submission after too many focus losses."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.core.audit import record_audit
from app.core.errors import ConflictError, ForbiddenError, TooManyRequestsError, UnprocessableError, field_error
from app.core.labels import needs_roles
from app.core.paging import Page, scalar_page
from app.exams.exam_rules import ensure_can_manage_exam, load_exam
from app.exams.models import AttemptEvent, Incident, Participant
from app.exams.room.attempt_schemas import EventKind, EventResult, IncidentCreate, SubmitReason
from app.exams.room.attempts import ATTEMPTS, EXAMS, claim_and_grade, owned_attempt, submit_if_overdue
from app.exams.room.room import is_overdue
from app.exams.room.rules import IN_PROGRESS

INCIDENT_RECORDERS = (Role.proctor, Role.organiser)
INCIDENT_READERS = (Role.proctor, Role.organiser, Role.supervisor)
# Only the blur of the exam page counts toward the limit: a tab switch also fires "visibility_hidden",
# and counting both would spend the examinee's allowance twice for one act.
FOCUS_LOSS_KINDS = frozenset({EventKind.focus_lost})


async def record_incident(
    session: AsyncSession, *, exam_id: int, data: IncidentCreate, principal: Principal, now: datetime
) -> Incident:
    """Record a proctor's observation about one participant of the exam."""
    exam = await load_exam(session, exam_id)
    ensure_can_manage_exam(principal, exam, *INCIDENT_RECORDERS)
    unit_id = await session.scalar(
        select(Participant.unit_id).where(Participant.exam_id == exam_id, Participant.cadre_id == data.cadre_id)
    )
    if unit_id is None:
        raise UnprocessableError(field_error("cadre_id", f"干部 {data.cadre_id} 不是考试 {exam_id} 的考生"))
    incident = Incident(
        exam_id=exam_id,
        cadre_id=data.cadre_id,
        unit_id=unit_id,
        kind=str(data.kind),
        note=data.note or None,
        recorded_by=principal.id,
        created_at=now,
    )
    session.add(incident)
    await session.flush()
    await record_audit(
        session,
        actor_id=principal.id,
        action="incident.create",
        entity="incident",
        entity_id=incident.id,
        detail={"exam_id": exam_id, "cadre_id": data.cadre_id, "kind": incident.kind},
        at=now,
    )
    return incident


async def list_incidents(
    session: AsyncSession, *, exam_id: int, principal: Principal, unit_id: int | None, page: Page
) -> tuple[list[Incident], int]:
    """A page of the exam's incidents, oldest first, and how many there are; a unit admin sees only his
    own unit's."""
    exam = await load_exam(session, exam_id)
    if not principal.has_any(*INCIDENT_READERS):
        if Role.unit_admin not in principal.roles or principal.unit_id is None:
            raise ForbiddenError(needs_roles(INCIDENT_READERS))
        if unit_id is not None and unit_id != principal.unit_id:
            raise ForbiddenError("只能查看本单位的违纪记录")
        unit_id = principal.unit_id
    query = select(Incident).where(Incident.exam_id == exam.id)
    if unit_id is not None:
        query = query.where(Incident.unit_id == unit_id)
    return await scalar_page(session, query.order_by(Incident.id), page)


async def record_event(
    session: AsyncSession,
    *,
    attempt_id: int,
    principal: Principal,
    kind: EventKind,
    detail: dict[str, Any],
    now: datetime,
    cap: int,
    grace_seconds: float,
) -> EventResult:
    """Store one page event of the caller's open attempt, up to ``cap`` per attempt (then 429, nothing stored).

    When the exam has a focus-loss limit and this event reaches it, the attempt is submitted.
    """
    focus = 1 if kind in FOCUS_LOSS_KINDS else 0
    cutoff = now - timedelta(seconds=grace_seconds)
    counted = (
        await session.execute(
            update(ATTEMPTS)
            .where(
                ATTEMPTS.c.id == attempt_id,
                ATTEMPTS.c.participant_id
                == select(Participant.id).where(Participant.user_id == principal.id).scalar_subquery(),
                ATTEMPTS.c.status == IN_PROGRESS,
                ATTEMPTS.c.event_count < cap,
                ATTEMPTS.c.deadline_at >= cutoff,
            )
            .values(event_count=ATTEMPTS.c.event_count + 1, focus_losses=ATTEMPTS.c.focus_losses + focus)
            .returning(
                ATTEMPTS.c.event_count,
                ATTEMPTS.c.focus_losses,
                select(EXAMS.c.focus_loss_limit)
                .where(EXAMS.c.id == ATTEMPTS.c.exam_id)
                .scalar_subquery()
                .label("focus_loss_limit"),
            )
        )
    ).one_or_none()
    if counted is None:
        attempt = await owned_attempt(session, attempt_id, principal)
        if attempt.status != IN_PROGRESS:
            raise ConflictError("已交卷 (the attempt is submitted)")
        if is_overdue(attempt.deadline_at, now, grace_seconds):
            await submit_if_overdue(session, attempt_id, now=now, grace_seconds=grace_seconds)
            raise ConflictError("考试时间已到 (time is up; the attempt was submitted with what was saved)")
        raise TooManyRequestsError(f"本答卷记录的事件过多（上限 {cap} 条），本次未保存")
    await session.execute(
        insert(AttemptEvent).values(attempt_id=attempt_id, kind=str(kind), detail=detail, created_at=now)
    )
    limit = counted.focus_loss_limit
    submitted = False
    if focus and limit is not None and counted.focus_losses >= limit:
        submitted = bool(
            await claim_and_grade(session, ATTEMPTS.c.id == attempt_id, reason=SubmitReason.focus_loss, now=now)
        )
    return EventResult(
        recorded=True,
        event_count=counted.event_count,
        focus_losses=counted.focus_losses,
        focus_loss_limit=limit,
        submitted=submitted,
    )
