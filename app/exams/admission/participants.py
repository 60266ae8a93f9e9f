"""Participants and admission tickets: explicit lists or stratified samples, ticket numbers, PINs.

Every participant gets an examinee account whose username is the ticket number and whose password is a
six-digit PIN, stored as a keyed HMAC (``hash_pin``) so thousands of logins per minute stay cheap. The PIN
is shown once, when issued or re-issued; re-issuing replaces the hash (the old PIN stops working), clears
the lockout and revokes the examinee's sessions.

Ticket numbers read ``EEEE-UUU-SSSS``: the exam id, the unit id and a sequence within the unit, zero-padded
(wider when a number outgrows its field). They are unique because the three parts are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import anyio.to_thread
from sqlalchemy import delete, exists, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service as accounts_service
from app.accounts.models import Role, User
from app.accounts.principal import Principal
from app.core.audit import record_audit
from app.core.errors import ConflictError, ForbiddenError, NotFoundError, UnprocessableError, field_error
from app.core.labels import exam_status_name
from app.core.paging import EVERY_ROW, Page, row_page
from app.core.security import hash_pin, new_pin, new_ticket_suffix
from app.core.tabular import SheetSpec, write_workbook
from app.exams import service
from app.exams.admission.sampling import UnitSample, sample_participants
from app.exams.models import Absence, Attempt, Exam, ExamStatus, Participant
from app.exams.room.rules import IN_PROGRESS
from app.exams.schemas import (
    ExtraTimeGrant,
    ParticipantIssued,
    ParticipantRead,
    ParticipantsAdd,
    ParticipantUpdate,
    ReissueRequest,
    SamplePreview,
    SampleSpec,
    TicketRead,
    UnitSampleRead,
)
from app.org.models import RANK_LABELS, Cadre, Rank, Unit

TICKET_READERS = (Role.organiser, Role.proctor, Role.supervisor)


def ticket_number(exam_id: int, unit_id: int, seq: int) -> str:
    """Exam, unit and sequence (for people sorting the tickets) and a random part, so that nobody can
    guess another examinee's ticket and lock it with wrong PINs (``app.core.security.TICKET_SHAPE``)."""
    return f"{exam_id:04d}-{unit_id:03d}-{seq:04d}-{new_ticket_suffix()}"


def _ticket_unit_and_seq(ticket_no: str) -> tuple[int, int] | None:
    parts = ticket_no.split("-")
    if len(parts) in (3, 4) and parts[1].isdigit() and parts[2].isdigit():
        return int(parts[1]), int(parts[2])
    return None


@dataclass(frozen=True, slots=True)
class _CadreRow:
    id: int
    unit_id: int
    name: str
    rank: str
    is_active: bool


def ensure_accepts_participants(exam: Exam, now: datetime) -> None:
    """No new participants once the exam is closed or its window is over."""
    if exam.status in (ExamStatus.closed, ExamStatus.published):
        raise ConflictError(f"考试 {exam.id} 当前为“{exam_status_name(exam.status)}”，不能再增加考生")
    if exam.closes_at is not None and now >= exam.closes_at:
        raise ConflictError(f"考试 {exam.id} 已于 {exam.closes_at.isoformat()} 结束，不能再增加考生")


async def _cadres(session: AsyncSession, cadre_ids: Sequence[int]) -> dict[int, _CadreRow]:
    if not cadre_ids:
        return {}
    rows = await session.execute(
        select(Cadre.id, Cadre.unit_id, Cadre.name, Cadre.rank, Cadre.is_active).where(Cadre.id.in_(list(cadre_ids)))
    )
    return {r.id: _CadreRow(r.id, r.unit_id, r.name, r.rank, r.is_active) for r in rows}


async def _existing(session: AsyncSession, exam_id: int) -> dict[int, Participant]:
    rows = await session.scalars(select(Participant).where(Participant.exam_id == exam_id))
    return {p.cadre_id: p for p in rows}


