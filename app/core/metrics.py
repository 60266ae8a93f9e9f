"""Prometheus metrics for the people watching an exam: requests and latency by route, saves, submits, the
deadline sweeper, the connection pool.

Each request is counted once, by ``count_request`` at the very front of the application (ahead of the
HTTP guard and the hot-path lane, ``app.core.lane.LaneApplication``), under the route that answered it:
the lane's route when the lane settled it, FastAPI's route template otherwise, ``unmatched`` for anything
else (so a scan of random paths cannot grow the label set). A request costs two dict updates; the counts
reach the Prometheus values at ``flush()`` — each second in a serving worker, and before every scrape.

``exambank serve`` runs several worker processes: it points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory before they start (``app.core.metrics_directory``), each worker writes its values there, and
``GET /metrics`` of any worker reports the sum over the server's workers. Figures that belong to the
database rather than to one process (how far the sweeper is behind, attempts in progress) are read from
the database at each scrape.
"""

from __future__ import annotations

import asyncio
import os
import time
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import event
from starlette.types import Scope

from app.core.metrics_directory import MULTIPROCESS_ENV

# Whether this process writes its values for a multi-process scrape: decided when prometheus_client's
# value class is, at its import (the same moment as this module's).
MULTIPROCESS = bool(os.environ.get(MULTIPROCESS_ENV))
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# The scope key the hot-path lane sets to the route it settled a request on.
LANE_ROUTE = "exambank.lane_route"
UNMATCHED = "unmatched"

