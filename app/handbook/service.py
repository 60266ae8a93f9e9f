"""The unit handbook: sections edited by the unit's admin, and the coverage 清单 → 手册 → 题库 counted by SQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Subquery, delete, func, insert, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.bank.models import Category, Question, QuestionStatus
from app.core.audit import record_audit
from app.core.errors import ForbiddenError, NotFoundError, UnprocessableError
from app.core.labels import needs_roles
from app.handbook.models import HandbookSection, HandbookSectionDuty, HandbookSectionQuestion
from app.handbook.schemas import (
    CoverageReport,
    DutyChain,
    HandbookGaps,
    HandbookRead,
    SectionCoverage,
    SectionCreate,
    SectionRead,
    SectionUpdate,
    UnitCoverage,
)
from app.org import service as org_service
from app.org.models import Unit, UnitDuty

HANDBOOK_READERS = (Role.organiser, Role.supervisor, Role.bank_editor)
ACTIVE = str(QuestionStatus.active)
POLICY = str(Category.policy)


def ensure_handbook_read(principal: Principal, unit_id: int) -> None:
    if not principal.can_manage_unit(unit_id, *HANDBOOK_READERS):
        raise ForbiddenError("只能查看本单位的手册 (you may only read your own unit's handbook)")


def ensure_handbook_write(principal: Principal, unit_id: int) -> None:
    """The unit's own admin edits its handbook (and the administrator)."""
    if not principal.can_manage_unit(unit_id):
        raise ForbiddenError("只有本单位管理员可以编辑本单位手册 (only the unit's admin edits its handbook)")


def readable_units(principal: Principal, unit_id: int | None) -> set[int] | None:
    """The units whose handbooks the caller may read (None: all), narrowed to ``unit_id`` when given."""
    if principal.has_any(*HANDBOOK_READERS):
        return None if unit_id is None else {unit_id}
    if Role.unit_admin in principal.roles and principal.unit_id is not None:
        if unit_id is not None and unit_id != principal.unit_id:
            raise ForbiddenError("只能查看本单位的手册 (you may only read your own unit's handbook)")
        return {principal.unit_id}
    raise ForbiddenError(needs_roles([*HANDBOOK_READERS, Role.unit_admin]))


def _field_errors(errors: list[tuple[list[str | int], str]]) -> UnprocessableError:
    return UnprocessableError([{"loc": ["body", *loc], "msg": msg, "type": "value_error"} for loc, msg in errors])


async def _checked_duty_points(session: AsyncSession, unit_id: int, points: Sequence[str]) -> list[str]:
    """The points, stripped and without repeats; each must be on the unit's duty list."""
    cleaned = list(dict.fromkeys(p.strip() for p in points))
    listed = set(
        await session.scalars(
            select(UnitDuty.knowledge_point).where(UnitDuty.unit_id == unit_id, UnitDuty.knowledge_point.in_(cleaned))
        )
    )
    errors: list[tuple[list[str | int], str]] = [
        (["duty_points", index], f"「{point}」不在本单位的职责清单中 (not on the unit's duty list)")
        for index, point in enumerate(cleaned)
        if point not in listed
    ]
    if errors:
        raise _field_errors(errors)
    return cleaned


async def _checked_questions(session: AsyncSession, unit_id: int, question_ids: Sequence[int]) -> list[int]:
    """The ids without repeats; each must be a shared question or one of the unit's own policy questions."""
    ids = list(dict.fromkeys(question_ids))
    found = {
        row.id: row
        for row in await session.execute(
            select(Question.id, Question.category, Question.unit_id).where(Question.id.in_(ids))
        )
    }
    errors: list[tuple[list[str | int], str]] = []
    for index, question_id in enumerate(ids):
        row = found.get(question_id)
        if row is None:
            errors.append((["question_ids", index], f"题目 {question_id} 不存在 (no such question)"))
        elif row.category == POLICY and row.unit_id != unit_id:
            errors.append(
                (["question_ids", index], f"题目 {question_id} 属于其他单位的题库 (a policy question of another unit)")
            )
    if errors:
        raise _field_errors(errors)
    return ids


