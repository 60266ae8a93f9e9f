"""Exams: creation, the lifecycle, what may change in each state, and drawing the units' papers.

The lifecycle is ``draft → drawn → closed → published``. An exam is *open* for attempts while it is
``drawn`` and the clock is inside its window (``opens_at`` … ``closes_at``, either end optional); there is
no separate open state. Public helpers other domains use: ``get_exam``, ``exam_is_open``, ``exam_phase``,
``ensure_transition`` / ``transition``, ``exam_unit_ids``, ``has_started``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

import anyio.to_thread
from sqlalchemy import Float, Subquery, and_, bindparam, case, cast, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.core.audit import record_audit
from app.core.db import UTCDateTime
from app.core.errors import ConflictError, ForbiddenError, NotFoundError, UnprocessableError, field_error
from app.core.labels import exam_status_name
from app.core.paging import Page, scalar_page
from app.exams import exam_rules
from app.exams.models import Attempt, AttemptAnswer, Exam, ExamMode, ExamStatus, ExamUnit, Participant
from app.exams.room import attempts, room
from app.exams.room.attempt_schemas import SubmitReason
from app.exams.room.attempts import ATTEMPTS, EXAMS, PARTICIPANTS
from app.exams.room.rules import IN_PROGRESS
from app.exams.schemas import (
    MAX_SEED,
    ExamCreate,
    ExamRead,
    ExamUpdate,
    PairOverlap,
    PaperDrawn,
    PapersSummary,
)
from app.org import service as org_service
from app.org.models import Unit
from app.papers import repository as papers_repository
from app.papers import service as papers_service
from app.papers.draw import (
    OBSERVED_MIN_ANSWERS,
    BankTooSmallError,
    DrawError,
    DrawOutcome,
    OverlapCapError,
    Shortage,
    draw_papers,
)
from app.papers.models import Blueprint, Paper, PaperSlot
from app.papers.quotas import CATEGORY_NAMES, TYPE_NAMES, Quota, compute_quotas, sections_from

EXAM_ORGANISERS = (Role.organiser,)
EXAM_VIEWERS = (Role.organiser, Role.supervisor, Role.proctor)
PROCTORS = (Role.proctor, Role.organiser)

ALLOWED_TRANSITIONS: dict[ExamStatus, frozenset[ExamStatus]] = {
    ExamStatus.draft: frozenset({ExamStatus.drawn, ExamStatus.closed}),
    ExamStatus.drawn: frozenset({ExamStatus.draft, ExamStatus.closed}),
    ExamStatus.closed: frozenset({ExamStatus.published}),
    ExamStatus.published: frozenset(),
}

# Fields each state lets PATCH change. Once anyone has started, only the name and the end of the window.
_DRAFT_FIELDS = frozenset(ExamUpdate.model_fields)
# The notice's signature may be set whatever the exam's state.
_NOTICE_FIELDS = frozenset({"notice_office", "notice_date"})
_DRAWN_FIELDS = (
    frozenset(
        {
            "name",
            "opens_at",
            "closes_at",
            "shuffle_questions",
            "shuffle_options",
            "time_limit_seconds",
            "multiple_scoring",
            "max_attempts",
            "required_attempts",
            "required_score",
            "focus_loss_limit",
        }
    )
    | _NOTICE_FIELDS
)
_STARTED_FIELDS = frozenset({"name", "closes_at"}) | _NOTICE_FIELDS
_FINISHED_FIELDS = frozenset({"name"}) | _NOTICE_FIELDS


def new_seed() -> int:
    """A random seed that fits a signed 64-bit column."""
    return secrets.randbelow(MAX_SEED)


# Lifecycle ------------------------------------------------------------------------------------------


async def get_exam(session: AsyncSession, exam_id: int) -> Exam:
    """The exam, or 404."""
    exam = await session.get(Exam, exam_id)
    if exam is None:
        raise NotFoundError(f"考试 {exam_id} 不存在")
    return exam


def exam_is_open(exam: Exam, now: datetime) -> bool:
    """Whether attempts may start now: papers drawn, not closed, and ``now`` inside the window."""
    return exam_rules.not_open_because(exam, now) is None


def exam_phase(exam: Exam, now: datetime) -> str:
    """The state as people think of it: draft, drawn (not yet open), open, ended, closed, published."""
    if exam.status != ExamStatus.drawn:
        return str(exam.status)
    if exam_is_open(exam, now):
        return "open"
    if exam.closes_at is not None and now >= exam.closes_at:
        return "ended"
    return "drawn"


def ensure_transition(exam: Exam, target: ExamStatus) -> None:
    """409 unless the exam may move from its status to ``target``."""
    current = ExamStatus(exam.status)
    if target not in ALLOWED_TRANSITIONS[current]:
        raise ConflictError(f"考试 {exam.id} 当前为“{exam_status_name(current)}”，不能变为“{exam_status_name(target)}”")


def transition(exam: Exam, target: ExamStatus, now: datetime) -> None:
    """Move the exam to ``target`` (checked) and stamp the matching ``*_at`` column."""
    ensure_transition(exam, target)
    exam.status = target
    if target == ExamStatus.drawn:
        exam.drawn_at = now
    elif target == ExamStatus.closed:
        exam.closed_at = now
    elif target == ExamStatus.published:
        exam.published_at = now
    elif target == ExamStatus.draft:
        exam.drawn_at = None


async def has_started(session: AsyncSession, exam_id: int) -> bool:
    """Whether anyone has started an attempt of the exam."""
    return bool(await session.scalar(select(exists().where(Attempt.exam_id == exam_id))))


async def ensure_not_started(session: AsyncSession, exam: Exam, action: str) -> None:
    if await has_started(session, exam.id):
        raise ConflictError(f"考试 {exam.id} 已有考生开始答题，不能{action}")


async def exam_unit_ids(session: AsyncSession, exam_id: int) -> list[int]:
    """The units taking part, by id."""
    rows = await session.scalars(select(ExamUnit.unit_id).where(ExamUnit.exam_id == exam_id).order_by(ExamUnit.unit_id))
    return list(rows)


# Permissions ----------------------------------------------------------------------------------------


def may_manage(principal: Principal, exam: Exam) -> bool:
    """Organisers manage every exam; a unit admin manages the practice exams of his own unit."""
    return exam_rules.may_manage_exam(principal, exam, *EXAM_ORGANISERS)


def ensure_can_manage(principal: Principal, exam: Exam) -> None:
    if not may_manage(principal, exam):
        raise ForbiddenError("只有本场考试的考务可以进行此操作")


def ensure_can_proctor(principal: Principal, exam: Exam) -> None:
    if not (principal.has_any(*PROCTORS) or may_manage(principal, exam)):
        raise ForbiddenError("只有监考和考务可以登记")


async def is_participant_user(session: AsyncSession, exam_id: int, user_id: int) -> bool:
    return bool(
        await session.scalar(select(exists().where(Participant.exam_id == exam_id, Participant.user_id == user_id)))
    )


async def ensure_can_view(session: AsyncSession, principal: Principal, exam: Exam) -> None:
    """Staff who run exams see all; a unit admin sees exams of his unit; an examinee only his own."""
    if principal.has_any(*EXAM_VIEWERS) or may_manage(principal, exam):
        return
    if Role.unit_admin in principal.roles and principal.unit_id in await exam_unit_ids(session, exam.id):
        return
    if Role.examinee in principal.roles and await is_participant_user(session, exam.id, principal.id):
        return
    raise NotFoundError(f"考试 {exam.id} 不存在")


# Reading --------------------------------------------------------------------------------------------


def exam_read(exam: Exam, unit_ids: Sequence[int], now: datetime, *, show_seed: bool) -> ExamRead:
    data: dict[str, Any] = {name: getattr(exam, name) for name in ExamRead.model_fields if hasattr(exam, name)}
    data.update(
        phase=exam_phase(exam, now),
        is_open=exam_is_open(exam, now),
        unit_ids=list(unit_ids),
        seed=exam.seed if show_seed else None,
    )
    return ExamRead.model_validate(data)


async def list_exams(
    session: AsyncSession, *, principal: Principal, status: ExamStatus | None, mode: ExamMode | None, page: Page
) -> tuple[list[tuple[Exam, list[int]]], int]:
    """A page of the exams the caller may see, newest first, with their unit ids; and how many he may see."""
    query = select(Exam)
    if not principal.has_any(*EXAM_VIEWERS):
        visible = []
        if Role.unit_admin in principal.roles and principal.unit_id is not None:
            visible.append(Exam.id.in_(select(ExamUnit.exam_id).where(ExamUnit.unit_id == principal.unit_id)))
        if Role.examinee in principal.roles:
            visible.append(Exam.id.in_(select(Participant.exam_id).where(Participant.user_id == principal.id)))
        if not visible:
            raise ForbiddenError("只有考务、督导、监考、单位管理员和考生可以查看考试")
        query = query.where(visible[0] if len(visible) == 1 else visible[0] | visible[1])
    if status is not None:
        query = query.where(Exam.status == status)
    if mode is not None:
        query = query.where(Exam.mode == mode)
    exams, total = await scalar_page(session, query.order_by(Exam.id.desc()), page)
    units: dict[int, list[int]] = {exam.id: [] for exam in exams}
    if exams:
        rows = await session.execute(
            select(ExamUnit.exam_id, ExamUnit.unit_id)
            .where(ExamUnit.exam_id.in_(list(units)))
            .order_by(ExamUnit.exam_id, ExamUnit.unit_id)
        )
        for exam_id, unit_id in rows:
            units[exam_id].append(unit_id)
    return [(exam, units[exam.id]) for exam in exams], total


# Creating and changing ------------------------------------------------------------------------------


async def _check_units(session: AsyncSession, unit_ids: Sequence[int]) -> list[int]:
    duplicates = sorted({u for u in unit_ids if list(unit_ids).count(u) > 1})
    if duplicates:
        raise UnprocessableError(field_error("unit_ids", f"单位重复列出：{duplicates}"))
    found = set(await session.scalars(select(Unit.id).where(Unit.id.in_(list(unit_ids)))))
    missing = sorted(set(unit_ids) - found)
    if missing:
        raise UnprocessableError(field_error("unit_ids", f"单位不存在：{missing}"))
    return sorted(unit_ids)


def _check_window(opens_at: datetime | None, closes_at: datetime | None) -> None:
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise UnprocessableError(field_error("closes_at", "结束时间必须晚于开始时间"))


def _check_attempt_rules(
    mode: str, max_attempts: int, required_attempts: int | None, required_score: float | None
) -> None:
    if mode == ExamMode.formal:
        if max_attempts != 1:
            raise UnprocessableError(field_error("max_attempts", "督导考试每人只能作答一次"))
        if required_attempts is not None:
            raise UnprocessableError(field_error("required_attempts", "只有练习可以要求练习次数"))
        if required_score is not None:
            raise UnprocessableError(field_error("required_score", "只有练习可以要求达标分数"))
    if required_attempts is not None and required_attempts > max_attempts:
        raise UnprocessableError(
            field_error("required_attempts", f"要求练习 {required_attempts} 次，但最多只允许 {max_attempts} 次")
        )


def _ensure_can_create(principal: Principal, mode: ExamMode, unit_ids: Sequence[int]) -> int | None:
    """Who may create the exam; returns the owning unit of a unit admin's practice exam."""
    if principal.has_any(*EXAM_ORGANISERS):
        return None
    if mode == ExamMode.practice and Role.unit_admin in principal.roles and principal.unit_id is not None:
        if list(unit_ids) != [principal.unit_id]:
            raise ForbiddenError("单位管理员只能为本单位组织练习")
        return principal.unit_id
    if mode == ExamMode.formal:
        raise ForbiddenError("只有考务可以创建督导考试")
    raise ForbiddenError("只有考务和单位管理员可以组织练习")


