"""Queries for blueprints, papers and the draw's candidate pool (no rules here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Subquery, and_, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bank.models import Question, QuestionStatus, QuestionVersion, published
from app.core.paging import Page, scalar_page
from app.papers.draw import SHARED_CATEGORIES, Candidate
from app.papers.models import Blueprint, Paper, PaperSlot
from app.papers.quotas import TYPE_ORDER as ALL_TYPES


async def load_candidates(
    session: AsyncSession,
    *,
    types: Sequence[str],
    categories: Sequence[str],
    unit_ids: Sequence[int],
    observed: Subquery | None = None,
) -> list[Candidate]:
    """Every active question the draw may use, as candidate tuples, in one query ordered by id.

    Theory and law come from the shared bank; policy only from the banks of ``unit_ids``. ``observed``
    is an optional subquery ``(question_id, facility)`` of observed correct rates to join in.
    """
    questions = Question.__table__.c
    shared = sorted(c for c in categories if c in SHARED_CATEGORIES)
    # Core, so the ORM's staging filter does not apply: the rule is added by hand.
    conditions: list[ColumnElement[bool]] = [questions.status == QuestionStatus.active, published(questions)]
    # Filters that every row passes anyway are left out: with them SQLite walks the pool index and sorts
    # 100,000 rows, without them it scans the table in id order, more than twice as fast.
    if set(types) != set(ALL_TYPES):
        if not types:
            return []
        conditions.append(questions.type.in_(sorted(types)))
    wants_policy = "policy" in categories and bool(unit_ids)
    if wants_policy and set(shared) == SHARED_CATEGORIES:
        conditions.append(or_(questions.category != "policy", questions.unit_id.in_(sorted(unit_ids))))
    elif wants_policy:
        conditions.append(
            or_(
                questions.category.in_(shared),
                and_(questions.category == "policy", questions.unit_id.in_(sorted(unit_ids))),
            )
        )
    elif shared:
        conditions.append(questions.category.in_(shared))
    else:
        return []
    facility: Any = observed.c.facility if observed is not None else null()
    query = select(
        questions.id,
        questions.current_version_id,
        questions.type,
        questions.category,
        questions.unit_id,
        questions.difficulty,
        facility,
    )
    if observed is not None:
        query = query.select_from(Question.__table__.outerjoin(observed, observed.c.question_id == questions.id))
    query = query.where(*conditions, questions.current_version_id.is_not(None)).order_by(questions.id)
    # Core, not the ORM: plain rows, without the ORM's per-row loading work.
    connection = await session.connection()
    result = await connection.execute(query)
    # Rows index like tuples; copying 100,000 of them into tuples would cost more than the draw.
    return cast(list[Candidate], result.all())


async def versions_by_id(session: AsyncSession, version_ids: Sequence[int]) -> dict[int, QuestionVersion]:
    """The pinned question snapshots, by version id."""
    if not version_ids:
        return {}
    rows = await session.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(sorted(set(version_ids)))))
    return {v.id: v for v in rows}


async def list_blueprints(session: AsyncSession, *, page: Page) -> tuple[list[Blueprint], int]:
    return await scalar_page(session, select(Blueprint).order_by(Blueprint.id), page)


async def preset_blueprint(session: AsyncSession, name: str) -> Blueprint | None:
    return await session.scalar(
        select(Blueprint).where(Blueprint.is_preset.is_(True), Blueprint.name == name).order_by(Blueprint.id).limit(1)
    )


async def papers_of_exam(session: AsyncSession, exam_id: int) -> Sequence[Paper]:
    return (await session.scalars(select(Paper).where(Paper.exam_id == exam_id).order_by(Paper.unit_id))).all()


async def slots_of_papers(session: AsyncSession, paper_ids: Sequence[int]) -> dict[int, list[PaperSlot]]:
    """Each paper's slots in position order."""
    slots: dict[int, list[PaperSlot]] = {paper_id: [] for paper_id in paper_ids}
    if not paper_ids:
        return slots
    rows = await session.scalars(
        select(PaperSlot)
        .where(PaperSlot.paper_id.in_(list(paper_ids)))
        .order_by(PaperSlot.paper_id, PaperSlot.position)
    )
    for slot in rows:
        slots[slot.paper_id].append(slot)
    return slots