async def _section_of(session: AsyncSession, unit_id: int, section_id: int) -> HandbookSection:
    section = await session.get(HandbookSection, section_id)
    if section is None or section.unit_id != unit_id:
        raise NotFoundError(f"手册章节 {section_id} 不存在 (section not found in unit {unit_id})")
    return section


async def _links(
    session: AsyncSession, section_ids: Sequence[int]
) -> tuple[dict[int, list[str]], dict[int, list[int]]]:
    duties: dict[int, list[str]] = defaultdict(list)
    questions: dict[int, list[int]] = defaultdict(list)
    if section_ids:
        for section_id, point in await session.execute(
            select(HandbookSectionDuty.section_id, HandbookSectionDuty.knowledge_point)
            .where(HandbookSectionDuty.section_id.in_(list(section_ids)))
            .order_by(HandbookSectionDuty.section_id, HandbookSectionDuty.knowledge_point)
        ):
            duties[section_id].append(point)
        for section_id, question_id in await session.execute(
            select(HandbookSectionQuestion.section_id, HandbookSectionQuestion.question_id)
            .where(HandbookSectionQuestion.section_id.in_(list(section_ids)))
            .order_by(HandbookSectionQuestion.section_id, HandbookSectionQuestion.question_id)
        ):
            questions[section_id].append(question_id)
    return duties, questions


def _read(section: HandbookSection, duties: dict[int, list[str]], questions: dict[int, list[int]]) -> SectionRead:
    return SectionRead(
        id=section.id,
        unit_id=section.unit_id,
        position=section.position,
        title=section.title,
        body=section.body,
        legal_basis=section.legal_basis,
        duty_points=duties.get(section.id, []),
        question_ids=questions.get(section.id, []),
        updated_at=section.updated_at,
    )


async def get_handbook(session: AsyncSession, *, unit_id: int) -> HandbookRead:
    """The unit's handbook: its sections in order, with their duty items and questions."""
    unit = await org_service.get_unit(session, unit_id)
    sections = list(
        await session.scalars(
            select(HandbookSection)
            .where(HandbookSection.unit_id == unit_id)
            .order_by(HandbookSection.position, HandbookSection.id)
            .execution_options(populate_existing=True)
        )
    )
    duties, questions = await _links(session, [s.id for s in sections])
    return HandbookRead(unit_id=unit.id, unit_name=unit.name, sections=[_read(s, duties, questions) for s in sections])


async def _replace_links(
    session: AsyncSession, section_id: int, *, duty_points: list[str] | None, question_ids: list[int] | None
) -> None:
    if duty_points is not None:
        await session.execute(delete(HandbookSectionDuty).where(HandbookSectionDuty.section_id == section_id))
        if duty_points:
            await session.execute(
                insert(HandbookSectionDuty),
                [{"section_id": section_id, "knowledge_point": point} for point in duty_points],
            )
    if question_ids is not None:
        await session.execute(delete(HandbookSectionQuestion).where(HandbookSectionQuestion.section_id == section_id))
        if question_ids:
            await session.execute(
                insert(HandbookSectionQuestion),
                [{"section_id": section_id, "question_id": question_id} for question_id in question_ids],
            )


async def _renumber(session: AsyncSession, unit_id: int, placed: HandbookSection, *, moved_down: bool = False) -> None:
    """Positions 1..n again, with ``placed`` at its position: the section there moves down (or up, when
    ``placed`` moved down from an earlier place)."""
    rows = (
        await session.execute(
            select(HandbookSection.id, HandbookSection.position).where(HandbookSection.unit_id == unit_id)
        )
    ).all()
    ordered = sorted(rows, key=lambda r: (r.position, (r.id == placed.id) == moved_down, r.id))
    changes = [{"id": r.id, "position": n} for n, r in enumerate(ordered, start=1) if r.position != n]
    if changes:
        await session.execute(update(HandbookSection), changes)
    placed.position = next(n for n, r in enumerate(ordered, start=1) if r.id == placed.id)


