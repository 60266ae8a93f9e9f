"""Benchmark of the exam report on 10,000 submitted attempts (45 answers each) across 18 units.

Usage:
    /tmp/v/bin/python bench/bench_report.py                      # a fresh SQLite file in a temp directory
    /tmp/v/bin/python bench/bench_report.py postgresql://postgres@127.0.0.1:5432/bench_reports
The PostgreSQL database is created if missing and dropped afterwards. Prints timings (median of runs) for
the report, the item analysis and the fairness view.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from app.accounts.models import User
from app.bank.models import Question, QuestionVersion
from app.core.db import Database
from app.core.migrate import upgrade_database
from app.exams.models import Attempt, AttemptAnswer, Exam, ExamUnit, Participant
from app.org.models import Cadre, Unit
from app.papers.models import Blueprint, Paper, PaperSlot
from app.reports.items import fairness, item_analysis
from app.reports.service import build_exam_report

ATTEMPTS = 10_000
UNITS = 18
RUNS = 5
BATCH = 5_000
SLOTS = [("single", 2)] * 20 + [("multiple", 3)] * 10 + [("judge", 2)] * 15
CATEGORIES = ["theory"] * 18 + ["law"] * 9 + ["policy"] * 18
T0 = datetime(2026, 9, 10, 1, 0, tzinfo=UTC)


async def _insert(session: Any, model: Any, rows: list[dict[str, Any]], returning: bool = True) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        if returning:
            result = await session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), chunk)
            ids += list(result.all())
        else:
            await session.execute(insert(model), chunk)
    return ids


async def populate(database: Database) -> int:
    rng = random.Random(2018)
    async with database.write_sessions() as session:
        unit_ids = await _insert(
            session,
            Unit,
            [{"code": f"B{i}", "name": f"单位{i}", "headcount": 2000, "large": False} for i in range(UNITS)],
        )
        question_ids = await _insert(
            session,
            Question,
            [
                {
                    "type": t,
                    "category": c,
                    "stem": f"题{i}",
                    "options": [],
                    "answer": ["A"],
                    "tags": [],
                    "search_text": "",
                    "stem_hash": f"h{i}",
                    "difficulty": 3,
                }
                for i, ((t, _), c) in enumerate(zip(SLOTS, CATEGORIES, strict=True))
            ],
        )
        version_ids = await _insert(
            session,
            QuestionVersion,
            [
                {
                    "question_id": q,
                    "version": 1,
                    "type": t,
                    "category": c,
                    "stem": f"题{i}",
                    "options": [],
                    "answer": ["A"],
                    "tags": [],
                }
                for i, (q, (t, _), c) in enumerate(zip(question_ids, SLOTS, CATEGORIES, strict=True))
            ],
        )
        (blueprint_id,) = await _insert(
            session,
            Blueprint,
            [{"name": "bench", "time_limit_seconds": 1800, "sections": [], "category_split": {}, "quotas": []}],
        )
        (exam_id,) = await _insert(
            session,
            Exam,
            [
                {
                    "name": "bench",
                    "blueprint_id": blueprint_id,
                    "mode": "formal",
                    "status": "closed",
                    "seed": 1,
                    "time_limit_seconds": 1800,
                    "multiple_scoring": "all_or_nothing",
                }
            ],
        )
        await _insert(session, ExamUnit, [{"exam_id": exam_id, "unit_id": u} for u in unit_ids], returning=False)
        paper_ids = await _insert(
            session,
            Paper,
            [
                {
                    "exam_id": exam_id,
                    "unit_id": u,
                    "seed": u,
                    "expected_difficulty": 0.7,
                    "total_points": 100,
                    "content": [],
                    "answer_key": {},
                }
                for u in unit_ids
            ],
        )
        await _insert(
            session,
            PaperSlot,
            [
                {
                    "paper_id": p,
                    "position": n,
                    "question_id": q,
                    "question_version_id": v,
                    "type": t,
                    "category": c,
                    "points": pts,
                }
                for p in paper_ids
                for n, (q, v, (t, pts), c) in enumerate(
                    zip(question_ids, version_ids, SLOTS, CATEGORIES, strict=True), 1
                )
            ],
            returning=False,
        )
        units_of = [unit_ids[i % UNITS] for i in range(ATTEMPTS)]
        cadre_ids = await _insert(
            session,
            Cadre,
            [
                {
                    "unit_id": u,
                    "name": f"干部{i}",
                    "rank": rng.choice(["ting", "chu", "chu", "ke", "ke"]),
                    "employee_no": f"E{i}",
                    "is_active": True,
                }
                for i, u in enumerate(units_of)
            ],
        )
        user_ids = await _insert(
            session,
            User,
            [
                {"username": f"b{i}", "password_hash": "-", "roles": ["examinee"], "unit_id": u, "is_active": True}
                for i, u in enumerate(units_of)
            ],
        )
        participant_ids = await _insert(
            session,
            Participant,
            [
                {
                    "exam_id": exam_id,
                    "cadre_id": c,
                    "unit_id": u,
                    "rank": rng.choice(["ting", "chu", "ke"]),
                    "ticket_no": f"T{i}",
                    "user_id": usr,
                }
                for i, (c, u, usr) in enumerate(zip(cadre_ids, units_of, user_ids, strict=True))
            ],
        )
        answers: list[list[tuple[str, float, bool]]] = []
        attempt_rows = []
        for i, (participant, unit) in enumerate(zip(participant_ids, units_of, strict=True)):
            skill = 0.6 + 0.35 * rng.random()
            sheet = []
            for _type, points in SLOTS:
                right = rng.random() < skill
                sheet.append(("A" if right else "B", float(points if right else 0), right))
            answers.append(sheet)
            attempt_rows.append(
                {
                    "exam_id": exam_id,
                    "participant_id": participant,
                    "paper_id": paper_ids[unit_ids.index(unit)],
                    "unit_id": unit,
                    "attempt_no": 1,
                    "status": "submitted",
                    "started_at": T0,
                    "deadline_at": T0 + timedelta(minutes=30),
                    "submitted_at": T0 + timedelta(minutes=25 + i % 5),
                    "last_seq": 1,
                    "shuffle_seed": i,
                    "question_order": [],
                    "option_orders": {},
                    "score": sum(points for _, points, _ in sheet),
                }
            )
        attempt_ids = await _insert(session, Attempt, attempt_rows)
        await _insert(
            session,
            AttemptAnswer,
            [
                {
                    "attempt_id": a,
                    "position": n,
                    "keys": keys,
                    "seq": 1,
                    "saved_at": T0,
                    "points": points,
                    "is_correct": right,
                }
                for a, sheet in zip(attempt_ids, answers, strict=True)
                for n, (keys, points, right) in enumerate(sheet, 1)
            ],
            returning=False,
        )
        await session.commit()
    async with database.engine.connect() as connection:
        # Fresh planner statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE (SQLite) would give.
        await connection.execute(text("ANALYZE"))
        await connection.commit()
    return exam_id


async def timed(database: Database, label: str, job: Any, exam_id: int) -> float:
    samples, cpu = [], []
    for _ in range(RUNS):
        async with database.read_sessions() as session:
            started, started_cpu = time.perf_counter(), time.process_time()
            await job(session, exam_id)
            samples.append(time.perf_counter() - started)
            # Process CPU time: on SQLite it includes the database engine's work, and it does not grow
            # with the load that other processes put on the machine.
            cpu.append(time.process_time() - started_cpu)
    median = statistics.median(samples)
    print(
        f"{label:<16} wall median {median * 1000:7.1f} ms (min {min(samples) * 1000:.1f}, "
        f"max {max(samples) * 1000:.1f}); process CPU median {statistics.median(cpu) * 1000:.1f} ms"
    )
    return median


async def run(url: str) -> None:
    database = Database(url, pool_size=2)
    try:
        started = time.perf_counter()
        exam_id = await populate(database)
        load = os.getloadavg()[0]
        print(f"load average {load:.1f} on {os.cpu_count()} CPUs")
        print(
            f"backend {make_url(url).get_backend_name()}: {ATTEMPTS} attempts × {len(SLOTS)} answers, {UNITS} units "
            f"(populated in {time.perf_counter() - started:.1f} s)"
        )
        await timed(database, "report", build_exam_report, exam_id)
        await timed(database, "item analysis", item_analysis, exam_id)
        await timed(database, "fairness", fairness, exam_id)
    finally:
        await database.dispose()


async def _postgres(url: str, create: bool) -> None:
    import asyncpg

    name = make_url(url).database
    admin = make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("postgres"):
        url = sys.argv[1]
        asyncio.run(_postgres(url, create=True))
        upgrade_database(url)
        try:
            asyncio.run(run(url))
        finally:
            asyncio.run(_postgres(url, create=False))
        return
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        upgrade_database(url)
        asyncio.run(run(url))


if __name__ == "__main__":
    main()