async def _units(session: AsyncSession, unit_ids: Sequence[int]) -> dict[int, Unit]:
    rows = await session.scalars(select(Unit).where(Unit.id.in_(list(unit_ids))))
    return {u.id: u for u in rows}


async def _sample_plan(
    session: AsyncSession, exam: Exam, spec: SampleSpec
) -> tuple[dict[int, UnitSample], int, dict[int, Unit]]:
    exam_units = await service.exam_unit_ids(session, exam.id)
    unit_ids = exam_units
    if spec.unit_ids is not None:
        outside = sorted(set(spec.unit_ids) - set(exam_units))
        if outside:
            raise UnprocessableError(field_error("sample.unit_ids", f"单位 {outside} 未参加本场考试"))
        unit_ids = sorted(set(spec.unit_ids))
    units = await _units(session, unit_ids)
    roster = await session.execute(
        select(Cadre.id, Cadre.unit_id, Cadre.rank)
        .where(Cadre.unit_id.in_(unit_ids), Cadre.is_active.is_(True))
        .order_by(Cadre.id)
    )
    already = await session.scalars(select(Participant.cadre_id).where(Participant.exam_id == exam.id))
    seed = spec.seed if spec.seed is not None else exam.seed
    plan = sample_participants(
        [(r.id, r.unit_id, r.rank) for r in roster],
        large_units={u: units[u].large for u in unit_ids},
        ratio=spec.ratio,
        minimum=spec.minimum,
        large_minimum=spec.large_minimum,
        seed=seed,
        already=set(already),
    )
    return plan, seed, units


def _plan_read(plan: dict[int, UnitSample], seed: int, ratio: float, units: dict[int, Unit]) -> SamplePreview:
    return SamplePreview(
        seed=seed,
        ratio=ratio,
        total=sum(len(s.selected) for s in plan.values()),
        units=[
            UnitSampleRead(
                unit_id=s.unit_id,
                unit_code=units[s.unit_id].code,
                large=s.large,
                minimum=s.minimum,
                roster=s.roster,
                targets=s.targets,
                selected=len(s.selected),
                kept=s.kept,
                warnings=list(s.warnings),
            )
            for s in plan.values()
        ],
    )


async def preview_sample(session: AsyncSession, *, exam: Exam, spec: SampleSpec, principal: Principal) -> SamplePreview:
    """Who a sample would draw per unit and rank, with warnings, without writing anything."""
    service.ensure_can_manage(principal, exam)
    plan, seed, units = await _sample_plan(session, exam, spec)
    return _plan_read(plan, seed, spec.ratio, units)


async def _check_listed(session: AsyncSession, exam: Exam, cadre_ids: list[int]) -> dict[int, _CadreRow]:
    duplicates = sorted({c for c in cadre_ids if cadre_ids.count(c) > 1})
    if duplicates:
        raise UnprocessableError(field_error("cadre_ids", f"干部重复列出：{duplicates}"))
    cadres = await _cadres(session, cadre_ids)
    missing = sorted(set(cadre_ids) - set(cadres))
    if missing:
        raise UnprocessableError(field_error("cadre_ids", f"干部不存在：{missing}"))
    inactive = sorted(c.id for c in cadres.values() if not c.is_active)
    if inactive:
        raise UnprocessableError(field_error("cadre_ids", f"干部 {inactive} 已停用"))
    unit_ids = set(await service.exam_unit_ids(session, exam.id))
    outside = sorted(c.id for c in cadres.values() if c.unit_id not in unit_ids)
    if outside:
        raise UnprocessableError(field_error("cadre_ids", f"干部 {outside} 所在单位未参加本场考试"))
    return cadres


