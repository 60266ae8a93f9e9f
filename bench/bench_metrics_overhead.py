"""What counting a request costs (app.core.metrics.count_request), per request, in CPU microseconds.

    /work/venv/bin/python bench/bench_metrics_overhead.py

Runs a do-nothing ASGI app 200,000 times with and without the observer, in-process (one worker's
values in memory) and in multi-process mode (values in files, as ``exambank serve --workers N`` runs),
and prints the difference per request (median of 5). Compare it with the app servers' CPU per request in
bench_province.py's figures (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N = 200_000


def measure() -> float:
    sys.path.insert(0, str(ROOT))
    from app.core.metrics import LANE_ROUTE, count_request

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        scope[LANE_ROUTE] = "/api/attempts/{attempt_id}/answers"
        await send({"type": "http.response.start", "status": 200})  # type: ignore[operator]

    async def send(_message: object) -> None:
        return None

    async def bare(scope: dict) -> None:  # type: ignore[type-arg]
        await app(scope, None, send)

    async def observed(scope: dict) -> None:  # type: ignore[type-arg]
        await app(scope, None, send)
        count_request(scope, 200, 0.001)

    async def loop(call: object) -> float:
        t0 = time.process_time()
        for _ in range(N):
            await call({"type": "http", "method": "PUT", "path": "/api/attempts/1/answers"})  # type: ignore[operator]
        return time.process_time() - t0

    results = []
    for _ in range(5):
        results.append((asyncio.run(loop(observed)) - asyncio.run(loop(bare))) / N * 1e6)
    return statistics.median(results)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        print(f"{measure():.2f}")
        return
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    argv = [sys.executable, __file__, "--measure"]
    single = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    with tempfile.TemporaryDirectory() as directory:
        multi = subprocess.run(
            argv,
            env=env | {"PROMETHEUS_MULTIPROC_DIR": directory},
            capture_output=True,
            text=True,
            check=True,
        )
    in_process, multi_process = single.stdout.strip(), multi.stdout.strip()
    print(f"count_request per request: {in_process} µs in-process, {multi_process} µs multi-process")


if __name__ == "__main__":
    main()
