"""Blueprints (checked and split into quotas) and papers (stored from a draw, pinned to question versions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.bank.models import CATEGORY_LABELS, TYPE_LABELS, Category, QuestionType, QuestionVersion
from app.core.audit import record_audit
from app.core.errors import ForbiddenError, NotFoundError, UnprocessableError
from app.core.paging import Page
from app.core.tabular import Cell, SheetSpec, write_workbook
from app.papers import repository
from app.papers.draw import DrawnPaper, FixedPaper
from app.papers.models import Blueprint, MultipleScoring, Paper, PaperSlot
from app.papers.quotas import (
    PRESETS,
    QuotaTable,
    check_blueprint,
    compute_quotas,
    quota_rows,
    sections_from,
)
from app.papers.schemas import (
    BlueprintCreate,
    BlueprintPreview,
    BlueprintRead,
    BlueprintSpec,
    PaperDetail,
    PaperSlotDetail,
    PresetRead,
)

BLUEPRINT_WRITERS = (Role.organiser, Role.unit_admin)
OPTION_KEYS = "ABCDEFGH"


def ensure_blueprint_write(principal: Principal) -> None:
    if not principal.has_any(*BLUEPRINT_WRITERS):
        raise ForbiddenError("只有考务和单位管理员（用于练习）可以制定组卷规则")


def ensure_blueprint_read(principal: Principal) -> None:
    if principal.is_examinee_only:
        raise ForbiddenError("考生不能查看组卷规则")


def _problems_detail(problems: Sequence[tuple[tuple[str | int, ...], str]]) -> list[dict[str, Any]]:
    return [{"loc": ["body", *loc], "msg": message, "type": "value_error"} for loc, message in problems]


def evaluate_blueprint(spec: BlueprintSpec) -> tuple[QuotaTable, list[str]]:
    """The quota table and warnings of a blueprint, or a 422 naming every field that is wrong."""
    sections = [s.model_dump(mode="json") for s in spec.sections]
    problems = check_blueprint(
        time_limit_seconds=spec.time_limit_seconds, sections=sections, category_split=spec.category_split
    )
    if problems:
        raise UnprocessableError(_problems_detail(problems))
    table = compute_quotas(sections_from(sections), spec.category_split)
    if spec.total_questions is not None and spec.total_questions != table.total_questions:
        problems.append(
            (("total_questions",), f"各题型合计 {table.total_questions} 题，不是 {spec.total_questions} 题")
        )
    if spec.total_points is not None and abs(spec.total_points - table.total_points) > 1e-9:
        problems.append((("total_points",), f"各题型合计 {table.total_points:g} 分，不是 {spec.total_points:g} 分"))
    if problems:
        raise UnprocessableError(_problems_detail(problems))
    warnings: list[str] = []
    if abs(table.total_points - 100) > 1e-9:
        warnings.append(f"试卷总分为 {table.total_points:g} 分；成绩与及格线按满分 100 分计算")
    if spec.multiple_scoring == MultipleScoring.partial and not any(
        s.type == QuestionType.multiple for s in spec.sections
    ):
        warnings.append("少选得分只适用于多选题，而本规则没有多选题")
    return table, warnings


def _preview(
    *,
    name: str | None,
    time_limit_seconds: int,
    sections: list[dict[str, Any]],
    category_split: dict[str, Any],
    multiple_scoring: str,
    table: QuotaTable,
    warnings: list[str],
) -> dict[str, Any]:
    return {
        "name": name,
        "time_limit_seconds": time_limit_seconds,
        "sections": sections,
        "category_split": category_split,
        "multiple_scoring": multiple_scoring,
        "total_questions": table.total_questions,
        "total_points": table.total_points,
        "quotas": quota_rows(table),
        "by_category": table.by_category,
        "rounded": table.rounded,
        "rounding_note": table.rounding_note,
        "warnings": warnings,
    }


def preview_blueprint(spec: BlueprintSpec) -> BlueprintPreview:
    """The quota table a blueprint would give, without storing it."""
    table, warnings = evaluate_blueprint(spec)
    return BlueprintPreview.model_validate(
        _preview(
            name=spec.name,
            time_limit_seconds=spec.time_limit_seconds,
            sections=[s.model_dump(mode="json") for s in spec.sections],
            category_split={k: spec.category_split.get(k, 0) for k in ("theory", "law", "policy")},
            multiple_scoring=spec.multiple_scoring,
            table=table,
            warnings=warnings,
        )
    )


def blueprint_read(blueprint: Blueprint) -> BlueprintRead:
    table = compute_quotas(sections_from(blueprint.sections), blueprint.category_split)
    warnings = (
        []
        if abs(table.total_points - 100) < 1e-9
        else [f"试卷总分为 {table.total_points:g} 分；成绩与及格线按满分 100 分计算"]
    )
    return BlueprintRead.model_validate(
        {
            **_preview(
                name=blueprint.name,
                time_limit_seconds=blueprint.time_limit_seconds,
                sections=blueprint.sections,
                category_split=blueprint.category_split,
                multiple_scoring=blueprint.multiple_scoring,
                table=table,
                warnings=warnings,
            ),
            "id": blueprint.id,
            "is_preset": blueprint.is_preset,
            "created_by": blueprint.created_by,
            "created_at": blueprint.created_at,
        }
    )


async def create_blueprint(
    session: AsyncSession, *, data: BlueprintCreate, principal: Principal, now: datetime, is_preset: bool = False
) -> Blueprint:
    """Check a blueprint, compute its quota table and store both."""
    ensure_blueprint_write(principal)
    table, _ = evaluate_blueprint(data)
    blueprint = Blueprint(
        name=data.name.strip(),
        time_limit_seconds=data.time_limit_seconds,
        sections=[s.model_dump(mode="json") for s in data.sections],
        category_split={k: data.category_split.get(k, 0) for k in ("theory", "law", "policy")},
        quotas=quota_rows(table),
        multiple_scoring=data.multiple_scoring,
        is_preset=is_preset,
        created_by=principal.id,
        created_at=now,
    )
    session.add(blueprint)
    await session.flush()
    await record_audit(
        session,
        actor_id=principal.id,
        action="blueprint.create",
        entity="blueprint",
        entity_id=blueprint.id,
        detail={"name": blueprint.name, "quotas": blueprint.quotas},
        at=now,
    )
    return blueprint


async def get_blueprint(session: AsyncSession, blueprint_id: int) -> Blueprint:
    blueprint = await session.get(Blueprint, blueprint_id)
    if blueprint is None:
        raise NotFoundError(f"组卷规则 {blueprint_id} 不存在")
    return blueprint


async def list_blueprints(session: AsyncSession, *, page: Page) -> tuple[list[Blueprint], int]:
    """A page of the stored blueprints, oldest first, and how many there are."""
    return await repository.list_blueprints(session, page=page)


async def list_presets(session: AsyncSession) -> list[PresetRead]:
    """The built-in blueprints, each with the id of its stored copy when there is one."""
    presets = []
    for key, spec in PRESETS.items():
        preview = preview_blueprint(BlueprintSpec.model_validate(spec))
        stored = await repository.preset_blueprint(session, spec["name"])
        presets.append(
            PresetRead.model_validate(
                {**preview.model_dump(), "key": key, "blueprint_id": stored.id if stored else None}
            )
        )
    return presets


async def ensure_preset(session: AsyncSession, *, key: str, principal: Principal, now: datetime) -> Blueprint:
    """The stored blueprint of a built-in preset, created on first use."""
    ensure_blueprint_write(principal)
    spec = PRESETS.get(key)
    if spec is None:
        raise NotFoundError(f"没有预设规则 {key!r}；可选：{'、'.join(PRESETS)}")
    stored = await repository.preset_blueprint(session, spec["name"])
    if stored is not None:
        return stored
    return await create_blueprint(
        session, data=BlueprintCreate.model_validate(spec), principal=principal, now=now, is_preset=True
    )


# Papers ---------------------------------------------------------------------------------------------


def _served_options(version: QuestionVersion) -> list[dict[str, str]]:
    return [{"key": str(o["key"]), "text": str(o["text"])} for o in version.options]


def build_paper_content(
    paper: DrawnPaper, versions: Mapping[int, QuestionVersion]
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The served paper (no keys) and its answer key, from the pinned version snapshots."""
    content: list[dict[str, Any]] = []
    answer_key: dict[str, list[str]] = {}
    for no, slot in enumerate(paper.slots, start=1):
        version = versions[slot.version_id]
        content.append(
            {
                "no": no,
                "type": version.type,
                "category": version.category,
                "points": slot.points,
                "stem": version.stem,
                "options": _served_options(version),
            }
        )
        answer_key[str(no)] = [str(k) for k in version.answer]
    return content, answer_key


