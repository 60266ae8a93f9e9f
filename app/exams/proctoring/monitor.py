"""The live monitor: per unit how many examinees have not started, are writing, have submitted or are
absent, and per examinee the last save and the time left — counted by SQL, not by looping over rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.login_rules import is_locked
from app.accounts.models import Role, User
from app.accounts.principal import Principal
from app.core.errors import ForbiddenError
from app.core.labels import needs_roles
from app.exams.exam_rules import load_exam
from app.exams.models import Absence, Attempt, Participant
from app.exams.room.attempt_schemas import ExamineeProgress, MonitorRead, ProgressCounts, UnitProgress
from app.exams.room.room import remaining_seconds
from app.exams.room.rules import IN_PROGRESS, SUBMITTED
from app.org.models import Cadre, Unit

MONITOR_ROLES = (Role.organiser, Role.proctor)
STATES = ("not_started", "in_progress", "submitted", "absent")


def _monitor_unit(principal: Principal, unit_id: int | None) -> int | None:
    """The unit the caller may watch: any (or the one asked for) for organisers and proctors, else his own."""
    if principal.has_any(*MONITOR_ROLES):
        return unit_id
    if Role.unit_admin in principal.roles and principal.unit_id is not None:
        if unit_id is not None and unit_id != principal.unit_id:
            raise ForbiddenError("只能查看本单位的考场情况")
        return principal.unit_id
    raise ForbiddenError(needs_roles(MONITOR_ROLES))


def _progress_query(exam_id: int, unit_id: int | None) -> Any:
    """One row per participant with his latest attempt (if any) and his state."""
    latest_no = (
        select(func.max(Attempt.attempt_no))
        .where(Attempt.participant_id == Participant.id)
        .correlate(Participant)
        .scalar_subquery()
    )
    absent = exists().where(Absence.exam_id == Participant.exam_id, Absence.cadre_id == Participant.cadre_id)
    state = case(
        (Attempt.status == IN_PROGRESS, literal("in_progress")),
        (Attempt.status == SUBMITTED, literal("submitted")),
        (absent, literal("absent")),
        else_=literal("not_started"),
    )
    query = (
        select(
            Participant.id.label("participant_id"),
            Participant.cadre_id,
            Participant.unit_id,
            Participant.ticket_no,
            Participant.extra_time_seconds,
            Cadre.name,
            Attempt.id.label("attempt_id"),
            Attempt.attempt_no,
            Attempt.started_at,
            Attempt.last_saved_at,
            Attempt.deadline_at,
            Attempt.submitted_at,
            Attempt.submit_reason,
            Attempt.focus_losses,
            User.locked_until,
            state.label("state"),
        )
        .join(Cadre, Cadre.id == Participant.cadre_id)
        .outerjoin(User, User.id == Participant.user_id)
        .outerjoin(Attempt, and_(Attempt.participant_id == Participant.id, Attempt.attempt_no == latest_no))
        .where(Participant.exam_id == exam_id)
    )
    if unit_id is not None:
        query = query.where(Participant.unit_id == unit_id)
    return query


async def exam_monitor(
    session: AsyncSession,
    *,
    exam_id: int,
    principal: Principal,
    unit_id: int | None,
    now: datetime,
    with_examinees: bool = True,
) -> MonitorRead:
    """Counts per unit (and in total) and, unless asked not to, one line per examinee."""
    exam = await load_exam(session, exam_id)
    unit_id = _monitor_unit(principal, unit_id)
    progress = _progress_query(exam_id, unit_id).subquery()
    counts = [func.coalesce(func.sum(case((progress.c.state == s, 1), else_=0)), 0).label(s) for s in STATES]
    unit_rows = (
        await session.execute(
            select(progress.c.unit_id, Unit.name, func.count().label("participants"), *counts)
            .join(Unit, Unit.id == progress.c.unit_id)
            .group_by(progress.c.unit_id, Unit.name)
            .order_by(progress.c.unit_id)
        )
    ).all()
    units = [
        UnitProgress(
            unit_id=row.unit_id, unit_name=row.name, participants=row.participants,
            **{s: int(getattr(row, s)) for s in STATES},
        )
        for row in unit_rows
    ]  # fmt: skip
    totals = ProgressCounts(
        participants=sum(u.participants for u in units),
        **{s: sum(getattr(u, s) for u in units) for s in STATES},
    )
    examinees: list[ExamineeProgress] = []
    if with_examinees:
        rows = (
            await session.execute(
                _progress_query(exam_id, unit_id).order_by(Participant.unit_id, Participant.ticket_no)
            )
        ).all()
        examinees = [
            ExamineeProgress(
                participant_id=row.participant_id,
                cadre_id=row.cadre_id,
                name=row.name,
                unit_id=row.unit_id,
                ticket_no=row.ticket_no,
                state=row.state,
                attempt_id=row.attempt_id,
                attempt_no=row.attempt_no,
                started_at=row.started_at,
                last_saved_at=row.last_saved_at,
                remaining_seconds=(remaining_seconds(row.deadline_at, now) if row.state == "in_progress" else None),
                submitted_at=row.submitted_at,
                submit_reason=row.submit_reason,
                focus_losses=row.focus_losses,
                extra_time_seconds=row.extra_time_seconds,
                deadline_at=row.deadline_at if row.state == "in_progress" else None,
                locked=is_locked(row.locked_until, now),
            )
            for row in rows
        ]
    return MonitorRead(exam_id=exam.id, status=exam.status, now=now, totals=totals, units=units, examinees=examinees)
