"""Time admission-ticket logins: N examinees log in with ticket number + PIN, C at a time.

    /tmp/v/bin/python bench/bench_login.py                       # in-process (ASGI), temporary SQLite file
    /tmp/v/bin/python bench/bench_login.py --served --workers 2  # uvicorn on a local port, over TCP
    /tmp/v/bin/python bench/bench_login.py postgresql://postgres@127.0.0.1:5432/test   # scratch PG database
    /tmp/v/bin/python bench/bench_login.py -n 2000 -c 50

The tickets are issued by the participants service itself (18 units, HMAC-hashed PINs), then every
examinee calls ``POST /api/auth/login`` once. Prints requests per second and the p50/p99 latency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime

import httpx2
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from app.accounts.models import Role, User
from app.accounts.principal import Principal
from app.core.config import Settings
from app.core.db import Database
from app.core.migrate import upgrade_database
from app.exams.admission import participants
from app.exams.models import Exam, ExamUnit
from app.exams.schemas import ParticipantsAdd
from app.main import create_app
from app.org.models import Cadre, Unit
from app.papers.models import Blueprint

SECRET = "bench-login-secret-0123456789abcdef-0123"
UNITS = 18


async def _issue(database: Database, count: int) -> list[tuple[str, str]]:
    now = datetime.now(UTC)
    async with database.write_sessions() as session:
        admin = User(username=f"bench-{uuid.uuid4().hex[:6]}", password_hash="-", roles=["admin"])
        session.add(admin)
        units = [Unit(code=f"LOGIN{n:02d}", name=f"基准单位{n}", headcount=500) for n in range(UNITS)]
        session.add_all(units)
        await session.flush()
        blueprint = Blueprint(
            name="基准",
            time_limit_seconds=1800,
            sections=[],
            category_split={},
            quotas=[],
            multiple_scoring="all_or_nothing",
        )
        session.add(blueprint)
        await session.flush()
        exam = Exam(
            name="登录基准",
            blueprint_id=blueprint.id,
            mode="formal",
            status="draft",
            seed=1,
            time_limit_seconds=1800,
            multiple_scoring="all_or_nothing",
            difficulty_tolerance=0.02,
            max_attempts=1,
        )
        session.add(exam)
        await session.flush()
        await session.execute(insert(ExamUnit), [{"exam_id": exam.id, "unit_id": u.id} for u in units])
        cadre_ids = list(
            (
                await session.scalars(
                    insert(Cadre).returning(Cadre.id, sort_by_parameter_order=True),
                    [
                        {"unit_id": units[n % UNITS].id, "name": f"干部{n}", "rank": "ke", "employee_no": f"L{n}"}
                        for n in range(count)
                    ],
                )
            ).all()
        )
        principal = Principal(
            id=admin.id, username=admin.username, roles=frozenset({Role.admin}), unit_id=None, session_digest=""
        )
        issued, _ = await participants.add_participants(
            session, exam=exam, data=ParticipantsAdd(cadre_ids=cadre_ids), principal=principal, secret=SECRET, now=now
        )
        await session.commit()
    return [(i.ticket_no, i.pin or "") for i in issued]


async def _login_all(client: httpx2.AsyncClient, tickets: list[tuple[str, str]], concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue = list(reversed(tickets))

    async def worker() -> None:
        while queue:
            ticket_no, pin = queue.pop()
            start = time.perf_counter()
            response = await client.post("/api/auth/login", json={"username": ticket_no, "password": pin})
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise RuntimeError(f"login {ticket_no} failed: {response.status_code} {response.text}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_until_up(base_url: str) -> None:
    async with httpx2.AsyncClient(base_url=base_url) as client:
        for _ in range(200):
            try:
                if (await client.get("/api/health")).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the served app did not come up")


async def _run(url: str, count: int, concurrency: int, served: bool, workers: int) -> None:
    database = Database(url)
    settings = Settings(
        environment="development", database_url=url, secret_key=SECRET, run_sweeper=False, log_level="WARNING"
    )
    server: subprocess.Popen[bytes] | None = None
    try:
        issuing = time.perf_counter()
        tickets = await _issue(database, count)
        print(f"issued {count} tickets with PINs (POST .../participants path) in {time.perf_counter() - issuing:.2f} s")
        if served:
            port = _free_port()
            environment = {
                **os.environ,
                "EXAMBANK_DATABASE_URL": url,
                "EXAMBANK_SECRET_KEY": SECRET,
                "EXAMBANK_RUN_SWEEPER": "false",
                "EXAMBANK_LOG_LEVEL": "WARNING",
            }
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "app.main:create_app",
                    "--factory",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                env=environment,
            )
            base_url = f"http://127.0.0.1:{port}"
            await _wait_until_up(base_url)
            limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            client = httpx2.AsyncClient(base_url=base_url, limits=limits, timeout=60)
            where = f"uvicorn, {workers} worker(s), over TCP"
        else:
            app = create_app(settings, database=database, background=False)
            client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://bench", timeout=60)
            where = "in-process (ASGI)"
        async with client:
            start, cpu = time.perf_counter(), time.process_time()
            latencies = await _login_all(client, tickets, concurrency)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"{count} ticket logins, {concurrency} at a time, {where}, {make_url(url).get_backend_name()}: "
            f"{count / elapsed:.0f} req/s, p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms (total {elapsed:.2f} s; "
            f"this process's CPU {cpu * 1000 / count:.1f} ms per login"
            f"{', client only' if served else ', client and server'}; load average {os.getloadavg()[0]:.1f})"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        await database.dispose()


async def _scratch_postgres(url: str) -> str:
    import asyncpg

    name = f"exambank_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _drop_postgres(admin_url: str, url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(make_url(admin_url).set(drivername="postgresql").render_as_string(False))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", help="postgresql://… (a scratch database is made next to it)")
    parser.add_argument("-n", "--logins", type=int, default=2000)
    parser.add_argument("-c", "--concurrency", type=int, default=50)
    parser.add_argument("--served", action="store_true", help="serve with uvicorn and log in over TCP")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers with --served")
    args = parser.parse_args()
    if args.url and make_url(args.url).get_backend_name() == "postgresql":
        url = asyncio.run(_scratch_postgres(args.url))
    else:
        url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench-login.db"
    upgrade_database(url)
    try:
        asyncio.run(_run(url, args.logins, args.concurrency, args.served, args.workers))
    finally:
        if url != args.url and make_url(url).get_backend_name() == "postgresql":
            asyncio.run(_drop_postgres(args.url, url))


if __name__ == "__main__":
    main()
