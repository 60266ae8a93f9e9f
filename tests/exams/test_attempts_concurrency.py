"""Saves racing each other through separate, really committing sessions; starts racing each other."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import func, select

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import Database
from app.exams.models import Attempt, AttemptAnswer
from tests.exams.factories_attempts import live_client, make_exam_setup, path_start, purge_exam

pytestmark = pytest.mark.real_commit
LETTERS = "ABCD"


async def test_concurrent_saves_with_reordered_seq_keep_the_newest(
    committed_database_url: str, committed_settings: Settings, clock: FrozenClock
) -> None:
    database_url, settings = committed_database_url, committed_settings
    database = Database(database_url)
    async with database.write_sessions() as session:
        setup = await make_exam_setup(session, shuffle=False, now=clock.now())
    examinee = setup.examinees[0]
    try:
        async with live_client(settings, database, clock) as client:
            start = (await client.post(path_start(setup), headers=examinee.headers)).json()
            seqs = list(range(1, 31))
            random.Random(4).shuffle(seqs)

            async def save(seq: int) -> dict[str, object]:
                response = await client.put(
                    f"/api/attempts/{start['attempt_id']}/answers",
                    json={"seq": seq, "answers": {"1": [LETTERS[seq % 4]], "3": [LETTERS[seq % 4], "D"]}},
                    headers=examinee.headers,
                )
                assert response.status_code == 200, response.text
                body: dict[str, object] = response.json()
                return body

            replies = await asyncio.gather(*(save(seq) for seq in seqs))
            state = (await client.get(f"/api/attempts/{start['attempt_id']}", headers=examinee.headers)).json()

        newest = LETTERS[30 % 4]
        assert state["last_seq"] == 30
        assert state["answers"] == {"1": [newest], "3": sorted([newest, "D"])}
        by_seq = dict(zip(seqs, replies, strict=True))
        assert by_seq[30]["saved"] is True
        for seq, reply in by_seq.items():
            if not reply["saved"]:
                assert reply["ignored"] == "stale seq" and int(str(reply["last_seq"])) > seq
        async with database.read_sessions() as session:
            seq_stored = await session.scalar(
                select(func.max(AttemptAnswer.seq)).where(AttemptAnswer.attempt_id == start["attempt_id"])
            )
        assert seq_stored == 30
    finally:
        async with database.write_sessions() as session:
            await purge_exam(session, setup.exam.id)
        await database.dispose()


async def test_simultaneous_starts_of_one_examinee_make_one_attempt(
    committed_database_url: str, committed_settings: Settings, clock: FrozenClock
) -> None:
    database_url, settings = committed_database_url, committed_settings
    database = Database(database_url)
    async with database.write_sessions() as session:
        setup = await make_exam_setup(session, now=clock.now())
    examinee = setup.examinees[0]
    try:
        async with live_client(settings, database, clock) as client:
            responses = await asyncio.gather(
                *(client.post(path_start(setup), headers=examinee.headers) for _ in range(6))
            )
        assert [r.status_code for r in responses] == [200] * 6
        assert len({r.json()["attempt_id"] for r in responses}) == 1
        async with database.read_sessions() as session:
            count = await session.scalar(select(func.count()).where(Attempt.participant_id == examinee.participant.id))
        assert count == 1
    finally:
        async with database.write_sessions() as session:
            await purge_exam(session, setup.exam.id)
        await database.dispose()
