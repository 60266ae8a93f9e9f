"""A cadre's own history and 错题本 with review drills; the knowledge points a unit's cadres miss most."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.accounts.dependencies import CurrentPrincipal
from app.core.deps import ClockDep, SessionDep
from app.core.paging import PageQuery
from app.exams.models import ExamMode
from app.learning import service
from app.learning.schemas import (
    CadreHistory,
    DrillAnswers,
    DrillCreate,
    DrillRead,
    DrillResult,
    MissedPoints,
    MistakeBook,
)

router = APIRouter(tags=["learning"])


@router.get("/api/me/history", response_model=CadreHistory)
async def my_history(principal: CurrentPrincipal, session: SessionDep) -> CadreHistory:
    """The signed-in examinee's exams across all his tickets (linked through his cadre record), with his
    attempts; a formal exam's score shows once its results are published."""
    cadre_id = await service.cadre_of_caller(session, principal)
    return await service.cadre_history(session, cadre_id=cadre_id, principal=principal, own=True)


@router.get("/api/cadres/{cadre_id}/history", response_model=CadreHistory)
async def cadre_history(cadre_id: int, principal: CurrentPrincipal, session: SessionDep) -> CadreHistory:
    """One cadre's exams and attempts (organisers and supervisors; a unit admin for his own unit's cadres)."""
    return await service.cadre_history(session, cadre_id=cadre_id, principal=principal, own=False)


@router.get("/api/me/mistakes", response_model=MistakeBook)
async def my_mistakes(principal: CurrentPrincipal, session: SessionDep, page: PageQuery) -> MistakeBook:
    """The 错题本: the questions he answered wrong in practice exams or drills, with the right answer,
    explanation and legal basis, unmastered and most missed first, a page at a time: `{items, total, mastered}`;
    those answered right since are marked mastered."""
    cadre_id = await service.cadre_of_caller(session, principal)
    return await service.mistake_book(session, cadre_id=cadre_id, page=page)


@router.post("/api/me/mistakes/drills", response_model=DrillRead, status_code=status.HTTP_201_CREATED)
async def create_drill(
    principal: CurrentPrincipal, session: SessionDep, clock: ClockDep, body: DrillCreate | None = None
) -> DrillRead:
    """A practice round drawn at random from his unmastered wrong answers (no keys in the reply)."""
    cadre_id = await service.cadre_of_caller(session, principal)
    return await service.create_drill(
        session, cadre_id=cadre_id, principal=principal, data=body or DrillCreate(), now=clock.now()
    )


@router.get("/api/me/mistakes/drills/{drill_id}", response_model=DrillRead)
async def get_drill(drill_id: int, principal: CurrentPrincipal, session: SessionDep) -> DrillRead:
    """A drill's questions again (after a reload)."""
    cadre_id = await service.cadre_of_caller(session, principal)
    return await service.get_drill(session, drill_id=drill_id, cadre_id=cadre_id)


@router.post("/api/me/mistakes/drills/{drill_id}/submit", response_model=DrillResult)
async def submit_drill(
    drill_id: int, body: DrillAnswers, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> DrillResult:
    """Grade the drill once: each answer with the right one, explanation and legal basis."""
    cadre_id = await service.cadre_of_caller(session, principal)
    return await service.submit_drill(session, drill_id=drill_id, cadre_id=cadre_id, data=body, now=clock.now())


@router.get("/api/units/{unit_id}/missed-points", response_model=MissedPoints)
async def missed_points(
    unit_id: int,
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageQuery,
    mode: ExamMode | None = None,
) -> MissedPoints:
    """The knowledge points the unit's cadres answer wrong most, over submitted attempts (``mode`` narrows
    to practice or formal exams), a page at a time: `{unit_id, items, total}`; a unit admin sees his own unit."""
    service.ensure_unit_learning_read(principal, unit_id)
    return await service.missed_points(session, unit_id=unit_id, mode=mode, page=page)
