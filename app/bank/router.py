from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status

from app.accounts import visibility
from app.accounts.dependencies import CurrentPrincipal
from app.accounts.principal import Principal
from app.bank import exporter, importer, service
from app.bank.models import Category, QuestionStatus, QuestionType
from app.bank.repository import QuestionFilter
from app.bank.schemas import (
    ImportResult,
    QuestionCreate,
    QuestionRead,
    QuestionsRetire,
    QuestionUpdate,
    QuestionVersionRead,
)
from app.bank.statistics import QuestionFlag
from app.core.deps import ClockDep, ReadSessionDep, SessionDep
from app.core.openapi import CSV, JSON, XLSX, file_responses
from app.core.paging import Paged, PageQuery
from app.core.tabular import read_upload

router = APIRouter(tags=["bank"])


class FlagFilter(StrEnum):
    """The bank list's statistics filter: one flag, or every flagged question."""

    any = "any"
    negative_discrimination = QuestionFlag.negative_discrimination.value
    too_hard = QuestionFlag.too_hard.value
    too_easy = QuestionFlag.too_easy.value


async def bank_reader(principal: CurrentPrincipal, session: SessionDep) -> Principal:
    """The caller, unless his bank is sealed while a formal exam of his unit runs (``app.accounts.visibility``)."""
    await visibility.ensure_bank_readable(session, principal)
    return principal


# Every route that replies with stored questions (keys included) reads through the seal.
BankReader = Annotated[Principal, Depends(bank_reader)]


def _filter(
    type: QuestionType | None = None,
    category: Category | None = None,
    unit_id: int | None = None,
    tag: str | None = None,
    knowledge_point: str | None = None,
    status: QuestionStatus | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    flag: FlagFilter | None = None,
) -> QuestionFilter:
    return QuestionFilter(
        type=type,
        category=category,
        unit_id=unit_id,
        tag=tag,
        knowledge_point=knowledge_point,
        status=status,
        q=q.strip() if q else None,
        flag=flag.value if flag else None,
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


@router.get("/api/questions", response_model=Paged[QuestionRead])
async def list_questions(
    principal: BankReader, session: SessionDep, flt: FilterDep, page: PageQuery
) -> Paged[QuestionRead]:
    """Questions by type, category, unit, tag, status and text search, in id order; `{items, total}`."""
    items, total = await service.search_questions(session, flt=flt, principal=principal, page=page)
    return Paged[QuestionRead](items=[QuestionRead.model_validate(q) for q in items], total=total)


@router.post("/api/questions/import", response_model=ImportResult)
async def import_questions(
    principal: CurrentPrincipal,
    reader: ReadSessionDep,
    session: SessionDep,
    clock: ClockDep,
    file: Annotated[UploadFile, File()],
    category: Annotated[Category | None, Form()] = None,
    unit_code: Annotated[str | None, Form(max_length=32)] = None,
    difficulty: Annotated[int | None, Form(ge=1, le=5)] = None,
) -> ImportResult:
    """Import questions from .xlsx, .csv, .json or an interchange format; one bad row rejects the file."""
    content = await read_upload(file)
    defaults = importer.ImportDefaults(category=category, unit_code=unit_code or None, difficulty=difficulty)
    return await importer.import_questions(
        reader,
        session,
        filename=file.filename or "",
        content=content,
        defaults=defaults,
        principal=principal,
        now=clock.now(),
        clock=clock,
    )


@router.get(
    "/api/questions/export",
    response_class=Response,
    responses=file_responses(XLSX, CSV, JSON, description="the questions as .xlsx, .csv or .json"),
)
async def export_questions(
    principal: BankReader,
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
    "/api/questions/template",
    response_class=Response,
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
async def get_question(question_id: int, principal: BankReader, session: SessionDep) -> QuestionRead:
    """One question as stored now."""
    return QuestionRead.model_validate(await service.get_visible_question(session, question_id, principal))


@router.patch("/api/questions/{question_id}", response_model=QuestionRead)
async def update_question(
    question_id: int, body: QuestionUpdate, principal: BankReader, session: SessionDep, clock: ClockDep
) -> QuestionRead:
    """Edit a question; each edit stores a new version."""
    changes = body.model_dump(mode="json", exclude_unset=True)
    question = await service.update_question(
        session, question_id=question_id, changes=changes, principal=principal, now=clock.now()
    )
    return QuestionRead.model_validate(question)


@router.get("/api/questions/{question_id}/versions", response_model=list[QuestionVersionRead])
async def list_versions(question_id: int, principal: BankReader, session: SessionDep) -> list[QuestionVersionRead]:
    """Every stored version of a question, oldest first."""
    await service.get_visible_question(session, question_id, principal)
    return [QuestionVersionRead.model_validate(v) for v in await service.list_versions(session, question_id)]


@router.post("/api/questions/retire", response_model=list[QuestionRead])
async def retire_questions(
    body: QuestionsRetire, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> list[QuestionRead]:
    """Retire several questions at once (the flag list's action); all or none."""
    return [
        QuestionRead.model_validate(
            await service.set_status(
                session, question_id=question_id, status=QuestionStatus.retired, principal=principal, now=clock.now()
            )
        )
        for question_id in dict.fromkeys(body.question_ids)
    ]


@router.post("/api/questions/{question_id}/retire", response_model=QuestionRead)
async def retire_question(
    question_id: int, principal: BankReader, session: SessionDep, clock: ClockDep
) -> QuestionRead:
    """Retire a question: it stays on papers already drawn but is drawn no more."""
    question = await service.set_status(
        session, question_id=question_id, status=QuestionStatus.retired, principal=principal, now=clock.now()
    )
    return QuestionRead.model_validate(question)


@router.post("/api/questions/{question_id}/restore", response_model=QuestionRead)
async def restore_question(
    question_id: int, principal: BankReader, session: SessionDep, clock: ClockDep
) -> QuestionRead:
    """Put a retired question back into the draw."""
    question = await service.set_status(
        session, question_id=question_id, status=QuestionStatus.active, principal=principal, now=clock.now()
    )
    return QuestionRead.model_validate(question)
