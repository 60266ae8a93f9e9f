"""The exam room's hot paths: autosave, submit and start in a few driver-level statements each.

Thousands of examinees start in the same minute, save every few seconds and submit at the same second;
Python CPU per request decides how many one server carries. So these paths resolve the caller inside
their own first statement (the login session, its user and his participant row are conditions of the
claim), send SQL straight to the driver (``app.core.driver``) and answer with pre-serialised JSON. The
rules are those of ``app.exams.attempts``; every case these paths do not settle themselves (a refused or
stale save, an overdue attempt, a resume, a bad token) falls through to that service, unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.driver import Driver, DriverSQL, driver_for
from app.exams.attempt_schemas import SaveResult
from app.exams.attempts import IN_PROGRESS, answer_rows, remaining_seconds
from app.exams.served_paper import served_paper_via

# The save's claim: the attempt row is locked and its seq moved on only if the caller's login session is
# live, is the session that owns the attempt, belongs to the attempt's examinee, and time remains.
CLAIM_SAVE = DriverSQL.of(
    f"""
    UPDATE attempts SET last_seq = :seq, last_saved_at = :now
    WHERE id = :attempt_id AND status = '{IN_PROGRESS}' AND last_seq < :seq AND deadline_at >= :cutoff
      AND session_digest = :digest
      AND participant_id = (
        SELECT p.id FROM auth_sessions s
        JOIN users u ON u.id = s.user_id
        JOIN participants p ON p.user_id = s.user_id
        WHERE s.token_digest = :digest AND s.revoked_at IS NULL AND s.expires_at > :now AND u.is_active = :active
      )
    RETURNING paper_id, CAST(question_order AS TEXT) AS question_order,
      CAST(option_orders AS TEXT) AS option_orders, deadline_at,
      (SELECT created_at FROM papers WHERE papers.id = attempts.paper_id) AS paper_stamp,
      (SELECT CAST(answer_key AS TEXT) FROM papers WHERE papers.id = attempts.paper_id) AS answer_key,
      (SELECT multiple_scoring FROM exams WHERE exams.id = attempts.exam_id) AS multiple_scoring
    """
)

UPSERT_ANSWER = DriverSQL.of(
    """
    INSERT INTO attempt_answers (attempt_id, position, keys, seq, saved_at, points, is_correct)
    VALUES (:attempt_id, :position, :keys, :seq, :saved_at, :points, :is_correct)
    ON CONFLICT (attempt_id, position) DO UPDATE SET
      keys = excluded.keys, seq = excluded.seq, saved_at = excluded.saved_at,
      points = excluded.points, is_correct = excluded.is_correct
    """
)


async def try_save(
    session: AsyncSession,
    *,
    attempt_id: int,
    digest: str,
    seq: int,
    answers: Mapping[str, Sequence[str]],
    now: datetime,
    grace_seconds: float,
) -> bytes | None:
    """Save the answers when the claim succeeds and return the JSON reply; None when the claim refuses
    (the caller explains why through ``attempts.autosave_answers``, which changes nothing that matters)."""
    driver = await driver_for(session)
    values = driver.values
    claimed = await driver.fetchrow(
        CLAIM_SAVE,
        {
            "attempt_id": attempt_id, "seq": seq, "now": values.time(now), "digest": digest,
            "cutoff": values.time(now - timedelta(seconds=grace_seconds)), "active": values.flag(True),
        },
    )  # fmt: skip
    if claimed is None:
        return None
    paper = await served_paper_via(driver, claimed["paper_id"], values.read_time(claimed["paper_stamp"]))
    rows = answer_rows(
        paper,
        values.read_json_text(claimed["question_order"]),
        values.read_json_text(claimed["option_orders"]),
        values.read_json_text(claimed["answer_key"] or "{}"),
        claimed["multiple_scoring"],
        answers,
        attempt_id=attempt_id,
        seq=seq,
        now=now,
    )
    if rows:
        await _write_answers(driver, rows)
    deadline_at = values.read_time(claimed["deadline_at"])
    assert deadline_at is not None
    reply = SaveResult(saved=True, last_seq=seq, saved_at=now, remaining_seconds=remaining_seconds(deadline_at, now))
    return reply.model_dump_json(exclude_none=True).encode()


async def _write_answers(driver: Driver, rows: list[dict[str, Any]]) -> None:
    values = driver.values
    for row in rows:
        row["saved_at"] = values.time(row["saved_at"])
        row["is_correct"] = values.flag(row["is_correct"])
    await driver.executemany(UPSERT_ANSWER, rows)
