"""The exam room's hot-path rules, each written once as one SQL template.

Every rule — who may save, the ``seq`` rule, the deadline with its grace, what a submit claims and how it
is graded, what a first start inserts — is a template whose requests' values are the rows ``i`` of
``{inputs}`` (``app.core.batches.Inputs``): rendered with one row of named parameters it is the
statement of a single request (SQLite's group-commit writer, an ordinary route on either backend),
rendered with arrays it is the statement of a PostgreSQL batch. ``app.exams.room.room`` runs them; the
lane (``app.exams.room.lane``) and the routes (``app.exams.room.attempts``) both go through it.
"""

from __future__ import annotations

from app.core.batches import Inputs
from app.core.driver import DriverSQL
from app.exams.models import AttemptStatus, ExamMode, ExamStatus
from app.exams.room.attempt_schemas import SubmitReason

IN_PROGRESS = str(AttemptStatus.in_progress)
SUBMITTED = str(AttemptStatus.submitted)

# The examinee behind the live login session ``i.digest`` at ``i.now`` (an active user; his participant row).
CALLER_IS_EXAMINEE = """
    SELECT p.id FROM auth_sessions s
    JOIN users u ON u.id = s.user_id
    JOIN participants p ON p.user_id = s.user_id
    WHERE s.token_digest = i.digest AND s.revoked_at IS NULL AND s.expires_at > i.now AND u.is_active
"""

# Autosave ---------------------------------------------------------------------------------------------

# A save's values: ``now`` is when the request arrived, ``cutoff`` that time less the grace; the rest is
# what the answers were scored with (``room.Scoring``), which must still hold.
SAVE_INPUTS = Inputs.of(
    attempt_id="INTEGER", seq="BIGINT", now="TIMESTAMPTZ", cutoff="TIMESTAMPTZ", digest="VARCHAR",
    paper_id="INTEGER", started_at="TIMESTAMPTZ", paper_stamp="TIMESTAMPTZ", answer_key="TEXT",
    multiple_scoring="VARCHAR",
)  # fmt: skip

# The claim: the attempt's ``seq`` moves on only if the caller's live session owns the attempt, the attempt
# is open, the ``seq`` newer, the deadline (with grace) not passed when the save arrived — and the attempt,
# its paper's key and the exam's multiple-choice rule are still those the save was scored with.
CLAIM_SAVE_OF = f"""
    UPDATE attempts SET last_seq = i.seq, last_saved_at = i.now
    FROM {{inputs}}
    WHERE attempts.id = i.attempt_id AND attempts.status = '{IN_PROGRESS}' AND attempts.last_seq < i.seq
      AND attempts.deadline_at >= i.cutoff AND attempts.session_digest = i.digest
      AND attempts.participant_id = ({CALLER_IS_EXAMINEE})
      AND attempts.paper_id = i.paper_id AND attempts.started_at = i.started_at
      AND EXISTS (
        SELECT 1 FROM papers WHERE papers.id = attempts.paper_id AND papers.created_at = i.paper_stamp
          AND CAST(papers.answer_key AS TEXT) = i.answer_key)
      AND (SELECT multiple_scoring FROM exams WHERE exams.id = attempts.exam_id) = i.multiple_scoring
    RETURNING attempts.id, attempts.deadline_at, attempts.last_seq AS seq, attempts.last_saved_at AS saved_at
"""  # noqa: S608 - module constants only, never input

# An answer's row, written with its score (``{rows}``: the rows of the saves whose claim held).
ANSWER_ROWS = Inputs.of(alias="r", prefix="row_", attempt_id="INTEGER", position="INTEGER", keys="TEXT",
                        points="FLOAT8", is_correct="BOOLEAN")  # fmt: skip
UPSERT_ANSWERS_OF = """
    INSERT INTO attempt_answers (attempt_id, position, keys, seq, saved_at, points, is_correct)
    {rows}
    ON CONFLICT (attempt_id, position) DO UPDATE SET
      keys = excluded.keys, seq = excluded.seq, saved_at = excluded.saved_at,
      points = excluded.points, is_correct = excluded.is_correct
"""