async def create_section(
    session: AsyncSession, *, unit_id: int, data: SectionCreate, principal: Principal, now: datetime
) -> SectionRead:
    """Add a section to the unit's handbook (at ``position``, or at the end)."""
    ensure_handbook_write(principal, unit_id)
    await org_service.get_unit(session, unit_id)
    points = await _checked_duty_points(session, unit_id, data.duty_points)
    question_ids = await _checked_questions(session, unit_id, data.question_ids)
    last = await session.scalar(select(func.max(HandbookSection.position)).where(HandbookSection.unit_id == unit_id))
    section = HandbookSection(
        unit_id=unit_id,
        position=data.position or (last or 0) + 1,
        title=data.title.strip(),
        body=data.body,
        legal_basis=(data.legal_basis or "").strip() or None,
        updated_by=principal.id,
        created_at=now,
        updated_at=now,
    )
    session.add(section)
    await session.flush()
    await _renumber(session, unit_id, section)
    await _replace_links(session, section.id, duty_points=points, question_ids=question_ids)
    await record_audit(
        session,
        actor_id=principal.id,
        action="handbook.section.create",
        entity="unit",
        entity_id=unit_id,
        detail={"section_id": section.id, "title": section.title},
        at=now,
    )
    return SectionRead(
        id=section.id,
        unit_id=unit_id,
        position=section.position,
        title=section.title,
        body=section.body,
        legal_basis=section.legal_basis,
        duty_points=sorted(points),
        question_ids=sorted(question_ids),
        updated_at=now,
    )


async def update_section(
    session: AsyncSession,
    *,
    unit_id: int,
    section_id: int,
    data: SectionUpdate,
    principal: Principal,
    now: datetime,
) -> SectionRead:
    """Change a section's text, legal basis, place or links (links given replace the old ones)."""
    ensure_handbook_write(principal, unit_id)
    section = await _section_of(session, unit_id, section_id)
    changes = data.model_dump(exclude_unset=True)
    if "title" in changes and changes["title"] is None:
        raise _field_errors([(["title"], "标题不能为空 (title cannot be empty)")])
    points = await _checked_duty_points(session, unit_id, data.duty_points) if data.duty_points is not None else None
    question_ids = (
        await _checked_questions(session, unit_id, data.question_ids) if data.question_ids is not None else None
    )
    if data.title is not None:
        section.title = data.title.strip()
    if data.body is not None:
        section.body = data.body
    if "legal_basis" in changes:
        section.legal_basis = (data.legal_basis or "").strip() or None
    moved_down = data.position is not None and data.position > section.position
    if data.position is not None:
        section.position = data.position
    section.updated_by, section.updated_at = principal.id, now
    await session.flush()
    if data.position is not None:
        await _renumber(session, unit_id, section, moved_down=moved_down)
    await _replace_links(session, section.id, duty_points=points, question_ids=question_ids)
    await record_audit(
        session,
        actor_id=principal.id,
        action="handbook.section.update",
        entity="unit",
        entity_id=unit_id,
        detail={"section_id": section.id, "fields": sorted(changes)},
        at=now,
    )
    duties, questions = await _links(session, [section.id])
    return _read(section, duties, questions)


async def delete_section(
    session: AsyncSession, *, unit_id: int, section_id: int, principal: Principal, now: datetime
) -> None:
    """Remove a section (its links go with it)."""
    ensure_handbook_write(principal, unit_id)
    section = await _section_of(session, unit_id, section_id)
    await session.execute(delete(HandbookSection).where(HandbookSection.id == section.id))
    await record_audit(
        session,
        actor_id=principal.id,
        action="handbook.section.delete",
        entity="unit",
        entity_id=unit_id,
        detail={"section_id": section.id, "title": section.title},
        at=now,
    )


