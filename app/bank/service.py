"""The question bank: create, edit (each edit a new version), retire, restore, browse, and permissions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.bank import repository
from app.bank.models import Category, Question, QuestionStatus, QuestionTag, QuestionVersion
from app.bank.normalise import CleanQuestion, Problems, normalise_question, search_text, stem_fingerprint
from app.bank.repository import QuestionFilter
from app.core.audit import record_audit
from app.core.errors import ForbiddenError, NotFoundError, UnprocessableError
from app.core.paging import Page
from app.org import service as org_service

BANK_READERS = (Role.bank_editor, Role.organiser, Role.supervisor)


def problems_as_detail(problems: Problems) -> list[dict[str, Any]]:
    """Problems in FastAPI's validation-error shape."""
    return [{"loc": ["body", *name.split(".")], "msg": message, "type": "value_error"} for name, message in problems]


def ensure_can_read_bank(principal: Principal) -> None:
    if not (principal.has_any(*BANK_READERS) or Role.unit_admin in principal.roles):
        raise ForbiddenError("考生不能查看题库")


def visible_unit_for(principal: Principal) -> int | None:
    """None when the caller sees the whole bank, else the unit whose policy questions he may see."""
    if principal.has_any(*BANK_READERS):
        return None
    return principal.unit_id if principal.unit_id is not None else -1


def may_edit(principal: Principal, category: str, unit_id: int | None) -> bool:
    """Bank editors keep the shared theory and law bank; a unit admin keeps his unit's policy bank."""
    if Role.admin in principal.roles:
        return True
    if category in {Category.theory, Category.law}:
        return Role.bank_editor in principal.roles
    return Role.unit_admin in principal.roles and unit_id is not None and principal.unit_id == unit_id


def ensure_can_edit(principal: Principal, category: str, unit_id: int | None) -> None:
    if not may_edit(principal, category, unit_id):
        if category == Category.policy:
            raise ForbiddenError("只有本单位管理员可以修改本单位的部门政策题")
        raise ForbiddenError("只有题库管理员可以修改基本理论和基础法律题")


def question_row(clean: CleanQuestion) -> dict[str, Any]:
    """Column values of ``questions`` for a cleaned question."""
    return {
        **clean.content(),
        "search_text": search_text(clean.stem, clean.options),
        "stem_hash": stem_fingerprint(clean.type, clean.stem),
    }


async def _resolve_unit(session: AsyncSession, clean: CleanQuestion) -> None:
    if clean.unit_id is not None:
        await org_service.get_unit(session, clean.unit_id)
    elif clean.unit_code is not None:
        ids = await org_service.units_by_code(session, {clean.unit_code})
        if clean.unit_code not in ids:
            raise UnprocessableError(
                [
                    {
                        "loc": ["body", "unit_code"],
                        "msg": f"单位代码 {clean.unit_code} 不存在",
                        "type": "value_error",
                    }
                ]
            )
        clean.unit_id = ids[clean.unit_code]


def clean_or_raise(data: dict[str, Any]) -> CleanQuestion:
    clean, problems = normalise_question(data)
    if clean is None:
        raise UnprocessableError(problems_as_detail(problems))
    return clean


async def _write_version(
    session: AsyncSession,
    question_id: int,
    version: int,
    clean: CleanQuestion,
    *,
    actor_id: int | None,
    note: str | None,
    now: datetime,
) -> int:
    version_id = await session.scalar(
        insert(QuestionVersion)
        .values(
            question_id=question_id,
            version=version,
            change_note=note,
            created_by=actor_id,
            created_at=now,
            **clean.content(),
        )
        .returning(QuestionVersion.id)
    )
    assert version_id is not None
    return int(version_id)


async def _replace_tags(session: AsyncSession, question_id: int, tags: list[str]) -> None:
    await session.execute(delete(QuestionTag).where(QuestionTag.question_id == question_id))
    if tags:
        await session.execute(insert(QuestionTag), [{"question_id": question_id, "tag": t} for t in tags])