# From a cached paper (a few ms) to a start queued behind thousands (seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "exambank_http_requests",
    "HTTP requests answered, by route template, method, status and the layer that answered (lane or app).",
    ["method", "route", "status", "served_by"],
)
LATENCY = Histogram(
    "exambank_http_request_duration_seconds",
    "Time from a request's arrival at the application to the end of its reply, by route.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
SAVES = Counter(
    "exambank_answer_saves",
    "Autosave requests answered, by status (200 saved or ignored as older, 409 after the deadline and grace).",
    ["status"],
)
SUBMITS = Counter(
    "exambank_submits",
    "Attempts submitted: by the examinee (submit requests answered 200) or by the deadline sweeper.",
    ["reason"],
)
SWEEPS = Histogram(
    "exambank_sweep_duration_seconds",
    "Duration of one round of the deadline sweeper in this process.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0),
)
SWEEP_LAST = Gauge(
    "exambank_sweep_last_success_timestamp_seconds",
    "When this server's deadline sweeper last finished a round without error (Unix time).",
    multiprocess_mode="max",
)
POOL_SIZE = Gauge(
    "exambank_db_pool_size",
    "Database connections the server's pools may hold (summed over its worker processes).",
    multiprocess_mode="livesum",
)
POOL_IN_USE = Gauge(
    "exambank_db_pool_checked_out",
    "Database connections checked out of the server's pools right now (summed over its worker processes).",
    multiprocess_mode="livesum",
)

_SAVE_ROUTE = ("PUT", "/api/attempts/{attempt_id}/answers")
_SUBMIT_ROUTE = ("POST", "/api/attempts/{attempt_id}/submit")

# Requests counted since the last flush, in plain dicts: (method, route, status, served_by) → requests, and
# (method, route) → [sum of seconds, one count per bucket of LATENCY_BUCKETS, then +Inf].
_counted: dict[tuple[str, str, int, str], int] = {}
_timed: dict[tuple[str, str], list[float]] = {}
FLUSH_SECONDS = 1.0  # how stale a worker's request figures may be in a scrape served by another worker


def route_of(scope: Scope) -> tuple[str, str]:
    """The route that answered the request and who answered it: the lane or the application."""
    lane_route = scope.get(LANE_ROUTE)
    if lane_route is not None:
        return lane_route, "lane"
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return (path or UNMATCHED), "app"


def count_request(scope: Scope, status: int, seconds: float) -> None:
    """Count one answered request under its route, status and latency (``seconds``), for the next flush."""
    route, served_by = route_of(scope)
    method = scope["method"]
    key = (method, route, status, served_by)
    _counted[key] = _counted.get(key, 0) + 1
    timed = _timed.get((method, route))
    if timed is None:
        timed = _timed[(method, route)] = [0.0] * (len(LATENCY_BUCKETS) + 2)
    timed[0] += seconds
    timed[1 + bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the first bucket whose bound is >= seconds


def flush() -> None:
    """Add the requests counted since the last flush to the Prometheus values (in multi-process mode this
    process's value files, which a scrape by any worker sums): a request costs two dict updates, not
    four locked writes to a memory-mapped file."""
    global _counted, _timed
    counted, timed, _counted, _timed = _counted, _timed, {}, {}
    for (method, route, status, served_by), requests in counted.items():
        REQUESTS.labels(method, route, str(status), served_by).inc(requests)
        if (method, route) == _SAVE_ROUTE:
            SAVES.labels(str(status)).inc(requests)
        elif (method, route) == _SUBMIT_ROUTE and status == 200:
            SUBMITS.labels("examinee").inc(requests)
    for (method, route), (seconds, *buckets) in timed.items():
        _add_observations(LATENCY.labels(method, route), seconds, buckets)


def _add_observations(child: Any, seconds: float, buckets: list[float]) -> None:
    """What ``observe`` does for each of many observations at once: the sum, and each bucket's count
    (prometheus_client keeps a histogram child's per-bucket counts in ``_buckets``, its sum in ``_sum``;
    tests/core/test_operations.py checks the exposition against the observations)."""
    child._sum.inc(seconds)
    for value, count in zip(child._buckets, buckets, strict=True):
        if count:
            value.inc(count)


async def flush_periodically() -> None:
    """A worker's task while it serves: its request figures reach the scrape within ``FLUSH_SECONDS``."""
    while True:
        await asyncio.sleep(FLUSH_SECONDS)
        flush()


def record_sweep(*, submitted: int, seconds: float) -> None:
    """One round of the deadline sweeper finished: how many attempts it submitted and how long it took."""
    if submitted:
        SUBMITS.labels("deadline").inc(submitted)
    SWEEPS.observe(seconds)
    SWEEP_LAST.set(time.time())


def watch_pool(engine: Any) -> None:
    """Count the connections of ``engine``'s pool as they are checked out and in (once per engine)."""
    pool = engine.sync_engine.pool
    if getattr(pool, "_exambank_watched", False):
        return
    pool._exambank_watched = True
    size = getattr(pool, "size", None)
    if callable(size):
        POOL_SIZE.inc(size() + max(0, getattr(pool, "_max_overflow", 0)))
    event.listen(pool, "checkout", lambda *_: POOL_IN_USE.inc())
    event.listen(pool, "checkin", lambda *_: POOL_IN_USE.dec())


class DatabaseFigures:
    """Gauges read from the database at a scrape (the same for every server of a deployment)."""

    def __init__(self, figures: dict[str, float]) -> None:
        self.figures = figures

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "exambank_sweeper_lag_seconds",
            "How long the most overdue attempt still in progress has been past its deadline and grace "
            "(0 when the sweeper is keeping up).",
            value=self.figures["sweeper_lag_seconds"],
        )
        yield GaugeMetricFamily(
            "exambank_attempts_in_progress",
            "Attempts in progress in the database.",
            value=self.figures["attempts_in_progress"],
        )


def render(database_figures: dict[str, float]) -> bytes:
    """The text exposition of every metric: this server's processes and the database's figures.

    Blocking (it reads every worker's value files): run it off the event loop, after ``flush()`` on it."""
    registry = CollectorRegistry()
    if MULTIPROCESS:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for collector in (REQUESTS, LATENCY, SAVES, SUBMITS, SWEEPS, SWEEP_LAST, POOL_SIZE, POOL_IN_USE):
            registry.register(collector)
    registry.register(DatabaseFigures(database_figures))
    return generate_latest(registry)


def forget_process() -> None:
    """At a worker's orderly exit: its live gauges (pool use) stop counting in the server's sums."""
    flush()
    if MULTIPROCESS:
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
