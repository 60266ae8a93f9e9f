"""Through the real nginx of deploy/: a final save nginx received within the grace is taken although the
app server, frozen meanwhile (SIGSTOP, as a storm's queue would hold it), reads it after the grace; the
same stamp sent straight to the app server from another address than nginx's is ignored (409)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from sqlalchemy import select

from app.core.db import Database
from app.exams.models import Attempt
from deploy.topology import Topology, TopologyConfig
from tests.deploy.test_topology import BASE_PORT, _config
from tests.exams.factories_attempts import make_exam_setup, path_start

pytestmark = pytest.mark.deploy

GRACE = 2
LIMIT = 4


def _frozen_config(is_postgres: bool) -> TopologyConfig:
    config = _config(is_postgres)
    config.servers, config.workers = 1, 1  # one process: nothing supervises it while it is stopped
    config.base_port = BASE_PORT["postgresql" if is_postgres else "sqlite"] + 5
    config.environment = {"EXAMBANK_SAVE_GRACE_SECONDS": str(GRACE), "EXAMBANK_RUN_SWEEPER": "false"}
    return config


async def _sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


async def test_a_save_nginx_had_in_the_grace_is_taken_when_the_server_reads_it_later(is_postgres: bool) -> None:
    topology = Topology(_frozen_config(is_postgres))
    await asyncio.to_thread(topology.start)
    try:
        database = Database(topology.direct_database_url, pool_size=2)
        try:
            async with database.write_sessions() as session:
                setup = await make_exam_setup(session, shuffle=False, time_limit_seconds=LIMIT, now=datetime.now(UTC))
        finally:
            await database.dispose()
        examinee = setup.examinees[0]
        async with httpx2.AsyncClient(base_url=topology.url, timeout=60) as http:
            start = await http.post(path_start(setup), headers=examinee.headers)
            assert start.status_code == 200, start.text
            attempt_id = start.json()["attempt_id"]
            deadline = datetime.fromisoformat(start.json()["deadline_at"])
            cut_off = deadline.replace(tzinfo=deadline.tzinfo or UTC) + timedelta(seconds=GRACE)
            await _sleep_until(cut_off - timedelta(seconds=1))
            server = topology.servers[0]
            os.killpg(server.pid, signal.SIGSTOP)
            try:
                sent_at = time.time()
                body = {"seq": 1, "answers": {"1": ["B"]}}
                saving = asyncio.create_task(
                    http.put(f"/api/attempts/{attempt_id}/answers", json=body, headers=examinee.headers)
                )
                await _sleep_until(cut_off + timedelta(seconds=1.5))
                assert not saving.done()
            finally:
                os.killpg(server.pid, signal.SIGCONT)
            saved = await asyncio.wait_for(saving, timeout=60)
        assert saved.status_code == 200, saved.text
        assert saved.json()["saved"] is True
        assert datetime.now(UTC) > cut_off  # the server read it after the grace

        # The same stamp, straight to the app server from 127.0.0.2 (not nginx's address): the app's clock.
        forged = {"X-Request-Start": f"t={sent_at:.3f}"} | examinee.headers
        direct = httpx2.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx2.AsyncClient(base_url=topology.server_url(0), transport=direct, timeout=30) as http:
            late = await http.put(
                f"/api/attempts/{attempt_id}/answers", json={"seq": 2, "answers": {"2": ["D"]}}, headers=forged
            )
        assert late.status_code == 409, late.text

        database = Database(topology.direct_database_url, pool_size=2)
        try:
            async with database.read_sessions() as session:
                attempt = (await session.execute(select(Attempt).where(Attempt.id == attempt_id))).scalar_one()
        finally:
            await database.dispose()
        last_saved_at = attempt.last_saved_at.replace(tzinfo=attempt.last_saved_at.tzinfo or UTC)
        assert attempt.last_seq == 1
        assert sent_at - 0.5 <= last_saved_at.timestamp() <= cut_off.timestamp()
    finally:
        await asyncio.to_thread(topology.stop)
