"""PostgreSQL batch statements of the exam room (``app.core.batches``): first starts, saves and submits.

A save's claim (the PostgreSQL twin of ``lane.CLAIM_SAVE``) holds for each attempt in the batch — the caller's live
session owning it, a newer ``seq``, time left, the key it was scored with still current — followed by the
answer rows of the saves whose claim held; a submit's is the one of ``lane.CLAIM_SUBMIT``.
"""

from __future__ import annotations

from typing import Any

from app.core.batches import Batches, Pending
from app.core.driver import DriverSQL
from app.exams.models import AttemptStatus

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

# What scoring an attempt's saves needs (``lane._Scoring``), for each ``i(attempt_id)`` of the inputs.
ATTEMPT_SCORING_OF = """
    SELECT a.id AS attempt_id, a.paper_id, a.started_at, CAST(a.question_order AS TEXT) AS question_order,
      CAST(a.option_orders AS TEXT) AS option_orders, e.multiple_scoring,
      pa.created_at AS paper_stamp, CAST(pa.answer_key AS TEXT) AS answer_key
    FROM {inputs}
    JOIN attempts a ON a.id = i.attempt_id JOIN papers pa ON pa.id = a.paper_id JOIN exams e ON e.id = a.exam_id
"""


class ScoringReads(Batches):
    """The scoring of saves that miss this process's copy (``lane.Scorings``), read together."""

    statement = DriverSQL.of(
        "-- PostgreSQL only",
        postgresql=ATTEMPT_SCORING_OF.format(inputs="unnest(CAST(:attempt_ids AS INTEGER[])) AS i(attempt_id)"),
    )
    arrays = ("attempt_ids",)
    key_column = "attempt_id"


_ARRAYS = ("attempt_ids", "seqs", "nows", "cutoffs", "digests", "paper_ids", "started", "stamps", "answer_keys",
           "scorings")  # fmt: skip
_ROW_ARRAYS = ("row_attempts", "positions", "keys", "points", "correct")


class SaveBatches(Batches):
    statement = CLAIM_AND_WRITE_MANY
    arrays = _ARRAYS
    key_column = "id"

    def parameters(self, batch: list[Pending]) -> dict[str, Any]:
        rows = [(item.key, *row) for item in batch for row in item.rows]
        return super().parameters(batch) | {name: [row[i] for row in rows] for i, name in enumerate(_ROW_ARRAYS)}


# Submit and grade (see ``lane.CLAIM_SUBMIT``): a formal attempt, in time, with every question answered.
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
    key_column = "id"


# First start (the PostgreSQL twin of ``lane.INSERT_ATTEMPT``): each attempt, guarded by its exam still
# taking attempts (the share lock waits for a close in flight, which locks the exam for update, and then
# sees it closed); an examinee or paper removed meanwhile, or given other extra time than his deadline was
# planned with, is skipped (refused: the route answers), never an error for all.
START_MANY = DriverSQL.of(
    "-- PostgreSQL only",
    postgresql=f"""
    WITH input AS (
      SELECT * FROM unnest(
        CAST(:exam_ids AS INTEGER[]), CAST(:participant_ids AS INTEGER[]), CAST(:paper_ids AS INTEGER[]),
        CAST(:unit_ids AS INTEGER[]), CAST(:nows AS TIMESTAMPTZ[]), CAST(:deadlines AS TIMESTAMPTZ[]),
        CAST(:seeds AS BIGINT[]), CAST(:question_orders AS TEXT[]), CAST(:option_orders AS TEXT[]),
        CAST(:digests AS VARCHAR[]), CAST(:extra_times AS INTEGER[]))
      AS i(exam_id, participant_id, paper_id, unit_id, now, deadline_at, seed, question_order, option_orders,
           digest, extra_time_seconds)
    ), attempt AS (
      INSERT INTO attempts (exam_id, participant_id, paper_id, unit_id, attempt_no, status, started_at,
        deadline_at, last_seq, shuffle_seed, question_order, option_orders, focus_losses, event_count,
        session_digest)
      SELECT i.exam_id, i.participant_id, i.paper_id, i.unit_id, 1, '{AttemptStatus.in_progress}', i.now,
        i.deadline_at, 0, i.seed, CAST(i.question_order AS JSONB), CAST(i.option_orders AS JSONB), 0, 0, i.digest
      FROM input i
      JOIN participants ON participants.id = i.participant_id
        AND participants.extra_time_seconds = i.extra_time_seconds
      JOIN papers ON papers.id = i.paper_id
      WHERE EXISTS (SELECT 1 FROM exams WHERE exams.id = i.exam_id AND exams.status = 'drawn' FOR SHARE)
      ON CONFLICT (participant_id, attempt_no) DO NOTHING
      RETURNING id, participant_id
    )
    SELECT id, participant_id FROM attempt
    """,  # noqa: S608 - module constants only, never input
)


# The caller as an examinee of this exam, with what a first start needs — for each row of the inputs
# ``i(digest, exam_id, now)``: one request's values on SQLite, a batch's arrays on PostgreSQL
# (``StartContextReads``).
START_CONTEXT_OF = """
    SELECT i.digest, e.mode, e.status, e.opens_at, e.closes_at, e.seed, e.shuffle_questions, e.shuffle_options,
      e.time_limit_seconds, e.multiple_scoring, p.id AS participant_id, p.unit_id, p.extra_time_seconds,
      (SELECT COUNT(*) FROM absences a WHERE a.exam_id = p.exam_id AND a.cadre_id = p.cadre_id) AS absences,
      (SELECT COUNT(*) FROM attempts t WHERE t.participant_id = p.id) AS attempts_made,
      pa.id AS paper_id, pa.created_at AS paper_stamp, CAST(pa.answer_key AS TEXT) AS answer_key
    FROM {inputs}
    JOIN auth_sessions s ON s.token_digest = i.digest
    JOIN users u ON u.id = s.user_id
    JOIN participants p ON p.user_id = s.user_id AND p.exam_id = i.exam_id
    JOIN exams e ON e.id = p.exam_id
    LEFT JOIN papers pa ON pa.exam_id = p.exam_id AND pa.unit_id = p.unit_id
    WHERE s.revoked_at IS NULL AND s.expires_at > i.now AND u.is_active
"""


class StartContextReads(Batches):
    """What the first starts of this process need to know (``START_CONTEXT_OF``), read together."""

    statement = DriverSQL.of(
        "-- PostgreSQL only",
        postgresql=START_CONTEXT_OF.format(
            inputs="unnest(CAST(:digests AS VARCHAR[]), CAST(:exam_ids AS INTEGER[]), "
            "CAST(:nows AS TIMESTAMPTZ[])) AS i(digest, exam_id, now)"
        ),
    )
    arrays = ("digests", "exam_ids", "nows")
    key_column = "digest"


class StartBatches(Batches):
    statement = START_MANY
    arrays = ("exam_ids", "participant_ids", "paper_ids", "unit_ids", "nows", "deadlines", "seeds",
              "question_orders", "option_orders", "digests", "extra_times")  # fmt: skip
    key_column = "participant_id"
