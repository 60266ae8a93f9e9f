"""Benchmark: taking an exam against a real ``exambank serve`` on loopback (SQLite and PostgreSQL).

    /tmp/v/bin/python bench/bench_attempts.py                       # everything, both backends, 3 repeats
    /tmp/v/bin/python bench/bench_attempts.py --backend sqlite --scenarios grading,autosave --repeats 1

Scenarios (issue 4, point 8), each measured against a bare FastAPI endpoint (``GET`` returning a small
JSON, uvicorn with 2 workers) run in the same invocation, so every figure also has a ratio:

* ``bare``      closed-loop throughput of the bare endpoint (the yardstick).
* ``start``     N examinees released at once: ticket login, then ``POST /api/exams/{id}/attempts`` (which
                returns the paper); latency per examinee from release to paper in hand; every paper checked
                (45 questions, 20/10/15 by type, 100 points). N = 2,000 then 5,000.
* ``autosave``  closed-loop saves (max req/s) and an open-loop paced 667 saves/s (10,000 examinees saving
                every 15 s), latency measured from the scheduled send time.
* ``burst``     5,000 final saves (all 45 answers, each changed from what was autosaved during the exam)
                + submits released at once; afterwards every answer is compared with what was sent.
* ``burst_cold`` the same with nothing saved before the final save (45 new rows per examinee).
* ``kill``      the same burst, the server SIGKILLed once 30% of the saves are acknowledged, then
                restarted; clients retry what was not acknowledged; every acknowledged answer must be in
                the database.
* ``grading``   in-process: grade 10,000 submitted attempts (450,000 answers) set-based.
* ``wrk``       autosave driven by ``wrk`` (``bench/wrk_autosave.lua``: one answer per save, 2,000 started
                examinees, 64 connections, 2 threads), against the bare endpoint under the same wrk
                (``bench/wrk_bare.lua``) in the same invocation.

The server runs as ``exambank serve --workers 2`` (each worker also runs the deadline sweeper). Data is
seeded straight into the database. Every loop is bounded; only 127.0.0.1 is used. Results are printed and
written as JSON under ``bench/results/``; the figures go into ``docs/PERFORMANCE.md`` by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import uvloop
from sqlalchemy import func, insert, select, text, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.accounts.models import AuthSession, User  # noqa: E402
from app.bank.models import Question, QuestionVersion  # noqa: E402
from app.core.db import Database  # noqa: E402
from app.core.scratch import scratch_database  # noqa: E402
from app.core.security import hash_pin, token_digest  # noqa: E402
from app.exams.models import Attempt, AttemptAnswer, Exam, ExamUnit, Participant  # noqa: E402
from app.exams.room.shuffling import QuestionShape, attempt_seed, make_presentation  # noqa: E402
from app.grading.scorers import encode_keys, score_answer  # noqa: E402
from app.grading.service import grade_attempts, rescore_attempts  # noqa: E402
from app.org.models import Cadre, Unit  # noqa: E402
from app.papers.models import Blueprint, Paper, PaperSlot  # noqa: E402

SECRET = "exambank-bench-secret-0123456789abcdef0123"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BIN = Path(sys.executable).parent
SERVER_TREE: Path | None = None  # --server-tree: serve another checkout's code (a before/after comparison)
RESULTS = ROOT / "bench" / "results"
PRESET = (("single", 20, 2.0, "ABCD"), ("multiple", 10, 3.0, "ABCDE"), ("judge", 15, 2.0, "TF"))
CATEGORY_SPLIT = (("theory", 0.4), ("law", 0.2), ("policy", 0.4))
UNITS = 20
AUTOSAVE_CONCURRENCY = 64


# Statistics -------------------------------------------------------------------------------------------


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)
    error_kinds: Counter[str] = field(default_factory=Counter)

    def record(self, outcome: bool | str) -> None:
        if outcome is not True:
            self.errors += 1
            self.error_kinds[str(outcome)] += 1

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        n = len(ordered)

        def pct(p: float) -> float:
            return round(ordered[min(n - 1, int(p * n))] * 1000, 2) if n else 0.0

        return {
            "n": n,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed, 3),
            "req_s": round(n / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": round(ordered[-1] * 1000, 2) if n else 0.0,
            **self.notes,
            **({"error_kinds": dict(self.error_kinds.most_common(5))} if self.error_kinds else {}),
        }


class CpuClock:
    """CPU seconds (user + system, from /proc) spent by the server's process group, by PostgreSQL's
    processes and by this load generator between ``start`` and ``notes`` — where a scenario's time went
    on a machine whose two cores carry all three."""

    def __init__(self, server: Server) -> None:
        assert server.process is not None
        self.group = server.process.pid  # started with start_new_session: the group's id is its pid
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = self._read()

    def notes(self) -> dict[str, float]:
        after = self._read()
        return {f"cpu_{role}_s": round(after[role] - self.before.get(role, 0.0), 2) for role in after}

    def _read(self) -> dict[str, float]:
        tick = os.sysconf("SC_CLK_TCK")
        seconds = {"server": 0.0, "postgres": 0.0, "load": time.process_time()}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    name, _, rest = stat.read().rpartition(")")
            except OSError:
                continue  # gone meanwhile
            fields = rest.split()
            used = (int(fields[11]) + int(fields[12])) / tick
            if int(fields[2]) == self.group:
                seconds["server"] += used
            elif name.endswith("(postgres"):
                seconds["postgres"] += used
        return seconds


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per numeric field the median over repeated runs (other fields from the first run)."""
    merged = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            merged[key] = round(statistics.median(r[key] for r in runs), 3)
    merged["repeats"] = len(runs)
    return merged


