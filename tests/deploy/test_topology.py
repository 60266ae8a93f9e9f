"""The reference deployment started as ``deploy/run-local`` starts it: nginx in front of two app servers
(two workers each, so /metrics sums its workers), PgBouncer and PostgreSQL — or, on the SQLite run, the
same proxy in front of two single-worker servers sharing one SQLite file. An administrator and an examinee
go through nginx; then it is torn down."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from datetime import UTC, datetime

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.core.db import Database
from app.exams.models import Attempt, AttemptAnswer
from deploy.topology import Topology, TopologyConfig
from tests.exams.factories_attempts import make_exam_setup, paper_key_of, path_start, right_answers

pytestmark = pytest.mark.deploy

# Ports of this project's range, apart for the two backends so that both runs may go at once.
BASE_PORT = {"postgresql": 18420, "sqlite": 18410}


def _needs(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing and os.environ.get("CI") == "true":
        pytest.fail(f"not installed: {', '.join(missing)} (apt-get install nginx pgbouncer)")
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (CI installs Debian's nginx and pgbouncer)")


def _config(is_postgres: bool) -> TopologyConfig:
    if is_postgres:
        _needs("nginx", "pgbouncer")
        admin = make_url(os.environ["EXAMBANK_TEST_DATABASE_URL"]).set(drivername="postgresql", database="postgres")
        return TopologyConfig(
            servers=2, workers=2, base_port=BASE_PORT["postgresql"], database="postgresql",
            postgres_admin_url=admin.render_as_string(hide_password=False), app_pool_size=4, pgbouncer_pool_size=10,
        )  # fmt: skip
    _needs("nginx")
    return TopologyConfig(servers=2, workers=1, base_port=BASE_PORT["sqlite"], database="sqlite")


_EXAM_ROOM_ROUTES = (("PUT", "/api/attempts/{attempt_id}/answers"), ("POST", "/api/attempts/{attempt_id}/submit"))


def _served_by_lane(exposition: str, method: str, route: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for found in family.samples:
            labels = found.labels
            if (
                found.name == "exambank_http_requests_total"
                and (labels.get("method"), labels.get("route"), labels.get("status")) == (method, route, "200")
                and labels.get("served_by") == "lane"
            ):
                total += found.value
    return total


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_the_topology_serves_an_exam_through_nginx_and_stops_cleanly(is_postgres: bool) -> None:
    topology = Topology(_config(is_postgres))
    await asyncio.to_thread(topology.start)
    try:
        database = Database(topology.direct_database_url, pool_size=2)
        try:
            async with database.write_sessions() as session:
                setup = await make_exam_setup(session, shuffle=False, now=datetime.now(UTC))
        finally:
            await database.dispose()
        cadre_id = setup.examinees[0].cadre.id
        async with httpx2.AsyncClient(base_url=topology.url, timeout=30) as http:
            assert (await http.get("/api/ready")).status_code == 200
            assert (await http.get("/metrics")).status_code == 404  # scraped per server, never through the proxy
            username, password = topology.admin_credentials
            admin = await http.post("/api/auth/login", json={"username": username, "password": password})
            assert admin.status_code == 200, admin.text
            reissued = await http.post(
                f"/api/exams/{setup.exam.id}/tickets/reissue",
                json={"cadre_ids": [cadre_id]},
                headers={"Authorization": f"Bearer {admin.json()['access_token']}"},
            )
            assert reissued.status_code == 200, reissued.text
            ticket = reissued.json()[0]

            credentials = {"username": ticket["ticket_no"], "password": ticket["pin"]}
            login = await http.post("/api/auth/login", json=credentials)
            assert login.status_code == 200, login.text
            examinee = {"Authorization": f"Bearer {login.json()['access_token']}"}
            start = await http.post(path_start(setup), headers=examinee)
            assert start.status_code == 200, start.text
            attempt_id = start.json()["attempt_id"]
            sheet = right_answers(setup, start.json())
            saved = await http.put(
                f"/api/attempts/{attempt_id}/answers", json={"seq": 1, "answers": sheet}, headers=examinee
            )
            assert saved.status_code == 200 and saved.json()["saved"] is True, saved.text
            submitted = await http.post(f"/api/attempts/{attempt_id}/submit", headers=examinee)
            assert submitted.status_code == 200, submitted.text
            assert submitted.json()["status"] == "submitted"

        # Each server sums its workers; together they saw the save and the submit once, on the lane.
        expositions: list[str] = []
        async with httpx2.AsyncClient(timeout=30) as http:
            for _ in range(10):  # each worker adds its requests to the scrape within a second
                expositions = []
                for index in range(topology.config.servers):
                    reply = await http.get(f"{topology.server_url(index)}/metrics")
                    assert reply.status_code == 200
                    expositions.append(reply.text)
                # The save and the submit may have been served by different workers: wait for both.
                if all(sum(_served_by_lane(e, *route) for e in expositions) >= 1 for route in _EXAM_ROOM_ROUTES):
                    break
                await asyncio.sleep(0.5)
        for route in _EXAM_ROOM_ROUTES:
            assert sum(_served_by_lane(e, *route) for e in expositions) == 1, route

        database = Database(topology.direct_database_url, pool_size=2)
        try:
            async with database.read_sessions() as session:
                attempt = (await session.execute(select(Attempt).where(Attempt.id == attempt_id))).scalar_one()
                stored: dict[int, str] = dict(
                    (await session.execute(
                        select(AttemptAnswer.position, AttemptAnswer.keys).where(AttemptAnswer.attempt_id == attempt_id)
                    )).all()
                )  # fmt: skip
        finally:
            await database.dispose()
        assert (attempt.status, attempt.submit_reason, attempt.score) == ("submitted", "examinee", setup.total_points)
        assert stored == paper_key_of(setup)
    finally:
        await asyncio.to_thread(topology.stop)

    ports = [topology.config.nginx_port, topology.config.pgbouncer_port]
    ports += [topology.config.server_port(i) for i in range(topology.config.servers)]
    assert not any(_port_open(port) for port in ports)
    processes = [topology.nginx, topology.pgbouncer, *topology.servers]
    assert all(p is None or not p.running for p in processes)
    assert not topology.run_dir.exists()
    if is_postgres:
        import asyncpg

        conn = await asyncpg.connect(topology.config.postgres_admin_url)
        try:
            left = await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", topology.database_name)
        finally:
            await conn.close()
        assert left == 0
