"""Time the paper draw: 18 unit papers (the “基本理论+” preset, 45 questions each) from a bank of 100,000.

    /tmp/v/bin/python bench/bench_draw.py                      # a temporary SQLite file
    /tmp/v/bin/python bench/bench_draw.py postgresql://postgres@127.0.0.1:5432/test
                                                               # a scratch database next to that one
    /tmp/v/bin/python bench/bench_draw.py --runs 21 --questions 100000

The bank is written with Core inserts (not timed): 40% theory, 20% law, 40% policy spread over the 18
units, types 45/22/33, ratings 1–5. What is timed is what ``POST /api/exams/{id}/papers`` spends before
writing: the one pool query (with the observed-rate join) plus the pure draw (spread + difficulty
balance). The median of the runs is printed, and for reference the whole service call including
writing the 18 papers and their 810 pinned slots.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from app.accounts.models import Role, User
from app.accounts.principal import Principal
from app.bank.models import Question, QuestionVersion
from app.core.db import Database
from app.core.migrate import upgrade_database
from app.exams import service as exams_service
from app.exams.models import Exam, ExamUnit
from app.org.models import Unit
from app.papers import repository as papers_repository
from app.papers.draw import draw_papers
from app.papers.models import Blueprint
from app.papers.quotas import PRESET_JIBEN_LILUN_PLUS, compute_quotas, quota_rows, sections_from

UNITS = 18
CHUNK = 20_000


async def _seed(database: Database, questions: int) -> tuple[list[int], int, Principal]:
    rng = random.Random(20261123)
    now = datetime.now(UTC)
    async with database.write_sessions() as session:
        user = User(username=f"bench-{uuid.uuid4().hex[:6]}", password_hash="-", roles=["admin"])
        session.add(user)
        await session.flush()
        organiser = Principal(
            id=user.id, username=user.username, roles=frozenset({Role.admin}), unit_id=None, session_digest=""
        )
        units = [Unit(code=f"DRAW{n:02d}", name=f"基准单位{n}", headcount=300) for n in range(UNITS)]
        session.add_all(units)
        await session.flush()
        unit_ids = [u.id for u in units]
        table = compute_quotas(
            sections_from(PRESET_JIBEN_LILUN_PLUS["sections"]), PRESET_JIBEN_LILUN_PLUS["category_split"]
        )
        blueprint = Blueprint(
            name="基本理论+",
            time_limit_seconds=1800,
            sections=PRESET_JIBEN_LILUN_PLUS["sections"],
            category_split=PRESET_JIBEN_LILUN_PLUS["category_split"],
            quotas=quota_rows(table),
            multiple_scoring="all_or_nothing",
            is_preset=True,
        )
        session.add(blueprint)
        await session.flush()
        exam = Exam(
            name="基准考试",
            blueprint_id=blueprint.id,
            mode="formal",
            status="draft",
            seed=2026,
            time_limit_seconds=1800,
            multiple_scoring="all_or_nothing",
            difficulty_tolerance=0.02,
            max_attempts=1,
        )
        session.add(exam)
        await session.flush()
        await session.execute(insert(ExamUnit), [{"exam_id": exam.id, "unit_id": u} for u in unit_ids])
        # Explicit ids let questions point at their version without a RETURNING round trip or an UPDATE.
        for start in range(0, questions, CHUNK):
            questions_rows, version_rows = [], []
            for n in range(start + 1, min(start + CHUNK, questions) + 1):
                kind = rng.choices(["single", "multiple", "judge"], [45, 22, 33])[0]
                category = rng.choices(["theory", "law", "policy"], [40, 20, 40])[0]
                options = (
                    [{"key": "T", "text": "正确"}, {"key": "F", "text": "错误"}]
                    if kind == "judge"
                    else [{"key": k, "text": f"选项{k}{n}"} for k in "ABCD"]
                )
                content = {
                    "type": kind,
                    "category": category,
                    "unit_id": rng.choice(unit_ids) if category == "policy" else None,
                    "stem": f"第{n}题：依据有关规定，下列说法正确的是",
                    "options": options,
                    "answer": ["T"] if kind == "judge" else (["A", "C"] if kind == "multiple" else ["B"]),
                    "difficulty": rng.randint(1, 5),
                    "tags": [],
                    "knowledge_point": None,
                    "explanation": None,
                    "legal_basis": None,
                }
                questions_rows.append(
                    {
                        **content,
                        "id": n,
                        "version": 1,
                        "current_version_id": n,
                        "status": "active",
                        "search_text": content["stem"],
                        "stem_hash": f"h{n}",
                        "created_at": now,
                        "updated_at": now,
                        "created_by": None,
                    }
                )
                version_rows.append(
                    {
                        **content,
                        "id": n,
                        "question_id": n,
                        "version": 1,
                        "created_at": now,
                        "change_note": None,
                        "created_by": None,
                    }
                )
            await session.execute(insert(Question.__table__), questions_rows)
            await session.execute(insert(QuestionVersion.__table__), version_rows)
        if database.engine.dialect.name == "postgresql":
            for table in ("questions", "question_versions"):
                await session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {questions})"))
        await session.commit()
        return unit_ids, exam.id, organiser


async def _load_and_draw(database: Database, unit_ids: list[int], seed: int) -> tuple[float, float, float, float, int]:
    quotas = compute_quotas(
        sections_from(PRESET_JIBEN_LILUN_PLUS["sections"]), PRESET_JIBEN_LILUN_PLUS["category_split"]
    ).quotas
    async with database.read_sessions() as session:
        start, cpu = time.perf_counter(), time.process_time()
        candidates = await papers_repository.load_candidates(
            session,
            types=["judge", "multiple", "single"],
            categories=["law", "policy", "theory"],
            unit_ids=unit_ids,
            observed=exams_service.observed_facility(),
        )
        loaded = time.perf_counter()
        outcome = draw_papers(candidates, quotas, unit_ids, seed=seed, tolerance=0.02)
        done = time.perf_counter()
        cpu = time.process_time() - cpu  # every thread of the process, the database driver's included
    assert len(outcome.papers) == UNITS and outcome.balanced
    return loaded - start, done - loaded, cpu, outcome.difficulty_spread, outcome.max_overlap


async def _run(url: str, questions: int, runs: int) -> None:
    database = Database(url)
    try:
        seeding = time.perf_counter()
        unit_ids, exam_id, organiser = await _seed(database, questions)
        print(
            f"bank of {questions:,} questions over {UNITS} units written in {time.perf_counter() - seeding:.1f} s "
            f"({make_url(url).get_backend_name()})"
        )
        await _load_and_draw(database, unit_ids, seed=0)  # warm the page cache and the statement cache
        loads, draws, totals, cpus = [], [], [], []
        spread = overlap = 0.0
        for run in range(runs):
            load, draw, cpu, spread, overlap = await _load_and_draw(database, unit_ids, seed=run + 1)
            loads.append(load)
            draws.append(draw)
            totals.append(load + draw)
            cpus.append(cpu)
        print(
            f"load + draw, median of {runs}: {statistics.median(totals) * 1000:.0f} ms wall "
            f"(load {statistics.median(loads) * 1000:.0f} ms, draw {statistics.median(draws) * 1000:.0f} ms; "
            f"max {max(totals) * 1000:.0f} ms), {statistics.median(cpus) * 1000:.0f} ms CPU; "
            f"last run: spread {spread:.4f}, max overlap {overlap:.0f}; load average {os.getloadavg()[0]:.1f}"
        )
        services = []
        for run in range(max(3, runs // 4)):
            async with database.write_sessions() as session:
                exam = await exams_service.get_exam(session, exam_id)
                start = time.perf_counter()
                await exams_service.draw_exam_papers(
                    session, exam=exam, principal=organiser, now=datetime.now(UTC), seed=run + 1
                )
                await session.commit()
                services.append(time.perf_counter() - start)
        print(
            f"whole draw_exam_papers call incl. writing 18 papers + commit, median of {len(services)}: "
            f"{statistics.median(services) * 1000:.0f} ms"
        )
    finally:
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
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if args.url and make_url(args.url).get_backend_name() == "postgresql":
        url = asyncio.run(_scratch_postgres(args.url))
    else:
        url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench-draw.db"
    upgrade_database(url)
    try:
        asyncio.run(_run(url, args.questions, args.runs))
    finally:
        if url != args.url and make_url(url).get_backend_name() == "postgresql":
            asyncio.run(_drop_postgres(args.url, url))


if __name__ == "__main__":
    main()