async def _issue_tickets(
    session: AsyncSession, *, exam: Exam, cadres: Sequence[_CadreRow], secret: str, now: datetime
) -> dict[int, tuple[str, str]]:
    """Create participants and their examinee accounts; returns cadre id → (ticket_no, pin)."""
    if not cadres:
        return {}
    taken = await session.scalars(select(Participant.ticket_no).where(Participant.exam_id == exam.id))
    next_seq: dict[int, int] = defaultdict(lambda: 1)
    for ticket_no in taken:
        parsed = _ticket_unit_and_seq(ticket_no)
        if parsed is not None:
            next_seq[parsed[0]] = max(next_seq[parsed[0]], parsed[1] + 1)
    ordered = sorted(cadres, key=lambda c: (c.unit_id, c.id))
    tickets: dict[int, str] = {}
    for cadre in ordered:
        tickets[cadre.id] = ticket_number(exam.id, cadre.unit_id, next_seq[cadre.unit_id])
        next_seq[cadre.unit_id] += 1
    # A staff account could hold a ticket-shaped username; skip past any such clash.
    clashes = set(await session.scalars(select(User.username).where(User.username.in_(list(tickets.values())))))
    while clashes:
        for cadre in ordered:
            if tickets[cadre.id] in clashes:
                tickets[cadre.id] = ticket_number(exam.id, cadre.unit_id, next_seq[cadre.unit_id])
                next_seq[cadre.unit_id] += 1
        clashes = set(await session.scalars(select(User.username).where(User.username.in_(list(tickets.values())))))
    pins = {cadre.id: new_pin() for cadre in ordered}
    user_ids = await session.scalars(
        insert(User).returning(User.id, sort_by_parameter_order=True),
        [
            {
                "username": tickets[c.id],
                "display_name": c.name,
                "password_hash": hash_pin(pins[c.id], secret),
                "roles": [str(Role.examinee)],
                "unit_id": c.unit_id,
                "is_active": True,
                "failed_logins": 0,
                "created_at": now,
                "updated_at": now,
            }
            for c in ordered
        ],
    )
    await session.execute(
        insert(Participant),
        [
            {
                "exam_id": exam.id,
                "cadre_id": c.id,
                "unit_id": c.unit_id,
                "rank": c.rank,
                "ticket_no": tickets[c.id],
                "user_id": user_id,
                "created_at": now,
            }
            for c, user_id in zip(ordered, user_ids, strict=True)
        ],
    )
    if session.get_bind().dialect.name == "postgresql":
        # The start storm finds each examinee by his account: planned without statistics for the new
        # rows, that lookup read every participant of the exam (docs/PERFORMANCE.md). Autovacuum would
        # analyze them within a minute or so; an exam may open sooner.
        await session.execute(text("ANALYZE users, participants"))
    return {c.id: (tickets[c.id], pins[c.id]) for c in ordered}


async def add_participants(
    session: AsyncSession, *, exam: Exam, data: ParticipantsAdd, principal: Principal, secret: str, now: datetime
) -> tuple[list[ParticipantIssued], list[str]]:
    """Add listed or sampled cadres; new ones get a ticket and a PIN (shown once), existing ones are kept.

    Returns the participants asked for and the sample's warnings (each prefixed by its unit's code).
    """
    service.ensure_can_manage(principal, exam)
    ensure_accepts_participants(exam, now)
    existing = await _existing(session, exam.id)
    warnings: list[str] = []
    audit: dict[str, object]
    if data.cadre_ids is not None:
        cadres = await _check_listed(session, exam, data.cadre_ids)
        chosen = list(data.cadre_ids)
        audit = {"cadre_ids": chosen}
    else:
        assert data.sample is not None
        plan, seed, units = await _sample_plan(session, exam, data.sample)
        chosen = [c for s in plan.values() for c in s.selected]
        cadres = await _cadres(session, chosen)
        warnings = [f"{units[s.unit_id].code}: {w}" for s in plan.values() for w in s.warnings]
        audit = {
            "sample": {**data.sample.model_dump(), "seed": seed},
            "warnings": warnings,
            "by_unit": {str(u): len(s.selected) for u, s in plan.items()},
        }
    fresh = [cadres[c] for c in chosen if c not in existing]
    issued = await _issue_tickets(session, exam=exam, cadres=fresh, secret=secret, now=now)
    result = []
    for cadre_id in sorted(chosen, key=lambda c: (cadres[c].unit_id, c)):
        cadre = cadres[cadre_id]
        if cadre_id in issued:
            ticket_no, pin = issued[cadre_id]
            result.append(
                ParticipantIssued(
                    cadre_id=cadre_id,
                    unit_id=cadre.unit_id,
                    ticket_no=ticket_no,
                    pin=pin,
                    name=cadre.name,
                    rank=Rank(cadre.rank),
                    created=True,
                )
            )
        else:
            participant = existing[cadre_id]
            result.append(
                ParticipantIssued(
                    cadre_id=cadre_id,
                    unit_id=participant.unit_id,
                    ticket_no=participant.ticket_no,
                    pin=None,
                    name=cadre.name,
                    rank=Rank(participant.rank),
                    created=False,
                )
            )
    await record_audit(
        session,
        actor_id=principal.id,
        action="exam.participants.add",
        entity="exam",
        entity_id=exam.id,
        detail={**audit, "created": len(issued)},
        at=now,
    )
    return result, warnings


