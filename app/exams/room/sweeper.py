"""The deadline sweeper: every few seconds, submit and grade the attempts whose deadline and grace passed.

Safe when several server processes run it at once: each batch is claimed by one conditional UPDATE
(``status = 'in_progress'`` → ``'submitted'``) and graded in the same transaction, so no attempt is
submitted or graded twice; on PostgreSQL the batch is picked with ``FOR UPDATE SKIP LOCKED`` so the
processes share the work instead of queueing behind each other. It runs once at start-up, which is how
overdue attempts are caught up after a crash.

A save or submit is judged by when it arrived (``app.exams.room.room``), and one that arrived just before
the grace ran out may still be queued for its batch: the sweeper therefore leaves an attempt alone for
``IN_FLIGHT_SECONDS`` more — and, behind a trusted proxy whose stamp may date a request up to a minute
before it reached the server (``app.core.arrival``), that minute more — so that it never submits an
attempt under a save it would have to refuse (``sweep_grace_seconds``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics
from app.core.arrival import longest_proxy_queue
from app.core.config import Settings
from app.core.db import Database
from app.core.logging import get_logger
from app.exams.room.attempt_schemas import SubmitReason
from app.exams.room.attempts import ATTEMPTS, claim_and_grade
from app.exams.room.room import cutoff_of
from app.exams.room.rules import IN_PROGRESS

log = get_logger("exambank.sweeper")

BATCH_SIZE = 500
IN_FLIGHT_SECONDS = 30.0  # longer than any request waits for its batch (clients give up sooner)


def sweep_grace_seconds(settings: Settings) -> float:
    """How long after an attempt's deadline the sweeper submits it: the grace, what a request may wait
    in the server for its batch, and what it may have waited in a trusted proxy."""
    queued = longest_proxy_queue(settings.trusted_proxies).total_seconds()
    return settings.save_grace_seconds + IN_FLIGHT_SECONDS + queued


async def sweep_batch(
    session: AsyncSession, *, now: datetime, grace_seconds: float, batch_size: int = BATCH_SIZE
) -> list[int]:
    """Submit (reason "deadline") and grade up to ``batch_size`` overdue attempts; returns their ids."""
    cutoff = cutoff_of(now, grace_seconds)
    due = (
        select(ATTEMPTS.c.id)
        .where(ATTEMPTS.c.status == IN_PROGRESS, ATTEMPTS.c.deadline_at < cutoff)
        .order_by(ATTEMPTS.c.deadline_at)
        .limit(batch_size)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return await claim_and_grade(
        session, ATTEMPTS.c.id.in_(due), ATTEMPTS.c.deadline_at < cutoff, reason=SubmitReason.deadline, now=now
    )


async def sweep_overdue(
    database: Database, *, now: datetime, grace_seconds: float, batch_size: int = BATCH_SIZE
) -> list[int]:
    """Sweep until no overdue attempt is left, one committed transaction per batch."""
    submitted: list[int] = []
    while True:
        async with database.write_sessions() as session:
            ids = await sweep_batch(session, now=now, grace_seconds=grace_seconds, batch_size=batch_size)
            await session.commit()
        submitted.extend(ids)
        if len(ids) < batch_size:
            return submitted


async def run_sweeper(app: FastAPI) -> None:
    """Loop forever (until cancelled): sweep, then wait ``settings.sweep_interval_seconds``."""
    settings = app.state.settings
    while True:
        try:
            started = time.perf_counter()
            ids = await sweep_overdue(
                app.state.database,
                now=app.state.clock.now(),
                grace_seconds=sweep_grace_seconds(settings),
            )
            metrics.record_sweep(submitted=len(ids), seconds=time.perf_counter() - started)
            if ids:
                log.info("overdue attempts submitted", count=len(ids))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The next round retries; the database still holds every saved answer.
            log.error("sweep failed", error=repr(exc))
        await asyncio.sleep(settings.sweep_interval_seconds)