async def create_exam(session: AsyncSession, *, data: ExamCreate, principal: Principal, now: datetime) -> Exam:
    """Create a draft exam over a blueprint and a set of units; time limit and scoring come from the blueprint."""
    owner_unit_id = _ensure_can_create(principal, data.mode, data.unit_ids)
    unit_ids = await _check_units(session, data.unit_ids)
    blueprint = await session.get(Blueprint, data.blueprint_id)
    if blueprint is None:
        raise UnprocessableError(field_error("blueprint_id", f"组卷规则 {data.blueprint_id} 不存在"))
    _check_window(data.opens_at, data.closes_at)
    max_attempts = data.max_attempts or 1
    _check_attempt_rules(data.mode, max_attempts, data.required_attempts, data.required_score)
    exam = Exam(
        name=data.name.strip(),
        blueprint_id=blueprint.id,
        mode=data.mode,
        status=ExamStatus.draft,
        opens_at=data.opens_at,
        closes_at=data.closes_at,
        seed=data.seed if data.seed is not None else new_seed(),
        shuffle_questions=data.shuffle_questions,
        shuffle_options=data.shuffle_options,
        difficulty_tolerance=data.difficulty_tolerance,
        time_limit_seconds=blueprint.time_limit_seconds,
        multiple_scoring=blueprint.multiple_scoring,
        max_attempts=max_attempts,
        required_attempts=data.required_attempts,
        required_score=data.required_score,
        focus_loss_limit=data.focus_loss_limit,
        max_shared_questions=data.max_shared_questions,
        notice_office=(data.notice_office or "").strip() or None,
        notice_date=data.notice_date,
        owner_unit_id=owner_unit_id,
        created_by=principal.id,
        created_at=now,
    )
    session.add(exam)
    await session.flush()
    await session.execute(insert(ExamUnit), [{"exam_id": exam.id, "unit_id": u} for u in unit_ids])
    await record_audit(
        session,
        actor_id=principal.id,
        action="exam.create",
        entity="exam",
        entity_id=exam.id,
        detail={
            "name": exam.name,
            "mode": exam.mode,
            "unit_ids": unit_ids,
            "seed": exam.seed,
            "blueprint_id": blueprint.id,
        },
        at=now,
    )
    return exam