async def list_participants(
    session: AsyncSession,
    *,
    exam: Exam,
    unit_id: int | None,
    cadre_ids: Sequence[int] | None = None,
    page: Page = EVERY_ROW,
) -> tuple[list[ParticipantRead], int]:
    """A page of the exam's participants in ticket order with name, rank, ticket, extra time, the deadline
    of an attempt under way and whether an absence is recorded; and how many there are."""
    absent = exists().where(Absence.exam_id == Participant.exam_id, Absence.cadre_id == Participant.cadre_id)
    running = (
        select(func.max(Attempt.deadline_at))
        .where(Attempt.participant_id == Participant.id, Attempt.status == IN_PROGRESS)
        .scalar_subquery()
    )
    query = (
        select(Participant, Cadre.name, absent.label("absent"), running.label("deadline_at"))
        .join(Cadre, Cadre.id == Participant.cadre_id)
        .where(Participant.exam_id == exam.id)
    )
    if unit_id is not None:
        query = query.where(Participant.unit_id == unit_id)
    if cadre_ids is not None:
        query = query.where(Participant.cadre_id.in_(list(cadre_ids)))
    ordered = query.order_by(Participant.ticket_no, Participant.id).execution_options(populate_existing=True)
    rows, total = await row_page(session, ordered, page)
    return [
        ParticipantRead(
            id=p.id,
            cadre_id=p.cadre_id,
            unit_id=p.unit_id,
            name=name,
            rank=Rank(p.rank),
            ticket_no=p.ticket_no,
            user_id=p.user_id,
            absent=bool(is_absent),
            extra_time_seconds=p.extra_time_seconds,
            deadline_at=deadline_at,
            created_at=p.created_at,
        )
        for p, name, is_absent, deadline_at in rows
    ], total


# Extra time ---------------------------------------------------------------------------------------


def max_extra_time_seconds(exam: Exam) -> int:
    """The most extra time one examinee may be given: twice the exam's time limit."""
    return 2 * exam.time_limit_seconds


def check_extra_time(exam: Exam, seconds: int, *, field: str) -> None:
    """Refuse (422, naming ``field``) a negative or absurd extra time."""
    if seconds < 0:
        raise UnprocessableError(field_error(field, "延长时间不能为负数 (extra time cannot be negative)"))
    most = max_extra_time_seconds(exam)
    if seconds > most:
        raise UnprocessableError(
            field_error(field, f"延长时间最多为考试时长的两倍，即 {most} 秒 (extra time is at most {most} seconds)")
        )


