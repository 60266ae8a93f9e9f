from __future__ import annotations

from enum import StrEnum
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from app.accounts import visibility
from app.accounts.principal import Principal
from app.accounts.visibility import Subject
from app.core.deps import SessionDep, SettingsDep
from app.core.openapi import CSV, DOCX, XLSX, file_responses
from app.core.paging import PageQuery
from app.reports import exports, repository, service
from app.reports.dependencies import FullReader, ReportReader, unit_scope
from app.reports.items import fairness, item_analysis
from app.reports.notice import build_notice, notice_docx, render_notice
from app.reports.schemas import ExamReport, IndividualsRead

router = APIRouter(tags=["reports"])


class NoticeFormat(StrEnum):
    markdown = "markdown"
    html = "html"
    docx = "docx"


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def _visible_report(session: SessionDep, exam_id: int, principal: Principal) -> ExamReport:
    """The report as the caller may read it (``app.accounts.visibility``): 403 before he may see results;
    absences of his own unit only when that is his reach."""
    facts = await visibility.exam_facts(session, exam_id)
    visibility.require(principal, Subject.results, facts)
    report = await service.build_exam_report(session, exam_id)
    absences_of = visibility.require(principal, Subject.absences, facts)
    if absences_of is not None:
        report.absences = [row for row in report.absences if row.unit_id == absences_of]
    return report


@router.get("/api/exams/{exam_id}/report", response_model=ExamReport)
async def exam_report(exam_id: int, principal: ReportReader, session: SessionDep) -> ExamReport:
    """The supervisors' report: overall, by rank, by unit, spread, discipline and absences."""
    return await _visible_report(session, exam_id, principal)


@router.get("/api/exams/{exam_id}/report/individuals", response_model=IndividualsRead)
async def exam_individuals(
    exam_id: int, principal: ReportReader, session: SessionDep, page: PageQuery, unit_id: int | None = None
) -> IndividualsRead:
    """Individual results by unit, best first, a page at a time: `{exam_id, unit_id, items, total}` (a unit admin
    sees his own unit's, once published)."""
    facts = await visibility.exam_facts(session, exam_id)
    scope = visibility.require(principal, Subject.individuals, facts, unit_id=unit_id)
    items, total = await service.list_individuals(session, exam_id, scope, page)
    return IndividualsRead(exam_id=exam_id, unit_id=scope, items=items, total=total)


@router.get(
    "/api/exams/{exam_id}/report/notice",
    response_class=PlainTextResponse,
    responses=file_responses("text/markdown", "text/html", DOCX, description="the notice as Markdown, HTML or .docx"),
)
async def exam_notice(
    exam_id: int,
    principal: ReportReader,
    session: SessionDep,
    format: NoticeFormat = NoticeFormat.markdown,
    round_label: str = "本轮",
) -> Response:
    """The notice (标题, 一、二、… sections, issuing office and date) as Markdown for copy-paste, as a
    print page (``html``) or as a Word document (``docx``)."""
    exam = await service.get_exam(session, exam_id)
    notice = build_notice(
        await _visible_report(session, exam_id, principal),
        round_label=round_label[:16],
        office=exam.notice_office,
        issued_on=exam.notice_date,
    )
    if format is NoticeFormat.html:
        return HTMLResponse(render_notice(notice, html=True))
    if format is NoticeFormat.docx:
        body = await anyio.to_thread.run_sync(notice_docx, notice)
        return Response(
            body,
            media_type=DOCX_TYPE,
            headers={
                "Content-Disposition": f'attachment; filename="exam-{exam_id}-notice.docx"; '
                f"filename*=UTF-8''{quote(notice.title)}.docx",
            },
        )
    return PlainTextResponse(render_notice(notice, html=False), media_type="text/markdown; charset=utf-8")


@router.get("/api/exams/{exam_id}/items")
async def exam_items(exam_id: int, _principal: FullReader, session: SessionDep) -> dict[str, Any]:
    """Item analysis per paper (with KR-20) and per question pooled over papers."""
    return await item_analysis(session, exam_id)


@router.get("/api/exams/{exam_id}/fairness")
async def exam_fairness(exam_id: int, principal: ReportReader, session: SessionDep) -> dict[str, Any]:
    """Each unit's paper difficulty as drawn and as observed, next to its ranking and adjusted average."""
    visibility.require(principal, Subject.results, await visibility.exam_facts(session, exam_id))
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
    "/api/exams/{exam_id}/report/export",
    response_class=Response,
    responses=file_responses(XLSX, CSV, description="the report as .xlsx or .csv"),
)
async def export_report(
    exam_id: int,
    principal: ReportReader,
    session: SessionDep,
    format: ExportFormat = ExportFormat.xlsx,
    table: ExportTable = ExportTable.units,
) -> Response:
    """The report as .xlsx (all sheets) or one table as .csv; every part scoped as for the API."""
    report = await _visible_report(session, exam_id, principal)
    facts = await visibility.exam_facts(session, exam_id)
    scope = visibility.require(principal, Subject.individuals, facts)
    if format is ExportFormat.csv:
        if table is ExportTable.units:
            body = exports.csv_bytes(exports.UNIT_HEADERS, exports.unit_rows(report))
        else:
            individuals, _ = await service.list_individuals(session, exam_id, scope)
            body = exports.csv_bytes(exports.INDIVIDUAL_HEADERS, exports.individual_rows(individuals))
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="exam-{exam_id}-{table}.csv"'},
        )
    individuals, _ = await service.list_individuals(session, exam_id, scope)
    items = await item_analysis(session, exam_id)
    paper_sight = visibility.sight(principal, Subject.paper, facts)
    if not paper_sight.visible:
        items["papers"] = []
    elif paper_sight.unit_id is not None:
        items["papers"] = [paper for paper in items["papers"] if paper["unit_id"] == paper_sight.unit_id]
    body = await exports.report_workbook(report, individuals, items)
    return Response(
        body,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="exam-{exam_id}-report.xlsx"'},
    )


@router.get(
    "/api/exams/{exam_id}/report/responses",
    response_class=Response,
    responses=file_responses(CSV, XLSX, description="the raw responses in long format as .csv or .xlsx"),
)
async def export_responses(
    exam_id: int,
    principal: ReportReader,
    session: SessionDep,
    settings: SettingsDep,
    format: ExportFormat = ExportFormat.csv,
) -> Response:
    """Raw responses in long format (exam, unit, rank, pseudonymous examinee, question and version, paper
    and shown keys, answer, correct, score) as .csv or .xlsx; a unit admin gets his own unit's rows only."""
    await service.get_exam(session, exam_id)
    facts = await visibility.exam_facts(session, exam_id)
    scope = visibility.require(principal, Subject.individuals, facts)
    found = await repository.raw_responses(session, exam_id, scope)
    rows = exports.response_rows(exam_id, found, settings.secret_key.get_secret_value())
    if format is ExportFormat.csv:
        body = await anyio.to_thread.run_sync(exports.csv_bytes, exports.RESPONSE_HEADERS, rows)
        media_type = "text/csv; charset=utf-8"
    else:
        body = await exports.responses_workbook(rows)
        media_type = XLSX_TYPE
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="exam-{exam_id}-responses.{format}"',
        },
    )