async def store_papers(
    session: AsyncSession,
    *,
    exam_id: int,
    drawn: Sequence[DrawnPaper],
    seed: int,
    existing: Mapping[int, Paper],
    now: datetime,
) -> list[Paper]:
    """Write drawn papers with their pinned slots; a unit's existing paper is replaced in place (same id)."""
    versions = await repository.versions_by_id(session, [s.version_id for p in drawn for s in p.slots])
    papers: list[Paper] = []
    for drawn_paper in drawn:
        content, answer_key = build_paper_content(drawn_paper, versions)
        total_points = float(sum(s.points for s in drawn_paper.slots))
        paper = existing.get(drawn_paper.unit_id)
        if paper is None:
            paper = Paper(exam_id=exam_id, unit_id=drawn_paper.unit_id)
            session.add(paper)
        else:
            await session.execute(delete(PaperSlot).where(PaperSlot.paper_id == paper.id))
        paper.seed = seed
        paper.expected_difficulty = drawn_paper.expected_difficulty
        paper.total_points = total_points
        paper.content = content
        paper.answer_key = answer_key
        paper.created_at = now
        papers.append(paper)
    await session.flush()
    rows = [
        {
            "paper_id": paper.id,
            "position": no,
            "question_id": slot.question_id,
            "question_version_id": slot.version_id,
            "type": slot.type,
            "category": slot.category,
            "points": slot.points,
        }
        for paper, drawn_paper in zip(papers, drawn, strict=True)
        for no, slot in enumerate(drawn_paper.slots, start=1)
    ]
    if rows:
        await session.execute(insert(PaperSlot), rows)
    return papers


