"""Report fixtures written straight into the tables: an exam with units, papers, participants and
submitted attempts with chosen scores and answers. Bulk rows go through Core inserts, so the 581
examinees of the seed round take a fraction of a second."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.bank.models import Question
from app.exams.models import Absence, Attempt, AttemptAnswer, Exam, ExamUnit, Incident, Participant
from app.org.models import Cadre, Unit
from app.papers.models import Blueprint, Paper, PaperSlot
from tests.factories import make_question, make_unit

SAT_AT = datetime(2018, 9, 5, 1, 30, tzinfo=UTC)
_serial = itertools.count(1)


@dataclass
class Answer:
    keys: str
    points: float
    is_correct: bool


@dataclass
class Seat:
    """One examinee: his rank and the score of each of his submitted attempts (the last one counts)."""

    rank: str
    score: float | None
    name: str | None = None
    answers: dict[int, Answer] = field(default_factory=dict)
    earlier_scores: list[float] = field(default_factory=list)
    in_progress: bool = False


@dataclass
class Seated:
    participant_id: int
    cadre_id: int
    user_id: int
    attempt_id: int | None


async def make_blueprint(session: AsyncSession) -> Blueprint:
    blueprint = Blueprint(
        name="基本理论+",
        time_limit_seconds=1800,
        sections=[
            {"type": "single", "count": 20, "points": 2},
            {"type": "multiple", "count": 10, "points": 3},
            {"type": "judge", "count": 15, "points": 2},
        ],
        category_split={"theory": 40, "law": 20, "policy": 40},
        quotas=[],
    )
    session.add(blueprint)
    await session.commit()
    return blueprint


async def make_exam(
    session: AsyncSession, units: list[Unit], *, name: str = "首批专项督导考试", mode: str = "formal"
) -> Exam:
    blueprint = await make_blueprint(session)
    exam = Exam(
        name=name,
        blueprint_id=blueprint.id,
        mode=mode,
        status="closed",
        seed=2018,
        time_limit_seconds=1800,
        multiple_scoring="all_or_nothing",
        max_attempts=1 if mode == "formal" else 5,
        owner_unit_id=units[0].id if mode == "practice" and units else None,
    )
    session.add(exam)
    await session.flush()
    session.add_all([ExamUnit(exam_id=exam.id, unit_id=unit.id) for unit in units])
    await session.commit()
    return exam


@dataclass
class SlotSpec:
    type: str = "single"
    category: str = "theory"
    points: float = 2
    answer: str = "B"
    question: Question | None = None


async def make_paper(
    session: AsyncSession,
    exam: Exam,
    unit: Unit,
    slots: list[SlotSpec] | None = None,
    *,
    expected_difficulty: float = 0.7,
    total_points: float | None = None,
) -> Paper:
    """A paper of ``slots`` (questions created when not given); no slots → a bare 100-point paper."""
    slots = slots or []
    questions = []
    for spec in slots:
        if spec.question is None:
            extra: dict[str, Any] = {}
            if spec.type == "judge":
                extra["answer"] = [spec.answer]
            else:
                extra["answer"] = list(spec.answer)
            spec.question = await make_question(
                session, spec.type, spec.category, unit.id if spec.category == "policy" else None, **extra
            )
        questions.append(spec.question)
    total = total_points if total_points is not None else (sum(s.points for s in slots) or 100)
    paper = Paper(
        exam_id=exam.id,
        unit_id=unit.id,
        seed=next(_serial),
        expected_difficulty=expected_difficulty,
        total_points=total,
        content=[
            {
                "no": n,
                "type": s.type,
                "category": s.category,
                "points": s.points,
                "options": [] if s.type == "judge" else [{"key": k, "text": f"选项{k}"} for k in "ABCD"],
            }
            for n, s in enumerate(slots, 1)
        ],
        answer_key={str(n): list(s.answer) for n, s in enumerate(slots, 1)},
    )
    session.add(paper)
    await session.flush()
    for n, (spec, question) in enumerate(zip(slots, questions, strict=True), 1):
        session.add(
            PaperSlot(
                paper_id=paper.id,
                position=n,
                question_id=question.id,
                question_version_id=question.current_version_id,
                type=spec.type,
                category=spec.category,
                points=spec.points,
            )
        )
    await session.commit()
    return paper


async def seat_examinees(session: AsyncSession, exam: Exam, paper: Paper, seats: list[Seat]) -> list[Seated]:
    """Cadres, users, participants and their attempts for one unit's paper, in bulk."""
    if not seats:
        return []
    tag = next(_serial)
    cadre_ids = list(
        (
            await session.scalars(
                insert(Cadre).returning(Cadre.id, sort_by_parameter_order=True),
                [
                    {
                        "unit_id": paper.unit_id,
                        "name": seat.name or f"干部{tag}-{i}",
                        "rank": seat.rank,
                        "employee_no": f"R{tag}-{i}",
                        "is_active": True,
                    }
                    for i, seat in enumerate(seats)
                ],
            )
        ).all()
    )
    user_ids = list(
        (
            await session.scalars(
                insert(User).returning(User.id, sort_by_parameter_order=True),
                [
                    {
                        "username": f"t{exam.id}-{tag}-{i}",
                        "password_hash": "-",
                        "roles": ["examinee"],
                        "unit_id": paper.unit_id,
                        "is_active": True,
                    }
                    for i in range(len(seats))
                ],
            )
        ).all()
    )
    participant_ids = list(
        (
            await session.scalars(
                insert(Participant).returning(Participant.id, sort_by_parameter_order=True),
                [
                    {
                        "exam_id": exam.id,
                        "cadre_id": cadre_ids[i],
                        "unit_id": paper.unit_id,
                        "rank": seat.rank,
                        "ticket_no": f"T{exam.id}-{tag}-{i}",
                        "user_id": user_ids[i],
                    }
                    for i, seat in enumerate(seats)
                ],
            )
        ).all()
    )
    attempt_rows: list[dict[str, Any]] = []
    owners: list[int] = []
    for i, seat in enumerate(seats):
        history = [*seat.earlier_scores, seat.score] if seat.score is not None else []
        for number, score in enumerate(history, 1):
            attempt_rows.append(_attempt_row(exam, paper, participant_ids[i], number, score, "submitted"))
            owners.append(i)
        if seat.in_progress:
            attempt_rows.append(_attempt_row(exam, paper, participant_ids[i], len(history) + 1, None, "in_progress"))
            owners.append(-1)
    attempt_ids: list[int] = []
    if attempt_rows:
        attempt_ids = list(
            (
                await session.scalars(insert(Attempt).returning(Attempt.id, sort_by_parameter_order=True), attempt_rows)
            ).all()
        )
    counted: dict[int, int] = {}
    for owner, attempt_id in zip(owners, attempt_ids, strict=True):
        if owner >= 0:
            counted[owner] = attempt_id  # the last submitted one wins, as in the report
    answer_rows = [
        {
            "attempt_id": counted[i],
            "position": position,
            "keys": answer.keys,
            "seq": 1,
            "saved_at": SAT_AT,
            "points": answer.points,
            "is_correct": answer.is_correct,
        }
        for i, seat in enumerate(seats)
        if i in counted
        for position, answer in seat.answers.items()
    ]
    if answer_rows:
        await session.execute(insert(AttemptAnswer), answer_rows)
    await session.commit()
    return [Seated(participant_ids[i], cadre_ids[i], user_ids[i], counted.get(i)) for i in range(len(seats))]


