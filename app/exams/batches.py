"""PostgreSQL: the saves and submits a process receives while earlier ones are at the database go
there together.

Each save or submit is one statement already (``lane.CLAIM_AND_WRITE``, ``lane.CLAIM_SUBMIT``); what
costs is the round trip and the statement around it, about as much Python as the work itself. So they
queue here while ``MAX_IN_FLIGHT`` batches are at the database, and the next batch carries every queued
one (up to ``MAX_BATCH``) in ONE statement with the same claim for each: for a save, the caller's live
session owning the attempt, a newer ``seq``, time left, the key it was scored with still current, then the
answer rows of the saves whose claim held; for a submit, the same owner and time checks and the sum of
the stored points. One statement is one transaction: a batch is stored whole or not at all, and each
caller hears only after it committed. An attempt is never in two batches of a kind at once (its later
request waits for the next batch), so two batches of a process never wait on each other's rows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.util import greenlet_spawn

from app.core.driver import DriverSQL, pooled_driver
from app.exams.models import AttemptStatus

MAX_BATCH = 256
MAX_IN_FLIGHT = 2

CLAIM_AND_WRITE_MANY = DriverSQL.of(
    "-- PostgreSQL only",
    postgresql=f"""
    WITH input AS (
      SELECT * FROM unnest(
        CAST(:attempt_ids AS INTEGER[]), CAST(:seqs AS BIGINT[]), CAST(:nows AS TIMESTAMPTZ[]),
        CAST(:cutoffs AS TIMESTAMPTZ[]), CAST(:digests AS VARCHAR[]), CAST(:paper_ids AS INTEGER[]),
        CAST(:started AS TIMESTAMPTZ[]), CAST(:stamps AS TIMESTAMPTZ[]), CAST(:answer_keys AS TEXT[]),
        CAST(:scorings AS VARCHAR[]))
      AS i(attempt_id, seq, now, cutoff, digest, paper_id, started_at, paper_stamp, answer_key, multiple_scoring)
    ), claim AS (
      UPDATE attempts SET last_seq = i.seq, last_saved_at = i.now
      FROM input i
      WHERE attempts.id = i.attempt_id AND attempts.status = '{AttemptStatus.in_progress}'
        AND attempts.last_seq < i.seq AND attempts.deadline_at >= i.cutoff
        AND attempts.session_digest = i.digest AND attempts.paper_id = i.paper_id
        AND attempts.started_at = i.started_at
        AND attempts.participant_id = (
          SELECT p.id FROM auth_sessions s
          JOIN users u ON u.id = s.user_id
          JOIN participants p ON p.user_id = s.user_id
          WHERE s.token_digest = i.digest AND s.revoked_at IS NULL AND s.expires_at > i.now AND u.is_active)
        AND EXISTS (
          SELECT 1 FROM papers WHERE papers.id = attempts.paper_id AND papers.created_at = i.paper_stamp
            AND papers.answer_key = CAST(i.answer_key AS JSONB))
        AND (SELECT multiple_scoring FROM exams WHERE exams.id = attempts.exam_id) = i.multiple_scoring
      RETURNING attempts.id, attempts.deadline_at, i.seq, i.now
    ), written AS (
      INSERT INTO attempt_answers (attempt_id, position, keys, seq, saved_at, points, is_correct)
      SELECT r.attempt_id, r.position, r.keys, claim.seq, claim.now, r.points, r.is_correct
      FROM unnest(CAST(:row_attempts AS INTEGER[]), CAST(:positions AS INTEGER[]), CAST(:keys AS TEXT[]),
                  CAST(:points AS FLOAT8[]), CAST(:correct AS BOOLEAN[]))
        AS r(attempt_id, position, keys, points, is_correct)
      JOIN claim ON claim.id = r.attempt_id
      ON CONFLICT (attempt_id, position) DO UPDATE SET
        keys = excluded.keys, seq = excluded.seq, saved_at = excluded.saved_at,
        points = excluded.points, is_correct = excluded.is_correct
      RETURNING 1
    )
    SELECT id, deadline_at, (SELECT COUNT(*) FROM written) AS written FROM claim
    """,  # noqa: S608 - module constants only, never input
)

_ARRAYS = ("attempt_ids", "seqs", "nows", "cutoffs", "digests", "paper_ids", "started", "stamps", "answer_keys",
           "scorings")  # fmt: skip
_ROW_ARRAYS = ("row_attempts", "positions", "keys", "points", "correct")


@dataclass(slots=True)
class Pending:
    """One request waiting for its batch: the claim's values (one per array of the batch statement), its
    answer rows for a save, and the future its caller awaits."""

    attempt_id: int
    claim: tuple[Any, ...]
    rows: list[tuple[int, str, float, bool]] = field(default_factory=list)
    future: asyncio.Future[datetime | None] = field(init=False)


class Batches:
    """The queue and the batches in flight of one kind of statement; ``_execute`` sends one batch."""

    def __init__(self, database: Any) -> None:
        self._database = database
        self._queue: list[Pending] = []
        self._busy: set[int] = set()
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # statements sent (for tests and benchmarks)

    async def send(self, pending: Pending) -> datetime | None:
        """The attempt's deadline once stored; None when its claim refused (nothing stored)."""
        pending.future = asyncio.get_running_loop().create_future()
        self._queue.append(pending)
        self._pump()
        return await pending.future

    def _pump(self) -> None:
        while self._in_flight < MAX_IN_FLIGHT and self._queue:
            batch: list[Pending] = []
            waiting: list[Pending] = []
            taken: set[int] = set()
            for item in self._queue:
                if len(batch) < MAX_BATCH and item.attempt_id not in taken and item.attempt_id not in self._busy:
                    batch.append(item)
                    taken.add(item.attempt_id)
                else:
                    waiting.append(item)
            if not batch:
                return
            self._queue = waiting
            self._busy |= taken
            self._in_flight += 1
            task = asyncio.create_task(self._run(batch, taken))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[Pending], taken: set[int]) -> None:
        try:
            try:
                deadlines = await self._send(batch)
            except asyncpg.exceptions.DeadlockDetectedError:
                # Rows shared with another process's batch, locked in the other order: once more.
                deadlines = await self._send(batch)
        except Exception as exc:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
        else:
            for item in batch:
                if not item.future.done():
                    item.future.set_result(deadlines.get(item.attempt_id))
        finally:
            self._busy -= taken
            self._in_flight -= 1
            self._pump()

    async def _send(self, batch: list[Pending]) -> dict[int, datetime | None]:
        pooled = await self._database.engine.raw_connection()
        try:
            driver = pooled_driver(pooled, sqlite=False)
            claimed = await driver.fetch(self.statement, self.parameters(batch))
        finally:
            await greenlet_spawn(pooled.close)
        self.batches += 1
        return {row["id"]: driver.values.read_time(row["deadline_at"]) for row in claimed}

    statement: DriverSQL
    arrays: tuple[str, ...]

    def parameters(self, batch: list[Pending]) -> dict[str, Any]:
        return {name: [item.claim[i] for item in batch] for i, name in enumerate(self.arrays)}