# Databases --------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def database_for(backend: str) -> AsyncIterator[str]:
    """A fresh, migrated database URL for one scenario, removed afterwards."""
    async with scratch_database(None if backend == "sqlite" else PG_ADMIN, prefix="exambank_bench") as url:
        yield url


# Seeding ----------------------------------------------------------------------------------------------


@dataclass
class Seeded:
    exam_id: int
    tickets: list[tuple[str, str]]
    tokens: list[str] = field(default_factory=list)
    attempt_ids: list[int] = field(default_factory=list)
    # Per attempt: the full answer sheet in the examinee's displayed numbers and letters, and the same
    # answers as the database must hold them once saved (paper number → the paper's keys).
    sheets: list[dict[str, list[str]]] = field(default_factory=list)
    stored: list[dict[int, str]] = field(default_factory=list)


def _paper_items() -> list[dict[str, Any]]:
    items = []
    for qtype, count, points, keys in PRESET:
        quota = [int(count * share) for _, share in CATEGORY_SPLIT]
        quota[0] += count - sum(quota)
        categories = [c for (c, _), n in zip(CATEGORY_SPLIT, quota, strict=True) for _ in range(n)]
        for i, category in enumerate(categories):
            answer = ("T" if i % 2 else "F") if qtype == "judge" else (keys[i % 4] if qtype == "single" else "AC")
            items.append({"type": qtype, "category": category, "points": points, "keys": keys, "answer": answer})
    return items


async def seed_exam(
    url: str,
    *,
    examinees: int,
    started: bool = False,
    submitted: bool = False,
    deadline_in: float = 1800.0,
    answered: int = 0,
    prescored: bool = True,
) -> Seeded:
    """An exam drawn for ``UNITS`` units with ``examinees`` ticket holders; optionally their attempts
    already started (with a login session each) or submitted with ``answered`` answers."""
    now = datetime.now(UTC)
    database = Database(url, pool_size=2)
    rng = random.Random(2026)
    items = _paper_items()
    try:
        async with database.write_sessions() as session:
            unit_ids = list(
                await session.scalars(
                    insert(Unit).returning(Unit.id, sort_by_parameter_order=True),
                    [{"code": f"B{u:03d}", "name": f"单位{u}", "headcount": 400, "large": False} for u in range(UNITS)],
                )
            )
            question_ids = []
            for no, item in enumerate(items, start=1):
                options = [
                    {"key": k, "text": ("正确" if k == "T" else "错误") if item["type"] == "judge" else f"选项{k}"}
                    for k in item["keys"]
                ]
                content = {
                    "type": item["type"],
                    "category": item["category"],
                    "stem": f"基准题{no}：依据规定，下列说法正确的是",
                    "options": options,
                    "answer": list(item["answer"]),
                    "explanation": "解析",
                    "unit_id": None,
                }
                qid = await session.scalar(
                    insert(Question).values(stem_hash=f"h{no}", **content).returning(Question.id)
                )
                vid = await session.scalar(
                    insert(QuestionVersion).values(question_id=qid, version=1, **content).returning(QuestionVersion.id)
                )
                await session.execute(update(Question).where(Question.id == qid).values(current_version_id=vid))
                question_ids.append((qid, vid, options))
            blueprint_id = await session.scalar(
                insert(Blueprint)
                .values(name="基本理论+", time_limit_seconds=1800, sections=[], category_split={}, quotas=[])
                .returning(Blueprint.id)
            )
            exam_id = await session.scalar(
                insert(Exam)
                .values(
                    name="基准考试",
                    blueprint_id=blueprint_id,
                    mode="formal",
                    status="drawn",
                    seed=7,
                    shuffle_questions=True,
                    shuffle_options=True,
                    time_limit_seconds=1800,
                    multiple_scoring="all_or_nothing",
                    max_attempts=1,
                    drawn_at=now,
                )
                .returning(Exam.id)
            )
            await session.execute(insert(ExamUnit), [{"exam_id": exam_id, "unit_id": u} for u in unit_ids])
            content = [
                {
                    "no": no,
                    "type": it["type"],
                    "category": it["category"],
                    "points": it["points"],
                    "stem": f"基准题{no}：依据规定，下列说法正确的是",
                    "options": q[2],
                }
                for no, (it, q) in enumerate(zip(items, question_ids, strict=True), start=1)
            ]
            answer_key = {str(no): list(it["answer"]) for no, it in enumerate(items, start=1)}
            paper_ids = {}
            for unit_id in unit_ids:
                paper_ids[unit_id] = await session.scalar(
                    insert(Paper)
                    .values(
                        exam_id=exam_id,
                        unit_id=unit_id,
                        seed=7,
                        expected_difficulty=3.0,
                        total_points=100.0,
                        content=content,
                        answer_key=answer_key,
                        created_at=now,
                    )
                    .returning(Paper.id)
                )
                await session.execute(
                    insert(PaperSlot),
                    [
                        {
                            "paper_id": paper_ids[unit_id],
                            "position": no,
                            "question_id": q[0],
                            "question_version_id": q[1],
                            "type": it["type"],
                            "category": it["category"],
                            "points": it["points"],
                        }
                        for no, (it, q) in enumerate(zip(items, question_ids, strict=True), start=1)
                    ],
                )
            units_of = [unit_ids[i % UNITS] for i in range(examinees)]
            cadre_ids = list(
                await session.scalars(
                    insert(Cadre).returning(Cadre.id, sort_by_parameter_order=True),
                    [
                        {"unit_id": u, "name": f"干部{i}", "rank": ("ting", "chu", "ke")[i % 3], "employee_no": f"E{i}"}
                        for i, u in enumerate(units_of)
                    ],
                )
            )
            tickets = [(f"B{exam_id}-{i:06d}", f"{rng.randrange(10**6):06d}") for i in range(examinees)]
            user_ids = list(
                await session.scalars(
                    insert(User).returning(User.id, sort_by_parameter_order=True),
                    [
                        {"username": t, "password_hash": hash_pin(pin, SECRET), "roles": ["examinee"], "unit_id": u}
                        for (t, pin), u in zip(tickets, units_of, strict=True)
                    ],
                )
            )
            participant_ids = list(
                await session.scalars(
                    insert(Participant).returning(Participant.id, sort_by_parameter_order=True),
                    [
                        {"exam_id": exam_id, "cadre_id": c, "unit_id": u, "rank": "ke", "ticket_no": t, "user_id": uid}
                        for c, u, (t, _), uid in zip(cadre_ids, units_of, tickets, user_ids, strict=True)
                    ],
                )
            )
            seeded = Seeded(exam_id=exam_id, tickets=tickets)
            if started or submitted:
                await _seed_attempts(
                    session,
                    seeded,
                    items,
                    now=now,
                    units_of=units_of,
                    user_ids=user_ids,
                    participant_ids=participant_ids,
                    paper_ids=paper_ids,
                    deadline_in=deadline_in,
                    submitted=submitted,
                    answered=answered,
                    prescored=prescored,
                    answer_key=answer_key,
                )
            await session.commit()
        # Planner statistics as autovacuum leaves them: it analyzes a table once enough of its rows have
        # changed, never a table nothing was ever written to. (A manual ANALYZE of the still empty
        # attempts table would record it as empty; every PostgreSQL backend would then keep a sequential
        # scan of attempts as its cached plan for the foreign-key check of each answer-sheet row, and the
        # synchronized start would read millions of rows. See docs/PERFORMANCE.md.)
        async with database.engine.connect() as connection:
            if database.is_sqlite:
                await connection.execute(text("ANALYZE"))
            else:
                # The tables that hold rows (not the statistics collector's insert counts: a backend reports
                # them up to a second late, and the tables written last — participants, users — were then
                # left without statistics, so the planner scanned every participant of the exam to find
                # one examinee).
                tables = await connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
                )
                for (table,) in tables.all():
                    if await connection.scalar(text(f'SELECT EXISTS (SELECT 1 FROM "{table}")')):
                        await connection.execute(text(f'ANALYZE "{table}"'))
            await connection.commit()
        return seeded
    finally:
        await database.dispose()