async def update_exam(
    session: AsyncSession, *, exam: Exam, data: ExamUpdate, principal: Principal, now: datetime
) -> Exam:
    """Change what the exam's state allows; anything else is refused with 409 naming the fields."""
    ensure_can_manage(principal, exam)
    changes = data.model_dump(exclude_unset=True)
    nullable = {
        "opens_at",
        "closes_at",
        "required_attempts",
        "required_score",
        "focus_loss_limit",
        "max_shared_questions",
        "notice_office",
        "notice_date",
    }
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise UnprocessableError(field_error(name, "不能为空"))
    started = exam.status == ExamStatus.drawn and await has_started(session, exam.id)
    if exam.status == ExamStatus.draft:
        allowed, state = _DRAFT_FIELDS, "a draft"
    elif exam.status == ExamStatus.drawn and not started:
        allowed, state = _DRAWN_FIELDS, "drawn (discard its papers first to change units, blueprint or seed)"
    elif exam.status == ExamStatus.drawn:
        allowed, state = _STARTED_FIELDS, "under way"
    else:
        allowed, state = _FINISHED_FIELDS, str(exam.status)
    refused = sorted(set(changes) - allowed)
    if refused:
        raise ConflictError(f"考试 {exam.id} 当前为“{exam_status_name(state)}”，{'、'.join(refused)} 不能再修改")
    opens_at = changes.get("opens_at", exam.opens_at)
    closes_at = changes.get("closes_at", exam.closes_at)
    _check_window(opens_at, closes_at)
    if started and "closes_at" in changes and closes_at is not None and closes_at <= now:
        raise UnprocessableError(field_error("closes_at", "考试进行中，结束时间只能推后"))
    _check_attempt_rules(
        exam.mode,
        changes.get("max_attempts", exam.max_attempts),
        changes.get("required_attempts", exam.required_attempts),
        changes.get("required_score", exam.required_score),
    )
    before = {name: _jsonable(getattr(exam, name, None)) for name in changes if name != "unit_ids"}
    if "unit_ids" in changes:
        await _replace_units(session, exam, await _check_units(session, changes.pop("unit_ids")), principal)
    if "blueprint_id" in changes:
        blueprint = await session.get(Blueprint, changes["blueprint_id"])
        if blueprint is None:
            raise UnprocessableError(field_error("blueprint_id", f"组卷规则 {changes['blueprint_id']} 不存在"))
        exam.time_limit_seconds = changes.pop("time_limit_seconds", blueprint.time_limit_seconds)
        exam.multiple_scoring = changes.pop("multiple_scoring", blueprint.multiple_scoring)
    for name, value in changes.items():
        if name == "notice_office" and value is not None:
            value = value.strip() or None
        setattr(exam, name, value.strip() if name == "name" else value)
    await session.flush()
    if started and "closes_at" in changes:
        # Open attempts keep the rule deadline = min(start + time limit, closes_at).
        await reclamp_open_deadlines(
            session, exam_id=exam.id, time_limit_seconds=exam.time_limit_seconds, closes_at=exam.closes_at
        )
    await record_audit(
        session,
        actor_id=principal.id,
        action="exam.update",
        entity="exam",
        entity_id=exam.id,
        detail={"before": before, "after": data.model_dump(mode="json", exclude_unset=True)},
        at=now,
    )
    return exam


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime | date) else value