async def _set_extra_time(
    session: AsyncSession,
    *,
    exam: Exam,
    totals: dict[int, int],
    action: str,
    reason: str | None,
    principal: Principal,
    now: datetime,
) -> list[ParticipantRead]:
    """Store each participant's (participant id → seconds) new extra time and move his open attempt's deadline."""
    if exam.status in (ExamStatus.closed, ExamStatus.published):
        raise ConflictError(f"考试已结束，不能再延长时间 (exam {exam.id} is {exam.status})")
    rows = (
        await session.execute(
            select(Participant.id, Participant.cadre_id, Participant.extra_time_seconds).where(
                Participant.id.in_(list(totals))
            )
        )
    ).all()
    before = {row.cadre_id: row.extra_time_seconds for row in rows}
    # ORM bulk update by primary key: one executemany for every participant.
    await session.execute(
        update(Participant),
        [{"id": participant_id, "extra_time_seconds": seconds} for participant_id, seconds in totals.items()],
    )
    moved = await service.reclamp_open_deadlines(
        session,
        exam_id=exam.id,
        time_limit_seconds=exam.time_limit_seconds,
        closes_at=exam.closes_at,
        participant_ids=list(totals),
    )
    after = {row.cadre_id: totals[row.id] for row in rows}
    await record_audit(
        session,
        actor_id=principal.id,
        action=action,
        entity="exam",
        entity_id=exam.id,
        detail={
            "before": {str(c): v for c, v in sorted(before.items())},
            "after": {str(c): v for c, v in sorted(after.items())},
            "reason": reason,
            "attempts_moved": moved,
        },
        at=now,
    )
    extended, _ = await list_participants(session, exam=exam, unit_id=None, cadre_ids=sorted(after))
    return extended


async def update_participant(
    session: AsyncSession,
    *,
    exam: Exam,
    cadre_id: int,
    data: ParticipantUpdate,
    principal: Principal,
    now: datetime,
) -> ParticipantRead:
    """Give one examinee extra time (the new total); his attempt under way gets the later deadline at once."""
    service.ensure_can_manage(principal, exam)
    check_extra_time(exam, data.extra_time_seconds, field="extra_time_seconds")
    participant = await get_participant(session, exam.id, cadre_id)
    [read] = await _set_extra_time(
        session,
        exam=exam,
        totals={participant.id: data.extra_time_seconds},
        action="exam.participants.extra_time",
        reason=data.reason,
        principal=principal,
        now=now,
    )
    return read


async def extend_time(
    session: AsyncSession, *, exam: Exam, data: ExtraTimeGrant, principal: Principal, now: datetime
) -> list[ParticipantRead]:
    """An incident's extension: ``add_seconds`` more for every listed examinee (a room that lost time)."""
    service.ensure_can_manage(principal, exam)
    if data.add_seconds <= 0:
        raise UnprocessableError(field_error("add_seconds", "延长时间必须大于 0 秒 (add_seconds must be positive)"))
    duplicates = sorted({c for c in data.cadre_ids if data.cadre_ids.count(c) > 1})
    if duplicates:
        raise UnprocessableError(field_error("cadre_ids", f"考生重复列出 (cadres listed more than once): {duplicates}"))
    rows = (
        await session.execute(
            select(Participant.id, Participant.cadre_id, Participant.extra_time_seconds).where(
                Participant.exam_id == exam.id, Participant.cadre_id.in_(data.cadre_ids)
            )
        )
    ).all()
    missing = sorted(set(data.cadre_ids) - {row.cadre_id for row in rows})
    if missing:
        raise UnprocessableError(
            field_error("cadre_ids", f"以下干部不是本场考生 (not participants of the exam): {missing}")
        )
    totals = {row.id: row.extra_time_seconds + data.add_seconds for row in rows}
    for row in rows:
        check_extra_time(exam, totals[row.id], field="add_seconds")
    return await _set_extra_time(
        session,
        exam=exam,
        totals=totals,
        action="exam.participants.extend_time",
        reason=data.reason,
        principal=principal,
        now=now,
    )


async def get_participant(session: AsyncSession, exam_id: int, cadre_id: int) -> Participant:
    participant = await session.scalar(
        select(Participant).where(Participant.exam_id == exam_id, Participant.cadre_id == cadre_id)
    )
    if participant is None:
        raise NotFoundError(f"干部 {cadre_id} 不是考试 {exam_id} 的考生")
    return participant


