"""The lane and the routes agree: the same script of exam-room requests, sent once by an examinee with the
hot-path lane on and once by another (same paper, no shuffle) with it off, gets the same replies and
leaves the same rows — on the boundaries too: an expired or revoked session, a save at the grace's
last second and one after it, a fully answered submit after the grace, two devices."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import AuthSession
from app.core.clock import FrozenClock
from app.core.lane import LaneApplication
from app.core.security import token_digest
from app.exams.models import Attempt, AttemptAnswer
from tests.exams.factories_attempts import Examinee, ExamSetup, make_exam_setup, path_start, right_answers
from tests.factories import auth_headers

GRACE = 10  # the test settings' save grace
LIMIT = 1800


@dataclass
class Run:
    """One examinee's pass through a script: each reply as (label, status, body with ids taken out)."""

    client: httpx2.AsyncClient
    session: AsyncSession
    clock: FrozenClock
    setup: ExamSetup
    examinee: Examinee
    headers: dict[str, str]
    replies: list[tuple[str, int, Any]] = field(default_factory=list)
    attempt_id: int | None = None
    start: dict[str, Any] = field(default_factory=dict)

    async def send(self, label: str, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        kwargs.setdefault("headers", self.headers)
        response = await self.client.request(method, path.format(attempt=self.attempt_id), **kwargs)
        body = response.json() if response.content else None
        if self.attempt_id is None and isinstance(body, dict) and "attempt_id" in body:
            self.attempt_id = int(body["attempt_id"])
        self.replies.append((label, response.status_code, _without_ids(body, self.attempt_id)))
        return response

    async def begin(self) -> dict[str, Any]:
        started = await self.send("start", "POST", path_start(self.setup))
        assert started.status_code == 200, started.text
        self.start = started.json()
        self.attempt_id = int(self.start["attempt_id"])
        return self.start

    async def save(self, label: str, seq: int, answers: dict[str, list[str]], **kwargs: Any) -> httpx2.Response:
        return await self.send(label, "PUT", "/api/attempts/{attempt}/answers", json={"seq": seq, "answers": answers},
                               **kwargs)  # fmt: skip

    async def submit(self, label: str, **kwargs: Any) -> httpx2.Response:
        return await self.send(label, "POST", "/api/attempts/{attempt}/submit", **kwargs)

    async def session_row(self, **values: Any) -> None:
        digest = token_digest(self.headers["Authorization"].removeprefix("Bearer "))
        await self.session.execute(update(AuthSession).where(AuthSession.token_digest == digest).values(**values))
        await self.session.commit()


def _without_ids(body: Any, attempt_id: int | None) -> Any:
    if isinstance(body, dict):
        return {k: ("<attempt>" if k == "attempt_id" and v == attempt_id else _without_ids(v, attempt_id))
                for k, v in body.items()}  # fmt: skip
    if isinstance(body, list):
        return [_without_ids(v, attempt_id) for v in body]
    return body


async def _rows(session: AsyncSession, attempt_id: int | None, started: datetime) -> dict[str, Any]:
    """The attempt's row and its answer rows, times relative to the start of the run."""
    if attempt_id is None:
        return {}

    def since(moment: datetime | None) -> float | None:
        return None if moment is None else (moment - started).total_seconds()

    attempt = (await session.execute(select(Attempt).where(Attempt.id == attempt_id))).scalar_one()
    await session.refresh(attempt)
    answers = (
        await session.execute(
            select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt_id).order_by(AttemptAnswer.position)
        )
    ).scalars()
    return {
        "attempt": (
            attempt.status, attempt.submit_reason, attempt.score, attempt.last_seq, since(attempt.started_at),
            since(attempt.deadline_at), since(attempt.last_saved_at), since(attempt.submitted_at),
            since(attempt.graded_at), attempt.question_order, attempt.option_orders,
        ),
        "answers": [(a.position, a.keys, a.seq, since(a.saved_at), a.points, a.is_correct) for a in answers],
    }  # fmt: skip


Script = Callable[[Run], Awaitable[None]]


async def _both_ways(
    script: Script,
    app: LaneApplication,
    client: httpx2.AsyncClient,
    session: AsyncSession,
    clock: FrozenClock,
    **setup_options: Any,
) -> Run:
    """Run ``script`` with the lane on, then (the clock set back) with it off; assert both agree."""
    setup = await make_exam_setup(session, examinees_per_unit=2, shuffle=False, now=clock.now(), **setup_options)
    began = clock.now()
    outcome: dict[bool, tuple[Run, dict[str, Any]]] = {}
    for lane, examinee in ((True, setup.examinees[0]), (False, setup.examinees[1])):
        clock.set(began)
        app.lane_enabled = lane
        run = Run(client, session, clock, setup, examinee, examinee.headers)
        try:
            await script(run)
        finally:
            app.lane_enabled = True
        outcome[lane] = (run, await _rows(session, run.attempt_id, began))
    (on, rows_on), (off, rows_off) = outcome[True], outcome[False]
    assert on.replies == off.replies
    assert rows_on == rows_off
    return on


def _reply(run: Run, label: str) -> tuple[int, Any]:
    found = [(status, body) for name, status, body in run.replies if name == label]
    assert len(found) == 1, label
    return found[0]