async def _seed_attempts(
    session: Any,
    seeded: Seeded,
    items: list[dict[str, Any]],
    *,
    now: datetime,
    units_of: list[int],
    user_ids: list[int],
    participant_ids: list[int],
    paper_ids: dict[int, int],
    deadline_in: float,
    submitted: bool,
    answered: int,
    prescored: bool,
    answer_key: dict[str, list[str]],
) -> None:
    shapes = [QuestionShape(no, it["type"], tuple(it["keys"])) for no, it in enumerate(items, start=1)]
    rng = random.Random(45)
    attempt_rows, session_rows = [], []
    for i, (participant_id, unit_id, user_id) in enumerate(zip(participant_ids, units_of, user_ids, strict=True)):
        seed = attempt_seed(7, participant_id, 1)
        shown = make_presentation(shapes, seed=seed, shuffle_questions=True, shuffle_options=True)
        token = f"bench-token-{seeded.exam_id}-{i}-{uuid.uuid4().hex}"
        seeded.tokens.append(token)
        session_rows.append(
            {
                "token_digest": token_digest(token),
                "user_id": user_id,
                "created_at": now,
                "expires_at": now + timedelta(hours=12),
            }
        )
        attempt_rows.append(
            {
                "exam_id": seeded.exam_id,
                "participant_id": participant_id,
                "paper_id": paper_ids[unit_id],
                "unit_id": unit_id,
                "attempt_no": 1,
                "status": "submitted" if submitted else "in_progress",
                "started_at": now,
                "deadline_at": now + timedelta(seconds=deadline_in),
                "last_seq": 1 if answered else 0,
                "shuffle_seed": seed,
                "question_order": shown.question_order,
                "option_orders": shown.option_orders,
                "focus_losses": 0,
                "event_count": 0,
                "session_digest": token_digest(token),
                "submitted_at": now if submitted else None,
                "submit_reason": "examinee" if submitted else None,
            }
        )
        sheet, stored = {}, {}
        for shown_no, paper_no in enumerate(shown.question_order, start=1):
            item = items[paper_no - 1]
            order = shown.option_orders[str(paper_no)]
            if item["type"] == "judge":
                sheet[str(shown_no)] = [rng.choice("TF")]
                stored[paper_no] = sheet[str(shown_no)][0]
            else:
                picked = rng.sample(range(len(order)), 2 if item["type"] == "multiple" else 1)
                sheet[str(shown_no)] = sorted("ABCDE"[j] for j in picked)
                stored[paper_no] = encode_keys(order[j] for j in picked)
        seeded.sheets.append(sheet)
        seeded.stored.append(stored)
    await session.execute(insert(AuthSession), session_rows)
    seeded.attempt_ids = list(
        await session.scalars(insert(Attempt).returning(Attempt.id, sort_by_parameter_order=True), attempt_rows)
    )
    # As the API leaves them: a row for each answer saved — the first ``answered`` in the examinee's
    # order, each different from the one his sheet (``seeded.stored``) gives it, so that a final save
    # that was lost shows.
    answer_rows = []
    for attempt_id, row, final in zip(seeded.attempt_ids, attempt_rows, seeded.stored, strict=True):
        for paper_no in row["question_order"][:answered]:
            item = items[paper_no - 1]
            given = final[paper_no]
            while given == final[paper_no]:
                given = encode_keys(rng.sample(item["keys"], 2 if item["type"] == "multiple" else 1))
            key = encode_keys(answer_key[str(paper_no)])
            scored = score_answer(item["type"], given, key, item["points"], "all_or_nothing")
            answer_rows.append(
                {
                    "attempt_id": attempt_id,
                    "position": paper_no,
                    "keys": given,
                    "seq": 1,
                    "saved_at": now,
                    "points": scored.points if prescored else None,
                    "is_correct": scored.is_correct if prescored else None,
                }
            )
    for start in range(0, len(answer_rows), 20_000):
        await session.execute(insert(AttemptAnswer), answer_rows[start : start + 20_000])


