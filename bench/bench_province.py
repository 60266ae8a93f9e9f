"""Benchmark: a whole province's exam on the reference deployment (issue 17, point 5).

    /work/venv/bin/python bench/bench_province.py --examinees 2000            # development size
    /work/venv/bin/python bench/bench_province.py --examinees 20000           # the province

The topology is deploy/topology.py's: nginx (4 workers) → 3 ``exambank serve`` app servers → PgBouncer
(transaction mode) → a database of its own on the PostgreSQL at 127.0.0.1:5432. The exam is seeded
straight into the database (``bench_attempts.seed_exam``: 20 units, one 45-question paper each, ticket
holders with PINs) with a common ``closes_at``, so every examinee's deadline is the same instant.

Three phases, on one clock (absolute times handed to every load process):

* **start** — at the release every examinee opens his connection to nginx, logs in with his ticket and
  starts: latency from the release to the paper in hand.
* **autosave** — each examinee saves his answers in ``--saves`` pieces at random moments of the exam
  (the page saves each answer as it is given; these are its pieces).
* **deadline** — each page's countdown reaches zero within the same half second before ``closes_at``: it
  sends its last pending answers (the questions not saved yet and three changed ones), then submits.
  Like the page, a save or submit answered 503 (or whose connection broke) is resent after
  ``Retry-After`` (3 s when absent). A final save sent before the deadline + grace must never be refused.

Afterwards (once the sweeper has submitted what was left), every acknowledged answer is compared with
the database. The load comes from ``--load-processes`` processes (one connection per examinee: a process
may hold no more than ~20,000 descriptors here), each on uvloop with ``bench_attempts.Connection``.
The yardstick is ``bench/bare_app.py`` under uvicorn with 2 workers, measured first in the same run; p99
latencies are reported in milliseconds and as ratios to the bare endpoint's p99. CPU seconds of each role
(app servers, nginx, PgBouncer, PostgreSQL, load) are read from /proc at the phase boundaries.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop
from sqlalchemy import func, select, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_attempts import (  # noqa: E402
    RESULTS,
    SECRET,
    Connection,
    Server,
    TransportError,
    running,
    scenario_bare,
    seed_exam,
)

from app.core import listen_backlog  # noqa: E402
from app.core.db import Database  # noqa: E402
from app.exams.models import Attempt, AttemptAnswer, Exam  # noqa: E402
from app.grading.scorers import encode_keys  # noqa: E402
from deploy.topology import Topology, TopologyConfig  # noqa: E402

JUDGE_KEYS = {"正确": "T", "错误": "F"}
CHANGED_AT_THE_END = 3
FINAL_SPREAD_SECONDS = 0.5  # the page's countdown ticks every 500 ms
RESEND_LIMIT = 20


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1) if ordered else 0.0


def latency_summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": pct(values, 0.50),
        "p99_ms": pct(values, 0.99),
        "max_ms": round(max(values) * 1000, 1) if values else 0.0,
    }


# The load processes ------------------------------------------------------------------------------------


@dataclass
class Examinee:
    """One examinee's page: what it sent, what was acknowledged, in the database's terms."""

    index: int
    ticket: str
    pin: str
    token: str = ""
    attempt_id: int = 0
    start_s: float | None = None
    raw_paper: bytes = b""
    # displayed question no → (paper position, displayed letter → paper key)
    layout: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    acknowledged: dict[int, str] = field(default_factory=dict)  # paper position → stored keys
    seq: int = 0
    save_latencies: list[float] = field(default_factory=list)
    final_sent_at: float | None = None
    final_status: int | None = None
    final_refusal: str = ""
    final_s: float | None = None
    submit_status: int | None = None
    resends: int = 0
    errors: list[str] = field(default_factory=list)
    phase: str = "login"  # what the page is waiting for (reported when the load process stops it)


def _layout(examinee: Examinee) -> None:
    paper = json.loads(examinee.raw_paper)
    examinee.raw_paper = b""
    examinee.attempt_id = int(paper["attempt_id"])
    for question in paper["questions"]:
        position = int(question["stem"].split("：", 1)[0].removeprefix("基准题"))
        keys = {o["key"]: JUDGE_KEYS.get(o["text"], o["text"].removeprefix("选项")) for o in question["options"]}
        examinee.layout[str(question["no"])] = (position, keys)
        examinee.types[str(question["no"])] = question["type"]


def _answer(rng: random.Random, qtype: str, letters: list[str], avoid: list[str] | None = None) -> list[str]:
    while True:
        picked = sorted(rng.sample(letters, 2)) if qtype == "multiple" else [rng.choice(letters)]
        if picked != avoid:
            return picked


async def _sleep_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def _send(
    examinee: Examinee, conn: Connection, method: str, path: str, payload: Any, *, give_up_at: float
) -> tuple[int, Any]:
    """Send as the page does: resend after Retry-After (or 3 s) on a 503 or a broken connection."""
    while True:
        try:
            status, body = await conn.request(method, path, payload, token=examinee.token or None)
        except TransportError as exc:
            status, body = 0, str(exc)[:60]
        if status not in (0, 503) or time.time() >= give_up_at or examinee.resends >= RESEND_LIMIT:
            return status, body
        examinee.resends += 1
        await asyncio.sleep(3.0)


async def _take_exam(examinee: Examinee, plan: dict[str, Any], release: float) -> None:
    rng = random.Random(examinee.index)
    conn = Connection(plan["port"])
    give_up = plan["closes_at"] + plan["grace"] + 60
    try:
        await _sleep_until(release)
        status, login = await _send(
            examinee,
            conn,
            "POST",
            "/api/auth/login",
            {"username": examinee.ticket, "password": examinee.pin},
            give_up_at=give_up,
        )
        if status != 200:
            examinee.errors.append(f"login {status}")
            return
        examinee.token = login["access_token"]
        examinee.phase = "start"
        try:
            status, paper = await conn.request(
                "POST", f"/api/exams/{plan['exam_id']}/attempts", token=examinee.token, raw=True
            )
        except TransportError as exc:
            examinee.errors.append(f"start transport {str(exc)[:40]}")
            return
        if status != 200:
            examinee.errors.append(f"start {status}")
            return
        examinee.start_s = time.time() - release
        examinee.raw_paper = paper

        examinee.phase = "autosave"
        await _sleep_until(plan["autosave_from"])
        _layout(examinee)
        numbers = list(examinee.layout)
        rng.shuffle(numbers)
        sheet = {no: _answer(rng, examinee.types[no], list(examinee.layout[no][1])) for no in numbers}
        autosaved = numbers[: len(numbers) - 5]
        pieces = [autosaved[i :: plan["saves"]] for i in range(plan["saves"])]
        span = plan["closes_at"] - 3.0 - (plan["autosave_from"] + 2.0)
        for k, piece in enumerate(pieces):
            await _sleep_until(plan["autosave_from"] + 2.0 + (k + rng.random()) * span / plan["saves"])
            t0 = time.perf_counter()
            ok = await _save(examinee, conn, {no: sheet[no] for no in piece}, give_up_at=give_up)
            examinee.save_latencies.append(time.perf_counter() - t0)
            if not ok:
                return
        # The last moment: the questions not saved yet and a few answers changed.
        changed = rng.sample(autosaved, CHANGED_AT_THE_END)
        for no in changed:
            sheet[no] = _answer(rng, examinee.types[no], list(examinee.layout[no][1]), avoid=sheet[no])
        final = {no: sheet[no] for no in [*numbers[len(numbers) - 5 :], *changed]}
        await _sleep_until(plan["closes_at"] - rng.random() * FINAL_SPREAD_SECONDS)
        examinee.final_sent_at = time.time()
        examinee.phase = "final save"
        t0 = time.perf_counter()
        await _save(examinee, conn, final, give_up_at=give_up, final=True)
        examinee.phase = "submit"
        status, _ = await _send(
            examinee, conn, "POST", f"/api/attempts/{examinee.attempt_id}/submit", None, give_up_at=give_up
        )
        examinee.final_s = time.perf_counter() - t0
        examinee.phase = "done"
        examinee.submit_status = status
        if status not in (200, 409):
            examinee.errors.append(f"submit {status}")
    finally:
        conn.close()


async def _save(
    examinee: Examinee, conn: Connection, answers: dict[str, list[str]], *, give_up_at: float, final: bool = False
) -> bool:
    examinee.seq += 1
    status, body = await _send(
        examinee,
        conn,
        "PUT",
        f"/api/attempts/{examinee.attempt_id}/answers",
        {"seq": examinee.seq, "answers": answers},
        give_up_at=give_up_at,
    )
    if final:
        examinee.final_status = status
        if status == 409:
            examinee.final_refusal = str(body.get("detail") if isinstance(body, dict) else body)[:80]
    if status == 200 and body.get("saved"):
        for no, letters in answers.items():
            position, keys = examinee.layout[no]
            examinee.acknowledged[position] = encode_keys([keys[letter] for letter in letters])
        return True
    if not (final and status == 409):
        examinee.errors.append(f"{'final ' if final else ''}save {status}: {str(body)[:60]}")
    return False


async def _load_process(plan: dict[str, Any]) -> list[dict[str, Any]]:
    examinees = [Examinee(index=i, ticket=t, pin=p) for i, t, p in plan["examinees"]]
    pages = [asyncio.create_task(_take_exam(e, plan, plan["release_at"])) for e in examinees]
    # Requests have no timeout of their own: what is still waiting at stop_at is stopped and reported, so
    # that the coordinator always gets every examinee's figures.
    _, waiting = await asyncio.wait(pages, timeout=max(0.0, plan["stop_at"] - time.time()))
    for examinee, page in zip(examinees, pages, strict=True):
        if page in waiting:
            page.cancel()
            examinee.errors.append(f"unanswered {examinee.phase}")
    await asyncio.gather(*waiting, return_exceptions=True)
    return [
        {
            "index": e.index,
            "ticket": e.ticket,
            "attempt_id": e.attempt_id,
            "start_s": e.start_s,
            "save_latencies": e.save_latencies,
            "acknowledged": e.acknowledged,
            "final_sent_at": e.final_sent_at,
            "final_status": e.final_status,
            "final_refusal": e.final_refusal,
            "final_s": e.final_s,
            "submit_status": e.submit_status,
            "resends": e.resends,
            "errors": e.errors,
        }
        for e in examinees
    ]


def load_process_main(plan_path: str, out_path: str) -> None:
    import resource

    plan = json.loads(Path(plan_path).read_text())
    results = uvloop.run(_load_process(plan))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(out_path).write_text(json.dumps({"examinees": results, "cpu_s": usage.ru_utime + usage.ru_stime}))


# The coordinator ---------------------------------------------------------------------------------------


class CpuByRole:
    """CPU seconds (user + system) of the topology's process groups, of the PostgreSQL backends serving the
    benchmark's database (others' databases share the server on this machine) and of the load processes."""

    def __init__(self, groups: dict[int, str], database: str) -> None:
        self.groups = groups
        self.database = database

    def _backends(self) -> set[int]:
        import asyncpg

        async def pids() -> set[int]:
            conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
            try:
                rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database)
            finally:
                await conn.close()
            return {int(r["pid"]) for r in rows}

        return asyncio.run(pids())

    def read(self) -> dict[str, float]:
        backends = self._backends()
        tick = os.sysconf("SC_CLK_TCK")
        seconds: Counter[str] = Counter()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    _, _, rest = stat.read().rpartition(")")
            except OSError:
                continue
            fields = rest.split()
            used = (int(fields[11]) + int(fields[12])) / tick
            role = self.groups.get(int(fields[2]))
            if role is None and int(entry.name) in backends:
                role = "postgres"
            if role is not None:
                seconds[role] += used
        return dict(seconds)


def _difference(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {role: round(after.get(role, 0.0) - before.get(role, 0.0), 2) for role in sorted(after)}


async def _in_progress(url: str, exam_id: int) -> int:
    database = Database(url, pool_size=1)
    try:
        async with database.read_sessions() as session:
            return int(
                await session.scalar(
                    select(func.count()).where(Attempt.exam_id == exam_id, Attempt.status == "in_progress")
                )
                or 0
            )
    finally:
        await database.dispose()


async def _set_closes_at(url: str, exam_id: int, closes_at: float) -> None:
    database = Database(url, pool_size=1)
    try:
        async with database.write_sessions() as session:
            moment = datetime.fromtimestamp(closes_at, UTC)
            await session.execute(update(Exam).where(Exam.id == exam_id).values(closes_at=moment))
            await session.commit()
    finally:
        await database.dispose()


async def _verify(url: str, exam_id: int, examinees: list[dict[str, Any]]) -> dict[str, int]:
    database = Database(url, pool_size=1)
    try:
        async with database.read_sessions() as session:
            attempts = (
                await session.execute(
                    select(Attempt.id, Attempt.status, Attempt.graded_at.is_not(None)).where(Attempt.exam_id == exam_id)
                )
            ).all()
            rows = (
                await session.execute(
                    select(AttemptAnswer.attempt_id, AttemptAnswer.position, AttemptAnswer.keys)
                    .join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
                    .where(Attempt.exam_id == exam_id)
                )
            ).all()
    finally:
        await database.dispose()
    stored: dict[int, dict[int, str]] = {}
    for attempt_id, position, keys in rows:
        stored.setdefault(attempt_id, {})[position] = keys
    acknowledged = sum(len(e["acknowledged"]) for e in examinees)
    lost = sum(
        1
        for e in examinees
        for position, keys in e["acknowledged"].items()
        if stored.get(e["attempt_id"], {}).get(int(position)) != keys
    )
    return {
        "attempts": len(attempts),
        "submitted": sum(1 for _, status, _ in attempts if status == "submitted"),
        "graded": sum(1 for *_, graded in attempts if graded),
        "answers_acknowledged": acknowledged,
        "answers_in_db": sum(len(v) for v in stored.values()),
        "answers_lost": lost,
    }


def _scrape_lag(topology: Topology) -> float:
    import urllib.request

    with urllib.request.urlopen(f"{topology.server_url(0)}/metrics", timeout=10) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith("exambank_sweeper_lag_seconds "):
                return float(line.split()[1])
    return 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
        "args": vars(args),
        # Each app server listens with the kernel's limit (app.core.listen_backlog): at the release it is
        # what holds ~examinees / servers connections at once.
        "somaxconn": listen_backlog.kernel_limit(),
    }
    if (report["somaxconn"] or 0) < args.examinees // args.servers:
        print(
            f"net.core.somaxconn={report['somaxconn']} is below the {args.examinees // args.servers} connections "
            "each app server gets at the release: raise it (sysctl -w net.core.somaxconn=...) or expect 502s",
            flush=True,
        )
    with running(_bare_server(args.base_port - 1), health="/bare") as bare_server:
        bare = uvloop.run(scenario_bare(bare_server.port, seconds=10))
    report["bare"] = bare
    print(f"bare: {json.dumps(bare)}", flush=True)

    config = TopologyConfig(
        servers=args.servers,
        workers=args.workers,
        base_port=args.base_port,
        app_pool_size=args.app_pool_size,
        pgbouncer_pool_size=args.pgbouncer_pool_size,
        pool_mode=args.pool_mode,
        nginx_workers=4,
        secret_key=SECRET,
        environment={"EXAMBANK_SAVE_GRACE_SECONDS": str(args.grace)},
    )
    with tempfile.TemporaryDirectory(prefix="exambank-province-") as scratch, contextlib.ExitStack() as stack:
        topology = Topology(config)
        topology.start()
        stack.callback(topology.stop)
        report["pool_mode"] = config.resolved_pool_mode()
        t0 = time.monotonic()
        seeded = uvloop.run(seed_exam(topology.direct_database_url, examinees=args.examinees))
        report["seed_s"] = round(time.monotonic() - t0, 1)
        print(f"seeded {args.examinees} examinees in {report['seed_s']} s", flush=True)

        # Time for the load processes to start and read their plans before the release.
        release_at = time.time() + 5.0 + args.examinees / 1000
        autosave_from = release_at + args.start_window
        closes_at = autosave_from + args.exam_seconds
        uvloop.run(_set_closes_at(topology.direct_database_url, seeded.exam_id, closes_at))
        groups = {server.pid: "app" for server in topology.servers}
        assert topology.nginx is not None and topology.pgbouncer is not None
        groups |= {topology.nginx.pid: "nginx", topology.pgbouncer.pid: "pgbouncer"}
        processes = []
        for k in range(args.load_processes):
            mine = [(i, t, p) for i, (t, p) in enumerate(seeded.tickets) if i % args.load_processes == k]
            plan = {
                "port": config.nginx_port,
                "exam_id": seeded.exam_id,
                "examinees": mine,
                "release_at": release_at,
                "autosave_from": autosave_from,
                "closes_at": closes_at,
                "grace": args.grace,
                "saves": args.saves,
                "stop_at": closes_at + args.grace + 170,  # the coordinator gives up 9 s later
            }
            plan_path, out_path = Path(scratch) / f"plan{k}.json", Path(scratch) / f"out{k}.json"
            plan_path.write_text(json.dumps(plan))
            process = subprocess.Popen(
                [sys.executable, __file__, "--load-process", str(plan_path), str(out_path)],
                cwd=ROOT,
                start_new_session=True,
            )
            stack.callback(_stop, process)
            processes.append((process, out_path))
            groups[process.pid] = "load"
        cpu = CpuByRole(groups, topology.database_name)
        phases: dict[str, dict[str, float]] = {}

        def at(moment: float) -> dict[str, float]:
            time.sleep(max(0.0, moment - time.time()))
            return cpu.read()

        before = at(release_at - 0.2)
        print(f"released at {datetime.fromtimestamp(release_at, UTC):%H:%M:%S}", flush=True)
        after_start = at(autosave_from)
        phases["start"] = _difference(after_start, before)
        print(f"exam from {datetime.now(UTC):%H:%M:%S}, start phase CPU {phases['start']}", flush=True)
        before_deadline = at(closes_at - 1.0)
        phases["autosave"] = _difference(before_deadline, after_start)
        print(f"deadline at {datetime.fromtimestamp(closes_at, UTC):%H:%M:%S}", flush=True)
        lag_max = 0.0
        give_up = time.time() + args.grace + 180
        while any(p.poll() is None for p, _ in processes) and time.time() < give_up:
            time.sleep(1.0)
            if time.time() > closes_at + args.grace:
                with contextlib.suppress(OSError, ValueError):
                    lag_max = max(lag_max, _scrape_lag(topology))
        after_deadline = cpu.read()
        phases["deadline"] = _difference(after_deadline, before_deadline)
        # The sweeper submits what the pages did not (bounded wait).
        while time.time() < give_up and uvloop.run(_in_progress(topology.direct_database_url, seeded.exam_id)):
            with contextlib.suppress(OSError, ValueError):
                lag_max = max(lag_max, _scrape_lag(topology))
            time.sleep(1.0)
        swept_at = time.time()

        examinees: list[dict[str, Any]] = []
        load_cpu = 0.0
        for process, out_path in processes:
            process.wait(timeout=30)
            result = json.loads(out_path.read_text())
            examinees += result["examinees"]
            load_cpu += result["cpu_s"]
        verified = uvloop.run(_verify(topology.direct_database_url, seeded.exam_id, examinees))
        report["nginx_errors"] = _nginx_errors(topology.run_dir / "nginx-error.log")

    report["load_after"] = os.getloadavg()
    grace_end = closes_at + args.grace
    starts = [e["start_s"] for e in examinees if e["start_s"] is not None]
    finals = [e["final_s"] for e in examinees if e["final_s"] is not None]
    saves = [s for e in examinees for s in e["save_latencies"]]
    errors = Counter(err.split(":")[0] for e in examinees for err in e["errors"])
    refused_in_time = sum(
        1
        for e in examinees
        if e["final_status"] == 409 and e["final_sent_at"] is not None and e["final_sent_at"] < grace_end
    )
    bare_p99 = bare["p99_ms"] or 1.0
    report["result"] = {
        "examinees": args.examinees,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors.most_common(8)),
        "resends": sum(e["resends"] for e in examinees),
        "final_saves_refused_sent_before_grace_end": refused_in_time,
        "final_refusals": dict(Counter(e["final_refusal"] for e in examinees if e["final_refusal"]).most_common(3)),
        "final_saves_accepted": sum(1 for e in examinees if e["final_status"] == 200),
        "submits": dict(Counter(str(e["submit_status"]) for e in examinees)),
        "start": latency_summary(starts) | {"p99_to_bare_p99": round(pct(starts, 0.99) / bare_p99, 1)},
        "autosave": latency_summary(saves) | {"p99_to_bare_p99": round(pct(saves, 0.99) / bare_p99, 1)},
        "burst": latency_summary(finals) | {"p99_to_bare_p99": round(pct(finals, 0.99) / bare_p99, 1)},
        "sweeper_lag_max_s": round(lag_max, 1),
        "all_submitted_after_closes_at_s": round(swept_at - closes_at, 1),
        **verified,
        "cpu_s": phases,
        "cpu_load_processes_s": round(load_cpu, 1),
        "requests": {
            "start": 2 * len(starts),
            "autosave": len(saves),
            "deadline": 2 * len(finals),
        },
    }
    return report


def _nginx_errors(log: Path) -> dict[str, int]:
    """nginx's error log by kind (the text after the connection number, up to the client's address)."""
    kinds: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in log.read_text(errors="replace").splitlines():
            message = line.split("*", 1)[-1].split(" ", 1)[-1].split(", client:", 1)[0]
            kinds[message[:100]] += 1
    return dict(kinds.most_common(10))


def _bare_server(port: int) -> Server:
    """bench/bare_app.py under uvicorn with 2 workers, as bench_attempts runs it, on a port of ours."""
    server = Server.bare()
    argv = list(server.argv)
    argv[argv.index("--port") + 1] = str(port)
    return Server(argv, server.env, port)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        process.wait(timeout=10)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--load-process":
        load_process_main(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examinees", type=int, default=2000)
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="worker processes per app server")
    parser.add_argument("--base-port", type=int, default=18440)
    parser.add_argument("--app-pool-size", type=int, default=10)
    parser.add_argument("--pgbouncer-pool-size", type=int, default=30)
    parser.add_argument("--load-processes", type=int, default=4)
    parser.add_argument("--saves", type=int, default=4, help="autosaves per examinee during the exam")
    parser.add_argument("--start-window", type=float, default=0.0, help="seconds from the release to the exam proper")
    parser.add_argument("--exam-seconds", type=float, default=0.0, help="seconds of autosave before closes_at")
    parser.add_argument("--grace", type=int, default=10)
    parser.add_argument("--pool-mode", choices=["transaction", "session"], default="transaction")
    args = parser.parse_args()
    args.start_window = args.start_window or max(20.0, args.examinees / 250)
    args.exam_seconds = args.exam_seconds or max(30.0, args.examinees / 250)
    report = run(args)
    print(json.dumps(report["result"], ensure_ascii=False, indent=1), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"province-{args.examinees}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