async def remove_participant(
    session: AsyncSession, *, exam: Exam, cadre_id: int, principal: Principal, now: datetime
) -> None:
    """Take a cadre off the exam before he started; his ticket account is deleted."""
    service.ensure_can_manage(principal, exam)
    if exam.status in (ExamStatus.closed, ExamStatus.published):
        raise ConflictError(f"考试 {exam.id} 当前为“{exam_status_name(exam.status)}”，不能再移除考生")
    participant = await get_participant(session, exam.id, cadre_id)
    if await session.scalar(select(exists().where(Attempt.participant_id == participant.id))):
        raise ConflictError(f"干部 {cadre_id} 已开始考试 {exam.id}，不能移除")
    await session.execute(delete(Absence).where(Absence.exam_id == exam.id, Absence.cadre_id == cadre_id))
    await session.execute(delete(Participant).where(Participant.id == participant.id))
    await session.execute(delete(User).where(User.id == participant.user_id))
    await record_audit(
        session,
        actor_id=principal.id,
        action="exam.participants.remove",
        entity="exam",
        entity_id=exam.id,
        detail={"cadre_id": cadre_id, "ticket_no": participant.ticket_no},
        at=now,
    )


# Tickets ------------------------------------------------------------------------------------------


async def ticket_scope(session: AsyncSession, principal: Principal, exam: Exam, unit_id: int | None) -> int | None:
    """The unit filter the caller may use for the ticket list: a unit admin sees only his own unit's."""
    if principal.has_any(*TICKET_READERS) or service.may_manage(principal, exam):
        return unit_id
    if Role.unit_admin in principal.roles and principal.unit_id is not None:
        if principal.unit_id not in await service.exam_unit_ids(session, exam.id):
            raise NotFoundError(f"考试 {exam.id} 不存在")
        if unit_id is not None and unit_id != principal.unit_id:
            raise ForbiddenError("单位管理员只能查看本单位的准考证")
        return principal.unit_id
    raise ForbiddenError("准考证仅考务、监考和本单位管理员可以查看")


async def list_tickets(
    session: AsyncSession, *, exam: Exam, unit_id: int | None, page: Page = EVERY_ROW
) -> tuple[list[TicketRead], int]:
    """A page of the tickets in ticket order, without PINs, and how many there are."""
    query = (
        select(
            Participant.ticket_no,
            Participant.cadre_id,
            Participant.rank,
            Participant.unit_id,
            Cadre.name,
            Cadre.employee_no,
            Unit.code,
            Unit.name.label("unit_name"),
        )
        .join(Cadre, Cadre.id == Participant.cadre_id)
        .join(Unit, Unit.id == Participant.unit_id)
        .where(Participant.exam_id == exam.id)
    )
    if unit_id is not None:
        query = query.where(Participant.unit_id == unit_id)
    rows, total = await row_page(session, query.order_by(Participant.ticket_no, Participant.id), page)
    return [
        TicketRead(
            ticket_no=r.ticket_no,
            cadre_id=r.cadre_id,
            name=r.name,
            rank=Rank(r.rank),
            employee_no=r.employee_no,
            unit_id=r.unit_id,
            unit_code=r.code,
            unit_name=r.unit_name,
        )
        for r in rows
    ], total