# What scoring an attempt's saves needs (``room.Scoring``), for each ``i(attempt_id)`` of the inputs.
SCORING_INPUTS = Inputs.of(attempt_id="INTEGER")
ATTEMPT_SCORING_OF = """
    SELECT a.id AS attempt_id, a.paper_id, a.started_at, CAST(a.question_order AS TEXT) AS question_order,
      CAST(a.option_orders AS TEXT) AS option_orders, e.multiple_scoring,
      pa.created_at AS paper_stamp, CAST(pa.answer_key AS TEXT) AS answer_key
    FROM {inputs}
    JOIN attempts a ON a.id = i.attempt_id JOIN papers pa ON pa.id = a.paper_id JOIN exams e ON e.id = a.exam_id
"""

# Submit -----------------------------------------------------------------------------------------------

SUBMIT_INPUTS = Inputs.of(attempt_id="INTEGER", now="TIMESTAMPTZ", cutoff="TIMESTAMPTZ", digest="VARCHAR")

# Submit and grade in one statement: the status flip is the claim (whoever flips it grades, exactly once);
# the score is the sum of the points stored with each save. Only a formal exam's attempt, its deadline
# (with grace) not passed when the submit arrived, owned by the caller's live session, with every
# question answered and scored, qualifies — anything else the route settles with the grading service
# (``attempts.claim_and_grade``), which also records the questions left unanswered.
CLAIM_SUBMIT_OF = f"""
    UPDATE attempts SET status = '{SUBMITTED}', submitted_at = i.now, submit_reason = '{SubmitReason.examinee}',
      graded_at = i.now,
      score = (SELECT COALESCE(SUM(points), 0) FROM attempt_answers WHERE attempt_id = attempts.id)
    FROM {{inputs}}
    WHERE attempts.id = i.attempt_id AND attempts.status = '{IN_PROGRESS}' AND attempts.deadline_at >= i.cutoff
      AND attempts.session_digest = i.digest AND attempts.participant_id = ({CALLER_IS_EXAMINEE})
      AND (SELECT mode FROM exams WHERE exams.id = attempts.exam_id) = '{ExamMode.formal}'
      AND (SELECT COUNT(*) FROM attempt_answers WHERE attempt_id = attempts.id AND points IS NOT NULL)
        = (SELECT COUNT(*) FROM paper_slots WHERE paper_slots.paper_id = attempts.paper_id)
    RETURNING attempts.id, attempts.deadline_at
"""  # noqa: S608 - module constants only, never input

# Start ------------------------------------------------------------------------------------------------

START_CONTEXT_INPUTS = Inputs.of(digest="VARCHAR", exam_id="INTEGER", now="TIMESTAMPTZ")

# The caller as an examinee of this exam, with what a first start needs.
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

ATTEMPT_INPUTS = Inputs.of(
    exam_id="INTEGER", participant_id="INTEGER", paper_id="INTEGER", unit_id="INTEGER", attempt_no="INTEGER",
    now="TIMESTAMPTZ", deadline_at="TIMESTAMPTZ", seed="BIGINT", question_order="TEXT", option_orders="TEXT",
    digest="VARCHAR", extra_time_seconds="INTEGER",
)  # fmt: skip

