"""Taking the exam (examinee), closing and regrading it, discipline and the live monitor.

Every handler that writes commits before it returns: in this FastAPI version a ``yield`` dependency's
exit code (where ``get_session`` commits) runs only after the response has been sent, and an
acknowledged save must already be durable. A 409 may follow a write that must stay (an attempt found
overdue is submitted on the way), so 409s commit too; any other error rolls everything back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.dependencies import CurrentPrincipal
from app.accounts.models import Role
from app.core.deps import ClockDep, SessionDep, SettingsDep
from app.core.errors import ConflictError
from app.exams.exam_rules import ensure_can_manage_exam, load_exam
from app.exams.proctoring import discipline, monitor
from app.exams.room import attempts, flags
from app.exams.room.attempt_schemas import (
    AnswersSave,
    AttemptResult,
    AttemptStart,
    AttemptState,
    CloseResult,
    EventCreate,
    EventResult,
    IncidentCreate,
    IncidentRead,
    MonitorRead,
    RegradeRequest,
    RegradeResult,
    SaveResult,
    SubmitResult,
)
from app.grading import service as grading

router = APIRouter(tags=["attempts"])


@asynccontextmanager
async def committing(session: AsyncSession) -> AsyncIterator[None]:
    """On a 409, commit what was done on the way (a lazy submission) before refusing; on success the request's
    session dependency commits before the reply is sent."""
    try:
        yield
    except ConflictError:
        await session.commit()
        raise


# Examinee ---------------------------------------------------------------------------------------------


@router.post("/api/exams/{exam_id}/attempts", response_model=AttemptStart)
async def start_attempt(
    exam_id: int, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> AttemptStart:
    """Start the caller's attempt, or resume his open one (this session then owns it)."""
    async with committing(session):
        started = await attempts.start_attempt(
            session, exam_id=exam_id, principal=principal, now=clock.now(), grace_seconds=settings.save_grace_seconds
        )
    started.flags = await flags.read_flags(session, started.attempt_id)
    return started


@router.put("/api/attempts/{attempt_id}/answers", response_model=SaveResult, response_model_exclude_none=True)
async def save_answers(
    attempt_id: int,
    body: AnswersSave,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> SaveResult:
    """Merge answers; a save whose ``seq`` is not above the last stored one is ignored (and says so)."""
    now = clock.now()
    async with committing(session):
        saved = await attempts.autosave_answers(
            session,
            attempt_id=attempt_id,
            principal=principal,
            seq=body.seq,
            answers=body.answers,
            now=now,
            grace_seconds=settings.save_grace_seconds,
        )
    if saved.saved and body.flags is not None:
        await flags.save_flags(session, attempt_id=attempt_id, question_nos=body.flags, now=now)
    return saved


@router.post("/api/attempts/{attempt_id}/submit", response_model=SubmitResult)
async def submit_attempt(
    attempt_id: int, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> SubmitResult:
    """Submit and grade; repeating it answers the same."""
    async with committing(session):
        return await attempts.submit_attempt(
            session,
            attempt_id=attempt_id,
            principal=principal,
            now=clock.now(),
            grace_seconds=settings.save_grace_seconds,
        )


@router.get("/api/attempts/{attempt_id}", response_model=AttemptState)
async def get_attempt(
    attempt_id: int, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> AttemptState:
    """The attempt's status, time left (the countdown follows it) and saved answers; no score."""
    async with committing(session):
        state = await attempts.attempt_state(
            session,
            attempt_id=attempt_id,
            principal=principal,
            now=clock.now(),
            grace_seconds=settings.save_grace_seconds,
        )
    state.flags = await flags.read_flags(session, attempt_id)
    return state


@router.get("/api/attempts/{attempt_id}/result", response_model=AttemptResult)
async def get_result(
    attempt_id: int, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> AttemptResult:
    """Practice: score, right answers and explanations. Formal: the score once results are published."""
    async with committing(session):
        return await attempts.attempt_result(
            session,
            attempt_id=attempt_id,
            principal=principal,
            now=clock.now(),
            grace_seconds=settings.save_grace_seconds,
        )


@router.post("/api/attempts/{attempt_id}/events", response_model=EventResult, status_code=status.HTTP_201_CREATED)
async def record_event(
    attempt_id: int,
    body: EventCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> EventResult:
    """Record a page event (focus lost, copy, paste …); capped per attempt, beyond the cap 429."""
    async with committing(session):
        return await discipline.record_event(
            session,
            attempt_id=attempt_id,
            principal=principal,
            kind=body.kind,
            detail=body.detail,
            now=clock.now(),
            cap=settings.event_cap_per_attempt,
            grace_seconds=settings.save_grace_seconds,
        )


# Organiser, proctor -----------------------------------------------------------------------------------


@router.post("/api/exams/{exam_id}/close", response_model=CloseResult)
async def close_exam(exam_id: int, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> CloseResult:
    """End the exam: no more starts; every open attempt is submitted as it stands and graded."""
    async with committing(session):
        outcome = await attempts.close_exam(session, exam_id=exam_id, principal=principal, now=clock.now())
    return CloseResult(
        exam_id=outcome.exam_id,
        status=outcome.status,
        closed_at=outcome.closed_at,
        attempts_submitted=outcome.attempts_submitted,
    )


@router.post("/api/exams/{exam_id}/regrade", response_model=RegradeResult)
async def regrade(
    exam_id: int, body: RegradeRequest, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> RegradeResult:
    """Re-score the question's answers with its current version's key; changed scores are audited."""
    exam = await load_exam(session, exam_id)
    ensure_can_manage_exam(principal, exam, Role.organiser)
    async with committing(session):
        outcome = await grading.regrade_question(
            session, exam_id=exam_id, question_id=body.question_id, actor_id=principal.id, now=clock.now()
        )
    return RegradeResult(
        exam_id=outcome.exam_id,
        question_id=outcome.question_id,
        version=outcome.version,
        papers=outcome.papers,
        slots_repinned=outcome.slots_repinned,
        answers_rescored=outcome.answers_rescored,
        attempts_rescored=outcome.attempts_rescored,
        attempts_changed=outcome.attempts_changed,
    )


@router.post("/api/exams/{exam_id}/incidents", response_model=IncidentRead, status_code=status.HTTP_201_CREATED)
async def record_incident(
    exam_id: int, body: IncidentCreate, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> IncidentRead:
    """Record a discipline incident (违纪) for a participant."""
    async with committing(session):
        incident = await discipline.record_incident(
            session, exam_id=exam_id, data=body, principal=principal, now=clock.now()
        )
    return IncidentRead.model_validate(incident)


@router.get("/api/exams/{exam_id}/incidents", response_model=list[IncidentRead])
async def list_incidents(
    exam_id: int, principal: CurrentPrincipal, session: SessionDep, unit_id: int | None = None
) -> list[IncidentRead]:
    """The exam's recorded incidents."""
    incidents = await discipline.list_incidents(session, exam_id=exam_id, principal=principal, unit_id=unit_id)
    return [IncidentRead.model_validate(i) for i in incidents]


@router.get("/api/exams/{exam_id}/monitor", response_model=MonitorRead)
async def exam_monitor(
    exam_id: int,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    unit_id: int | None = None,
    examinees: Annotated[bool, Query(description="include one line per examinee")] = True,
) -> MonitorRead:
    """Per unit: not started, in progress, submitted, absent; per examinee: last save and time left."""
    return await monitor.exam_monitor(
        session, exam_id=exam_id, principal=principal, unit_id=unit_id, now=clock.now(), with_examinees=examinees
    )