# Coverage ----------------------------------------------------------------------------------------


def _covering_questions(unit_ids: set[int] | None) -> Subquery:
    """(section_id, question_id) for every active question covering a section: linked to it, or a policy
    question of its unit on one of its duty points."""
    linked = (
        select(HandbookSectionQuestion.section_id, HandbookSectionQuestion.question_id)
        .join(Question, Question.id == HandbookSectionQuestion.question_id)
        .join(HandbookSection, HandbookSection.id == HandbookSectionQuestion.section_id)
        .where(Question.status == ACTIVE)
    )
    by_point = (
        select(HandbookSectionDuty.section_id, Question.id.label("question_id"))
        .join(HandbookSection, HandbookSection.id == HandbookSectionDuty.section_id)
        .join(
            Question,
            (Question.unit_id == HandbookSection.unit_id)
            & (Question.knowledge_point == HandbookSectionDuty.knowledge_point),
        )
        .where(Question.status == ACTIVE, Question.category == POLICY)
    )
    if unit_ids is not None:
        linked = linked.where(HandbookSection.unit_id.in_(unit_ids))
        by_point = by_point.where(HandbookSection.unit_id.in_(unit_ids))
    return union(linked, by_point).subquery()


async def coverage_report(session: AsyncSession, unit_ids: set[int] | None) -> CoverageReport:
    """Per unit, the chain 清单 → 手册 → 题库: each duty item's sections and questions, each section's
    questions, and the gaps named."""
    unit_query = select(Unit.id, Unit.name).order_by(Unit.id)
    duty_query = select(UnitDuty.unit_id, UnitDuty.knowledge_point).order_by(UnitDuty.unit_id, UnitDuty.id)
    section_query = select(
        HandbookSection.id, HandbookSection.unit_id, HandbookSection.title, HandbookSection.legal_basis
    ).order_by(HandbookSection.unit_id, HandbookSection.position, HandbookSection.id)
    link_query = (
        select(HandbookSection.unit_id, HandbookSectionDuty.section_id, HandbookSectionDuty.knowledge_point)
        .join(HandbookSection, HandbookSection.id == HandbookSectionDuty.section_id)
        .order_by(HandbookSectionDuty.section_id)
    )
    policy_query = (
        select(Question.unit_id, Question.knowledge_point, func.count().label("questions"))
        .where(Question.category == POLICY, Question.status == ACTIVE, Question.unit_id.is_not(None))
        .group_by(Question.unit_id, Question.knowledge_point)
    )
    covering = _covering_questions(unit_ids)
    per_section_query = select(covering.c.section_id, func.count(func.distinct(covering.c.question_id))).group_by(
        covering.c.section_id
    )
    if unit_ids is not None:
        unit_query = unit_query.where(Unit.id.in_(unit_ids))
        duty_query = duty_query.where(UnitDuty.unit_id.in_(unit_ids))
        section_query = section_query.where(HandbookSection.unit_id.in_(unit_ids))
        link_query = link_query.where(HandbookSection.unit_id.in_(unit_ids))
        policy_query = policy_query.where(Question.unit_id.in_(unit_ids))

    duties: dict[int, list[str]] = defaultdict(list)
    for unit_id, point in await session.execute(duty_query):
        duties[unit_id].append(point)
    sections: dict[int, list[tuple[int, str, bool]]] = defaultdict(list)
    for section_id, unit_id, title, legal_basis in await session.execute(section_query):
        sections[unit_id].append((section_id, title, bool(legal_basis)))
    sections_of_point: dict[tuple[int, str], list[int]] = defaultdict(list)
    points_of_section: dict[int, list[str]] = defaultdict(list)
    for unit_id, section_id, point in await session.execute(link_query):
        sections_of_point[(unit_id, point)].append(section_id)
        points_of_section[section_id].append(point)
    policy: dict[int, dict[str | None, int]] = defaultdict(dict)
    for row in await session.execute(policy_query):
        policy[row.unit_id][row.knowledge_point] = int(row.questions)
    per_section = {section_id: int(count) for section_id, count in await session.execute(per_section_query)}

    units = []
    for unit_id, name in await session.execute(unit_query):
        listed = duties.get(unit_id, [])
        chains = [
            DutyChain(
                knowledge_point=point,
                section_ids=sections_of_point.get((unit_id, point), []),
                questions=policy[unit_id].get(point, 0),
            )
            for point in listed
        ]
        unit_sections = sections.get(unit_id, [])
        covered = [
            SectionCoverage(
                section_id=section_id,
                title=title,
                duty_points=len(points_of_section.get(section_id, [])),
                questions=per_section.get(section_id, 0),
                has_legal_basis=has_basis,
            )
            for section_id, title, has_basis in unit_sections
        ]
        on_list = set(listed)
        gaps = HandbookGaps(
            duties_without_section=[c.knowledge_point for c in chains if not c.section_ids],
            duties_without_questions=[c.knowledge_point for c in chains if not c.questions],
            sections_without_duty=[s.title for s in covered if not s.duty_points],
            sections_without_questions=[s.title for s in covered if not s.questions],
            sections_without_legal_basis=[s.title for s in covered if not s.has_legal_basis],
            stale_duty_points=sorted(
                {
                    point
                    for section_id, _, _ in unit_sections
                    for point in points_of_section.get(section_id, [])
                    if point not in on_list
                }
            ),
        )
        units.append(
            UnitCoverage(
                unit_id=unit_id,
                name=name,
                duty_points=len(listed),
                sections=len(unit_sections),
                policy_questions=sum(policy[unit_id].values()),
                duties_in_handbook=sum(1 for c in chains if c.section_ids),
                duties_with_questions=sum(1 for c in chains if c.questions),
                duties=chains,
                sections_coverage=covered,
                gaps=gaps,
                gap_notes=gap_notes(name, len(listed), gaps),
            )
        )
    return CoverageReport(units=units)