async def _replace_units(session: AsyncSession, exam: Exam, unit_ids: list[int], principal: Principal) -> None:
    if exam.owner_unit_id is not None and unit_ids != [exam.owner_unit_id]:
        raise ForbiddenError("单位练习只能由本单位参加")
    current = set(await exam_unit_ids(session, exam.id))
    removed = current - set(unit_ids)
    if removed:
        with_participants = sorted(
            set(
                await session.scalars(
                    select(Participant.unit_id).where(Participant.exam_id == exam.id, Participant.unit_id.in_(removed))
                )
            )
        )
        if with_participants:
            raise ConflictError(f"单位 {with_participants} 已有考生，请先移除考生再移除单位")
        await session.execute(delete(ExamUnit).where(ExamUnit.exam_id == exam.id, ExamUnit.unit_id.in_(removed)))
    added = sorted(set(unit_ids) - current)
    if added:
        await session.execute(insert(ExamUnit), [{"exam_id": exam.id, "unit_id": u} for u in added])


async def publish_exam(session: AsyncSession, *, exam: Exam, principal: Principal, now: datetime) -> Exam:
    """Publish a closed exam's results (closed → published)."""
    ensure_can_manage(principal, exam)
    if exam.status != ExamStatus.closed:
        raise ConflictError(f"只有已结束的考试可以公布成绩；考试 {exam.id} 当前为“{exam_status_name(exam.status)}”")
    transition(exam, ExamStatus.published, now)
    await session.flush()
    await record_audit(session, actor_id=principal.id, action="exam.publish", entity="exam", entity_id=exam.id, at=now)
    return exam


