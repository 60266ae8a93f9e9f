"""Extra time for one examinee or a room: the deadline rule min(start + limit + extra, closes_at + extra),
the same on the hot-path lane and the ordinary route, moved at once for an attempt under way."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.core.audit import AuditEntry
from app.core.clock import FrozenClock
from app.core.security import token_digest
from app.core.sqlite_writer import run_job
from app.exams.models import Attempt, Participant
from app.exams.room import attempts
from app.exams.room import room as exam_room
from tests.exams.factories_attempts import Examinee, ExamSetup, make_exam_setup, path_start
from tests.factories import headers_for


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _lane_only(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the route answered a request the lane should have settled")

    monkeypatch.setattr(attempts, "start_attempt", refuse)


def _route_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exam_room, "_first_start_exam", lambda *_args: None)


async def _patch(
    client: httpx2.AsyncClient, setup: ExamSetup, examinee: Examinee, headers: dict[str, str], seconds: int
) -> httpx2.Response:
    return await client.patch(
        f"/api/exams/{setup.exam.id}/participants/{examinee.cadre.id}",
        json={"extra_time_seconds": seconds, "reason": "视力障碍，延时"},
        headers=headers,
    )


async def _deadline(session: AsyncSession, attempt_id: int) -> datetime:
    deadline = await session.scalar(
        select(Attempt.deadline_at).where(Attempt.id == attempt_id).execution_options(populate_existing=True)
    )
    assert deadline is not None
    return deadline


@pytest.mark.parametrize("path", ["lane", "route"])
async def test_extra_time_granted_before_the_start(
    client: httpx2.AsyncClient,
    session: AsyncSession,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    now = clock.now()
    setup = await make_exam_setup(session, examinees_per_unit=2, closes_at=now + timedelta(minutes=20), now=now)
    organiser = await headers_for(session, Role.organiser)
    granted, plain = setup.examinees
    reply = await _patch(client, setup, granted, organiser, 600)
    assert reply.status_code == 200, reply.text
    assert reply.json()["extra_time_seconds"] == 600 and reply.json()["deadline_at"] is None
    (_lane_only if path == "lane" else _route_only)(monkeypatch)

    started = (await client.post(path_start(setup), headers=granted.headers)).json()
    other = (await client.post(path_start(setup), headers=plain.headers)).json()

    # 30 minutes of time limit, but the exam closes after 20: the extra 10 minutes run past its close.
    assert started["deadline_at"] == _iso(now + timedelta(minutes=30)) and started["remaining_seconds"] == 1800
    assert other["deadline_at"] == _iso(now + timedelta(minutes=20)) and other["remaining_seconds"] == 1200
    assert await _deadline(session, started["attempt_id"]) == now + timedelta(minutes=30)


async def test_the_lane_and_the_route_start_with_the_same_deadline(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = clock.now()
    setup = await make_exam_setup(session, examinees_per_unit=2, now=now)
    organiser = await headers_for(session, Role.organiser)
    for examinee in setup.examinees:
        assert (await _patch(client, setup, examinee, organiser, 420)).status_code == 200
    on_lane, on_route = setup.examinees
    with monkeypatch.context() as patched:
        _lane_only(patched)
        first = (await client.post(path_start(setup), headers=on_lane.headers)).json()
    with monkeypatch.context() as patched:
        _route_only(patched)
        second = (await client.post(path_start(setup), headers=on_route.headers)).json()
    assert first["deadline_at"] == second["deadline_at"] == _iso(now + timedelta(seconds=1800 + 420))
    assert first["remaining_seconds"] == second["remaining_seconds"] == 2220


async def test_extra_time_moves_a_running_attempt_and_the_room_sees_it(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    now = clock.now()
    setup = await make_exam_setup(session, now=now)
    examinee = setup.examinees[0]
    start = (await client.post(path_start(setup), headers=examinee.headers)).json()
    attempt_id = start["attempt_id"]
    organiser = await headers_for(session, Role.organiser)
    clock.advance(seconds=600)

    reply = await _patch(client, setup, examinee, organiser, 300)
    assert reply.status_code == 200, reply.text
    assert reply.json()["extra_time_seconds"] == 300
    assert reply.json()["deadline_at"] == _iso(now + timedelta(seconds=2100))
    assert await _deadline(session, attempt_id) == now + timedelta(seconds=2100)

    # The exam room's countdown follows the next save (lane) and the state poll (route).
    judge_no = next(str(q["no"]) for q in start["questions"] if q["type"] == "judge")
    path = f"/api/attempts/{attempt_id}/answers"
    saved = await client.put(path, json={"seq": 1, "answers": {judge_no: ["T"]}}, headers=examinee.headers)
    assert saved.json()["saved"] and saved.json()["remaining_seconds"] == 1500
    assert saved.json()["deadline_at"] == _iso(now + timedelta(seconds=2100))
    state = (await client.get(f"/api/attempts/{attempt_id}", headers=examinee.headers)).json()
    assert state["remaining_seconds"] == 1500 and state["deadline_at"] == _iso(now + timedelta(seconds=2100))

    listed = (await client.get(f"/api/exams/{setup.exam.id}/participants", headers=organiser)).json()["items"]
    assert [(p["extra_time_seconds"], p["deadline_at"]) for p in listed] == [(300, _iso(now + timedelta(seconds=2100)))]
    monitor = (await client.get(f"/api/exams/{setup.exam.id}/monitor", headers=organiser)).json()
    [line] = monitor["examinees"]
    assert line["extra_time_seconds"] == 300 and line["remaining_seconds"] == 1500

    audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "exam.participants.extra_time"))).one()
    assert audit.entity_id == str(setup.exam.id)
    assert audit.detail["before"] == {str(examinee.cadre.id): 0} and audit.detail["after"] == {
        str(examinee.cadre.id): 300} and audit.detail["attempts_moved"] == 1  # fmt: skip

    # Past the first deadline and its grace the attempt still takes saves; past the new one it does not.
    clock.advance(seconds=1200 + 60)
    late = await client.put(path, json={"seq": 2, "answers": {judge_no: ["F"]}}, headers=examinee.headers)
    assert late.status_code == 200 and late.json()["saved"]
    clock.advance(seconds=300)
    refused = await client.put(path, json={"seq": 3, "answers": {judge_no: ["T"]}}, headers=examinee.headers)
    assert refused.status_code == 409


async def test_extra_time_runs_past_the_closing_time(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    now = clock.now()
    setup = await make_exam_setup(session, examinees_per_unit=3, closes_at=now + timedelta(minutes=10), now=now)
    organiser = await headers_for(session, Role.organiser)
    running, plain, late_starter = setup.examinees
    for examinee in (running, late_starter):
        assert (await _patch(client, setup, examinee, organiser, 600)).status_code == 200
    ids = {}
    for examinee in (running, plain):
        ids[examinee.cadre.id] = (await client.post(path_start(setup), headers=examinee.headers)).json()["attempt_id"]

    clock.advance(seconds=15 * 60)  # past closes_at, before closes_at + 10 minutes
    resumed = await client.post(path_start(setup), headers=running.headers)
    assert resumed.status_code == 200 and resumed.json()["remaining_seconds"] == 300
    closed_for_him = await client.post(path_start(setup), headers=plain.headers)
    assert closed_for_him.status_code == 409
    # His own closing time is later: he may still start, until closes_at + his extra time.
    started_late = await client.post(path_start(setup), headers=late_starter.headers)
    assert started_late.status_code == 200, started_late.text
    assert started_late.json()["deadline_at"] == _iso(now + timedelta(minutes=20))
    status = await session.scalar(select(Attempt.status).where(Attempt.id == ids[plain.cadre.id]))
    assert status == "submitted"

    # Moving the exam's closing time keeps each examinee's extra time on top of it.
    moved = await client.patch(
        f"/api/exams/{setup.exam.id}", json={"closes_at": _iso(now + timedelta(minutes=30))}, headers=organiser
    )
    assert moved.status_code == 200, moved.text
    assert await _deadline(session, ids[running.cadre.id]) == now + timedelta(minutes=30 + 10)


async def test_bad_extra_time_is_refused_and_changes_nothing(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    organiser = await headers_for(session, Role.organiser)
    negative = await _patch(client, setup, examinee, organiser, -60)
    assert negative.status_code == 422
    [error] = negative.json()["detail"]
    assert error["loc"] == ["body", "extra_time_seconds"] and "不能为负数" in error["msg"]
    absurd = await _patch(client, setup, examinee, organiser, 2 * 1800 + 1)
    assert absurd.status_code == 422 and "3600" in absurd.json()["detail"][0]["msg"]
    assert (await _patch(client, setup, examinee, organiser, 3600)).status_code == 200
    assert (await _patch(client, setup, examinee, organiser, 0)).status_code == 200
    stranger = await client.patch(
        f"/api/exams/{setup.exam.id}/participants/999999", json={"extra_time_seconds": 60}, headers=organiser
    )
    assert stranger.status_code == 404
    for role in (Role.proctor, Role.supervisor, Role.examinee):
        assert (await _patch(client, setup, examinee, await headers_for(session, role), 60)).status_code == 403
    assert (
        await client.patch(
            f"/api/exams/{setup.exam.id}/participants/{examinee.cadre.id}",
            json={"extra_time_seconds": "lots"},
            headers=organiser,
        )
    ).status_code == 422
    assert (await client.post(f"/api/exams/{setup.exam.id}/close", headers=organiser)).status_code == 200
    closed = await _patch(client, setup, examinee, organiser, 60)
    assert closed.status_code == 409 and "考试已结束" in closed.json()["detail"]
    extra = await session.scalar(select(Participant.extra_time_seconds).where(Participant.id == examinee.participant.id)
                                 .execution_options(populate_existing=True))  # fmt: skip
    assert extra == 0
    audits = await session.scalar(select(func.count()).where(AuditEntry.action == "exam.participants.extra_time"))
    assert audits == 2


async def test_a_rooms_incident_extends_every_listed_examinee(
    client: httpx2.AsyncClient, session: AsyncSession, clock: FrozenClock
) -> None:
    now = clock.now()
    setup = await make_exam_setup(session, examinees_per_unit=3, now=now)
    organiser = await headers_for(session, Role.organiser)
    first, second, untouched = setup.examinees
    assert (await _patch(client, setup, first, organiser, 600)).status_code == 200
    attempt_id = (await client.post(path_start(setup), headers=second.headers)).json()["attempt_id"]
    path = f"/api/exams/{setup.exam.id}/extra-time"
    body = {"cadre_ids": [first.cadre.id, second.cadre.id], "add_seconds": 300, "reason": "第三考场停电5分钟"}

    reply = await client.post(path, json=body, headers=organiser)
    assert reply.status_code == 200, reply.text
    assert {p["cadre_id"]: p["extra_time_seconds"] for p in reply.json()} == {first.cadre.id: 900, second.cadre.id: 300}
    assert await _deadline(session, attempt_id) == now + timedelta(seconds=2100)
    audits = await session.scalars(select(AuditEntry).where(AuditEntry.action == "exam.participants.extend_time"))
    audit = audits.one()
    assert audit.detail["reason"] == "第三考场停电5分钟" and audit.detail["attempts_moved"] == 1

    too_much = await client.post(path, json={**body, "add_seconds": 2800}, headers=organiser)
    assert too_much.status_code == 422 and too_much.json()["detail"][0]["loc"] == ["body", "add_seconds"]
    outsider = await client.post(path, json={**body, "cadre_ids": [first.cadre.id, 999999]}, headers=organiser)
    assert outsider.status_code == 422 and "999999" in outsider.json()["detail"][0]["msg"]
    zero = await client.post(path, json={**body, "add_seconds": 0}, headers=organiser)
    assert zero.status_code == 422
    rows = await session.execute(select(Participant.cadre_id, Participant.extra_time_seconds).where(
        Participant.exam_id == setup.exam.id).execution_options(populate_existing=True))  # fmt: skip
    extras = {row.cadre_id: row.extra_time_seconds for row in rows}
    assert extras == {first.cadre.id: 900, second.cadre.id: 300, untouched.cadre.id: 0}


async def test_a_lane_start_planned_before_a_grant_leaves_it_to_the_route(
    session: AsyncSession, clock: FrozenClock, is_postgres: bool
) -> None:
    """SQLite: the lane plans a start without the write lock; extra time granted before its insert makes the
    insert refuse (the route then answers with the new deadline)."""
    if is_postgres:
        pytest.skip("the SQLite writer's jobs")
    setup = await make_exam_setup(session, now=clock.now())
    now, examinee = clock.now(), setup.examinees[0]
    digest = token_digest(examinee.headers["Authorization"].removeprefix("Bearer "))
    planned = await run_job(
        session, lambda c: exam_room._plan_start_on_sqlite(c, exam_id=setup.exam.id, digest=digest, now=now)
    )
    assert planned is not None
    await session.execute(
        update(Participant).where(Participant.id == examinee.participant.id).values(extra_time_seconds=120)
    )
    assert await run_job(session, lambda c: exam_room._write_start_on_sqlite(c, planned)) is None
    assert await session.scalar(select(func.count()).where(Attempt.exam_id == setup.exam.id)) == 0