class SaveBatches(Batches):
    statement = CLAIM_AND_WRITE_MANY
    arrays = _ARRAYS

    def parameters(self, batch: list[Pending]) -> dict[str, Any]:
        rows = [(item.attempt_id, *row) for item in batch for row in item.rows]
        return super().parameters(batch) | {name: [row[i] for row in rows] for i, name in enumerate(_ROW_ARRAYS)}


# Submit and grade (see ``lane.CLAIM_SUBMIT``): a formal attempt, in time, with its answer sheet complete.
CLAIM_SUBMIT_MANY = DriverSQL.of(
    "-- PostgreSQL only",
    postgresql=f"""
    WITH input AS (
      SELECT * FROM unnest(CAST(:attempt_ids AS INTEGER[]), CAST(:nows AS TIMESTAMPTZ[]),
        CAST(:cutoffs AS TIMESTAMPTZ[]), CAST(:digests AS VARCHAR[]))
      AS i(attempt_id, now, cutoff, digest)
    )
    UPDATE attempts SET status = '{AttemptStatus.submitted}', submitted_at = i.now, submit_reason = 'examinee',
      graded_at = i.now,
      score = (SELECT COALESCE(SUM(points), 0) FROM attempt_answers WHERE attempt_id = attempts.id)
    FROM input i
    WHERE attempts.id = i.attempt_id AND attempts.status = '{AttemptStatus.in_progress}'
      AND attempts.deadline_at >= i.cutoff AND attempts.session_digest = i.digest
      AND attempts.participant_id = (
        SELECT p.id FROM auth_sessions s
        JOIN users u ON u.id = s.user_id
        JOIN participants p ON p.user_id = s.user_id
        WHERE s.token_digest = i.digest AND s.revoked_at IS NULL AND s.expires_at > i.now AND u.is_active)
      AND (SELECT mode FROM exams WHERE exams.id = attempts.exam_id) = 'formal'
      AND (SELECT COUNT(*) FROM attempt_answers WHERE attempt_id = attempts.id AND points IS NOT NULL)
        = (SELECT COUNT(*) FROM paper_slots WHERE paper_slots.paper_id = attempts.paper_id)
    RETURNING attempts.id, attempts.deadline_at
    """,  # noqa: S608 - module constants only, never input
)


class SubmitBatches(Batches):
    statement = CLAIM_SUBMIT_MANY
    arrays = ("attempt_ids", "nows", "cutoffs", "digests")
