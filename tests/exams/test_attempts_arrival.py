"""A save is judged by when it reached the server, not by when its batch ran: held back past the cut-off
(the SQLite write lock taken by another connection, or the attempt's row locked on PostgreSQL), a save
that arrived a second before the grace ran out is still stored — with the lane (through the real
group-commit writer or the real batch queue) and without it (the route's own transaction)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import Database
from app.exams.models import Attempt, AttemptAnswer
from tests.exams.factories_attempts import live_client, make_exam_setup, path_start, purge_exam, right_answers

GRACE = 10


@asynccontextmanager
async def _writes_held(database: Database, attempt_id: int) -> AsyncIterator[None]:
    """Nothing can write the attempt until the block ends."""
    if database.is_sqlite:
        holder = sqlite3.connect(str(make_url(database.url).database), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    async with database.engine.connect() as connection:
        await connection.execute(select(Attempt.id).where(Attempt.id == attempt_id).with_for_update())
        try:
            yield
        finally:
            await connection.rollback()


@pytest.mark.real_commit
@pytest.mark.parametrize("lane", [True, False], ids=["lane", "routes"])
@pytest.mark.parametrize("request_kind", ["save", "submit"])
async def test_a_request_held_back_past_the_cut_off_counts_from_its_arrival(
    committed_database_url: str, committed_settings: Settings, clock: FrozenClock, lane: bool, request_kind: str
) -> None:
    database = Database(committed_database_url)
    async with database.write_sessions() as session:
        setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    try:
        async with live_client(committed_settings, database, clock, lane=lane) as client:
            start = (await client.post(path_start(setup), headers=examinee.headers)).json()
            path = f"/api/attempts/{start['attempt_id']}"
            sheet = right_answers(setup, start)
            if request_kind == "submit":
                saved = await client.put(path + "/answers", json={"seq": 1, "answers": sheet}, headers=examinee.headers)
                assert saved.json()["saved"] is True
            clock.advance(seconds=1800 + GRACE - 1)
            arrived = clock.now()
            async with _writes_held(database, start["attempt_id"]):
                if request_kind == "save":
                    body = {"seq": 2, "answers": sheet}
                    sent = asyncio.create_task(client.put(path + "/answers", json=body, headers=examinee.headers))
                else:
                    sent = asyncio.create_task(client.post(path + "/submit", headers=examinee.headers))
                await asyncio.sleep(0.5)
                assert not sent.done()  # held back
                clock.advance(seconds=5)  # the cut-off has passed while it waited
            reply = await asyncio.wait_for(sent, timeout=30)
        assert reply.status_code == 200, reply.text
        async with database.read_sessions() as session:
            attempt = (await session.execute(select(Attempt).where(Attempt.id == start["attempt_id"]))).scalar_one()
            answered = await session.scalar(
                select(func.count()).where(AttemptAnswer.attempt_id == attempt.id, AttemptAnswer.keys != "")
            )
        assert answered == len(setup.items)
        if request_kind == "save":
            assert reply.json()["saved"] is True and attempt.last_seq == 2 and attempt.last_saved_at == arrived
            assert attempt.status == "in_progress"
        else:
            assert reply.json()["submit_reason"] == "examinee" and attempt.submitted_at == arrived
            assert attempt.score == setup.total_points and attempt.submitted_at - attempt.deadline_at == timedelta(
                seconds=GRACE - 1
            )
    finally:
        async with database.write_sessions() as session:
            await purge_exam(session, setup.exam.id)
        await database.dispose()