async def unit_coverage(session: AsyncSession, *, unit_id: int) -> UnitCoverage:
    """One unit's chain 清单 → 手册 → 题库."""
    await org_service.get_unit(session, unit_id)
    [unit] = (await coverage_report(session, {unit_id})).units
    return unit


def _named(items: Sequence[str], limit: int = 10) -> str:
    shown = "、".join(f"「{item}」" for item in items[:limit])
    return shown + (f"等 {len(items)} 项" if len(items) > limit else "")


def gap_notes(unit_name: str, duty_points: int, gaps: HandbookGaps) -> list[str]:
    """The gaps as the sentences a supervisor writes (Chinese)."""
    notes = []
    if not duty_points:
        notes.append(f"{unit_name}尚未建立岗位职责清单。")
    if gaps.duties_without_section:
        notes.append(f"职责清单中{_named(gaps.duties_without_section)}在手册中没有对应章节。")
    if gaps.duties_without_questions:
        notes.append(f"职责清单中{_named(gaps.duties_without_questions)}在题库中没有对应题目。")
    if gaps.sections_without_duty:
        notes.append(f"手册章节{_named(gaps.sections_without_duty)}未对应职责清单。")
    if gaps.sections_without_questions:
        notes.append(f"手册章节{_named(gaps.sections_without_questions)}在题库中没有覆盖题目。")
    if gaps.sections_without_legal_basis:
        notes.append(f"手册章节{_named(gaps.sections_without_legal_basis)}未注明法律依据。")
    if gaps.stale_duty_points:
        notes.append(f"手册引用的{_named(gaps.stale_duty_points)}已不在职责清单中。")
    return notes
