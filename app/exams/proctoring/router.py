"""Discipline and the live monitor: the examinee's page events, the proctors' incidents, progress per unit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.accounts.dependencies import CurrentPrincipal
from app.core.deps import ArrivalDep, ClockDep, SessionDep, SettingsDep, commit_on_conflict
from app.core.paging import Paged, PageQuery
from app.exams.proctoring import discipline, monitor
from app.exams.room.attempt_schemas import (
    EventCreate,
    EventResult,
    IncidentCreate,
    IncidentRead,
    MonitorRead,
)

router = APIRouter(tags=["attempts"])


@router.post("/api/attempts/{attempt_id}/events", response_model=EventResult, status_code=status.HTTP_201_CREATED)
async def record_event(
    attempt_id: int,
    body: EventCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    arrived_at: ArrivalDep,
    settings: SettingsDep,
) -> EventResult:
    """Record a page event (focus lost, copy, paste …); capped per attempt, beyond the cap 429."""
    async with commit_on_conflict(session):
        return await discipline.record_event(
            session,
            attempt_id=attempt_id,
            principal=principal,
            kind=body.kind,
            detail=body.detail,
            now=arrived_at,
            cap=settings.event_cap_per_attempt,
            grace_seconds=settings.save_grace_seconds,
        )


@router.post("/api/exams/{exam_id}/incidents", response_model=IncidentRead, status_code=status.HTTP_201_CREATED)
async def record_incident(
    exam_id: int, body: IncidentCreate, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> IncidentRead:
    """Record a discipline incident (违纪) for a participant."""
    async with commit_on_conflict(session):
        incident = await discipline.record_incident(
            session, exam_id=exam_id, data=body, principal=principal, now=clock.now()
        )
    return IncidentRead.model_validate(incident)


@router.get("/api/exams/{exam_id}/incidents", response_model=Paged[IncidentRead])
async def list_incidents(
    exam_id: int, principal: CurrentPrincipal, session: SessionDep, page: PageQuery, unit_id: int | None = None
) -> Paged[IncidentRead]:
    """The exam's recorded incidents, oldest first, a page at a time: `{items, total}` (a unit admin sees his
    own unit's)."""
    incidents, total = await discipline.list_incidents(
        session, exam_id=exam_id, principal=principal, unit_id=unit_id, page=page
    )
    return Paged[IncidentRead](items=[IncidentRead.model_validate(i) for i in incidents], total=total)


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