async def papers_of_exam(session: AsyncSession, exam_id: int) -> Sequence[Paper]:
    """The exam's papers, by unit."""
    return await repository.papers_of_exam(session, exam_id)


async def slots_of_papers(session: AsyncSession, paper_ids: Sequence[int]) -> dict[int, list[PaperSlot]]:
    """Each paper's pinned slots in paper order."""
    return await repository.slots_of_papers(session, paper_ids)


async def fixed_papers(session: AsyncSession, papers: Sequence[Paper]) -> dict[int, FixedPaper]:
    """Papers that a redraw keeps, in the shape the draw takes them."""
    slots = await repository.slots_of_papers(session, [p.id for p in papers])
    return {
        p.unit_id: FixedPaper(
            question_ids=frozenset(s.question_id for s in slots[p.id]), expected_difficulty=p.expected_difficulty
        )
        for p in papers
    }


async def delete_papers(session: AsyncSession, exam_id: int) -> int:
    """Discard an exam's papers (their slots go with them)."""
    result = await session.execute(delete(Paper).where(Paper.exam_id == exam_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def paper_detail(session: AsyncSession, paper: Paper) -> PaperDetail:
    """A paper with its key, explanations and the pinned version of every question (organisers only)."""
    slots = (await repository.slots_of_papers(session, [paper.id]))[paper.id]
    versions = await repository.versions_by_id(session, [s.question_version_id for s in slots])
    by_no = {int(item["no"]): item for item in paper.content}
    questions = []
    for slot in slots:
        version = versions[slot.question_version_id]
        item = by_no[slot.position]
        questions.append(
            PaperSlotDetail(
                no=slot.position,
                type=QuestionType(item["type"]),
                category=Category(item["category"]),
                points=slot.points,
                stem=item["stem"],
                options=item["options"],
                answer=list(paper.answer_key.get(str(slot.position), [])),
                question_id=slot.question_id,
                question_version_id=slot.question_version_id,
                version=version.version,
                difficulty=version.difficulty,
                knowledge_point=version.knowledge_point,
                explanation=version.explanation,
                legal_basis=version.legal_basis,
            )
        )
    return PaperDetail(
        paper_id=paper.id,
        exam_id=paper.exam_id,
        unit_id=paper.unit_id,
        seed=paper.seed,
        expected_difficulty=paper.expected_difficulty,
        total_points=paper.total_points,
        created_at=paper.created_at,
        questions=questions,
    )


def _paper_workbook(detail: PaperDetail, title: str) -> bytes:
    headers = ["题号", "题型", "类别", "分值", "题干", *[f"选项{k}" for k in OPTION_KEYS], "答案", "解析", "依据",
               "题目ID", "版本"]  # fmt: skip
    rows: list[list[Cell]] = []
    for question in detail.questions:
        options = {str(o["key"]): str(o["text"]) for o in question.options}
        if question.type == QuestionType.judge:
            option_cells = [""] * len(OPTION_KEYS)
            answer = "对" if question.answer == ["T"] else "错"
        else:
            option_cells = [options.get(k, "") for k in OPTION_KEYS]
            answer = "".join(question.answer)
        rows.append([
            question.no, TYPE_LABELS[question.type], CATEGORY_LABELS[question.category], question.points,
            question.stem, *option_cells, answer, question.explanation or "", question.legal_basis or "",
            question.question_id, question.version,
        ])  # fmt: skip
    widths = {4: 60} | dict.fromkeys(range(5, 5 + len(OPTION_KEYS)), 18)
    return write_workbook([SheetSpec("试卷", headers, rows, title=title, widths=widths, wrap=True)])


async def paper_workbook(detail: PaperDetail, *, title: str) -> bytes:
    """The paper with its key as an .xlsx file, written off the event loop."""
    return await anyio.to_thread.run_sync(_paper_workbook, detail, title)


async def paper_by_id(session: AsyncSession, paper_id: int) -> Paper:
    paper = await session.get(Paper, paper_id)
    if paper is None:
        raise NotFoundError(f"试卷 {paper_id} 不存在")
    return paper


async def question_ids_in_use(session: AsyncSession, exam_id: int) -> set[int]:
    """Question ids on any paper of the exam."""
    rows = await session.scalars(
        select(PaperSlot.question_id).join(Paper, Paper.id == PaperSlot.paper_id).where(Paper.exam_id == exam_id)
    )
    return set(rows)
