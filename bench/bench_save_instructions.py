"""Instructions per autosave through the whole application, counted by valgrind: a comparison of two
checkouts that a busy machine cannot blur (CPU times on a shared machine vary by 10 % run to run;
instruction counts by well under 1 %).

    /work/venv/bin/python bench/bench_save_instructions.py --tree . --tree /path/to/older/checkout

For each ``--tree`` (a checkout of exambank whose ``bench/bench_attempts.py`` seeds an exam) a child process
with that tree first on its path seeds 640 started examinees on SQLite, builds the application as a served
worker does (multi-process metrics, the collector tuned), sends 640 two-answer saves to warm it up and then
``--saves`` more, 64 at a time, straight to its ASGI entry (no HTTP client, no sockets) — with the real
group-commit writer — and valgrind counts only those (``callgrind_control -i on/off`` around them). Needs
Debian's ``valgrind``. Prints instructions per save for each tree, and the ratio to the first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

QUESTIONS = [str(n) for n in range(1, 46)]
EXAMINEES, LANES = 640, 64


async def _child(tree: Path, saves: int) -> None:
    sys.path[:0] = [str(tree / "bench"), str(tree)]
    import bench_attempts as bench

    from app.core.config import Settings
    from app.core.db import Database
    from app.core.gc_tuning import tune_for_serving
    from app.main import create_app

    async with bench.database_for("sqlite") as url:
        seeded = await bench.seed_exam(url, examinees=EXAMINEES, started=True)
        settings = Settings(environment="test", database_url=url, secret_key=bench.SECRET, run_sweeper=False)
        database = Database(url)
        app = create_app(settings, database=database, background=False)
        tune_for_serving()
        seqs: dict[int, int] = {}

        async def save(who: int) -> None:
            seqs[who] = seqs.get(who, 0) + 1
            answers = {n: seeded.sheets[who][n] for n in random.sample(QUESTIONS, 2)}
            body = json.dumps({"seq": seqs[who], "answers": answers}).encode()
            path = f"/api/attempts/{seeded.attempt_ids[who]}/answers"
            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT", "scheme": "http",
                "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "state": {},
                "headers": [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {seeded.tokens[who]}".encode()),
                            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }  # fmt: skip
            sent: list[Any] = []

            async def receive() -> Any:
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: Any) -> None:
                sent.append(message)

            await app(scope, receive, send)
            assert sent[0]["status"] == 200, sent

        async def lane(first: int, rounds: int) -> None:
            for i in range(rounds):
                await save((first + LANES * i) % EXAMINEES)

        await asyncio.gather(*(lane(k, EXAMINEES // LANES) for k in range(LANES)))  # warm up
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True, check=False)
        await asyncio.gather(*(lane(k, saves // LANES) for k in range(LANES)))
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], capture_output=True, check=False)
        await database.dispose()


def _count(tree: Path, saves: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": folder, "PYTHONPATH": str(tree)}
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={folder}/out",
                sys.executable, __file__, "--child", str(tree), "--saves", str(saves)]  # fmt: skip
        done = subprocess.run(argv, env=env, cwd=tree, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    assert found is not None, done.stderr[-2000:]
    return int(found.group(1)) / saves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", type=Path, help="a checkout of exambank (repeat to compare)")
    parser.add_argument("--saves", type=int, default=1280, help="saves counted (a multiple of 64)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        asyncio.run(_child(args.child.resolve(), args.saves))
        return
    trees = [tree.resolve() for tree in args.tree or [Path(__file__).resolve().parents[1]]]
    first = None
    for tree in trees:
        per_save = _count(tree, args.saves)
        first = first or per_save
        print(f"{tree}: {per_save:,.0f} instructions per save ({per_save / first:.3f} × the first)", flush=True)


if __name__ == "__main__":
    main()