# Papers ---------------------------------------------------------------------------------------------


def observed_facility() -> Subquery:
    """Each question's observed correct rate over graded attempts, for questions answered often enough.

    A slot an examinee left blank counts as wrong, so the join runs from attempts over the paper's slots.
    """
    correct = case((AttemptAnswer.is_correct.is_(True), 1.0), else_=0.0)
    return (
        select(PaperSlot.question_id.label("question_id"), cast(func.avg(correct), Float).label("facility"))
        .select_from(Attempt)
        .join(PaperSlot, PaperSlot.paper_id == Attempt.paper_id)
        .outerjoin(
            AttemptAnswer,
            and_(AttemptAnswer.attempt_id == Attempt.id, AttemptAnswer.position == PaperSlot.position),
        )
        .where(Attempt.graded_at.is_not(None))
        .group_by(PaperSlot.question_id)
        .having(func.count() >= OBSERVED_MIN_ANSWERS)
        .subquery("observed")
    )


def blueprint_quotas(blueprint: Blueprint) -> tuple[Quota, ...]:
    return compute_quotas(sections_from(blueprint.sections), blueprint.category_split).quotas


async def _unit_codes(session: AsyncSession, unit_ids: Sequence[int]) -> dict[int, str]:
    rows = await session.execute(select(Unit.id, Unit.code).where(Unit.id.in_(list(unit_ids))))
    return {int(row.id): str(row.code) for row in rows}


