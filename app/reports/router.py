from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from app.core.deps import SessionDep
from app.core.openapi import CSV, XLSX, file_responses
from app.reports import exports, service
from app.reports.dependencies import FullReader, ReportReader, individual_scope, unit_scope
from app.reports.items import fairness, item_analysis
from app.reports.notice import build_notice, render_notice
from app.reports.schemas import ExamReport, IndividualsRead

router = APIRouter(tags=["reports"])


class NoticeFormat(StrEnum):
    markdown = "markdown"
    html = "html"


@router.get("/api/exams/{exam_id}/report", response_model=ExamReport)
async def exam_report(exam_id: int, _principal: ReportReader, session: SessionDep) -> ExamReport:
    """The supervisors' report: overall, by rank, by unit, spread, discipline and absences."""
    return await service.build_exam_report(session, exam_id)


@router.get("/api/exams/{exam_id}/report/individuals", response_model=IndividualsRead)
async def exam_individuals(
    exam_id: int, principal: ReportReader, session: SessionDep, unit_id: int | None = None
) -> IndividualsRead:
    """Individual results (a unit admin sees his own unit's)."""
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


@router.get("/api/exams/{exam_id}/items")
async def exam_items(exam_id: int, _principal: FullReader, session: SessionDep) -> dict[str, Any]:
    """Item analysis per paper (with KR-20) and per question pooled over papers."""
    return await item_analysis(session, exam_id)


@router.get("/api/exams/{exam_id}/fairness")
async def exam_fairness(exam_id: int, _principal: ReportReader, session: SessionDep) -> dict[str, Any]:
    """Each unit's paper difficulty as drawn and as observed, next to its ranking and adjusted average."""
    return await fairness(session, exam_id)


@router.get("/api/reports/practice")
async def practice(principal: ReportReader, session: SessionDep) -> dict[str, Any]:
    """Practice exams and attempts per active cadre, per unit (a unit admin sees his own unit)."""
    return await service.practice_report(session, unit_scope(principal))


@router.get("/api/reports/banks")
async def banks(principal: ReportReader, session: SessionDep) -> dict[str, Any]:
    """Each unit's policy bank and how it covers the unit's duty list (a unit admin sees his own unit)."""
    return await service.bank_report(session, unit_scope(principal))


class ExportFormat(StrEnum):
    xlsx = "xlsx"
    csv = "csv"


class ExportTable(StrEnum):
    units = "units"
    individuals = "individuals"


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/api/exams/{exam_id}/report/export", response_class=Response,
    responses=file_responses(XLSX, CSV, description="the report as .xlsx or .csv"),
)
async def export_report(
    exam_id: int,
    principal: ReportReader,
    session: SessionDep,
    format: ExportFormat = ExportFormat.xlsx,
    table: ExportTable = ExportTable.units,
) -> Response:
    """The report as .xlsx (all sheets) or one table as .csv; individual rows scoped as for the API."""
    report = await service.build_exam_report(session, exam_id)
    scope = individual_scope(principal, None)
    if format is ExportFormat.csv:
        if table is ExportTable.units:
            body = exports.csv_bytes(exports.UNIT_HEADERS, exports.unit_rows(report))
        else:
            individuals = await service.list_individuals(session, exam_id, scope)
            body = exports.csv_bytes(exports.INDIVIDUAL_HEADERS, exports.individual_rows(individuals))
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="exam-{exam_id}-{table}.csv"'},
        )
    individuals = await service.list_individuals(session, exam_id, scope)
    items = await item_analysis(session, exam_id)
    if scope is not None:
        items["papers"] = [paper for paper in items["papers"] if paper["unit_id"] == scope]
    body = await exports.report_workbook(report, individuals, items)
    return Response(
        body,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="exam-{exam_id}-report.xlsx"'},
    )
