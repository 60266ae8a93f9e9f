"""What a transaction pooler costs: autosave (the exam's hottest request) through ``exambank serve`` (2 workers)
on PostgreSQL, connected directly, directly with EXAMBANK_DB_TRANSACTION_POOLER=true (no statement caches),
and through a real PgBouncer in transaction mode; each as throughput and latency, with the bare endpoint
(bench/bare_app.py) measured in the same run.

    PYTHONPATH=$PWD /work/venv/bin/python bench/bench_pooler.py [--seconds 8] [--examinees 400] [--repeats 3]
    PYTHONPATH=$PWD /work/venv/bin/python bench/bench_pooler.py --micro [--rounds 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import random
import statistics
import time
from collections.abc import Iterator
from typing import Any

import bench_attempts as ba  # bench/ is on sys.path when this file runs
import uvloop

from tests.pgbouncer import free_port, run_pgbouncer

CONCURRENCY = 64
# One counter for the whole run: every attempt's seq keeps growing across servers and rounds.
_SEQ = itertools.count(1)


def _saver(seeded: ba.Seeded, offset: int) -> ba.Request:
    questions = [str(n) for n in range(1, 46)]
    span = len(seeded.attempt_ids) - len(seeded.attempt_ids) % CONCURRENCY

    async def save(conn: ba.Connection, i: int) -> bool | str:
        who = (i + offset) % span
        sheet = seeded.sheets[who]
        status, body = await conn.request(
            "PUT",
            f"/api/attempts/{seeded.attempt_ids[who]}/answers",
            {"seq": next(_SEQ), "answers": {n: sheet[n] for n in random.sample(questions, 2)}},
            token=seeded.tokens[who],
        )
        if status != 200:
            return f"HTTP {status}: {str(body)[:60]}"
        return bool(body["saved"]) or "not saved"

    return save


def _on_own_port(server: ba.Server) -> ba.Server:
    """The same server on a port of exambank's benchmark range (18370–18379)."""
    port = free_port(range(18370, 18380))
    argv = [str(port) if arg == str(server.port) else arg for arg in server.argv]
    return ba.Server(argv, server.env, port)


@contextlib.contextmanager
def _running(server: ba.Server, health: str = "/api/health") -> Iterator[ba.Server]:
    """``bench_attempts.running``, which also stops a server that did not come up in time."""
    try:
        server.start(health, timeout=180)
    except BaseException:
        server.stop()
        raise
    try:
        yield server
    finally:
        server.stop()


async def _autosave(url: str, seeded: ba.Seeded, *, pooler: bool, seconds: float, round_no: int) -> dict[str, Any]:
    server = _on_own_port(ba.Server.exambank(url))
    server.env["EXAMBANK_DB_TRANSACTION_POOLER"] = "true" if pooler else "false"
    server.env["EXAMBANK_DB_POOL_SIZE"] = "10"
    with _running(server):
        await ba.closed_loop(server.port, _saver(seeded, 10 * round_no), concurrency=8, seconds=2)  # warm up
        run = await ba.closed_loop(
            server.port, _saver(seeded, 10 * round_no + 1), concurrency=CONCURRENCY, seconds=seconds
        )
    return run.summary()


async def _bare(seconds: float) -> dict[str, Any]:
    with _running(_on_own_port(ba.Server.bare()), health="/bare") as server:
        return await ba.scenario_bare(server.port, seconds)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, list[dict[str, Any]]] = {"bare": [], "direct": [], "direct_pooler_mode": [], "pgbouncer": []}
    async with ba.database_for("postgresql") as url:
        seeded = await ba.seed_exam(url, examinees=args.examinees, started=True)
        with run_pgbouncer(url, pool_size=20) as pooled_url:
            for round_no in range(args.repeats):
                results["bare"].append(await _bare(args.seconds))
                for name, target, pooler in (
                    ("direct", url, False),
                    ("direct_pooler_mode", url, True),
                    ("pgbouncer", pooled_url, True),
                ):
                    summary = await _autosave(target, seeded, pooler=pooler, seconds=args.seconds, round_no=round_no)
                    results[name].append(summary)
                    print(name, json.dumps(summary), flush=True)
    report: dict[str, Any] = {}
    for name, runs in results.items():
        report[name] = {
            key: statistics.median(run[key] for run in runs) for key in runs[0] if isinstance(runs[0][key], int | float)
        }
    bare = report["bare"]
    for name in ("direct", "direct_pooler_mode", "pgbouncer"):
        report[name]["throughput_ratio_to_bare"] = round(report[name]["req_s"] / bare["req_s"], 3)
        report[name]["throughput_ratio_to_direct"] = round(report[name]["req_s"] / report["direct"]["req_s"], 3)
    return report


async def _statement_times(url: str, *, pooler: bool, rounds: int) -> dict[str, float]:
    """Median µs of one statement, sequential on one connection: an ORM select in a transaction, and a
    driver-level fetch outside any transaction (the hot path's shape)."""
    from sqlalchemy import text

    from app.core.db import Database
    from app.core.driver import DriverSQL, pooled_driver

    database = Database(url, pool_size=1, transaction_pooler=pooler)
    sql = DriverSQL.of("SELECT count(*) AS n FROM attempts WHERE id > :id")
    orm, driver = [], []
    try:
        for i in range(rounds):
            began = time.perf_counter()
            async with database.read_sessions() as session:
                await session.scalar(text("SELECT count(*) FROM attempts WHERE id > :id"), {"id": i})
            orm.append(time.perf_counter() - began)
            raw = await database.engine.raw_connection()
            try:
                began = time.perf_counter()
                await pooled_driver(raw).fetchrow(sql, {"id": i})
                driver.append(time.perf_counter() - began)
            finally:
                raw.close()
    finally:
        await database.dispose()
    return {"orm_us": round(statistics.median(orm) * 1e6, 1), "driver_us": round(statistics.median(driver) * 1e6, 1)}


async def micro_async(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {"direct": [], "direct_pooler_mode": [], "pgbouncer": []}
    async with ba.database_for("postgresql") as url:
        with run_pgbouncer(url, pool_size=4) as pooled_url:
            for _ in range(args.repeats):  # interleaved, so that the machine's noise hits all three alike
                runs["direct"].append(await _statement_times(url, pooler=False, rounds=args.rounds))
                runs["direct_pooler_mode"].append(await _statement_times(url, pooler=True, rounds=args.rounds))
                runs["pgbouncer"].append(await _statement_times(pooled_url, pooler=True, rounds=args.rounds))
    report: dict[str, Any] = {
        name: {key: statistics.median(run[key] for run in values) for key in values[0]} for name, values in runs.items()
    }
    for name in ("direct_pooler_mode", "pgbouncer"):
        for key in ("orm_us", "driver_us"):
            report[name][key.replace("_us", "_ratio_to_direct")] = round(report[name][key] / report["direct"][key], 2)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--examinees", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--micro", action="store_true", help="only the per-statement cost, on one connection")
    parser.add_argument("--rounds", type=int, default=1000, help="statements per --micro run")
    args = parser.parse_args()
    run = micro_async if args.micro else main_async
    print(json.dumps(uvloop.run(run(args)), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