def _attempt_row(
    exam: Exam, paper: Paper, participant_id: int, number: int, score: float | None, status: str
) -> dict[str, Any]:
    started = SAT_AT + timedelta(hours=number)
    return {
        "exam_id": exam.id,
        "participant_id": participant_id,
        "paper_id": paper.id,
        "unit_id": paper.unit_id,
        "attempt_no": number,
        "status": status,
        "started_at": started,
        "deadline_at": started + timedelta(seconds=1800),
        "submitted_at": started + timedelta(seconds=1500) if status == "submitted" else None,
        "submit_reason": "examinee" if status == "submitted" else None,
        "last_seq": 1,
        "shuffle_seed": 1,
        "question_order": [],
        "option_orders": {},
        "score": score,
        "graded_at": started + timedelta(seconds=1500) if score is not None else None,
    }


async def record_absence(session: AsyncSession, exam: Exam, unit: Unit, reason: str = "因病") -> Absence:
    cadre = Cadre(unit_id=unit.id, name=f"缺考干部{next(_serial)}", rank="chu", employee_no=f"A{next(_serial)}")
    session.add(cadre)
    await session.flush()
    absence = Absence(exam_id=exam.id, cadre_id=cadre.id, unit_id=unit.id, reason=reason)
    session.add(absence)
    await session.commit()
    return absence


async def record_incident(session: AsyncSession, exam: Exam, unit: Unit, kind: str, cadre_id: int) -> Incident:
    incident = Incident(exam_id=exam.id, cadre_id=cadre_id, unit_id=unit.id, kind=kind)
    session.add(incident)
    await session.commit()
    return incident


async def make_units(session: AsyncSession, names: list[str], headcounts: list[int] | None = None) -> list[Unit]:
    counts = headcounts or [200] * len(names)
    return [await make_unit(session, name=name, headcount=count) for name, count in zip(names, counts, strict=True)]
