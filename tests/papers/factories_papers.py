"""Factories for blueprints, question pools, exams and participants (they commit, like tests/factories.py)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.bank.models import Question, QuestionVersion
from app.bank.normalise import normalise_question
from app.bank.service import question_row
from app.exams.models import Attempt, Exam, ExamUnit, Participant
from app.papers.models import Blueprint
from app.papers.quotas import PRESET_JIBEN_LILUN_PLUS, compute_quotas, quota_rows, sections_from
from tests.factories import make_user, question_data, unique

PRESET_SECTIONS = PRESET_JIBEN_LILUN_PLUS["sections"]
PRESET_SPLIT = PRESET_JIBEN_LILUN_PLUS["category_split"]
SMALL_SECTIONS = [
    {"type": "single", "count": 5, "points": 4},
    {"type": "multiple", "count": 5, "points": 8},
    {"type": "judge", "count": 5, "points": 8},
]
_seq = itertools.count(1)


async def make_blueprint(
    session: AsyncSession,
    sections: Sequence[dict[str, Any]] = PRESET_SECTIONS,
    split: dict[str, float] | None = None,
    **overrides: Any,
) -> Blueprint:
    split = dict(split or PRESET_SPLIT)
    table = compute_quotas(sections_from(sections), split)
    values: dict[str, Any] = {
        "name": unique("组卷规则"),
        "time_limit_seconds": 1800,
        "sections": list(sections),
        "category_split": split,
        "quotas": quota_rows(table),
        "multiple_scoring": "all_or_nothing",
    }
    values.update(overrides)
    blueprint = Blueprint(**values)
    session.add(blueprint)
    await session.commit()
    return blueprint


async def add_questions(
    session: AsyncSession,
    *,
    type: str,
    category: str,
    count: int,
    unit_id: int | None = None,
    difficulties: Sequence[int] | None = None,
) -> list[int]:
    """``count`` active questions (version 1 each) written with Core inserts; returns their ids."""
    if count <= 0:
        return []
    cleans = []
    for index in range(count):
        difficulty = difficulties[index % len(difficulties)] if difficulties else 3
        data = question_data(
            type, category, unit_id, difficulty=difficulty, stem=f"第{next(_seq)}题：依据有关规定，下列说法正确的是"
        )
        clean, problems = normalise_question(data)
        assert clean is not None, problems
        cleans.append(clean)
    ids = list(
        (
            await session.scalars(
                insert(Question).returning(Question.id, sort_by_parameter_order=True),
                [{**question_row(c), "version": 1} for c in cleans],
            )
        ).all()
    )
    version_ids = list(
        (
            await session.scalars(
                insert(QuestionVersion).returning(QuestionVersion.id, sort_by_parameter_order=True),
                [{"question_id": qid, "version": 1, **c.content()} for qid, c in zip(ids, cleans, strict=True)],
            )
        ).all()
    )
    await session.execute(
        update(Question), [{"id": qid, "current_version_id": vid} for qid, vid in zip(ids, version_ids, strict=True)]
    )
    await session.commit()
    return ids


async def stock_bank(
    session: AsyncSession,
    unit_ids: Sequence[int],
    *,
    sections: Sequence[dict[str, Any]] = PRESET_SECTIONS,
    split: dict[str, float] | None = None,
    shared_factor: float = 1.0,
    spare: int = 2,
    difficulties: Sequence[int] | None = None,
) -> None:
    """Enough questions for every quota: ``count × shared_factor + spare`` shared, ``count + spare`` per unit."""
    table = compute_quotas(sections_from(sections), dict(split or PRESET_SPLIT))
    for quota in table.quotas:
        if quota.count == 0:
            continue
        if quota.category == "policy":
            for unit_id in unit_ids:
                await add_questions(
                    session,
                    type=quota.type,
                    category="policy",
                    unit_id=unit_id,
                    count=quota.count + spare,
                    difficulties=difficulties,
                )
        else:
            await add_questions(
                session,
                type=quota.type,
                category=quota.category,
                count=int(quota.count * shared_factor) + spare,
                difficulties=difficulties,
            )


async def make_exam(session: AsyncSession, blueprint: Blueprint, unit_ids: Sequence[int], **overrides: Any) -> Exam:
    values: dict[str, Any] = {
        "name": unique("考试"),
        "blueprint_id": blueprint.id,
        "mode": "formal",
        "status": "draft",
        "seed": 12345,
        "time_limit_seconds": blueprint.time_limit_seconds,
        "multiple_scoring": blueprint.multiple_scoring,
        "difficulty_tolerance": 0.02,
        "max_attempts": 1,
        "shuffle_questions": True,
        "shuffle_options": True,
    }
    values.update(overrides)
    exam = Exam(**values)
    session.add(exam)
    await session.flush()
    await session.execute(insert(ExamUnit), [{"exam_id": exam.id, "unit_id": u} for u in unit_ids])
    await session.commit()
    return exam


async def start_attempt(
    session: AsyncSession, exam_id: int, paper_id: int, unit_id: int, cadre_id: int, *, status: str = "in_progress"
) -> Attempt:
    """An attempt row as the attempts service would write it (enough for the lifecycle checks)."""
    from sqlalchemy import select

    participant = await session.scalar(
        select(Participant).where(Participant.exam_id == exam_id, Participant.cadre_id == cadre_id)
    )
    if participant is None:
        user = await make_user(session)
        participant = Participant(
            exam_id=exam_id, cadre_id=cadre_id, unit_id=unit_id, rank="ke", ticket_no=unique("T"), user_id=user.id
        )
        session.add(participant)
        await session.flush()
    now = datetime(2026, 9, 10, 1, 0, tzinfo=UTC)
    attempt = Attempt(
        exam_id=exam_id,
        participant_id=participant.id,
        paper_id=paper_id,
        unit_id=unit_id,
        status=status,
        started_at=now,
        deadline_at=now + timedelta(minutes=30),
        shuffle_seed=1,
        question_order=[],
        option_orders={},
        submitted_at=now if status == "submitted" else None,
    )
    session.add(attempt)
    await session.commit()
    return attempt
