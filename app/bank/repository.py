"""Queries over the question bank (no rules here: the service decides who may see what)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bank.models import Category, Question, QuestionTag
from app.core.paging import Page, scalar_page


@dataclass(frozen=True, slots=True)
class QuestionFilter:
    type: str | None = None
    category: str | None = None
    unit_id: int | None = None
    tag: str | None = None
    knowledge_point: str | None = None
    status: str | None = None
    q: str | None = None
    # Restricts a unit admin to the shared bank plus his own unit's policy questions.
    visible_unit_id: int | None = None
    ids: tuple[int, ...] | None = None
    # A statistics flag (``too_easy`` …), or ``any`` for every flagged question.
    flag: str | None = None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filtered_questions(flt: QuestionFilter) -> Select[Any]:
    query = select(Question)
    if flt.type:
        query = query.where(Question.type == flt.type)
    if flt.category:
        query = query.where(Question.category == flt.category)
    if flt.unit_id is not None:
        query = query.where(Question.unit_id == flt.unit_id)
    if flt.status:
        query = query.where(Question.status == flt.status)
    if flt.knowledge_point:
        query = query.where(Question.knowledge_point == flt.knowledge_point)
    if flt.tag:
        query = query.where(Question.id.in_(select(QuestionTag.question_id).where(QuestionTag.tag == flt.tag)))
    if flt.q:
        for word in flt.q.lower().split():
            query = query.where(Question.search_text.like(f"%{_like_escape(word)}%", escape="\\"))
    if flt.visible_unit_id is not None:
        query = query.where(or_(Question.category != Category.policy, Question.unit_id == flt.visible_unit_id))
    if flt.ids is not None:
        query = query.where(Question.id.in_(flt.ids))
    if flt.flag == "any":
        query = query.where(Question.stat_flags != "")
    elif flt.flag:
        query = query.where(Question.stat_flags.contains(f",{flt.flag},", autoescape=True))
    return query


async def page_questions(session: AsyncSession, flt: QuestionFilter, *, page: Page) -> tuple[list[Question], int]:
    return await scalar_page(session, filtered_questions(flt).order_by(Question.id), page)


async def all_questions(session: AsyncSession, flt: QuestionFilter) -> list[Question]:
    query = filtered_questions(flt).order_by(Question.id)
    return list((await session.scalars(query)).all())