async def create_question(
    session: AsyncSession, *, data: dict[str, Any], principal: Principal, now: datetime
) -> Question:
    """Validate, normalise and store a new question as version 1."""
    clean = clean_or_raise(data)
    await _resolve_unit(session, clean)
    ensure_can_edit(principal, clean.category, clean.unit_id)
    question = Question(**question_row(clean), version=1, created_by=principal.id, created_at=now, updated_at=now)
    session.add(question)
    await session.flush()
    question.current_version_id = await _write_version(
        session, question.id, 1, clean, actor_id=principal.id, note=None, now=now
    )
    await _replace_tags(session, question.id, clean.tags)
    await session.flush()
    await record_audit(
        session,
        actor_id=principal.id,
        action="question.create",
        entity="question",
        entity_id=question.id,
        at=now,
    )
    return question


async def get_question(session: AsyncSession, question_id: int) -> Question:
    question = await session.get(Question, question_id)
    if question is None:
        raise NotFoundError(f"题目 {question_id} 不存在")
    return question


async def get_visible_question(session: AsyncSession, question_id: int, principal: Principal) -> Question:
    ensure_can_read_bank(principal)
    question = await get_question(session, question_id)
    unit = visible_unit_for(principal)
    if unit is not None and question.category == Category.policy and question.unit_id != unit:
        raise NotFoundError(f"题目 {question_id} 不存在")
    return question


CONTENT_FIELDS = (
    "type", "category", "unit_id", "stem", "options", "answer", "difficulty", "knowledge_point",
    "explanation", "legal_basis", "tags",
)  # fmt: skip


async def update_question(
    session: AsyncSession, *, question_id: int, changes: dict[str, Any], principal: Principal, now: datetime
) -> Question:
    """Apply changes as a new version; drawn papers keep the version they pinned."""
    question = await get_question(session, question_id)
    ensure_can_edit(principal, question.category, question.unit_id)
    note = changes.pop("change_note", None)
    merged = {name: getattr(question, name) for name in CONTENT_FIELDS}
    merged.update(changes)
    if merged["type"] == "judge" and "options" not in changes:
        merged["options"] = None
    if changes.get("category") in {Category.theory, Category.law} and "unit_id" not in changes:
        merged["unit_id"] = None
    clean = clean_or_raise(merged)
    await _resolve_unit(session, clean)
    ensure_can_edit(principal, clean.category, clean.unit_id)
    before = {name: getattr(question, name) for name in CONTENT_FIELDS}
    if clean.content() == before:
        return question
    version = question.version + 1
    version_id = await _write_version(session, question.id, version, clean, actor_id=principal.id, note=note, now=now)
    for name, value in question_row(clean).items():
        setattr(question, name, value)
    question.version = version
    question.current_version_id = version_id
    question.updated_at = now
    await _replace_tags(session, question.id, clean.tags)
    await session.flush()
    changed = {k: {"old": before[k], "new": v} for k, v in clean.content().items() if before[k] != v}
    await record_audit(
        session,
        actor_id=principal.id,
        action="question.update",
        entity="question",
        entity_id=question.id,
        detail={"version": version, "changes": changed, "note": note},
        at=now,
    )
    return question


async def set_status(
    session: AsyncSession, *, question_id: int, status: QuestionStatus, principal: Principal, now: datetime
) -> Question:
    """Retire a question (it is no longer drawn) or restore it."""
    question = await get_question(session, question_id)
    ensure_can_edit(principal, question.category, question.unit_id)
    if question.status != status:
        question.status = status
        question.updated_at = now
        await session.flush()
        await record_audit(
            session,
            actor_id=principal.id,
            action=f"question.{'retire' if status == QuestionStatus.retired else 'restore'}",
            entity="question",
            entity_id=question.id,
            at=now,
        )
    return question


async def list_versions(session: AsyncSession, question_id: int) -> Sequence[QuestionVersion]:
    return (
        await session.scalars(
            select(QuestionVersion).where(QuestionVersion.question_id == question_id).order_by(QuestionVersion.version)
        )
    ).all()


async def search_questions(
    session: AsyncSession, *, flt: QuestionFilter, principal: Principal, page: Page
) -> tuple[list[Question], int]:
    """A page of the questions the caller may see, with the total."""
    ensure_can_read_bank(principal)
    flt = replace(flt, visible_unit_id=visible_unit_for(principal))
    return await repository.page_questions(session, flt, page=page)