# The attempt — if its exam still takes attempts (on PostgreSQL the share lock waits for a close in
# flight, which locks the exam for update, and then sees it closed) and its examinee (with the extra time
# its deadline was planned with) and paper are still there; an attempt started meanwhile (a second tab)
# is left alone. No answer rows: each is written when
# its answer is first saved, and grading records the questions left unanswered.
INSERT_ATTEMPT_OF = f"""
    INSERT INTO attempts (exam_id, participant_id, paper_id, unit_id, attempt_no, status, started_at,
      deadline_at, last_seq, shuffle_seed, question_order, option_orders, focus_losses, event_count,
      session_digest)
    SELECT i.exam_id, i.participant_id, i.paper_id, i.unit_id, i.attempt_no, '{IN_PROGRESS}', i.now,
      i.deadline_at, 0, i.seed, {{json_question_order}}, {{json_option_orders}}, 0, 0, i.digest
    FROM {{inputs}}
    JOIN participants ON participants.id = i.participant_id
      AND participants.extra_time_seconds = i.extra_time_seconds
    JOIN papers ON papers.id = i.paper_id
    WHERE EXISTS (SELECT 1 FROM exams WHERE exams.id = i.exam_id AND exams.status = '{ExamStatus.drawn}' {{share}})
    ON CONFLICT (participant_id, attempt_no) DO NOTHING
    RETURNING id, participant_id
"""  # noqa: S608 - module constants only, never input


# Rendered ---------------------------------------------------------------------------------------------

# SQLite: one request (the group-commit writer's jobs, or the route's own transaction); the claims with
# their parameters in place (``Inputs.inline``: the same statement, no join with a one-row subquery).
CLAIM_SAVE = DriverSQL.of(SAVE_INPUTS.inline(CLAIM_SAVE_OF))
UPSERT_ANSWERS = DriverSQL.of(
    UPSERT_ANSWERS_OF.format(rows="VALUES (:attempt_id, :position, :keys, :seq, :saved_at, :points, :is_correct)")
)
ATTEMPT_SCORING = DriverSQL.of(ATTEMPT_SCORING_OF.format(inputs=SCORING_INPUTS.one()))
CLAIM_SUBMIT = DriverSQL.of(SUBMIT_INPUTS.inline(CLAIM_SUBMIT_OF))
START_CONTEXT = DriverSQL.of(START_CONTEXT_OF.format(inputs=START_CONTEXT_INPUTS.one()))
INSERT_ATTEMPT = DriverSQL.of(
    INSERT_ATTEMPT_OF.format(
        inputs=ATTEMPT_INPUTS.one(), json_question_order="i.question_order", json_option_orders="i.option_orders",
        share="",
    )
)  # fmt: skip

# PostgreSQL: a batch (``app.exams.room.batches``); a single request is a batch of one.
_PG = "-- PostgreSQL only"
CLAIM_SAVE_MANY = DriverSQL.of(
    _PG,
    postgresql=f"""
    WITH claim AS ({CLAIM_SAVE_OF.format(inputs=SAVE_INPUTS.many())}
    ), written AS ({
        UPSERT_ANSWERS_OF.format(
            rows=f'''SELECT r.attempt_id, r.position, r.keys, claim.seq, claim.saved_at, r.points, r.is_correct
    FROM {ANSWER_ROWS.many()} JOIN claim ON claim.id = r.attempt_id'''
        )
    } RETURNING 1
    )
    SELECT id, deadline_at, (SELECT COUNT(*) FROM written) AS written FROM claim
    """,  # noqa: S608 - module constants only, never input
)
ATTEMPT_SCORING_MANY = DriverSQL.of(_PG, postgresql=ATTEMPT_SCORING_OF.format(inputs=SCORING_INPUTS.many()))
CLAIM_SUBMIT_MANY = DriverSQL.of(_PG, postgresql=CLAIM_SUBMIT_OF.format(inputs=SUBMIT_INPUTS.many()))
START_CONTEXT_MANY = DriverSQL.of(_PG, postgresql=START_CONTEXT_OF.format(inputs=START_CONTEXT_INPUTS.many()))
INSERT_ATTEMPT_MANY = DriverSQL.of(
    _PG,
    postgresql=INSERT_ATTEMPT_OF.format(
        inputs=ATTEMPT_INPUTS.many(), json_question_order="CAST(i.question_order AS JSONB)",
        json_option_orders="CAST(i.option_orders AS JSONB)", share="FOR SHARE",
    ),
)  # fmt: skip
