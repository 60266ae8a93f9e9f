from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status

from app.accounts.dependencies import CurrentPrincipal
from app.bank import exporter, importer, service
from app.bank.models import Category, QuestionStatus, QuestionType
from app.bank.repository import QuestionFilter
from app.bank.schemas import (
    ImportResult,
    QuestionCreate,
    QuestionPage,
    QuestionRead,
    QuestionUpdate,
    QuestionVersionRead,
)
from app.core.deps import ClockDep, SessionDep
from app.core.openapi import CSV, JSON, XLSX, file_responses

router = APIRouter(tags=["bank"])


def _filter(
    type: QuestionType | None = None,
    category: Category | None = None,
    unit_id: int | None = None,
    tag: str | None = None,
    knowledge_point: str | None = None,
    status: QuestionStatus | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> QuestionFilter:
    return QuestionFilter(
        type=type,
        category=category,
        unit_id=unit_id,
        tag=tag,
        knowledge_point=knowledge_point,
        status=status,
        q=q.strip() if q else None,
    )


FilterDep = Annotated[QuestionFilter, Depends(_filter)]


@router.post("/api/questions", response_model=QuestionRead, status_code=status.HTTP_201_CREATED)
async def create_question(
    body: QuestionCreate, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> QuestionRead:
    """Store one question, normalised (judge questions get the options T 正确 and F 错误)."""
    data = body.model_dump(mode="json")
    question = await service.create_question(session, data=data, principal=principal, now=clock.now())
    return QuestionRead.model_validate(question)


@router.get("/api/questions", response_model=QuestionPage)
async def list_questions(
    principal: CurrentPrincipal,
    session: SessionDep,
    flt: FilterDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> QuestionPage:
    """Questions by type, category, unit, tag, status and text search; `{items, total}`."""
    items, total = await service.search_questions(session, flt=flt, principal=principal, limit=limit, offset=offset)
    return QuestionPage(items=[QuestionRead.model_validate(q) for q in items], total=total)


@router.post("/api/questions/import", response_model=ImportResult)
async def import_questions(
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    file: Annotated[UploadFile, File()],
    category: Annotated[Category | None, Form()] = None,
    unit_code: Annotated[str | None, Form(max_length=32)] = None,
    difficulty: Annotated[int | None, Form(ge=1, le=5)] = None,
) -> ImportResult:
    """Import questions from .xlsx, .csv, .json or an interchange format; one bad row rejects the file."""
    content = await file.read()
    defaults = importer.ImportDefaults(category=category, unit_code=unit_code or None, difficulty=difficulty)
    return await importer.import_questions(
        session,
        filename=file.filename or "",
        content=content,
        defaults=defaults,
        principal=principal,
        now=clock.now(),
    )


@router.get(
    "/api/questions/export", response_class=Response,
    responses=file_responses(XLSX, CSV, JSON, description="the questions as .xlsx, .csv or .json"),
)
async def export_questions(
    principal: CurrentPrincipal,
    session: SessionDep,
    flt: FilterDep,
    format: Annotated[str, Query(pattern="^(xlsx|csv|json|moodle_xml|gift|aiken|qti)$")] = "xlsx",
) -> Response:
    """Export the filtered questions as .xlsx, .csv or .json (the .json imports back)."""
    exported = await exporter.export_questions(session, flt=flt, principal=principal, fmt=format)
    headers = {"Content-Disposition": f'attachment; filename="{exported.filename}"'}
    if exported.skipped:
        headers["X-Exambank-Skipped"] = str(len(exported.skipped))
    return Response(exported.content, media_type=exported.media_type, headers=headers)


@router.get(
    "/api/questions/template", response_class=Response,
    responses=file_responses(XLSX, description="the import template"),
)
async def import_template(principal: CurrentPrincipal) -> Response:
    """The .xlsx import template with the Chinese headers."""
    service.ensure_can_read_bank(principal)
    content = await exporter.blank_template()
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="exambank-question-template.xlsx"'},
    )


@router.get("/api/questions/{question_id}", response_model=QuestionRead)
async def get_question(question_id: int, principal: CurrentPrincipal, session: SessionDep) -> QuestionRead:
    """One question as stored now."""
    return QuestionRead.model_validate(await service.get_visible_question(session, question_id, principal))


@router.patch("/api/questions/{question_id}", response_model=QuestionRead)
async def update_question(
    question_id: int, body: QuestionUpdate, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> QuestionRead:
    """Edit a question; each edit stores a new version."""
    changes = body.model_dump(mode="json", exclude_unset=True)
    question = await service.update_question(
        session, question_id=question_id, changes=changes, principal=principal, now=clock.now()
    )
    return QuestionRead.model_validate(question)


@router.get("/api/questions/{question_id}/versions", response_model=list[QuestionVersionRead])
async def list_versions(
    question_id: int, principal: CurrentPrincipal, session: SessionDep
) -> list[QuestionVersionRead]:
    """Every stored version of a question, oldest first."""
    await service.get_visible_question(session, question_id, principal)
    return [QuestionVersionRead.model_validate(v) for v in await service.list_versions(session, question_id)]


@router.post("/api/questions/{question_id}/retire", response_model=QuestionRead)
async def retire_question(
    question_id: int, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> QuestionRead:
    """Retire a question: it stays on papers already drawn but is drawn no more."""
    question = await service.set_status(
        session, question_id=question_id, status=QuestionStatus.retired, principal=principal, now=clock.now()
    )
    return QuestionRead.model_validate(question)


@router.post("/api/questions/{question_id}/restore", response_model=QuestionRead)
async def restore_question(
    question_id: int, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> QuestionRead:
    """Put a retired question back into the draw."""
    question = await service.set_status(
        session, question_id=question_id, status=QuestionStatus.active, principal=principal, now=clock.now()
    )
    return QuestionRead.model_validate(question)
