"""Fixtures for taking exams, written straight into the tables: an exam with drawn papers (six questions of
every type by default), participants with examinee accounts and bearer headers.

They commit like ``tests.factories`` (a savepoint inside a test's rolled-back transaction, or for real
when given a session of a real ``Database``)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx2
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role, User
from app.bank.models import Question
from app.bank.normalise import JUDGE_OPTIONS
from app.core.clock import Clock
from app.core.config import Settings
from app.core.db import Database
from app.exams.models import Attempt, Exam, ExamUnit, Participant
from app.main import create_app
from app.org.models import Cadre, Unit
from app.papers.models import Blueprint, Paper, PaperSlot
from tests.factories import auth_headers, make_cadre, make_question, make_unit, make_user

_serial = itertools.count(1)


@dataclass(frozen=True)
class Item:
    """One question of the test paper: its type, the paper's key, points and option count."""

    type: str
    answer: str
    points: float
    options: int = 4


# 14 points: two of each type, with keys that are easy to tell apart.
DEFAULT_ITEMS = (
    Item("single", "B", 2),
    Item("single", "D", 2),
    Item("multiple", "AC", 3),
    Item("multiple", "ABD", 3, options=5),
    Item("judge", "T", 2),
    Item("judge", "F", 2),
)


@dataclass
class Examinee:
    user: User
    cadre: Cadre
    participant: Participant
    headers: dict[str, str]


@dataclass
class ExamSetup:
    exam: Exam
    units: list[Unit]
    papers: dict[int, Paper]
    questions: list[Question]
    items: tuple[Item, ...]
    examinees: list[Examinee] = field(default_factory=list)

    @property
    def total_points(self) -> float:
        return float(sum(item.points for item in self.items))


def _options(item: Item) -> list[dict[str, str]]:
    if item.type == "judge":
        return [dict(o) for o in JUDGE_OPTIONS]
    return [{"key": k, "text": f"选项{k}"} for k in "ABCDEFGH"[: item.options]]


async def make_items(session: AsyncSession, items: tuple[Item, ...]) -> list[Question]:
    questions = []
    for item in items:
        overrides: dict[str, Any] = {"answer": list(item.answer), "explanation": f"解析：答案为{item.answer}"}
        if item.type != "judge":
            overrides["options"] = _options(item)
        questions.append(await make_question(session, item.type, "theory", **overrides))
    return questions


async def make_exam_setup(
    session: AsyncSession,
    *,
    units: int = 1,
    examinees_per_unit: int = 1,
    mode: str = "formal",
    items: tuple[Item, ...] = DEFAULT_ITEMS,
    shuffle: bool = True,
    time_limit_seconds: int = 1800,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    max_attempts: int = 1,
    focus_loss_limit: int | None = None,
    multiple_scoring: str = "all_or_nothing",
    status: str = "drawn",
    now: datetime | None = None,
) -> ExamSetup:
    """An exam whose papers are drawn (one per unit, same questions), with participants and their headers."""
    unit_rows = [await make_unit(session) for _ in range(units)]
    questions = await make_items(session, items)
    blueprint = Blueprint(
        name="测试组卷规则", time_limit_seconds=time_limit_seconds, sections=[], category_split={}, quotas=[],
        multiple_scoring=multiple_scoring,
    )  # fmt: skip
    session.add(blueprint)
    await session.flush()
    exam = Exam(
        name=f"考试{next(_serial)}",
        blueprint_id=blueprint.id,
        mode=mode,
        status=status,
        opens_at=opens_at,
        closes_at=closes_at,
        seed=20260910 + next(_serial),
        shuffle_questions=shuffle,
        shuffle_options=shuffle,
        time_limit_seconds=time_limit_seconds,
        multiple_scoring=multiple_scoring,
        max_attempts=max_attempts,
        focus_loss_limit=focus_loss_limit,
        owner_unit_id=unit_rows[0].id if mode == "practice" else None,
    )
    session.add(exam)
    await session.flush()
    await session.execute(insert(ExamUnit), [{"exam_id": exam.id, "unit_id": u.id} for u in unit_rows])
    papers: dict[int, Paper] = {}
    for unit in unit_rows:
        paper = Paper(
            exam_id=exam.id,
            unit_id=unit.id,
            seed=exam.seed,
            expected_difficulty=3.0,
            total_points=float(sum(i.points for i in items)),
            content=[
                {
                    "no": no,
                    "type": item.type,
                    "category": "theory",
                    "points": item.points,
                    "stem": f"第{no}题 {q.stem}",
                    "options": _options(item),
                }
                for no, (item, q) in enumerate(zip(items, questions, strict=True), start=1)
            ],
            answer_key={str(no): list(item.answer) for no, item in enumerate(items, start=1)},
        )
        session.add(paper)
        await session.flush()
        session.add_all(
            PaperSlot(
                paper_id=paper.id, position=no, question_id=q.id, question_version_id=q.current_version_id,
                type=item.type, category="theory", points=item.points,
            )
            for no, (item, q) in enumerate(zip(items, questions, strict=True), start=1)
        )  # fmt: skip
        papers[unit.id] = paper
    await session.commit()
    setup = ExamSetup(exam=exam, units=unit_rows, papers=papers, questions=questions, items=items)
    for unit in unit_rows:
        for _ in range(examinees_per_unit):
            setup.examinees.append(await add_examinee(session, exam, unit, now=now))
    return setup


