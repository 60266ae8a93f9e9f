"""CPU per exam-room request, in-process: a comparison of two versions of the code that survives a busy machine.

    PYTHONPATH=$PWD /work/venv/bin/python bench/bench_room_cpu.py --backend sqlite --kind jobs
    PYTHONPATH=$PWD /work/venv/bin/python bench/bench_room_cpu.py --backend postgres --kind autosave
    PYTHONPATH=$PWD /work/venv/bin/python bench/bench_room_cpu.py --backend sqlite --kind final

Kinds: ``jobs`` (SQLite only) runs the writer jobs of N 45-answer saves on one connection and prints the
CPU of their read and write steps; ``autosave`` sends N two-answer saves through the whole application
(``httpx2.ASGITransport``, the real group-commit writer or batch queue, 64 at once) and prints
``time.process_time()`` per save, the client included; ``final`` does the same for a 45-answer save plus
the submit of each examinee. Wall times on a shared machine vary with its load; CPU per request varies
far less, so run the two versions one after the other, alternated, and compare that.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx2
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_attempts as bench

from app.core.config import Settings
from app.core.db import Database
from app.core.security import token_digest
from app.core.sqlite_writer import ReadThenWrite
from app.exams.room import room
from app.main import create_app

QUESTIONS = [str(n) for n in range(1, 46)]


async def writer_jobs(examinees: int) -> str:
    async with bench.database_for("sqlite") as url:
        seeded = await bench.seed_exam(url, examinees=examinees, started=True)
        connection = sqlite3.connect(str(make_url(url).database), isolation_level=None)
        now, scorings = datetime.now(UTC), room.Scorings()
        jobs = []
        for attempt_id, token, sheet in zip(seeded.attempt_ids, seeded.tokens, seeded.sheets, strict=True):
            claim = room.SaveClaim(
                attempt_id=attempt_id, digest=token_digest(token), seq=7, answers=sheet, now=now, grace_seconds=10
            )
            read = partial(room._score_on_sqlite, scorings=scorings, save=claim)
            write = partial(room._claim_on_sqlite, scorings=scorings, save=claim)
            jobs.append(ReadThenWrite(read, write))
        started = time.process_time()
        connection.execute("BEGIN IMMEDIATE")
        reads = [job.read(connection) for job in jobs]
        read_done = time.process_time()
        for job, read in zip(jobs, reads, strict=True):
            assert read is not None and job.write(connection, read) is not None
        connection.execute("COMMIT")
        done = time.process_time()
        connection.close()
    per = 1e6 / examinees
    return f"writer jobs: read {(read_done - started) * per:.0f} µs, write {(done - read_done) * per:.0f} µs per save"


async def through_the_app(backend: str, kind: str, count: int) -> str:
    examinees = 640 if kind == "autosave" else count + 50
    async with bench.database_for(backend) as url:
        seeded = await bench.seed_exam(url, examinees=examinees, started=True)
        settings = Settings(environment="test", database_url=url, secret_key=bench.SECRET, run_sweeper=False)
        database = Database(url)
        app = create_app(settings, database=database, background=False)
        seqs: dict[int, int] = {}
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://bench") as client:

            async def save(who: int, answers: dict[str, list[str]]) -> None:
                seqs[who] = seqs.get(who, 0) + 1
                reply = await client.put(
                    f"/api/attempts/{seeded.attempt_ids[who]}/answers", json={"seq": seqs[who], "answers": answers},
                    headers={"Authorization": f"Bearer {seeded.tokens[who]}"},
                )  # fmt: skip
                assert reply.status_code == 200 and reply.json()["saved"], reply.text

            async def autosaves(lane: int, rounds: int) -> None:
                for i in range(rounds):
                    who = (lane + 64 * i) % examinees
                    await save(who, {n: seeded.sheets[who][n] for n in random.sample(QUESTIONS, 2)})

            async def final(who: int) -> None:
                await save(who, seeded.sheets[who])
                headers = {"Authorization": f"Bearer {seeded.tokens[who]}"}
                reply = await client.post(f"/api/attempts/{seeded.attempt_ids[who]}/submit", headers=headers)
                assert reply.status_code == 200, reply.text

            if kind == "autosave":
                await asyncio.gather(*(autosaves(lane, 10) for lane in range(64)))  # warm up
                started = time.process_time()
                await asyncio.gather(*(autosaves(lane, count // 64) for lane in range(64)))
                done, requests = time.process_time(), count // 64 * 64
            else:
                await asyncio.gather(*(final(who) for who in range(50)))  # warm up
                gate = asyncio.Semaphore(64)

                async def gated(who: int) -> None:
                    async with gate:
                        await final(who)

                started = time.process_time()
                await asyncio.gather(*(gated(who) for who in range(50, examinees)))
                done, requests = time.process_time(), count
        await database.dispose()
    what = "save" if kind == "autosave" else "examinee (final save + submit)"
    return f"{backend} {kind}: {(done - started) / requests * 1e6:.0f} µs of CPU per {what}, {requests} measured"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--kind", choices=["jobs", "autosave", "final"], default="autosave")
    parser.add_argument("--count", type=int, default=1920)
    args = parser.parse_args()
    if args.kind == "jobs":
        print(asyncio.run(writer_jobs(args.count)))
    else:
        print(asyncio.run(through_the_app(args.backend, args.kind, args.count)))


if __name__ == "__main__":
    main()
