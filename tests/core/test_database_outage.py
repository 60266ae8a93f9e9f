"""PostgreSQL restarted in the middle of the autosave phase (a throw-away cluster of this test's own): saves
during the outage are answered 503 (never 500), the server recovers by itself within 10 s of the database
coming back, and every save acknowledged before is kept."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import Database
from app.core.migrate import upgrade_database
from tests.exams.factories_attempts import live_client, make_exam_setup
from tests.pgcluster import available, throwaway_cluster

LETTERS = "ABCD"
RECOVERY_SECONDS = 10


@pytest.fixture
def on_postgres() -> None:
    configured = os.environ.get("EXAMBANK_TEST_DATABASE_URL")
    if not (configured and make_url(configured).get_backend_name() in {"postgresql", "postgres"}):
        pytest.skip("a PostgreSQL restart: run with EXAMBANK_TEST_DATABASE_URL=postgresql://…")
    if not available():
        pytest.skip("no PostgreSQL binaries to start a throw-away cluster")


@pytest.mark.real_commit
@pytest.mark.usefixtures("on_postgres")
async def test_saves_survive_a_postgresql_restart(clock: FrozenClock) -> None:
    with throwaway_cluster() as cluster:
        await asyncio.to_thread(upgrade_database, cluster.url)
        settings = Settings(environment="test", database_url=cluster.url, run_sweeper=False, db_pool_timeout_seconds=2)
        database = Database(cluster.url, pool_size=4, transaction_pooler=False, pool_timeout=2)
        try:
            async with database.write_sessions() as session:
                setup = await make_exam_setup(session, examinees_per_unit=6, now=clock.now())
            async with live_client(settings, database, clock) as client:
                attempts = []
                for examinee in setup.examinees:
                    start = await client.post(f"/api/exams/{setup.exam.id}/attempts", headers=examinee.headers)
                    assert start.status_code in (200, 201), start.text
                    attempts.append(start.json()["attempt_id"])

                acknowledged: dict[int, tuple[int, str]] = {}  # attempt → (seq, letter) of its last 200
                statuses: list[tuple[float, int]] = []
                outage: dict[str, float] = {}
                stop = asyncio.Event()

                async def autosave(attempt_id: int, headers: dict[str, str]) -> None:
                    seq = 0
                    while not stop.is_set():
                        seq += 1
                        letter = LETTERS[seq % 4]
                        reply = await client.put(
                            f"/api/attempts/{attempt_id}/answers",
                            json={"seq": seq, "answers": {"1": [letter], "3": [letter]}},
                            headers=headers,
                        )
                        statuses.append((time.monotonic(), reply.status_code))
                        assert reply.status_code in (200, 503), reply.text
                        if reply.status_code == 200:
                            assert reply.json()["saved"] is True, reply.text
                            acknowledged[attempt_id] = (seq, letter)
                        else:
                            assert reply.headers["retry-after"]
                        await asyncio.sleep(0.1 if reply.status_code == 200 else 0.5)

                async def restart() -> None:
                    await asyncio.sleep(1.5)
                    outage["down"] = time.monotonic()
                    await asyncio.to_thread(cluster.stop)
                    await asyncio.sleep(2)
                    await asyncio.to_thread(cluster.start)
                    outage["up"] = time.monotonic()
                    await asyncio.sleep(RECOVERY_SECONDS + 2)
                    stop.set()

                await asyncio.gather(
                    restart(),
                    *(autosave(a, e.headers) for a, e in zip(attempts, setup.examinees, strict=True)),
                )

                during = [code for at, code in statuses if outage["down"] < at < outage["up"]]
                assert 503 in during, during
                late = [code for at, code in statuses if at > outage["up"] + RECOVERY_SECONDS]
                assert late and set(late) == {200}, late

                for attempt_id, examinee in zip(attempts, setup.examinees, strict=True):
                    resumed: Any = await client.post(f"/api/exams/{setup.exam.id}/attempts", headers=examinee.headers)
                    assert resumed.status_code in (200, 201), resumed.text
                    seq, letter = acknowledged[attempt_id]
                    assert resumed.json()["answers"]["1"] == [letter], (seq, resumed.json()["answers"])
        finally:
            await database.dispose()