async def add_examinee(session: AsyncSession, exam: Exam, unit: Unit, *, now: datetime | None = None) -> Examinee:
    cadre = await make_cadre(session, unit)
    ticket = f"T{exam.id:04d}{next(_serial):06d}"
    user = await make_user(session, Role.examinee, username=ticket)
    participant = Participant(
        exam_id=exam.id, cadre_id=cadre.id, unit_id=unit.id, rank=cadre.rank, ticket_no=ticket, user_id=user.id
    )
    session.add(participant)
    await session.commit()
    return Examinee(user=user, cadre=cadre, participant=participant, headers=await auth_headers(session, user, now=now))


async def purge_exam(session: AsyncSession, exam_id: int) -> None:
    """Remove a really committed exam with everything hanging off it (attempts, papers, participants)."""
    # Attempts first: they also point at the papers, which PostgreSQL may remove before them.
    await session.execute(delete(Attempt).where(Attempt.exam_id == exam_id))
    await session.execute(delete(Exam).where(Exam.id == exam_id))
    await session.commit()


def paper_key_of(setup: ExamSetup) -> dict[int, str]:
    """Paper position → the paper's key, as stored (sorted letters)."""
    return {no: item.answer for no, item in enumerate(setup.items, start=1)}


async def start_attempt(client: httpx2.AsyncClient, setup: ExamSetup, examinee: Examinee) -> dict[str, Any]:
    """The examinee's first start of the exam (200 expected): the start payload."""
    response = await client.post(path_start(setup), headers=examinee.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def path_start(setup: ExamSetup) -> str:
    return f"/api/exams/{setup.exam.id}/attempts"


def shown_to_paper(start: dict[str, Any]) -> dict[int, int]:
    """Displayed number → paper position, recovered from the stems the factory numbers (第n题)."""
    return {q["no"]: int(q["stem"].split("题", 1)[0].removeprefix("第")) for q in start["questions"]}


def letters_for(start: dict[str, Any], shown_no: int, paper_keys: str) -> list[str]:
    """The displayed letters of the paper's option keys ``paper_keys`` for displayed question ``shown_no``."""
    question = next(q for q in start["questions"] if q["no"] == shown_no)
    if question["type"] == "judge":
        return list(paper_keys)
    return [o["key"] for o in question["options"] if o["text"].removeprefix("选项") in paper_keys]


def right_answers(setup: ExamSetup, start: dict[str, Any]) -> dict[str, list[str]]:
    """The full-marks answer sheet in this examinee's displayed numbers and letters."""
    keys = paper_key_of(setup)
    return {str(shown): letters_for(start, shown, keys[paper]) for shown, paper in shown_to_paper(start).items()}


@asynccontextmanager
async def live_client(
    settings: Settings, database: Database, clock: Clock, *, lane: bool = True
) -> AsyncIterator[httpx2.AsyncClient]:
    """A client of an app on a real ``Database``: every request has its own session and really commits
    (and the lane's go through SQLite's group-commit writer or PostgreSQL's batches)."""
    app = create_app(settings, database=database, clock=clock, background=False)
    app.lane_enabled = lane
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://exambank.test") as client:
        yield client
