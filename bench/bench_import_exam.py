"""Benchmark: a 20,000-question import next to a running exam (issue 13, point 4).

    /work/venv/bin/python bench/bench_import_exam.py                    # SQLite (a temporary file)
    /work/venv/bin/python bench/bench_import_exam.py --backend postgres # a scratch database on 127.0.0.1:5432
    /work/venv/bin/python bench/bench_import_exam.py --rate 100 --seconds 30 --examinees 600

One ``exambank serve --workers 2`` on 127.0.0.1:18510 (and the bare FastAPI app on 18511 as the yardstick).
Examinees with started attempts autosave, paced (open loop: latency counts from each save's scheduled
time), first with nothing else going on, then while a bank editor uploads a .json file of 20,000 new
questions through ``POST /api/questions/import`` (a bank of 20,000 already in place, so the duplicate
search has work to do). Only the saves scheduled while the import ran count for the second phase. Prints
p50/p99/max and errors of each phase, their ratio to the bare endpoint paced at the same rate in the same
run, and the import's own duration and result. Every loop is bounded; only loopback is used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_attempts import (  # noqa: E402
    BIN,
    SECRET,
    Connection,
    Pool,
    Server,
    _safe,
    database_for,
    seed_exam,
)
from bench_import import _question, _vocabulary  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from app.accounts.models import AuthSession, Role, User  # noqa: E402
from app.core.db import Database  # noqa: E402
from app.core.security import token_digest  # noqa: E402

EXAM_PORT, BARE_PORT = 18510, 18511
IMPORT_SIZE = 20_000


def _server(url: str) -> Server:
    env = {**os.environ, "EXAMBANK_DATABASE_URL": url, "EXAMBANK_SECRET_KEY": SECRET, "EXAMBANK_LOG_LEVEL": "WARNING"}
    argv = [str(BIN / "exambank"), "serve", "--host", "127.0.0.1", "--port", str(EXAM_PORT), "--workers", "2"]
    return Server(argv, env, EXAM_PORT)


def _bare() -> Server:
    argv = [str(BIN / "uvicorn"), "--app-dir", str(ROOT / "bench"), "bare_app:create_app", "--factory", "--host",
            "127.0.0.1", "--port", str(BARE_PORT), "--workers", "2", "--log-level", "warning"]  # fmt: skip
    return Server(argv, dict(os.environ), BARE_PORT)


def _bank_files() -> tuple[bytes, bytes]:
    rng = random.Random(20261203)
    words = _vocabulary(rng)
    units = [f"BENCH{n}" for n in range(5)]

    def items(count: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(count):
            item = _question(rng, words, one_pool=False)
            if "unit_code" in item:
                item["unit_code"] = rng.choice(units)
            out.append(item)
        return out

    return tuple(json.dumps(items(IMPORT_SIZE), ensure_ascii=False).encode() for _ in range(2))  # type: ignore[return-value]


async def _editor_token(url: str) -> str:
    """A bank editor with a login session, written straight into the database; 5 bench units for policy items."""
    from app.org.models import Unit

    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    database = Database(url, pool_size=1)
    try:
        async with database.write_sessions() as session:
            session.add_all(Unit(code=f"BENCH{n}", name=f"基准单位{n}", headcount=100) for n in range(5))
            user = User(username="bench-editor", password_hash="!", roles=[Role.bank_editor.value, Role.admin.value])
            session.add(user)
            await session.flush()
            login = {"token_digest": token_digest(token), "user_id": user.id, "created_at": now,
                     "expires_at": now + timedelta(hours=6)}  # fmt: skip
            await session.execute(insert(AuthSession), [login])
            await session.commit()
    finally:
        await database.dispose()
    return token


@contextlib.contextmanager
def running(server: Server, health: str = "/api/health") -> Iterator[Server]:
    """The server up for the block and stopped after it, also when it failed to come up in time."""
    try:
        server.start(health, timeout=240.0)  # a loaded 2-core machine starts two workers slowly
        yield server
    finally:
        server.stop()


class Phase:
    def __init__(self) -> None:
        self.saves: list[tuple[float, float]] = []  # (scheduled, latency)
        self.errors: Counter[str] = Counter()

    def summary(self, start: float = 0.0, end: float = float("inf")) -> dict[str, Any]:
        window = sorted(latency for due, latency in self.saves if start <= due <= end)
        n = len(window)

        def pct(p: float) -> float:
            return round(window[min(n - 1, int(p * n))] * 1000, 2) if n else 0.0

        return {"n": n, "errors": sum(self.errors.values()), "p50_ms": pct(0.5), "p99_ms": pct(0.99),
                "max_ms": round(window[-1] * 1000, 2) if n else 0.0,
                **({"error_kinds": dict(self.errors.most_common(3))} if self.errors else {})}  # fmt: skip


async def paced(port: int, send: Any, *, rate: float, stop: asyncio.Event, limit_s: float) -> Phase:
    """Open loop at ``rate``/s until ``stop`` is set (or ``limit_s`` passed); latency from the scheduled time."""
    phase, pool, in_flight = Phase(), Pool(port), set()
    started = time.perf_counter()

    async def one(i: int, due: float) -> None:
        async with pool.connection() as conn:
            outcome = await _safe(send(conn, i))
        phase.saves.append((due, time.perf_counter() - due))
        if outcome is not True:
            phase.errors[str(outcome)[:80]] += 1

    i = 0
    while not stop.is_set() and time.perf_counter() - started < limit_s:
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        i += 1
    await asyncio.gather(*in_flight)
    pool.close()
    return phase


async def _run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    seeded = await seed_exam(url, examinees=args.examinees, started=True)
    token = await _editor_token(url)
    seed_file, import_file = _bank_files()
    questions = [str(n) for n in range(1, 46)]
    seqs: dict[int, int] = {}

    async def save(conn: Connection, i: int) -> bool | str:
        who = i % args.examinees
        seqs[who] = seqs.get(who, 0) + 1
        answers = {n: seeded.sheets[who][n] for n in random.sample(questions, 2)}
        status, body = await conn.request("PUT", f"/api/attempts/{seeded.attempt_ids[who]}/answers",
                                          {"seq": seqs[who], "answers": answers}, token=seeded.tokens[who])  # fmt: skip
        return (status == 200 and bool(body["saved"])) or f"HTTP {status}: {str(body)[:60]}"

    async def bare_get(conn: Connection, _i: int) -> bool | str:
        status, _ = await conn.request("GET", "/bare")
        return status == 200 or f"HTTP {status}"

    async def timed(seconds: float, port: int, send: Any) -> Phase:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        return await paced(port, send, rate=args.rate, stop=stop, limit_s=seconds + 1)

    with running(_bare(), health="/bare"):
        bare = (await timed(args.seconds, BARE_PORT, bare_get)).summary()
    result: dict[str, Any] = {"backend": args.backend, "rate": args.rate, "examinees": args.examinees, "bare": bare}
    with running(_server(url)):
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{EXAM_PORT}", timeout=900) as http:
            seeded_bank = await http.post("/api/questions/import", files={"file": ("seed.json", seed_file)},
                                          headers=headers)  # fmt: skip
            assert seeded_bank.status_code == 200, seeded_bank.text[:300]
            await timed(3, EXAM_PORT, save)  # warm-up
            result["alone"] = (await timed(args.seconds, EXAM_PORT, save)).summary()

            stop = asyncio.Event()
            window: dict[str, float] = {}

            async def upload() -> httpx2.Response:
                await asyncio.sleep(2)
                window["start"] = time.perf_counter()
                try:
                    return await http.post("/api/questions/import", files={"file": ("bank.json", import_file)},
                                           headers=headers)  # fmt: skip
                finally:
                    window["end"] = time.perf_counter()
                    asyncio.get_running_loop().call_later(1, stop.set)

            uploading = asyncio.create_task(upload())
            beside = await paced(EXAM_PORT, save, rate=args.rate, stop=stop, limit_s=900)
            imported = await uploading
    body = imported.json()
    result["import"] = {"status": imported.status_code, "seconds": round(window["end"] - window["start"], 2),
                        **{k: body.get(k) for k in ("created", "updated", "unchanged")},
                        "near_duplicates": sum(d["kind"] == "near" for d in body.get("duplicates", []))}  # fmt: skip
    result["beside_import"] = beside.summary(window["start"], window["end"])
    for phase in ("alone", "beside_import"):
        for key in ("p50_ms", "p99_ms"):
            result[phase][f"{key[:3]}_vs_bare"] = round(result[phase][key] / max(bare[key], 0.01), 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--examinees", type=int, default=600)
    parser.add_argument("--rate", type=float, default=100.0, help="autosaves per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the bare and the alone phases")
    args = parser.parse_args()

    async def run() -> dict[str, Any]:
        async with database_for(args.backend) as url:
            return await _run(url, args)

    with contextlib.suppress(KeyboardInterrupt):
        result = uvloop.run(run())
        print(json.dumps(result, ensure_ascii=False, indent=1))
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        (out / f"import_exam_{args.backend}_{int(time.time())}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
