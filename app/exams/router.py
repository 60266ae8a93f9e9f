"""Exams, their papers, participants, admission tickets and absences."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Response, status

from app.accounts.dependencies import CurrentPrincipal
from app.accounts.models import Role
from app.core.deps import ClockDep, SessionDep, SettingsDep, commit_on_conflict
from app.core.errors import ForbiddenError
from app.core.openapi import XLSX, file_responses
from app.core.paging import TOTAL_COUNT_RESPONSES, ListPageQuery, Paged, PageQuery, send_total
from app.exams import service, statistics
from app.exams.admission import participants
from app.exams.dependencies import ManagedExam, ValidExam, ViewableExam
from app.exams.exam_rules import ensure_can_manage_exam, load_exam
from app.exams.models import Exam, ExamMode, ExamStatus
from app.exams.proctoring import absences
from app.exams.room.attempt_schemas import CloseResult, RegradeRequest, RegradeResult
from app.exams.schemas import (
    AbsenceCreate,
    AbsenceRead,
    DrawRequest,
    ExamCreate,
    ExamRead,
    ExamUpdate,
    ExtraTimeGrant,
    PaperDrawn,
    PapersSummary,
    ParticipantIssued,
    ParticipantRead,
    ParticipantsAdd,
    ParticipantUpdate,
    ReissueRequest,
    SamplePreview,
    SampleSpec,
    TicketRead,
)
from app.grading import service as grading
from app.papers import service as papers_service
from app.papers.schemas import PaperDetail

router = APIRouter(tags=["exams"])


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
    """Create an exam (formal or practice) for the units taking part."""
    exam = await service.create_exam(session, data=body, principal=principal, now=clock.now())
    return await _read(session, exam, principal, clock.now())


@router.get("/api/exams", response_model=Paged[ExamRead])
async def list_exams(
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    page: PageQuery,
    status: ExamStatus | None = None,
    mode: ExamMode | None = None,
) -> Paged[ExamRead]:
    """The exams the caller may see, newest first, a page at a time: `{items, total}`."""
    now = clock.now()
    rows, total = await service.list_exams(session, principal=principal, status=status, mode=mode, page=page)
    items = [service.exam_read(e, units, now, show_seed=service.may_manage(principal, e)) for e, units in rows]
    return Paged[ExamRead](items=items, total=total)


@router.get("/api/exams/{exam_id}", response_model=ExamRead)
async def get_exam(exam: ViewableExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> ExamRead:
    """One exam."""
    return await _read(session, exam, principal, clock.now())


@router.patch("/api/exams/{exam_id}", response_model=ExamRead)
async def update_exam(
    body: ExamUpdate, exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> ExamRead:
    """Change an exam; once under way only its name and a later closing time."""
    exam = await service.update_exam(session, exam=exam, data=body, principal=principal, now=clock.now())
    return await _read(session, exam, principal, clock.now())


@router.post("/api/exams/{exam_id}/publish", response_model=ExamRead)
async def publish_exam(exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> ExamRead:
    """Publish the results: examinees and their units see the scores."""
    exam = await service.publish_exam(session, exam=exam, principal=principal, now=clock.now())
    return await _read(session, exam, principal, clock.now())


@router.post("/api/exams/{exam_id}/close", response_model=CloseResult)
async def close_exam(exam_id: int, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> CloseResult:
    """End the exam: no more starts; every open attempt is submitted as it stands and graded."""
    outcome = await service.close_exam(session, exam_id=exam_id, principal=principal, now=clock.now())
    await statistics.refresh_exam_statistics(session, exam_id)
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
    async with commit_on_conflict(session):
        outcome = await grading.regrade_question(
            session, exam_id=exam_id, question_id=body.question_id, actor_id=principal.id, now=clock.now()
        )
    await statistics.refresh_exam_statistics(session, exam_id)
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


# Papers ---------------------------------------------------------------------------------------------


@router.post("/api/exams/{exam_id}/papers", response_model=list[PaperDrawn], status_code=status.HTTP_201_CREATED)
async def draw_papers(
    exam: ValidExam,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    body: Annotated[DrawRequest | None, Body()] = None,
) -> list[PaperDrawn]:
    """Draw one paper per unit from the bank (seeded, reproducible); names a quota the bank cannot fill."""
    papers = await service.draw_exam_papers(
        session, exam=exam, principal=principal, now=clock.now(), seed=body.seed if body else None
    )
    return await service.papers_drawn(session, papers)


@router.get("/api/exams/{exam_id}/papers", response_model=PapersSummary)
async def papers_summary(exam: ValidExam, principal: CurrentPrincipal, session: SessionDep) -> PapersSummary:
    """The drawn papers with their largest pairwise overlap and the spread of expected difficulty."""
    if not (service.may_manage(principal, exam) or principal.has_any(Role.supervisor)):
        raise ForbiddenError("只有本场考试的考务和督导可以查看试卷")
    return await service.papers_summary(session, exam)


@router.delete("/api/exams/{exam_id}/papers", status_code=status.HTTP_204_NO_CONTENT)
async def discard_papers(exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> None:
    """Throw the drawn papers away before anyone started; the exam is a draft again."""
    await service.discard_papers(session, exam=exam, principal=principal, now=clock.now())


@router.get("/api/exams/{exam_id}/papers/{paper_id}", response_model=PaperDetail)
async def preview_paper(paper_id: int, exam: ManagedExam, session: SessionDep) -> PaperDetail:
    """One paper with its keys, explanations and the pinned version of every question (organisers)."""
    paper = await service.get_exam_paper(session, exam, paper_id)
    return await papers_service.paper_detail(session, paper)


@router.get(
    "/api/exams/{exam_id}/papers/{paper_id}/export",
    response_class=Response,
    responses=file_responses(XLSX, description="the paper for printing"),
)
async def export_paper(paper_id: int, exam: ManagedExam, session: SessionDep) -> Response:
    """One paper as .xlsx for printing."""
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
    """Draw a new paper for one unit, keeping the others; its seed is stored on the paper."""
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
    """Add listed or sampled cadres; new participants get a ticket and a PIN, shown once."""
    issued, warnings = await participants.add_participants(
        session,
        exam=exam,
        data=body,
        principal=principal,
        secret=settings.secret_key.get_secret_value(),
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
    """Who a sample would draw per unit and rank, with warnings, without writing anything."""
    return await participants.preview_sample(session, exam=exam, spec=body, principal=principal)


@router.get("/api/exams/{exam_id}/participants", response_model=Paged[ParticipantRead])
async def list_participants(
    exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, page: PageQuery, unit_id: int | None = None
) -> Paged[ParticipantRead]:
    """The participants in ticket order with ticket, extra time, the deadline of an attempt under way and
    absence, a page at a time: `{items, total}` (a unit admin sees his own unit's)."""
    scope = await participants.ticket_scope(session, principal, exam, unit_id)
    items, total = await participants.list_participants(session, exam=exam, unit_id=scope, page=page)
    return Paged[ParticipantRead](items=items, total=total)


@router.patch("/api/exams/{exam_id}/participants/{cadre_id}", response_model=ParticipantRead)
async def update_participant(
    cadre_id: int,
    body: ParticipantUpdate,
    exam: ValidExam,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
) -> ParticipantRead:
    """Extra time for one examinee (the total, in seconds): his attempt under way gets the later deadline at
    once, and it may run past the exam's closing time by as much. Audited."""
    return await participants.update_participant(
        session, exam=exam, cadre_id=cadre_id, data=body, principal=principal, now=clock.now()
    )


@router.post("/api/exams/{exam_id}/extra-time", response_model=list[ParticipantRead])
async def extend_time(
    body: ExtraTimeGrant, exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> list[ParticipantRead]:
    """An exam-wide extension for an incident (a room that lost time): ``add_seconds`` more for each cadre
    listed, added to the extra time he already has. Audited."""
    return await participants.extend_time(session, exam=exam, data=body, principal=principal, now=clock.now())


@router.delete("/api/exams/{exam_id}/participants/{cadre_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_participant(
    cadre_id: int, exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> None:
    """Take a cadre off the exam before he started; his ticket stops working."""
    await participants.remove_participant(session, exam=exam, cadre_id=cadre_id, principal=principal, now=clock.now())


@router.get("/api/exams/{exam_id}/tickets", response_model=list[TicketRead], responses=TOTAL_COUNT_RESPONSES)
async def get_tickets(
    exam: ValidExam,
    principal: CurrentPrincipal,
    session: SessionDep,
    page: ListPageQuery,
    response: Response,
    unit_id: int | None = None,
) -> list[TicketRead]:
    """The tickets in ticket order, without PINs (all, or a page with `limit`/`offset`; `X-Total-Count` gives
    their number); changes nothing (PINs come from ``POST .../tickets/reissue``)."""
    scope = await participants.ticket_scope(session, principal, exam, unit_id)
    tickets, total = await participants.list_tickets(session, exam=exam, unit_id=scope, page=page)
    send_total(response, total)
    return tickets


@router.get(
    "/api/exams/{exam_id}/tickets/export",
    response_class=Response,
    responses=file_responses(XLSX, description="the ticket list without PINs"),
)
async def export_tickets(
    exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, unit_id: int | None = None
) -> Response:
    """The printable ticket list without PINs; PINs are printed only by ``POST .../tickets/reissue?format=xlsx``."""
    scope = await participants.ticket_scope(session, principal, exam, unit_id)
    tickets, _ = await participants.list_tickets(session, exam=exam, unit_id=scope)
    content = await participants.tickets_workbook(f"{exam.name} 准考证", tickets)
    return _xlsx(content, f"exam-{exam.id}-tickets.xlsx")


@router.post("/api/exams/{exam_id}/tickets/reissue", response_model=list[ParticipantIssued])
async def reissue_tickets(
    exam: ValidExam,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    body: Annotated[ReissueRequest | None, Body()] = None,
    format: Literal["json", "xlsx"] = "json",
) -> list[ParticipantIssued] | Response:
    """New PINs, shown once (in the reply or the .xlsx for printing): for the cadres listed, one unit, or every
    participant when nothing is sent. The old PINs stop working and their sessions end. Audited."""
    issued = await participants.reissue_pins(
        session,
        exam=exam,
        request=body or ReissueRequest(all=True),
        principal=principal,
        secret=settings.secret_key.get_secret_value(),
        now=clock.now(),
    )
    if format == "json":
        return issued
    every_ticket, _ = await participants.list_tickets(session, exam=exam, unit_id=None)
    tickets = {t.ticket_no: t for t in every_ticket}
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
    """A new PIN for one ticket, shown once; the old PIN stops working."""
    cadre_id = await participants.cadre_of_ticket(session, exam.id, ticket_no)
    [issued] = await participants.reissue_pins(
        session,
        exam=exam,
        request=ReissueRequest(cadre_ids=[cadre_id]),
        principal=principal,
        secret=settings.secret_key.get_secret_value(),
        now=clock.now(),
    )
    return issued


@router.post("/api/exams/{exam_id}/tickets/{ticket_no}/unlock", status_code=status.HTTP_204_NO_CONTENT)
async def unlock_ticket(
    ticket_no: str, exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> None:
    """Proctors and organisers: end a ticket's lockout, so its holder logs in with his right PIN."""
    await participants.unlock_ticket(session, exam=exam, ticket_no=ticket_no, principal=principal, now=clock.now())


# Absences -------------------------------------------------------------------------------------------


@router.post("/api/exams/{exam_id}/absences", response_model=AbsenceRead, status_code=status.HTTP_201_CREATED)
async def record_absence(
    body: AbsenceCreate, exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> AbsenceRead:
    """Record a participant absent (缺考) with a reason."""
    return await absences.record_absence(session, exam=exam, data=body, principal=principal, now=clock.now())


@router.get("/api/exams/{exam_id}/absences", response_model=Paged[AbsenceRead])
async def list_absences(
    exam: ViewableExam, principal: CurrentPrincipal, session: SessionDep, page: PageQuery, unit_id: int | None = None
) -> Paged[AbsenceRead]:
    """The recorded absences by unit and cadre, a page at a time: `{items, total}` (a unit admin sees his own
    unit's)."""
    scope = await participants.ticket_scope(session, principal, exam, unit_id)
    items, total = await absences.list_absences(session, exam=exam, unit_id=scope, page=page)
    return Paged[AbsenceRead](items=items, total=total)


@router.delete("/api/exams/{exam_id}/absences/{cadre_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_absence(
    cadre_id: int, exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> None:
    """Take back an absence recorded by mistake."""
    await absences.delete_absence(session, exam=exam, cadre_id=cadre_id, principal=principal, now=clock.now())
