"""Finished rounds for the demo: a practice round and a formal round that were sat, graded and closed, so the
reports, the monitor and the notice have data from the first start.

The rounds go through the same services as the pages (start, autosave, submit, close, publish), dated in the
past; the examinees' answers are drawn from a seeded generator, each unit with its own level.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from app.accounts.models import AuthSession, Role
from app.accounts.principal import Principal
from app.exams import service as exam_service
from app.exams.admission import participants as exam_participants
from app.exams.models import IncidentKind, Participant
from app.exams.proctoring import absences, discipline
from app.exams.room import attempts
from app.exams.room.attempt_schemas import IncidentCreate
from app.exams.schemas import AbsenceCreate, ExamCreate, ParticipantsAdd
from app.org.models import Cadre
from app.papers.models import Paper

SITTERS_PER_UNIT = 8
# How often an examinee of each demo unit picks the right answer (the units differ, as in a real round).
UNIT_LEVELS = {"GTT": 0.93, "GAT": 0.86, "RST": 0.8, "SJJ": 0.7}


def _answers(paper_key: dict[str, Any], options: dict[str, list[str]], rng: random.Random, level: float) -> Any:
    """Shown number → keys: the right keys with probability ``level``, else one wrong option."""
    sheet: dict[str, list[str]] = {}
    for no, right in paper_key.items():
        keys = [str(k) for k in right]
        if rng.random() < level:
            sheet[no] = sorted(keys)
        else:
            wrong = [k for k in options.get(no, ["T", "F"]) if k not in keys]
            sheet[no] = [wrong[0]] if wrong else keys
    return sheet


async def _sitters(session: Any, unit_ids: dict[str, int]) -> dict[str, list[int]]:
    chosen: dict[str, list[int]] = {}
    for code, unit_id in unit_ids.items():
        rows = await session.scalars(
            select(Cadre.id).where(Cadre.unit_id == unit_id, Cadre.is_active.is_(True)).order_by(Cadre.id)
        )
        cadres = list(rows)
        # every rank: take cadres spread over the roster, which the demo orders by rank
        step = max(1, len(cadres) // SITTERS_PER_UNIT)
        chosen[code] = cadres[::step][:SITTERS_PER_UNIT]
    return chosen


async def finished_round(
    session: Any,
    organiser: Principal,
    *,
    name: str,
    mode: str,
    blueprint_id: int,
    unit_ids: dict[str, int],
    at: datetime,
    seed: int,
    secret: str,
    publish: bool,
) -> int:
    """Create, sit, close (and publish) one round dated ``at``; returns the exam's id."""
    exam = await exam_service.create_exam(
        session,
        data=ExamCreate(name=name, blueprint_id=blueprint_id, mode=mode, unit_ids=list(unit_ids.values()), seed=seed,
                        shuffle_questions=False, shuffle_options=False),
        principal=organiser, now=at,
    )  # fmt: skip
    await exam_service.draw_exam_papers(session, exam=exam, principal=organiser, now=at)
    sitters = await _sitters(session, unit_ids)
    cadre_ids = [cadre for cadres in sitters.values() for cadre in cadres]
    await exam_participants.add_participants(
        session, exam=exam, data=ParticipantsAdd(cadre_ids=cadre_ids), principal=organiser, secret=secret, now=at
    )
    papers = {p.unit_id: p for p in await session.scalars(select(Paper).where(Paper.exam_id == exam.id))}
    rng = random.Random(seed)
    for code, cadres in sitters.items():
        *sat, absent = cadres
        for offset, cadre_id in enumerate(sat):
            participant = await session.scalar(
                select(Participant).where(Participant.exam_id == exam.id, Participant.cadre_id == cadre_id)
            )
            assert participant is not None and participant.user_id is not None
            started_at = at + timedelta(minutes=offset % 3)
            # The exam room's claims authenticate the caller by his live login session: the examinee of a
            # past round gets one for the length of the round (revoked when the round is closed).
            digest = f"demo-{exam.id}-{participant.ticket_no}"
            session.add(AuthSession(token_digest=digest, user_id=participant.user_id, created_at=started_at,
                                    expires_at=at + timedelta(hours=1)))  # fmt: skip
            await session.flush()
            examinee = Principal(
                id=participant.user_id, username=participant.ticket_no, roles=frozenset({Role.examinee}),
                unit_id=None, session_digest=digest,
            )  # fmt: skip
            start = await attempts.start_attempt(
                session, exam_id=exam.id, principal=examinee, now=started_at, grace_seconds=10
            )
            options = {str(q.no): [o.key for o in q.options] for q in start.questions}
            level = UNIT_LEVELS.get(code, 0.8) + rng.uniform(-0.08, 0.07)
            sheet = _answers(papers[participant.unit_id].answer_key, options, rng, min(level, 1.0))
            saved_at = started_at + timedelta(minutes=18 + rng.randint(0, 9))
            await attempts.autosave_answers(
                session, attempt_id=start.attempt_id, principal=examinee, seq=1, answers=sheet, now=saved_at,
                grace_seconds=10,
            )  # fmt: skip
            await attempts.submit_attempt(
                session, attempt_id=start.attempt_id, principal=examinee, now=saved_at, grace_seconds=10
            )
        if mode == "formal":
            await absences.record_absence(
                session, exam=exam, data=AbsenceCreate(cadre_id=absent, reason="因病请假"), principal=organiser,
                now=at,
            )  # fmt: skip
    if mode == "formal":
        whisperer = sitters[next(iter(sitters))][0]
        await discipline.record_incident(
            session, exam_id=exam.id, data=IncidentCreate(cadre_id=whisperer, kind=IncidentKind.whispering,
                                                          note="考试中与邻座交谈，经提醒后停止"),
            principal=organiser, now=at + timedelta(minutes=10),
        )  # fmt: skip
    closed_at = at + timedelta(hours=1)
    await exam_service.close_exam(session, exam_id=exam.id, principal=organiser, now=closed_at)
    await session.execute(
        update(AuthSession)
        .where(AuthSession.token_digest.startswith(f"demo-{exam.id}-"), AuthSession.revoked_at.is_(None))
        .values(revoked_at=closed_at)
    )
    if publish:
        await session.refresh(exam)
        await exam_service.publish_exam(session, exam=exam, principal=organiser, now=closed_at + timedelta(days=1))
    return int(exam.id)