def _shortage_error(shortages: Sequence[Shortage], codes: dict[int, str]) -> UnprocessableError:
    items = []
    lines = []
    for s in shortages:
        code = codes.get(s.unit_id, str(s.unit_id))
        where = "共用题库" if s.pool == "shared" else f"{code} 单位题库"
        items.append(
            {
                "type": s.type,
                "category": s.category,
                "unit_id": s.unit_id,
                "unit_code": code,
                "pool": s.pool,
                "needed": s.needed,
                "available": s.available,
            }
        )
        lines.append(
            f"单位 {code} 的{TYPE_NAMES.get(s.type, s.type)}（{CATEGORY_NAMES.get(s.category, s.category)}）"
            f"需要 {s.needed} 题，{where}只有 {s.available} 题"
        )
    return UnprocessableError(
        {
            "message": "题库题目不足，未抽卷：" + "；".join(lines),
            "shortages": items,
        }
    )


async def _run_draw(
    session: AsyncSession, *, exam: Exam, unit_ids: Sequence[int], seed: int, fixed: dict[int, Any]
) -> DrawOutcome:
    blueprint = await papers_service.get_blueprint(session, exam.blueprint_id)
    quotas = blueprint_quotas(blueprint)
    active = [q for q in quotas if q.count > 0]
    candidates = await papers_repository.load_candidates(
        session,
        types=sorted({q.type for q in active}),
        categories=sorted({q.category for q in active}),
        unit_ids=unit_ids,
        observed=observed_facility(),
    )
    try:
        # Tens of milliseconds of CPU for a large bank: keep it off the event loop.
        return await anyio.to_thread.run_sync(
            partial(
                draw_papers,
                candidates,
                quotas,
                unit_ids,
                seed=seed,
                tolerance=exam.difficulty_tolerance,
                fixed=fixed,
                max_shared=exam.max_shared_questions,
            )
        )
    except BankTooSmallError as exc:
        raise _shortage_error(exc.shortages, await _unit_codes(session, unit_ids)) from exc
    except OverlapCapError as exc:
        codes = await _unit_codes(session, [*exc.units])
        first, second = (codes.get(u, str(u)) for u in exc.units)
        raise UnprocessableError(
            {
                "code": "overlap_cap",
                "field": "max_shared_questions",
                "message": (
                    f"未能抽取试卷：单位{first}与单位{second}的试卷共有{exc.reached}道相同试题，超过本场考试设定的上限"
                    f"{exc.cap}道；按题库现有题量，两份试卷之间至少要有{exc.floor}道相同试题。"
                    "请放宽重题上限或扩充共享题库，试卷未作任何改动。"
                ),
                "max_shared_questions": exc.cap,
                "reached": exc.reached,
                "floor": exc.floor,
                "unit_ids": list(exc.units),
                "shortages": [],
            }
        ) from exc
    except DrawError as exc:
        raise UnprocessableError({"message": str(exc), "shortages": []}) from exc


async def draw_exam_papers(
    session: AsyncSession, *, exam: Exam, principal: Principal, now: datetime, seed: int | None = None
) -> list[Paper]:
    """Draw (or redraw) one paper per unit; refused once anyone has started. The exam becomes ``drawn``."""
    ensure_can_manage(principal, exam)
    if exam.status not in (ExamStatus.draft, ExamStatus.drawn):
        raise ConflictError(f"考试 {exam.id} 当前为“{exam_status_name(exam.status)}”，不能再抽卷")
    await ensure_not_started(session, exam, "重新抽卷")
    unit_ids = await exam_unit_ids(session, exam.id)
    if seed is not None:
        exam.seed = seed
    outcome = await _run_draw(session, exam=exam, unit_ids=unit_ids, seed=exam.seed, fixed={})
    existing = {p.unit_id: p for p in await papers_service.papers_of_exam(session, exam.id)}
    papers = await papers_service.store_papers(
        session, exam_id=exam.id, drawn=outcome.papers, seed=exam.seed, existing=existing, now=now
    )
    if exam.status == ExamStatus.draft:
        transition(exam, ExamStatus.drawn, now)
    else:
        exam.drawn_at = now
    await session.flush()
    await record_audit(
        session,
        actor_id=principal.id,
        action="exam.draw",
        entity="exam",
        entity_id=exam.id,
        detail={
            "seed": exam.seed,
            "units": unit_ids,
            "max_overlap": outcome.max_overlap,
            "difficulty_spread": round(outcome.difficulty_spread, 6),
            "balanced": outcome.balanced,
            "swaps": outcome.swaps,
        },
        at=now,
    )
    return papers


