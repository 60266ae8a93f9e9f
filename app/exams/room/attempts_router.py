"""Taking the exam (examinee).

The examinee's requests are judged by the time they arrived (``ArrivalDep``), not by when their handler
runs. The request's session dependency commits as soon as the handler returns, before the reply is sent,
so an acknowledged save is durable. A 409 may follow a write that must stay (an attempt found overdue is
submitted on the way): ``commit_on_conflict`` commits it before refusing; any other error rolls back."""

from __future__ import annotations

from fastapi import APIRouter

from app.accounts.dependencies import CurrentPrincipal
from app.core.deps import ArrivalDep, SessionDep, SettingsDep, commit_on_conflict
from app.exams.room import attempts, flags
from app.exams.room.attempt_schemas import (
    AnswersSave,
    AttemptResult,
    AttemptStart,
    AttemptState,
    SaveResult,
    SubmitResult,
)

router = APIRouter(tags=["attempts"])


# Examinee ---------------------------------------------------------------------------------------------


@router.post("/api/exams/{exam_id}/attempts", response_model=AttemptStart)
async def start_attempt(
    exam_id: int, principal: CurrentPrincipal, session: SessionDep, arrived_at: ArrivalDep, settings: SettingsDep
) -> AttemptStart:
    """Start the caller's attempt, or resume his open one (this session then owns it)."""
    async with commit_on_conflict(session):
        started = await attempts.start_attempt(
            session, exam_id=exam_id, principal=principal, now=arrived_at, grace_seconds=settings.save_grace_seconds
        )
    started.flags = await flags.read_flags(session, started.attempt_id)
    return started


@router.put("/api/attempts/{attempt_id}/answers", response_model=SaveResult, response_model_exclude_none=True)
async def save_answers(
    attempt_id: int,
    body: AnswersSave,
    principal: CurrentPrincipal,
    session: SessionDep,
    arrived_at: ArrivalDep,
    settings: SettingsDep,
) -> SaveResult:
    """Merge answers; a save whose ``seq`` is not above the last stored one is ignored (and says so)."""
    async with commit_on_conflict(session):
        saved = await attempts.autosave_answers(
            session,
            attempt_id=attempt_id,
            principal=principal,
            seq=body.seq,
            answers=body.answers,
            now=arrived_at,
            grace_seconds=settings.save_grace_seconds,
        )
    if saved.saved and body.flags is not None:
        await flags.save_flags(session, attempt_id=attempt_id, question_nos=body.flags, now=arrived_at)
    return saved


@router.post("/api/attempts/{attempt_id}/submit", response_model=SubmitResult)
async def submit_attempt(
    attempt_id: int, principal: CurrentPrincipal, session: SessionDep, arrived_at: ArrivalDep, settings: SettingsDep
) -> SubmitResult:
    """Submit and grade; repeating it answers the same."""
    async with commit_on_conflict(session):
        return await attempts.submit_attempt(
            session,
            attempt_id=attempt_id,
            principal=principal,
            now=arrived_at,
            grace_seconds=settings.save_grace_seconds,
        )


@router.get("/api/attempts/{attempt_id}", response_model=AttemptState)
async def get_attempt(
    attempt_id: int, principal: CurrentPrincipal, session: SessionDep, arrived_at: ArrivalDep, settings: SettingsDep
) -> AttemptState:
    """The attempt's status, time left (the countdown follows it) and saved answers; no score."""
    async with commit_on_conflict(session):
        state = await attempts.attempt_state(
            session,
            attempt_id=attempt_id,
            principal=principal,
            now=arrived_at,
            grace_seconds=settings.save_grace_seconds,
        )
    state.flags = await flags.read_flags(session, attempt_id)
    return state


@router.get("/api/attempts/{attempt_id}/result", response_model=AttemptResult)
async def get_result(
    attempt_id: int, principal: CurrentPrincipal, session: SessionDep, arrived_at: ArrivalDep, settings: SettingsDep
) -> AttemptResult:
    """Practice: score, right answers and explanations. Formal: the score once results are published."""
    async with commit_on_conflict(session):
        return await attempts.attempt_result(
            session,
            attempt_id=attempt_id,
            principal=principal,
            now=arrived_at,
            grace_seconds=settings.save_grace_seconds,
        )
