from __future__ import annotations

from fastapi import APIRouter

from app.core.deps import SessionDep
from app.reports import service
from app.reports.dependencies import ReportReader, individual_scope
from app.reports.schemas import ExamReport, IndividualsRead

router = APIRouter(tags=["reports"])


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
