"""Exams, their papers, participants, admission tickets and absences."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Response, status

from app.accounts.dependencies import CurrentPrincipal
from app.accounts.models import Role
from app.core.deps import ClockDep, SessionDep, SettingsDep
from app.core.errors import ForbiddenError
from app.exams import service
from app.exams.admission import participants
from app.exams.dependencies import ManagedExam, ValidExam, ViewableExam
from app.exams.models import Exam, ExamMode, ExamStatus
from app.exams.proctoring import absences
from app.exams.schemas import (
    AbsenceCreate,
    AbsenceRead,
    DrawRequest,
    ExamCreate,
    ExamRead,
    ExamUpdate,
    PaperDrawn,
    PapersSummary,
    ParticipantIssued,
    ParticipantRead,
    ParticipantsAdd,
    ReissueRequest,
    SamplePreview,
    SampleSpec,
    TicketIssued,
)
from app.papers import service as papers_service
from app.papers.schemas import PaperDetail

router = APIRouter(tags=["exams"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(content: bytes, filename: str) -> Response:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(content, media_type=XLSX, headers={"Content-Disposition": disposition})


async def _read(session: SessionDep, exam: Exam, principal: CurrentPrincipal, now: datetime) -> ExamRead:
    unit_ids = await service.exam_unit_ids(session, exam.id)
    return service.exam_read(exam, unit_ids, now, show_seed=service.may_manage(principal, exam))


# Exams ----------------------------------------------------------------------------------------------


@router.post("/api/exams", response_model=ExamRead, status_code=status.HTTP_201_CREATED)
async def create_exam(body: ExamCreate, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> ExamRead:
    exam = await service.create_exam(session, data=body, principal=principal, now=clock.now())
    return await _read(session, exam, principal, clock.now())


@router.get("/api/exams", response_model=list[ExamRead])
async def list_exams(
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    status: ExamStatus | None = None,
    mode: ExamMode | None = None,
) -> list[ExamRead]:
    now = clock.now()
    rows = await service.list_exams(session, principal=principal, status=status, mode=mode)
    return [service.exam_read(e, units, now, show_seed=service.may_manage(principal, e)) for e, units in rows]


@router.get("/api/exams/{exam_id}", response_model=ExamRead)
async def get_exam(exam: ViewableExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> ExamRead:
    return await _read(session, exam, principal, clock.now())


@router.patch("/api/exams/{exam_id}", response_model=ExamRead)
async def update_exam(
    body: ExamUpdate, exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> ExamRead:
    exam = await service.update_exam(session, exam=exam, data=body, principal=principal, now=clock.now())
    return await _read(session, exam, principal, clock.now())


@router.post("/api/exams/{exam_id}/publish", response_model=ExamRead)
async def publish_exam(exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> ExamRead:
    exam = await service.publish_exam(session, exam=exam, principal=principal, now=clock.now())
    return await _read(session, exam, principal, clock.now())


# Papers ---------------------------------------------------------------------------------------------


@router.post("/api/exams/{exam_id}/papers", response_model=list[PaperDrawn], status_code=status.HTTP_201_CREATED)
async def draw_papers(
    exam: ValidExam,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    body: Annotated[DrawRequest | None, Body()] = None,
) -> list[PaperDrawn]:
    papers = await service.draw_exam_papers(
        session, exam=exam, principal=principal, now=clock.now(), seed=body.seed if body else None
    )
    return await service.papers_drawn(session, papers)


@router.get("/api/exams/{exam_id}/papers", response_model=PapersSummary)
async def papers_summary(exam: ValidExam, principal: CurrentPrincipal, session: SessionDep) -> PapersSummary:
    if not (service.may_manage(principal, exam) or principal.has_any(Role.supervisor)):
        raise ForbiddenError("只有本场考试的考务和督导可以查看试卷")
    return await service.papers_summary(session, exam)


@router.delete("/api/exams/{exam_id}/papers", status_code=status.HTTP_204_NO_CONTENT)
async def discard_papers(exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> None:
    await service.discard_papers(session, exam=exam, principal=principal, now=clock.now())


@router.get("/api/exams/{exam_id}/papers/{paper_id}", response_model=PaperDetail)
async def preview_paper(paper_id: int, exam: ManagedExam, session: SessionDep) -> PaperDetail:
    paper = await service.get_exam_paper(session, exam, paper_id)
    return await papers_service.paper_detail(session, paper)


@router.get("/api/exams/{exam_id}/papers/{paper_id}/export")
async def export_paper(paper_id: int, exam: ManagedExam, session: SessionDep) -> Response:
    paper = await service.get_exam_paper(session, exam, paper_id)
    detail = await papers_service.paper_detail(session, paper)
    code = await service.unit_code(session, paper.unit_id)
    content = await papers_service.paper_workbook(detail, title=f"{exam.name} — {code} 试卷（含答案）")
    return _xlsx(content, f"exam-{exam.id}-paper-{code}.xlsx")


@router.post("/api/exams/{exam_id}/papers/{paper_id}/redraw", response_model=PaperDrawn)
async def redraw_paper(
    paper_id: int,
    exam: ValidExam,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    body: Annotated[DrawRequest | None, Body()] = None,
) -> PaperDrawn:
    paper = await service.get_exam_paper(session, exam, paper_id)
    paper = await service.redraw_unit_paper(
        session, exam=exam, paper=paper, principal=principal, now=clock.now(), seed=body.seed if body else None
    )
    [drawn] = await service.papers_drawn(session, [paper])
    return drawn


# Participants and tickets -------------------------------------------------------------------------


@router.post(
    "/api/exams/{exam_id}/participants", response_model=list[ParticipantIssued], status_code=status.HTTP_201_CREATED
)
async def add_participants(
    body: ParticipantsAdd,
    exam: ValidExam,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
) -> list[ParticipantIssued]:
    issued, warnings = await participants.add_participants(
        session, exam=exam, data=body, principal=principal, secret=settings.secret_key.get_secret_value(),
        now=clock.now(),
    )
    if warnings:
        # The reply is a list (the contract); a sample's warnings ride along in a header (JSON, ASCII).
        response.headers["X-Exambank-Warnings"] = json.dumps(warnings)
    return issued


@router.post("/api/exams/{exam_id}/participants/preview", response_model=SamplePreview)
async def preview_sample(
    body: SampleSpec, exam: ValidExam, principal: CurrentPrincipal, session: SessionDep
) -> SamplePreview:
    return await participants.preview_sample(session, exam=exam, spec=body, principal=principal)


@router.get("/api/exams/{exam_id}/participants", response_model=list[ParticipantRead])
async def list_participants(
    exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, unit_id: int | None = None
) -> list[ParticipantRead]:
    scope = await participants.ticket_scope(session, principal, exam, unit_id)
    return await participants.list_participants(session, exam=exam, unit_id=scope)


@router.delete("/api/exams/{exam_id}/participants/{cadre_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_participant(
    cadre_id: int, exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> None:
    await participants.remove_participant(session, exam=exam, cadre_id=cadre_id, principal=principal, now=clock.now())


@router.get(
    "/api/exams/{exam_id}/tickets", response_model=list[TicketIssued], response_model_exclude_unset=True
)
async def get_tickets(
    exam: ValidExam,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
    unit_id: int | None = None,
    reissue: bool = True,
) -> list[TicketIssued]:
    """Per the HTTP contract this re-issues the PINs of the listed tickets (old PINs stop working) and shows
    them once; ``reissue=false`` only lists the tickets, without PINs."""
    response.headers["Cache-Control"] = "no-store"
    scope = await participants.ticket_scope(session, principal, exam, unit_id)
    tickets = await participants.list_tickets(session, exam=exam, unit_id=scope)
    if not reissue:
        return [TicketIssued(**t.model_dump()) for t in tickets]
    request = ReissueRequest(unit_id=scope) if scope is not None else ReissueRequest(all=True)
    issued = await participants.reissue_pins(
        session, exam=exam, request=request, principal=principal, secret=settings.secret_key.get_secret_value(),
        now=clock.now(),
    )
    pins = {i.ticket_no: i.pin for i in issued}
    return [TicketIssued(**t.model_dump(), pin=pins[t.ticket_no]) for t in tickets]


@router.get("/api/exams/{exam_id}/tickets/export")
async def export_tickets(
    exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, unit_id: int | None = None
) -> Response:
    """The printable ticket list without PINs; PINs are printed only by ``POST .../tickets/reissue?format=xlsx``."""
    scope = await participants.ticket_scope(session, principal, exam, unit_id)
    tickets = await participants.list_tickets(session, exam=exam, unit_id=scope)
    content = await participants.tickets_workbook(f"{exam.name} 准考证", tickets)
    return _xlsx(content, f"exam-{exam.id}-tickets.xlsx")


@router.post("/api/exams/{exam_id}/tickets/reissue", response_model=list[ParticipantIssued])
async def reissue_tickets(
    body: ReissueRequest,
    exam: ValidExam,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    format: Literal["json", "xlsx"] = "json",
) -> list[ParticipantIssued] | Response:
    issued = await participants.reissue_pins(
        session, exam=exam, request=body, principal=principal, secret=settings.secret_key.get_secret_value(),
        now=clock.now(),
    )
    if format == "json":
        return issued
    tickets = {t.ticket_no: t for t in await participants.list_tickets(session, exam=exam, unit_id=None)}
    printed = [tickets[i.ticket_no] for i in issued]
    pins = {i.ticket_no: i.pin or "" for i in issued}
    content = await participants.tickets_workbook(f"{exam.name} 准考证", printed, pins)
    return _xlsx(content, f"exam-{exam.id}-tickets-with-pins.xlsx")


@router.post("/api/exams/{exam_id}/tickets/{ticket_no}/reissue", response_model=ParticipantIssued)
async def reissue_ticket(
    ticket_no: str,
    exam: ValidExam,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> ParticipantIssued:
    cadre_id = await participants.cadre_of_ticket(session, exam.id, ticket_no)
    [issued] = await participants.reissue_pins(
        session, exam=exam, request=ReissueRequest(cadre_ids=[cadre_id]), principal=principal,
        secret=settings.secret_key.get_secret_value(), now=clock.now(),
    )
    return issued


# Absences -------------------------------------------------------------------------------------------


@router.post("/api/exams/{exam_id}/absences", response_model=AbsenceRead, status_code=status.HTTP_201_CREATED)
async def record_absence(
    body: AbsenceCreate, exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> AbsenceRead:
    return await absences.record_absence(session, exam=exam, data=body, principal=principal, now=clock.now())


@router.get("/api/exams/{exam_id}/absences", response_model=list[AbsenceRead])
async def list_absences(
    exam: ViewableExam, principal: CurrentPrincipal, session: SessionDep, unit_id: int | None = None
) -> list[AbsenceRead]:
    scope = await participants.ticket_scope(session, principal, exam, unit_id)
    return await absences.list_absences(session, exam=exam, unit_id=scope)


@router.delete("/api/exams/{exam_id}/absences/{cadre_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_absence(
    cadre_id: int, exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> None:
    await absences.delete_absence(session, exam=exam, cadre_id=cadre_id, principal=principal, now=clock.now())