async def redraw_unit_paper(
    session: AsyncSession, *, exam: Exam, paper: Paper, principal: Principal, now: datetime, seed: int | None
) -> Paper:
    """Draw a new paper for one unit, keeping the others; its seed is stored on the paper."""
    ensure_can_manage(principal, exam)
    if exam.status != ExamStatus.drawn:
        raise ConflictError(f"考试 {exam.id} 当前为“{exam_status_name(exam.status)}”，只有已抽卷的考试可以重新抽卷")
    await ensure_not_started(session, exam, "重新抽取该试卷")
    others = [p for p in await papers_service.papers_of_exam(session, exam.id) if p.id != paper.id]
    fixed = await papers_service.fixed_papers(session, others)
    paper_seed = seed if seed is not None else new_seed()
    outcome = await _run_draw(session, exam=exam, unit_ids=[paper.unit_id], seed=paper_seed, fixed=fixed)
    [stored] = await papers_service.store_papers(
        session, exam_id=exam.id, drawn=outcome.papers, seed=paper_seed, existing={paper.unit_id: paper}, now=now
    )
    await session.flush()
    await record_audit(
        session,
        actor_id=principal.id,
        action="paper.redraw",
        entity="paper",
        entity_id=paper.id,
        detail={
            "exam_id": exam.id,
            "unit_id": paper.unit_id,
            "seed": paper_seed,
            "max_overlap": outcome.max_overlap,
            "difficulty_spread": round(outcome.difficulty_spread, 6),
        },
        at=now,
    )
    return stored


async def discard_papers(session: AsyncSession, *, exam: Exam, principal: Principal, now: datetime) -> None:
    """Throw the drawn papers away before anyone started; the exam is a draft again."""
    ensure_can_manage(principal, exam)
    if exam.status != ExamStatus.drawn:
        raise ConflictError(f"考试 {exam.id} 当前为“{exam_status_name(exam.status)}”，没有可作废的试卷")
    await ensure_not_started(session, exam, "作废试卷")
    count = await papers_service.delete_papers(session, exam.id)
    transition(exam, ExamStatus.draft, now)
    await session.flush()
    await record_audit(
        session,
        actor_id=principal.id,
        action="exam.discard_papers",
        entity="exam",
        entity_id=exam.id,
        detail={"papers": count},
        at=now,
    )


async def get_exam_paper(session: AsyncSession, exam: Exam, paper_id: int) -> Paper:
    paper = await papers_service.paper_by_id(session, paper_id)
    if paper.exam_id != exam.id:
        raise NotFoundError(f"试卷 {paper_id} 不属于考试 {exam.id}")
    return paper


async def papers_drawn(session: AsyncSession, papers: Sequence[Paper]) -> list[PaperDrawn]:
    """The papers in the draw's reply shape: question ids and pinned versions in paper order."""
    slots = await papers_service.slots_of_papers(session, [p.id for p in papers])
    version_ids = [s.question_version_id for paper_slots in slots.values() for s in paper_slots]
    versions = await papers_repository.versions_by_id(session, version_ids)
    return [
        PaperDrawn(
            unit_id=p.unit_id,
            paper_id=p.id,
            question_ids=[s.question_id for s in slots[p.id]],
            question_versions=[versions[s.question_version_id].version for s in slots[p.id]],
            question_version_ids=[s.question_version_id for s in slots[p.id]],
            expected_difficulty=round(p.expected_difficulty, 6),
            expected_score=round(p.total_points * (1 - p.expected_difficulty), 2),
            total_points=p.total_points,
            seed=p.seed,
        )
        for p in papers
    ]