async def reissue_pins(
    session: AsyncSession, *, exam: Exam, request: ReissueRequest, principal: Principal, secret: str, now: datetime
) -> list[ParticipantIssued]:
    """New PINs for the chosen participants: the old PINs stop working and their sessions end."""
    service.ensure_can_manage(principal, exam)
    if exam.status in (ExamStatus.closed, ExamStatus.published):
        raise ConflictError(f"考试 {exam.id} 当前为“{exam_status_name(exam.status)}”，不能再重新发放准考证")
    query = (
        select(Participant, Cadre.name)
        .join(Cadre, Cadre.id == Participant.cadre_id)
        .where(Participant.exam_id == exam.id)
    )
    if request.cadre_ids is not None:
        query = query.where(Participant.cadre_id.in_(request.cadre_ids))
    elif request.unit_id is not None:
        query = query.where(Participant.unit_id == request.unit_id)
    rows = list(await session.execute(query.order_by(Participant.ticket_no)))
    if request.cadre_ids is not None:
        missing = sorted(set(request.cadre_ids) - {p.cadre_id for p, _ in rows})
        if missing:
            raise UnprocessableError(field_error("cadre_ids", f"干部 {missing} 不是本场考试的考生"))
    pins = {p.user_id: new_pin() for p, _ in rows}
    if rows:
        # ORM bulk update by primary key: one executemany for every re-issued PIN.
        await session.execute(
            update(User),
            [
                {
                    "id": user_id,
                    "password_hash": hash_pin(pin, secret),
                    "failed_logins": 0,
                    "locked_until": None,
                    "updated_at": now,
                }
                for user_id, pin in pins.items()
            ],
        )
        await accounts_service.revoke_sessions_of_users(session, user_ids=list(pins), now=now)
    await record_audit(
        session,
        actor_id=principal.id,
        action="exam.tickets.reissue",
        entity="exam",
        entity_id=exam.id,
        detail={"tickets": [p.ticket_no for p, _ in rows]},
        at=now,
    )
    return [
        ParticipantIssued(
            cadre_id=p.cadre_id,
            unit_id=p.unit_id,
            ticket_no=p.ticket_no,
            pin=pins[p.user_id],
            name=name,
            rank=Rank(p.rank),
            created=False,
        )
        for p, name in rows
    ]


def _tickets_workbook(title: str, tickets: Sequence[TicketRead], pins: dict[str, str] | None) -> bytes:
    headers = ["准考证号", "姓名", "职级", "单位代码", "单位", "工号"]
    if pins is not None:
        headers.append("密码 (PIN)")
    rows = []
    for ticket in tickets:
        # Ticket numbers, employee numbers and PINs are text: a spreadsheet must not drop their leading zeros.
        cells = [ticket.ticket_no, ticket.name, RANK_LABELS[ticket.rank], ticket.unit_code, ticket.unit_name,
                 ticket.employee_no or ""]  # fmt: skip
        if pins is not None:
            cells.append(pins.get(ticket.ticket_no, ""))
        rows.append([str(cell) for cell in cells])
    spec = SheetSpec("准考证", headers, rows, title=title, widths={0: 18, 1: 14, 2: 14, 3: 14, 4: 30, 5: 14})
    return write_workbook([spec])


async def tickets_workbook(title: str, tickets: Sequence[TicketRead], pins: dict[str, str] | None = None) -> bytes:
    """The ticket list as .xlsx for printing (with PINs only right after a re-issue), built off the event loop."""
    return await anyio.to_thread.run_sync(partial(_tickets_workbook, title, tickets, pins))


async def cadre_of_ticket(session: AsyncSession, exam_id: int, ticket_no: str) -> int:
    cadre_id = await session.scalar(
        select(Participant.cadre_id).where(Participant.exam_id == exam_id, Participant.ticket_no == ticket_no)
    )
    if cadre_id is None:
        raise NotFoundError(f"考试 {exam_id} 中没有准考证 {ticket_no}")
    return cadre_id


async def unlock_ticket(
    session: AsyncSession, *, exam: Exam, ticket_no: str, principal: Principal, now: datetime
) -> None:
    """A proctor's one click: the ticket's wrong PINs are forgotten and its lockout ends (audited)."""
    service.ensure_can_proctor(principal, exam)
    user_id = await session.scalar(
        select(Participant.user_id).where(Participant.exam_id == exam.id, Participant.ticket_no == ticket_no)
    )
    if user_id is None:
        raise NotFoundError(f"考试 {exam.id} 中没有准考证号 {ticket_no}")
    await accounts_service.unlock_user(session, user_id=user_id, actor_id=principal.id, now=now)