# Servers ----------------------------------------------------------------------------------------------


PORTS = range(
    int(os.environ.get("EXAMBANK_BENCH_PORT_FIRST", "18100")),
    int(os.environ.get("EXAMBANK_BENCH_PORT_LAST", "18199")) + 1,
)


def free_port() -> int:
    """A free loopback port of ``PORTS`` (``EXAMBANK_BENCH_PORT_FIRST`` … ``_LAST``)."""
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}–{PORTS.stop - 1}")


def served_code_of(tree: Path) -> Path:
    """A directory holding only ``tree``'s ``app`` package: the server runs that code while ``migrations``
    (and so the schema it checks at start-up) stays this checkout's, which the load generator seeds."""
    shim = Path(tempfile.gettempdir()) / f"exambank-bench-tree-{os.getpid()}"
    shim.mkdir(exist_ok=True)
    link = shim / "app"
    if not link.exists():
        link.symlink_to(tree / "app", target_is_directory=True)
    return shim


class Server:
    """A server process group on loopback: ``exambank serve`` or the bare app, 2 workers."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int) -> None:
        self.argv, self.env, self.port = argv, env, port
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = f"http://127.0.0.1:{port}"

    @classmethod
    def exambank(cls, url: str, *, sweep_interval: float = 5.0) -> Server:
        port = free_port()
        env = {
            **os.environ,
            "EXAMBANK_DATABASE_URL": url,
            "EXAMBANK_SECRET_KEY": SECRET,
            "EXAMBANK_LOG_LEVEL": "WARNING",
            "EXAMBANK_SWEEP_INTERVAL_SECONDS": str(sweep_interval),
        }
        if SERVER_TREE is not None:
            env["PYTHONPATH"] = str(served_code_of(SERVER_TREE))
        argv = [str(BIN / "exambank"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
        return cls(argv, env, port)

    @classmethod
    def bare(cls) -> Server:
        port = free_port()
        argv = [
            str(BIN / "uvicorn"),
            "--app-dir",
            str(ROOT / "bench"),
            "bare_app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ]
        return cls(argv, dict(os.environ), port)

    def start(self, health: str = "/api/health", timeout: float = 120.0) -> None:
        self.process = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(self.base_url + health, timeout=1.0).status_code == 200:
                    time.sleep(1.0)  # let the second worker finish starting too
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            time.sleep(0.2)
        self.kill()  # never leave a server behind
        raise RuntimeError("server did not answer in time")

    def kill(self) -> None:
        """SIGKILL the whole process group: master and workers die mid-request, nothing is flushed."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def running(server: Server, health: str = "/api/health") -> Iterator[Server]:
    server.start(health)
    try:
        yield server
    finally:
        server.stop()


class TransportError(Exception):
    """The connection broke (refused, reset, closed mid-reply)."""


class Connection:
    """One keep-alive HTTP/1.1 connection, like one examinee's browser tab.

    A hand-written client on purpose: on this 2-core machine httpx2 tops out near 900 req/s against the bare
    endpoint (uvloop) while this one drives it above 6,000, so the load generator is not what gets measured.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        try:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError as exc:
            raise TransportError(str(exc)) from exc

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, payload: Any = None, token: str | None = None, *, raw: bool = False
    ) -> tuple[int, Any]:
        """Send one request; like a browser, reopen once when the server had closed the idle connection
        (uvicorn closes keep-alive connections idle for 5 s) before any byte of the reply arrived.
        ``raw``: the reply's body as bytes, parsed by the caller later (outside the timed window)."""
        reused = self.writer is not None
        if reused and self.reader is not None and self.reader.at_eof():
            self.close()
            reused = False
        try:
            return await self._request(method, path, payload, token, raw)
        except TransportError as exc:
            if not (reused and isinstance(exc.__cause__, asyncio.IncompleteReadError) and not exc.__cause__.partial):
                raise
        return await self._request(method, path, payload, token, raw)

    async def _request(
        self, method: str, path: str, payload: Any, token: str | None, as_bytes: bool
    ) -> tuple[int, Any]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        if payload is not None:
            head += "Content-Type: application/json\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        try:
            self.writer.write(head.encode() + b"\r\n" + body)
            raw = await self.reader.readuntil(b"\r\n\r\n")
            status = int(raw[9:12])
            length, closing = 0, False
            for line in raw.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    closing = True
            data = await self.reader.readexactly(length) if length else b""
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self.close()
            raise TransportError(repr(exc)) from exc
        if closing:
            self.close()
        if as_bytes:
            return status, data
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data.decode(errors="replace")


