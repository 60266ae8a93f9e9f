from __future__ import annotations

from enum import StrEnum

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from app.core.deps import SessionDep
from app.reports import service
from app.reports.dependencies import ReportReader, individual_scope
from app.reports.notice import build_notice, render_notice
from app.reports.schemas import ExamReport, IndividualsRead

router = APIRouter(tags=["reports"])


class NoticeFormat(StrEnum):
    markdown = "markdown"
    html = "html"


@router.get("/api/exams/{exam_id}/report", response_model=ExamReport)
async def exam_report(exam_id: int, _principal: ReportReader, session: SessionDep) -> ExamReport:
    return await service.build_exam_report(session, exam_id)


@router.get("/api/exams/{exam_id}/report/individuals", response_model=IndividualsRead)
async def exam_individuals(
    exam_id: int, principal: ReportReader, session: SessionDep, unit_id: int | None = None
) -> IndividualsRead:
    scope = individual_scope(principal, unit_id)
    items = await service.list_individuals(session, exam_id, scope)
    return IndividualsRead(exam_id=exam_id, unit_id=scope, items=items)


@router.get("/api/exams/{exam_id}/report/notice", response_class=PlainTextResponse)
async def exam_notice(
    exam_id: int,
    _principal: ReportReader,
    session: SessionDep,
    format: NoticeFormat = NoticeFormat.markdown,
    round_label: str = "本轮",
) -> Response:
    """The notice paragraphs (总体/单位/职级/考风考纪/缺考) as Markdown or as a printable HTML page."""
    notice = build_notice(await service.build_exam_report(session, exam_id), round_label=round_label[:16])
    if format is NoticeFormat.html:
        return HTMLResponse(render_notice(notice, html=True))
    return PlainTextResponse(render_notice(notice, html=False), media_type="text/markdown; charset=utf-8")