async def papers_summary(session: AsyncSession, exam: Exam) -> PapersSummary:
    """The drawn papers with the largest pairwise overlap and the spread of expected difficulty."""
    papers = list(await papers_service.papers_of_exam(session, exam.id))
    drawn = await papers_drawn(session, papers)
    sets = [(p.unit_id, set(p.question_ids)) for p in drawn]
    max_overlap, pair = 0, None
    overlaps: list[PairOverlap] = []
    for i, (unit_a, set_a) in enumerate(sets):
        for unit_b, set_b in sets[i + 1 :]:
            overlap = len(set_a & set_b)
            overlaps.append(PairOverlap(unit_ids=sorted([unit_a, unit_b]), shared=overlap))
            if pair is None or overlap > max_overlap:
                max_overlap, pair = overlap, [unit_a, unit_b]
    values = [p.expected_difficulty for p in papers]
    spread = max(values) - min(values) if values else 0.0
    return PapersSummary(
        exam_id=exam.id,
        seed=exam.seed,
        tolerance=exam.difficulty_tolerance,
        difficulty_spread=round(spread, 6),
        balanced=spread <= exam.difficulty_tolerance + 1e-9,
        max_overlap=max_overlap,
        max_overlap_units=pair,
        papers=drawn,
        max_shared_questions=exam.max_shared_questions,
        min_overlap=min((o.shared for o in overlaps), default=0),
        overlaps=overlaps,
    )


async def unit_code(session: AsyncSession, unit_id: int) -> str:
    return (await org_service.get_unit(session, unit_id)).code


# Open attempts: their deadlines when the window changes, their submission at close ---------------------


async def reclamp_open_deadlines(
    session: AsyncSession,
    *,
    exam_id: int,
    time_limit_seconds: int,
    closes_at: datetime | None,
    participant_ids: Sequence[int] | None = None,
) -> int:
    """After an exam's closing time (or time limit) or an examinee's extra time changed: every open attempt's
    deadline follows ``room.deadline_of`` again. Returns the attempts changed.

    Called when ``closes_at`` of an exam that has started changes (``update_exam``), and by the
    participants service when it grants extra time (``participant_ids``: only theirs).
    """
    query = (
        select(ATTEMPTS.c.id, ATTEMPTS.c.started_at, ATTEMPTS.c.deadline_at, PARTICIPANTS.c.extra_time_seconds)
        .join(PARTICIPANTS, PARTICIPANTS.c.id == ATTEMPTS.c.participant_id)
        .where(ATTEMPTS.c.exam_id == exam_id, ATTEMPTS.c.status == IN_PROGRESS)
    )
    if participant_ids is not None:
        query = query.where(ATTEMPTS.c.participant_id.in_(list(participant_ids)))
    rows = (await session.execute(query)).all()
    changes = []
    for row in rows:
        deadline = room.deadline_of(row.started_at, time_limit_seconds, closes_at, row.extra_time_seconds)
        if deadline != row.deadline_at:
            changes.append({"b_id": row.id, "b_deadline": deadline})
    if changes:
        await session.execute(
            update(ATTEMPTS)
            .where(ATTEMPTS.c.id == bindparam("b_id"), ATTEMPTS.c.status == IN_PROGRESS)
            .values(deadline_at=bindparam("b_deadline", type_=UTCDateTime())),
            changes,
        )
    return len(changes)


@dataclass(frozen=True, slots=True)
class CloseOutcome:
    exam_id: int
    status: str
    closed_at: datetime | None
    attempts_submitted: int


async def close_exam(session: AsyncSession, *, exam_id: int, principal: Principal, now: datetime) -> CloseOutcome:
    """End the exam: no more starts, and every open attempt is submitted (reason "closed") and graded."""
    exam = await exam_rules.load_exam(session, exam_id, lock="update")
    exam_rules.ensure_can_manage_exam(principal, exam, *EXAM_ORGANISERS)
    if exam.status in (ExamStatus.closed, ExamStatus.published):
        closed_at = await session.scalar(select(EXAMS.c.closed_at).where(EXAMS.c.id == exam_id))
        return CloseOutcome(exam_id=exam_id, status=exam.status, closed_at=closed_at, attempts_submitted=0)
    await session.execute(
        update(EXAMS).where(EXAMS.c.id == exam_id).values(status=str(ExamStatus.closed), closed_at=now)
    )
    submitted = await attempts.claim_and_grade(
        session, ATTEMPTS.c.exam_id == exam_id, reason=SubmitReason.closed, now=now
    )
    await record_audit(
        session,
        actor_id=principal.id,
        action="exam.close",
        entity="exam",
        entity_id=exam_id,
        detail={"attempts_submitted": len(submitted)},
        at=now,
    )
    return CloseOutcome(
        exam_id=exam_id, status=str(ExamStatus.closed), closed_at=now, attempts_submitted=len(submitted)
    )
