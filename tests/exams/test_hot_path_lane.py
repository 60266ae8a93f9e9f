"""The hot-path lane: ticket login, first start, autosave and submit are settled by ``app.exams.room.lane`` /
``app.accounts.lane`` without the routes; every other case falls through to the routes, unchanged.

"Settled by the lane" is shown by making the route's service fail: the request still succeeds.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import lane as accounts_lane
from app.accounts import service as accounts_service
from app.accounts.models import AuthSession, User
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import Database
from app.core.security import hash_pin, token_digest
from app.core.sqlite_writer import run_job
from app.exams.models import Attempt, AttemptAnswer, Exam
from app.exams.room import attempts
from app.exams.room import lane as exams_lane
from app.papers.models import Paper
from tests.conftest import TEST_SECRET
from tests.exams.factories_attempts import (
    ExamSetup,
    live_client,
    make_exam_setup,
    path_start,
    purge_exam,
    right_answers,
    shown_to_paper,
)


def _routes_must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the route answered a request the lane should have settled")

    for name in ("start_attempt", "autosave_answers", "submit_attempt"):
        monkeypatch.setattr(attempts, name, refuse)
    monkeypatch.setattr(accounts_service, "login", refuse)


async def _ticket(session: AsyncSession, setup: ExamSetup, pin: str = "246810") -> str:
    user = setup.examinees[0].user
    await session.execute(update(User).where(User.id == user.id).values(password_hash=hash_pin(pin, TEST_SECRET)))
    await session.commit()
    return user.username


async def test_a_whole_exam_on_the_lane(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    ticket = await _ticket(session, setup)
    _routes_must_not_run(monkeypatch)

    login = await client.post("/api/auth/login", json={"username": ticket, "password": "246810"})
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["token_type"] == "bearer" and body["user"]["roles"] == ["examinee"]
    assert "exambank_session=" in login.headers["set-cookie"] and "httponly" in login.headers["set-cookie"].lower()
    headers = {"Authorization": f"Bearer {body['access_token']}"}

    started = await client.post(path_start(setup), headers=headers)
    assert started.status_code == 200, started.text
    start = started.json()
    assert start["attempt_no"] == 1 and start["status"] == "in_progress" and start["answers"] == {}
    assert start["remaining_seconds"] == 1800 and start["deadline_at"].endswith("Z")
    assert len(start["questions"]) == len(setup.items)
    assert not any(k in q for q in start["questions"] for k in ("answer", "explanation", "key"))
    # Nothing is written for the answers until they are saved (the start storm writes one row each).
    answer_rows = select(func.count()).where(AttemptAnswer.attempt_id == start["attempt_id"])
    assert await session.scalar(answer_rows) == 0

    sheet = right_answers(setup, start)
    saved = await client.put(
        f"/api/attempts/{start['attempt_id']}/answers", json={"seq": 1, "answers": sheet}, headers=headers
    )
    assert saved.status_code == 200, saved.text
    assert saved.json() == {
        "saved": True, "last_seq": 1, "saved_at": saved.json()["saved_at"], "remaining_seconds": 1800,
        "deadline_at": start["deadline_at"],
    }  # fmt: skip

    submitted = await client.post(f"/api/attempts/{start['attempt_id']}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted" and submitted.json()["submit_reason"] == "examinee"
    assert submitted.json()["result"] is None

    attempt = await session.scalar(select(Attempt).where(Attempt.id == start["attempt_id"]))
    assert attempt is not None
    await session.refresh(attempt)
    assert attempt.score == setup.total_points and attempt.graded_at is not None
    rows = (await session.scalars(select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt.id))).all()
    assert len(rows) == len(setup.items) and all(r.is_correct for r in rows)


async def test_the_lane_start_equals_the_routes_resume(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    """The first start comes from the lane, the second (a resume) from the route: the same paper, order,
    letters and deadline."""
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    first = (await client.post(path_start(setup), headers=examinee.headers)).json()
    again = (await client.post(path_start(setup), headers=examinee.headers)).json()
    assert again == first


async def test_cases_the_lane_leaves_are_answered_by_the_routes(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    start = (await client.post(path_start(setup), headers=examinee.headers)).json()
    path = f"/api/attempts/{start['attempt_id']}/answers"
    judge_no = next(str(q["no"]) for q in start["questions"] if q["type"] == "judge")

    bad = await client.put(path, json={"seq": 5, "answers": {judge_no: ["A"]}}, headers=examinee.headers)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "answers", judge_no]
    attempt = await session.scalar(select(Attempt.last_seq).where(Attempt.id == start["attempt_id"]))
    assert attempt == 0  # nothing of the refused save was written

    good = await client.put(path, json={"seq": 5, "answers": {judge_no: ["T"]}}, headers=examinee.headers)
    assert good.json()["saved"]
    stale = await client.put(path, json={"seq": 4, "answers": {judge_no: ["F"]}}, headers=examinee.headers)
    assert stale.json() == {"saved": False, "last_seq": 5, "ignored": "stale seq"}

    nobody = await client.put(path, json={"seq": 9, "answers": {}}, headers={"Authorization": "Bearer nope"})
    assert nobody.status_code == 401
    malformed = await client.put(path, json={"seq": 0, "answers": {}}, headers=examinee.headers)
    assert malformed.status_code == 422 and "seq" in malformed.text

    clock.advance(seconds=1800 + 11)
    late = await client.put(path, json={"seq": 6, "answers": {judge_no: ["F"]}}, headers=examinee.headers)
    assert late.status_code == 409
    submit = await client.post(f"/api/attempts/{start['attempt_id']}/submit", headers=examinee.headers)
    assert submit.status_code == 200 and submit.json()["submit_reason"] == "deadline"


async def test_a_wrong_pin_goes_to_the_route_and_counts_as_a_failure(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    ticket = await _ticket(session, setup)
    wrong = await client.post("/api/auth/login", json={"username": ticket, "password": "000000"})
    assert wrong.status_code == 401
    failures = await session.scalar(select(User.failed_logins).where(User.username == ticket))
    assert failures == 1
    # With a failure on record the lane leaves even the right PIN to the route, which resets the count.
    right = await client.post("/api/auth/login", json={"username": ticket, "password": "246810"})
    assert right.status_code == 200
    assert await session.scalar(select(User.failed_logins).where(User.username == ticket)) == 0


async def test_a_corrected_key_scores_the_next_save(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    """Each process keeps its copy of a paper's key for scoring saves; a key corrected in the database
    (by a regrade, possibly on another server) is used from the next save on."""
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    start = (await client.post(path_start(setup), headers=examinee.headers)).json()
    sheet = right_answers(setup, start)
    single_no = next(str(q["no"]) for q in start["questions"] if q["type"] == "single")
    paper_no = shown_to_paper(start)[int(single_no)]
    path = f"/api/attempts/{start['attempt_id']}/answers"
    first = await client.put(path, json={"seq": 1, "answers": {single_no: sheet[single_no]}}, headers=examinee.headers)
    assert first.json()["saved"]

    paper = next(iter(setup.papers.values()))
    original = paper.answer_key[str(paper_no)]
    corrected = dict(paper.answer_key) | {str(paper_no): ["A"] if original != ["A"] else ["C"]}
    await session.execute(update(Paper).where(Paper.id == paper.id).values(answer_key=corrected))
    await session.commit()

    again = await client.put(path, json={"seq": 2, "answers": {single_no: sheet[single_no]}}, headers=examinee.headers)
    assert again.json()["saved"]
    stored = await session.scalar(
        select(AttemptAnswer.points).where(
            AttemptAnswer.attempt_id == start["attempt_id"], AttemptAnswer.position == paper_no
        )
    )
    assert stored == 0.0


@pytest.mark.real_commit
async def test_many_examinees_at_once_really_committed(
    committed_database_url: str, committed_settings: Settings, clock: FrozenClock
) -> None:
    """Thirty examinees start, save everything and submit at the same moment on a really committing
    database: every answer is stored and graded; on SQLite the writer grouped the writes."""
    database = Database(committed_database_url)
    async with database.write_sessions() as session:
        setup = await make_exam_setup(session, units=3, examinees_per_unit=10, now=clock.now())
    try:
        async with live_client(committed_settings, database, clock) as client:

            async def sit(headers: dict[str, str]) -> int:
                start = (await client.post(path_start(setup), headers=headers)).json()
                path = f"/api/attempts/{start['attempt_id']}"
                saved = await client.put(
                    path + "/answers", json={"seq": 1, "answers": right_answers(setup, start)}, headers=headers
                )
                assert saved.json()["saved"] is True, saved.text
                submitted = await client.post(path + "/submit", headers=headers)
                assert submitted.status_code == 200, submitted.text
                return int(start["attempt_id"])

            ids = await asyncio.gather(*(sit(e.headers) for e in setup.examinees))
        async with database.read_sessions() as session:
            scores = (await session.scalars(select(Attempt.score).where(Attempt.id.in_(ids)))).all()
            answered = await session.scalar(
                select(func.count()).where(AttemptAnswer.attempt_id.in_(ids), AttemptAnswer.keys != "")
            )
        assert scores == [setup.total_points] * 30 and answered == 30 * len(setup.items)
        if database.sqlite_writer is not None:
            assert 0 < database.sqlite_writer.batches < 3 * 30  # fewer transactions than writes
    finally:
        async with database.write_sessions() as session:
            await purge_exam(session, setup.exam.id)
        await database.dispose()


@pytest.mark.real_commit
async def test_a_start_racing_a_close_leaves_no_open_attempt(
    committed_database_url: str, committed_settings: Settings, clock: FrozenClock, is_postgres: bool
) -> None:
    """PostgreSQL: a first start whose insert meets a close in flight (the exam locked for update) waits
    for it, sees the exam closed, inserts nothing, and the route answers 409."""
    if not is_postgres:
        pytest.skip("SQLite serialises writers: a start and a close never interleave")
    database = Database(committed_database_url)
    async with database.write_sessions() as session:
        setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    try:
        async with live_client(committed_settings, database, clock) as client:
            async with database.engine.connect() as closer:
                await closer.execute(select(Exam.id).where(Exam.id == setup.exam.id).with_for_update())
                start = asyncio.create_task(client.post(path_start(setup), headers=examinee.headers))
                await asyncio.sleep(0.5)
                assert not start.done()  # waiting for the close's lock
                await closer.execute(update(Exam).where(Exam.id == setup.exam.id).values(status="closed"))
                await closer.commit()
            response = await start
        assert response.status_code == 409, response.text
        async with database.read_sessions() as session:
            assert await session.scalar(select(func.count()).where(Attempt.exam_id == setup.exam.id)) == 0
    finally:
        async with database.write_sessions() as session:
            await purge_exam(session, setup.exam.id)
        await database.dispose()


async def test_sqlite_writes_recheck_what_their_lock_free_reads_saw(
    session: AsyncSession, clock: FrozenClock, is_postgres: bool
) -> None:
    """SQLite: a writer job reads before taking the write lock, so another worker may commit in between;
    its write step then refuses (the request falls through to the route) rather than act on stale facts."""
    if is_postgres:
        pytest.skip("the SQLite writer's jobs")
    setup = await make_exam_setup(session, now=clock.now())
    now, examinee = clock.now(), setup.examinees[0]
    digest = token_digest(examinee.headers["Authorization"].removeprefix("Bearer "))

    # A first start planned, then the exam closed before the insert.
    planned = await run_job(
        session, lambda c: exams_lane._plan_start_on_sqlite(c, exam_id=setup.exam.id, digest=digest, now=now)
    )
    assert planned is not None and planned.presentation.question_order
    await session.execute(update(Exam).where(Exam.id == setup.exam.id).values(status="closed"))
    assert await run_job(session, lambda c: exams_lane._write_start_on_sqlite(c, planned)) is None
    assert await session.scalar(select(func.count()).where(Attempt.exam_id == setup.exam.id)) == 0

    # A ticket holder found, then deactivated before his session is opened.
    ticket = await _ticket(session, setup)
    check = partial(accounts_lane._pin_holder, pin="246810", secret=TEST_SECRET)
    find = partial(accounts_lane._find_ticket_holder_on_sqlite, username=ticket, check=check)
    holder = await run_job(session, find)
    assert holder is not None
    await session.execute(update(User).where(User.id == holder["id"]).values(is_active=False))
    later = now + timedelta(hours=1)
    opened = await run_job(
        session, lambda c: accounts_lane._open_session_on_sqlite(c, holder, token="t", now=now, expires_at=later)
    )
    assert opened is None
    assert await session.scalar(select(func.count()).where(AuthSession.token_digest == token_digest("t"))) == 0