class Pool:
    """Idle connections handed out one request at a time (the open-loop load)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[Connection] = []

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        conn = self.idle.pop() if self.idle else Connection(self.port)
        try:
            yield conn
        finally:
            self.idle.append(conn)

    def close(self) -> None:
        for conn in self.idle:
            conn.close()


# A request returns True, or a short description of what went wrong.
Request = Callable[[Connection, int], Awaitable[bool | str]]


# Load shapes ------------------------------------------------------------------------------------------


async def closed_loop(port: int, request: Request, *, concurrency: int, seconds: float) -> Run:
    """``concurrency`` connections each sending requests back to back for ``seconds``."""
    run = Run()
    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()

    async def worker(worker_no: int) -> None:
        conn = Connection(port)
        counter = 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            # Request numbers interleave across workers, so no two workers act for the same examinee at once.
            outcome = await _safe(request(conn, worker_no + concurrency * counter))
            counter += 1
            run.latencies.append(time.perf_counter() - t0)
            run.record(outcome)
        conn.close()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    run.elapsed = time.perf_counter() - started
    return run


async def paced(port: int, request: Request, *, rate: float, seconds: float) -> Run:
    """Open loop: request i is due at ``i / rate``; latency counts from when it was due.

    One dispatcher sleeps until each due time and only then creates that request's task, so the loop
    holds just the requests in flight. (Creating every request's task up front, each sleeping until it is
    due, delayed the bare endpoint's own requests by up to 200 ms at the 99th percentile over 20 s at
    667/s: the load generator, not the server, set the tail.)
    """
    run = Run()
    total = int(rate * seconds)
    service: list[float] = []
    pool = Pool(port)
    in_flight: set[asyncio.Task[None]] = set()
    started = time.perf_counter()

    async def one(i: int, due: float) -> None:
        sent = time.perf_counter()
        async with pool.connection() as conn:
            outcome = await _safe(request(conn, i))
        done = time.perf_counter()
        run.latencies.append(done - due)
        service.append(done - sent)
        run.record(outcome)

    for i in range(total):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    run.elapsed = time.perf_counter() - started
    pool.close()
    ordered = sorted(service)
    run.notes["service_p99_ms"] = round(ordered[int(0.99 * len(ordered))] * 1000, 2)
    run.notes["target_rate"] = rate
    return run


async def _safe(call: Awaitable[bool | str]) -> bool | str:
    try:
        return await call
    except TransportError as exc:
        return f"transport: {str(exc)[:60]}"


# Scenarios --------------------------------------------------------------------------------------------


async def scenario_bare(port: int, seconds: float) -> dict[str, Any]:
    async def get(conn: Connection, _i: int) -> bool | str:
        status, _ = await conn.request("GET", "/bare")
        return status == 200 or f"HTTP {status}"

    return (await closed_loop(port, get, concurrency=64, seconds=seconds)).summary()


def check_paper(paper: dict[str, Any]) -> bool:
    questions = paper["questions"]
    by_type = {t: sum(1 for q in questions if q["type"] == t) for t, _, _, _ in PRESET}
    return (
        len(questions) == 45
        and by_type == {"single": 20, "multiple": 10, "judge": 15}
        and abs(sum(q["points"] for q in questions) - 100) < 1e-9
        and [q["no"] for q in questions] == list(range(1, 46))
    )


async def _connected(port: int, count: int) -> list[Connection]:
    """``count`` open connections (the examinees' pages are loaded before the exam is released)."""
    conns = [Connection(port) for _ in range(count)]
    for start in range(0, count, 500):
        await asyncio.gather(*(c.open() for c in conns[start : start + 500]))
    return conns


async def scenario_start(url: str, examinees: int) -> dict[str, Any]:
    seeded = await seed_exam(url, examinees=examinees)
    run = Run()
    release = asyncio.Event()
    # Each paper as received, parsed and checked once everyone has his: parsing 5,000 papers of 20 KB
    # is the load generator's CPU (0.65 s of it), taken from the two cores the server runs on.
    papers: list[bytes] = []
    with running(Server.exambank(url)) as server:
        conns = await _connected(server.port, examinees)

        async def examinee(conn: Connection, ticket: str, pin: str) -> None:
            await release.wait()
            t0 = time.perf_counter()
            try:
                status, login = await conn.request("POST", "/api/auth/login", {"username": ticket, "password": pin})
                if status != 200:
                    run.record(f"login HTTP {status}")
                    return
                status, paper = await conn.request(
                    "POST", f"/api/exams/{seeded.exam_id}/attempts", token=login["access_token"], raw=True
                )
                if status != 200:
                    run.record(f"start HTTP {status}: {paper[:60]!r}")
                    return
                run.latencies.append(time.perf_counter() - t0)
                papers.append(paper)
            except TransportError as exc:
                run.record(f"transport: {str(exc)[:60]}")

        tasks = [asyncio.create_task(examinee(conn, t, p)) for conn, (t, p) in zip(conns, seeded.tickets, strict=True)]
        await asyncio.sleep(0.5)
        cpu = CpuClock(server)
        cpu.start()
        started = time.perf_counter()
        release.set()
        await asyncio.gather(*tasks)
        run.elapsed = time.perf_counter() - started
        run.notes |= cpu.notes()
        for conn in conns:
            conn.close()
    bad_papers = sum(0 if check_paper(json.loads(paper)) else 1 for paper in papers)
    run.notes |= {"examinees": examinees, "bad_papers": bad_papers, "papers_checked": len(papers)}
    return run.summary()


async def scenario_autosave(url: str, *, examinees: int, seconds: float, rate: float) -> dict[str, Any]:
    seeded = await seed_exam(url, examinees=examinees, started=True)
    questions = [str(n) for n in range(1, 46)]
    seqs: dict[int, int] = {}

    # Examinees by request number modulo a multiple of the closed loop's concurrency: each connection of
    # the closed loop keeps to examinees of its own, so no examinee ever has two saves in flight (a real
    # browser tab saves one at a time; two in flight could arrive in either order and one be ignored).
    span = examinees - examinees % AUTOSAVE_CONCURRENCY

    def saver(offset: int) -> Request:
        async def save(conn: Connection, i: int) -> bool | str:
            who = (i + offset) % span
            seqs[who] = seqs.get(who, 0) + 1
            sheet = seeded.sheets[who]
            answers = {n: sheet[n] for n in random.sample(questions, 2)}
            status, body = await conn.request(
                "PUT",
                f"/api/attempts/{seeded.attempt_ids[who]}/answers",
                {"seq": seqs[who], "answers": answers},
                token=seeded.tokens[who],
            )
            if status != 200:
                return f"HTTP {status}: {str(body)[:60]}"
            return bool(body["saved"]) or "not saved"

        return save

    with running(Server.exambank(url)) as server:
        # Warm up: each worker's parsed-paper cache and connection pool.
        await closed_loop(server.port, saver(0), concurrency=8, seconds=2)
        cpu = CpuClock(server)
        cpu.start()
        maximum = await closed_loop(server.port, saver(1_000), concurrency=AUTOSAVE_CONCURRENCY, seconds=seconds)
        maximum.notes |= cpu.notes()
        cpu.start()
        target = await paced(server.port, saver(5_000), rate=rate, seconds=seconds)
        target.notes |= cpu.notes()
    return {"max": maximum.summary(), "paced": target.summary()}


WRK_CONNECTIONS, WRK_THREADS = 64, 2
WARMED_SEQS = 1_000_000  # the measured run's first seq: above any the warm-up stored


def run_wrk(port: int, script: str, seconds: float, *extra: str) -> dict[str, Any]:
    """``wrk`` (an independent load generator, in C) with one of the Lua scripts of ``bench/``; its summary."""
    argv = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{int(seconds)}s", "-s", str(ROOT / "bench" / script),
            f"http://127.0.0.1:{port}"]  # fmt: skip
    if extra:
        argv += ["--", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("WRK_RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
    result["req_s"] = round(result["requests"] / result["seconds"], 1)
    return result


async def scenario_wrk_bare(port: int, seconds: float) -> dict[str, Any]:
    return await asyncio.to_thread(run_wrk, port, "wrk_bare.lua", seconds)


async def scenario_wrk_autosave(url: str, *, examinees: int, seconds: float) -> dict[str, Any]:
    """Autosave driven by wrk (``bench/wrk_autosave.lua``): one answer per save over ``examinees`` started
    examinees, 64 connections; afterwards the saves stored (from the examinees' seqs) are counted."""
    seeded = await seed_exam(url, examinees=examinees, started=True)
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "examinees.txt"
        data.write_text(
            "".join(
                f"{attempt} {token} {','.join(''.join(sheet[str(n)]) for n in range(1, 46))}\n"
                for attempt, token, sheet in zip(seeded.attempt_ids, seeded.tokens, seeded.sheets, strict=True)
            )
        )
        with running(Server.exambank(url)) as server:
            await asyncio.to_thread(run_wrk, server.port, "wrk_autosave.lua", 3, str(data), str(WRK_THREADS), "1")
            cpu = CpuClock(server)
            cpu.start()
            result = await asyncio.to_thread(run_wrk, server.port, "wrk_autosave.lua", seconds, str(data),
                                             str(WRK_THREADS), str(WARMED_SEQS))  # fmt: skip
            result |= cpu.notes()
    database = Database(url)
    try:
        async with database.read_sessions() as session:
            stored = await session.scalar(
                select(func.sum(Attempt.last_seq - (WARMED_SEQS - 1))).where(
                    Attempt.exam_id == seeded.exam_id, Attempt.last_seq >= WARMED_SEQS
                )
            )
    finally:
        await database.dispose()
    # Every acknowledged save is stored (saves still in flight when wrk stopped may be stored too).
    result["saves_stored"] = int(stored or 0)
    result["saves_lost"] = max(0, result["requests"] - result["errors"] - result["refused"] - result["saves_stored"])
    return result


async def _stored_answers(url: str, attempt_ids: list[int]) -> dict[int, dict[int, str]]:
    database = Database(url, pool_size=1)
    try:
        async with database.read_sessions() as session:
            rows = (
                await session.execute(
                    select(AttemptAnswer.attempt_id, AttemptAnswer.position, AttemptAnswer.keys).where(
                        AttemptAnswer.attempt_id.in_(attempt_ids)
                    )
                )
            ).all()
    finally:
        await database.dispose()
    stored: dict[int, dict[int, str]] = {}
    for attempt_id, position, keys in rows:
        stored.setdefault(attempt_id, {})[position] = keys
    return stored


async def _count_answers(url: str, seeded: Seeded) -> tuple[int, int, int]:
    """Answers in the database exactly as the final saves sent them; attempts submitted; graded."""
    stored = await _stored_answers(url, seeded.attempt_ids)
    answers = sum(
        sum(1 for no, keys in final.items() if stored.get(attempt_id, {}).get(no) == keys)
        for attempt_id, final in zip(seeded.attempt_ids, seeded.stored, strict=True)
    )
    database = Database(url, pool_size=1)
    try:
        async with database.read_sessions() as session:
            submitted = await session.scalar(
                select(func.count()).where(Attempt.id.in_(seeded.attempt_ids), Attempt.status == "submitted")
            )
            graded = await session.scalar(
                select(func.count()).where(Attempt.id.in_(seeded.attempt_ids), Attempt.graded_at.is_not(None))
            )
        return answers, int(submitted or 0), int(graded or 0)
    finally:
        await database.dispose()


async def _acknowledged_present(url: str, seeded: Seeded, acknowledged: set[int]) -> int:
    """How many acknowledged final saves are not in the database exactly as sent (must be 0)."""
    stored = await _stored_answers(url, [seeded.attempt_ids[i] for i in acknowledged])
    return sum(1 for i in acknowledged if stored.get(seeded.attempt_ids[i]) != seeded.stored[i])


async def scenario_burst(
    url: str, *, examinees: int, kill_after: float | None = None, saved_before: bool = True
) -> dict[str, Any]:
    """Final saves (45 answers each) + submits released at once; optionally SIGKILL the server midway.

    ``saved_before``: every examinee's answers were autosaved during the exam (as the exam page does
    while he works), and his final save changes each of them; else (the "cold" burst) nothing was saved
    before, and every final save writes 45 new rows.
    """
    # Deadline well after the release: this measures absorbing the burst (refusals after the grace are tested).
    answered = 45 if saved_before else 0
    seeded = await seed_exam(url, examinees=examinees, started=True, deadline_in=600.0, answered=answered)
    first_seq = 2 if saved_before else 1
    run = Run()
    saved_ack: set[int] = set()
    submit_ack: set[int] = set()
    release = asyncio.Event()
    server = Server.exambank(url)
    server.start()
    conns = await _connected(server.port, examinees)
    try:

        async def final(i: int, seq: int) -> None:
            attempt, token, conn = seeded.attempt_ids[i], seeded.tokens[i], conns[i]
            try:
                if i not in saved_ack:
                    t0 = time.perf_counter()
                    status, _ = await conn.request(
                        "PUT", f"/api/attempts/{attempt}/answers", {"seq": seq, "answers": seeded.sheets[i]}, token
                    )
                    run.latencies.append(time.perf_counter() - t0)
                    if status != 200:
                        run.record(f"save HTTP {status}")
                        return
                    saved_ack.add(i)
                t0 = time.perf_counter()
                status, _ = await conn.request("POST", f"/api/attempts/{attempt}/submit", token=token)
                run.latencies.append(time.perf_counter() - t0)
                if status == 200:
                    submit_ack.add(i)
                else:
                    run.record(f"submit HTTP {status}")
            except TransportError as exc:
                run.record(f"transport: {str(exc)[:40]}")

        async def wave(seq: int) -> float:
            todo = [i for i in range(examinees) if i not in submit_ack]
            release.clear()
            tasks = [asyncio.create_task(_released(release, final(i, seq))) for i in todo]
            await asyncio.sleep(0.5)
            cpu = CpuClock(server)
            cpu.start()
            t0 = time.perf_counter()
            release.set()
            if kill_after is not None and seq == first_seq:
                # Kill once a share of the saves has been acknowledged (or after 30 s): mid-burst for sure.
                give_up = time.perf_counter() + 30
                while len(saved_ack) < kill_after * examinees and time.perf_counter() < give_up:
                    await asyncio.sleep(0.02)
                server.kill()
                run.notes["killed_after_s"] = round(time.perf_counter() - t0, 2)
            await asyncio.gather(*tasks)
            if kill_after is None:
                run.notes |= cpu.notes()
            return time.perf_counter() - t0

        run.elapsed = await wave(first_seq)
        acknowledged_before_kill = set(saved_ack)
        if kill_after is not None:
            run.notes["acknowledged_saves_before_kill"] = len(acknowledged_before_kill)
            run.notes["acknowledged_submits_before_kill"] = len(submit_ack)
            run.notes["errors_in_kill_wave"] = run.errors
            run.notes["lost_after_kill"] = await _acknowledged_present(url, seeded, acknowledged_before_kill)
            restart_t0 = time.perf_counter()
            server.start()
            run.notes["restart_s"] = round(time.perf_counter() - restart_t0, 2)
            for conn in conns:
                conn.close()
            run.notes["error_kinds_in_kill_wave"] = dict(run.error_kinds.most_common(5))
            run.errors = 0
            run.error_kinds.clear()
            run.latencies.clear()
            run.notes["retry_wave_s"] = round(await wave(first_seq + 1), 3)
    finally:
        for conn in conns:
            conn.close()
        server.stop()
    answers, submitted, graded = await _count_answers(url, seeded)
    run.notes |= {
        "examinees": examinees,
        "answers_in_db": answers,
        "answers_expected": 45 * examinees,
        "submitted": submitted,
        "graded": graded,
        "lost_acknowledged": await _acknowledged_present(url, seeded, saved_ack),
    }
    return run.summary()


async def _released(release: asyncio.Event, call: Awaitable[None]) -> None:
    await release.wait()
    await call


async def scenario_grading(url: str, *, attempts: int, repeats: int) -> dict[str, Any]:
    """Grade ``attempts`` submitted attempts (45 answers each) in one process, set-based."""
    seeded = await seed_exam(url, examinees=attempts, submitted=True, answered=45)
    database = Database(url, pool_size=2)
    timings: dict[str, list[float]] = {"grade_s": [], "rescore_all_s": []}
    try:
        for _ in range(repeats):
            for variant in ("grade_s",):
                async with database.write_sessions() as session:
                    await session.execute(
                        update(Attempt).where(Attempt.exam_id == seeded.exam_id).values(score=None, graded_at=None)
                    )
                    await session.commit()
                async with database.write_sessions() as session:
                    t0 = time.perf_counter()
                    await grade_attempts(session, seeded.attempt_ids, now=datetime.now(UTC))
                    await session.commit()
                    timings[variant].append(time.perf_counter() - t0)
            async with database.write_sessions() as session:
                t0 = time.perf_counter()
                await rescore_attempts(session, seeded.attempt_ids)
                await session.commit()
                timings["rescore_all_s"].append(time.perf_counter() - t0)
        async with database.read_sessions() as session:
            graded = await session.scalar(
                select(func.count()).where(Attempt.exam_id == seeded.exam_id, Attempt.score.is_not(None))
            )
            rows = await session.scalar(select(func.count()).select_from(AttemptAnswer))
    finally:
        await database.dispose()
    return {
        "attempts": attempts,
        "answers": rows,
        "graded": graded,
        **{k: round(statistics.median(v), 3) for k, v in timings.items()},
        **{k.replace("_s", "_runs"): [round(x, 3) for x in v] for k, v in timings.items()},
    }


# Driver -----------------------------------------------------------------------------------------------


def with_ratio(result: dict[str, Any], bare: dict[str, Any]) -> dict[str, Any]:
    if result.get("req_s") and bare.get("req_s"):
        result["ratio_to_bare"] = round(result["req_s"] / bare["req_s"], 3)
    return result


def repeat(times: int, scenario: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Run a scenario ``times`` times (each on a fresh database) and keep the medians."""
    runs = [uvloop.run(scenario()) for _ in range(times)]
    if all(isinstance(v, dict) for v in runs[0].values()):
        return {k: median_of([r[k] for r in runs]) for k in runs[0]}
    return median_of(runs)


def on_fresh_database(backend: str, scenario: Callable[[str], Awaitable[dict[str, Any]]]) -> Callable[[], Any]:
    async def run() -> dict[str, Any]:
        async with database_for(backend) as url:
            return await scenario(url)

    return run


BARE_WRK: dict[str, Any] = {}  # the bare endpoint under wrk, measured once per invocation


def report_bare_wrk(_args: argparse.Namespace) -> dict[str, Any]:
    return BARE_WRK


def run_backend(backend: str, args: argparse.Namespace, scenarios: set[str], bare: dict[str, Any]) -> dict[str, Any]:
    results: dict[str, Any] = {}

    def show(name: str) -> None:
        print(f"{backend} {name}: {json.dumps(results[name], ensure_ascii=False)}", flush=True)

    if "grading" in scenarios:
        grading = on_fresh_database(
            backend, lambda url: scenario_grading(url, attempts=args.grading_attempts, repeats=args.repeats)
        )
        results["grading"] = uvloop.run(grading())
        show("grading")
    if "autosave" in scenarios:
        autosave = on_fresh_database(
            backend,
            lambda url: scenario_autosave(
                url, examinees=args.autosave_examinees, seconds=args.autosave_seconds, rate=args.autosave_rate
            ),
        )
        results["autosave"] = {k: with_ratio(v, bare) for k, v in repeat(args.repeats, autosave).items()}
        show("autosave")
    if "wrk" in scenarios:
        wrk = on_fresh_database(
            backend, lambda url: scenario_wrk_autosave(url, examinees=args.wrk_examinees, seconds=args.autosave_seconds)
        )
        results["wrk_autosave"] = with_ratio(repeat(args.repeats, wrk), report_bare_wrk(args))
        show("wrk_autosave")
    if "start" in scenarios:
        for size in (int(s) for s in args.start_sizes.split(",")):
            start = on_fresh_database(backend, lambda url, size=size: scenario_start(url, size))  # type: ignore[misc]
            results[f"start_{size}"] = with_ratio(repeat(args.repeats, start), bare)
            show(f"start_{size}")
    if "burst" in scenarios:
        burst = on_fresh_database(backend, lambda url: scenario_burst(url, examinees=args.burst_size))
        results["burst"] = repeat(args.repeats, burst)
        show("burst")
    if "burst_cold" in scenarios:
        cold = on_fresh_database(
            backend, lambda url: scenario_burst(url, examinees=args.burst_size, saved_before=False)
        )
        results["burst_cold"] = repeat(args.repeats, cold)
        show("burst_cold")
    if "kill" in scenarios:
        kill = on_fresh_database(
            backend, lambda url: scenario_burst(url, examinees=args.burst_size, kill_after=args.kill_after)
        )
        results["kill"] = repeat(args.repeats, kill)
        show("kill")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--scenarios", default="bare,grading,autosave,start,burst,burst_cold,kill")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--start-sizes", default="2000,5000")
    parser.add_argument("--burst-size", type=int, default=5000)
    parser.add_argument("--autosave-examinees", type=int, default=10000)
    parser.add_argument("--autosave-seconds", type=float, default=20.0)
    parser.add_argument("--autosave-rate", type=float, default=667.0)
    parser.add_argument("--grading-attempts", type=int, default=10000)
    parser.add_argument("--wrk-examinees", type=int, default=2000)
    parser.add_argument(
        "--kill-after", type=float, default=0.3, help="SIGKILL once this share of the final saves is acknowledged"
    )
    parser.add_argument(
        "--server-tree",
        help="serve the code of this checkout (e.g. a worktree of an earlier commit) on this checkout's schema "
        "and load generator, so that two versions are driven by the same client",
    )
    args = parser.parse_args()
    global SERVER_TREE
    SERVER_TREE = Path(args.server_tree).resolve() if args.server_tree else None
    scenarios = set(args.scenarios.split(","))
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
        "args": vars(args),
    }
    bare: dict[str, Any] = {}
    if "bare" in scenarios:
        with running(Server.bare(), health="/bare") as server:
            bare = repeat(args.repeats, lambda: scenario_bare(server.port, seconds=10))
        report["bare"] = bare
        print(f"bare: {json.dumps(bare)}", flush=True)
    if "wrk" in scenarios:
        with running(Server.bare(), health="/bare") as server:
            BARE_WRK.update(repeat(args.repeats, lambda: scenario_wrk_bare(server.port, seconds=args.autosave_seconds)))
        report["bare_wrk"] = dict(BARE_WRK)
        print(f"bare (wrk): {json.dumps(BARE_WRK)}", flush=True)
    for backend in backends:
        report[backend] = run_backend(backend, args, scenarios, bare)
    report["load_after"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"attempts-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
