"""The garbage collector as a serving worker runs it.

CPython collects its youngest generation every 700 allocations of container objects, and every tenth of
those also the next. A worker in the start storm holds thousands of requests in flight — their tasks,
coroutines, parsed bodies, batches — so each collection walks them all again, and they survive to be
walked again in the older generation: measured on the synchronized start of 5,000 examinees on
PostgreSQL, 35 % of the server's CPU (4.0 s → 2.6 s with the thresholds below). A serving worker
therefore collects after 20,000 allocations, the middle generation every 20 young collections and the
oldest every 20 of those (Python's own rule still keeps full collections to when a quarter of the
long-lived objects are new), and moves what start-up created — modules, routes, settings, which live as
long as the process — out of the collector's sight (``gc.freeze``).
"""

from __future__ import annotations

import gc

SERVING_THRESHOLDS = (20_000, 20, 20)


def tune_for_serving() -> None:
    """Call once in a worker process, after the application is built and before it serves."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