async def test_an_exam_sat_in_time(
    app: LaneApplication, client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    async def script(run: Run) -> None:
        start = await run.begin()
        sheet = right_answers(run.setup, start)
        first = dict(list(sheet.items())[:3])
        await run.save("partial", 1, first)
        await run.save("stale", 1, sheet)
        run.clock.advance(seconds=60)
        await run.save("all", 2, sheet)
        judge = next(str(q["no"]) for q in start["questions"] if q["type"] == "judge")
        await run.save("bad", 3, {judge: ["A"]})
        await run.send("state", "GET", "/api/attempts/{attempt}")
        run.clock.advance(seconds=60)
        await run.submit("submit")
        await run.submit("again")
        await run.save("after", 4, sheet)

    run = await _both_ways(script, app, client, session, clock)
    status, partial = _reply(run, "partial")
    assert status == 200
    assert partial == {
        "saved": True, "last_seq": 1, "saved_at": partial["saved_at"], "remaining_seconds": LIMIT,
        "deadline_at": partial["deadline_at"],
    }  # fmt: skip
    assert _reply(run, "stale") == (200, {"saved": False, "last_seq": 1, "ignored": "stale seq"})
    assert _reply(run, "bad")[0] == 422
    submitted = _reply(run, "submit")
    assert submitted[0] == 200 and submitted[1]["submit_reason"] == "examinee"
    assert _reply(run, "again") == submitted
    assert _reply(run, "after")[0] == 409


async def test_saves_at_the_end_of_the_grace(
    app: LaneApplication, client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    """A save one second before the grace runs out is stored; one a second after it is refused and the
    attempt is submitted with what was saved."""

    async def script(run: Run) -> None:
        start = await run.begin()
        sheet = right_answers(run.setup, start)
        run.clock.advance(seconds=LIMIT + GRACE - 1)
        await run.save("grace - 1 s", 1, sheet)
        run.clock.advance(seconds=2)
        await run.save("grace + 1 s", 2, {})
        await run.send("state", "GET", "/api/attempts/{attempt}")

    run = await _both_ways(script, app, client, session, clock)
    saved = _reply(run, "grace - 1 s")
    assert saved[0] == 200 and saved[1]["saved"] is True and saved[1]["remaining_seconds"] == 0
    assert _reply(run, "grace + 1 s")[0] == 409
    state = _reply(run, "state")[1]
    assert state["status"] == "submitted" and state["submit_reason"] == "deadline" and state["last_seq"] == 1


async def test_a_fully_answered_submit_after_the_grace(
    app: LaneApplication, client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    """Every question answered, but the submit comes after the grace: submitted as at the deadline."""

    async def script(run: Run) -> None:
        start = await run.begin()
        await run.save("all", 1, right_answers(run.setup, start))
        run.clock.advance(seconds=LIMIT + GRACE + 1)
        await run.submit("late submit")

    run = await _both_ways(script, app, client, session, clock)
    status, body = _reply(run, "late submit")
    assert status == 200 and body["submit_reason"] == "deadline" and body["status"] == "submitted"


@pytest.mark.parametrize("ending", ["expired", "revoked"])
async def test_a_session_that_ended_can_neither_save_nor_submit(
    app: LaneApplication, client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock, ending: str
) -> None:
    async def script(run: Run) -> None:
        start = await run.begin()
        sheet = right_answers(run.setup, start)
        await run.save("in time", 1, dict(list(sheet.items())[:1]))
        run.clock.advance(seconds=30)
        if ending == "expired":
            await run.session_row(expires_at=run.clock.now() - timedelta(seconds=1))
        else:
            await run.session_row(revoked_at=run.clock.now())
        await run.save("save", 2, sheet)
        await run.submit("submit")

    run = await _both_ways(script, app, client, session, clock)
    assert _reply(run, "save")[0] == 401 and _reply(run, "submit")[0] == 401
    rows = await _rows(session, run.attempt_id, clock.now())
    assert rows["attempt"][0] == "in_progress" and rows["attempt"][3] == 1 and len(rows["answers"]) == 1


async def test_two_devices(
    app: LaneApplication, client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    """The second device's start takes the attempt over: the first can no longer save or submit."""

    async def script(run: Run) -> None:
        start = await run.begin()
        sheet = right_answers(run.setup, start)
        await run.save("first device", 1, dict(list(sheet.items())[:2]))
        second = await auth_headers(run.session, run.examinee.user, now=run.clock.now())
        await run.send("second device starts", "POST", path_start(run.setup), headers=second)
        await run.save("first device again", 2, sheet)
        await run.submit("first device submits")
        await run.save("second device", 2, sheet, headers=second)
        await run.submit("second device submits", headers=second)

    run = await _both_ways(script, app, client, session, clock)
    resumed = _reply(run, "second device starts")
    assert resumed[0] == 200 and resumed[1]["last_seq"] == 1 and len(resumed[1]["answers"]) == 2
    assert _reply(run, "first device again")[0] == 409 and _reply(run, "first device submits")[0] == 409
    assert _reply(run, "second device")[1]["saved"] is True
    assert _reply(run, "second device submits")[1]["submit_reason"] == "examinee"


async def test_a_practice_exam_and_an_unanswered_question(
    app: LaneApplication, client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    """What the lane leaves to the grading service: a practice exam's review, a formal one half answered."""

    async def script(run: Run) -> None:
        start = await run.begin()
        await run.save("half", 1, dict(list(right_answers(run.setup, start).items())[:3]))
        await run.submit("submit")
        await run.send("result", "GET", "/api/attempts/{attempt}/result")

    practice = await _both_ways(script, app, client, session, clock, mode="practice", max_attempts=2)
    assert _reply(practice, "submit")[1]["result"]["questions"]
    formal = await _both_ways(script, app, client, session, clock)
    assert _reply(formal, "submit")[1]["submit_reason"] == "examinee" and _reply(formal, "result")[0] == 409
