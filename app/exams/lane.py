"""The exam room's hot paths: first start, autosave and submit in a few driver-level statements each.

Thousands of examinees start in the same minute, save every few seconds and submit at the same second;
Python CPU per request decides how many one server carries. These handlers run in the hot-path lane
(``app.core.lane``): they authenticate inside their own first statement (the login session, its user
and his participant row are conditions of the claim), send SQL straight to the driver
(``app.core.driver``) and answer with JSON serialised once. They settle only the common case — a valid
save with a newer ``seq`` in time, a first start of an open exam, a formal submit within the time with a
complete answer sheet — and leave everything else (every refusal and its explanation, a resume, an
overdue attempt, a practice review) to the routes of ``app.exams.attempts_router`` and the rules of
``app.exams.attempts``, which answer exactly as if the lane were not there.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.accounts.dependencies import SESSION_COOKIE
from app.core.batches import Pending
from app.core.driver import Driver, DriverSQL, DriverValues
from app.core.lane import LaneCall, LaneReply, LaneRoute
from app.core.security import token_digest
from app.core.sqlite_writer import execute, executemany, fetchrow
from app.exams.attempt_schemas import AnswersSave, SaveResult, SubmitReason
from app.exams.attempts import (
    IN_PROGRESS,
    SUBMITTED,
    answer_rows,
    deadline_for,
    presentation_for,
    remaining_seconds,
)
from app.exams.batches import SaveBatches, StartBatches, SubmitBatches
from app.exams.exam_rules import ensure_exam_open
from app.exams.models import ExamMode
from app.exams.served_paper import ServedPaper, served_paper_sync, served_paper_via, served_papers

_JSON = TypeAdapter(dict[str, Any])
SQLITE_VALUES, POSTGRESQL_VALUES = DriverValues("sqlite"), DriverValues("postgresql")

# The examinee behind a live login session (active user, his participant row in this exam).
_CALLER_IS_EXAMINEE = """
    SELECT p.id FROM auth_sessions s
    JOIN users u ON u.id = s.user_id
    JOIN participants p ON p.user_id = s.user_id
    WHERE s.token_digest = :digest AND s.revoked_at IS NULL AND s.expires_at > :now AND u.is_active = :active
"""

# Autosave ---------------------------------------------------------------------------------------------

# The attempt row is locked and its seq moved on only if the caller's session is the one that owns the
# attempt, belongs to its examinee, the attempt is open, the seq newer, and time (with grace) remains.
CLAIM_SAVE = DriverSQL.of(
    f"""
    UPDATE attempts SET last_seq = :seq, last_saved_at = :now
    WHERE id = :attempt_id AND status = '{IN_PROGRESS}' AND last_seq < :seq AND deadline_at >= :cutoff
      AND session_digest = :digest AND participant_id = ({_CALLER_IS_EXAMINEE})
    RETURNING paper_id, CAST(question_order AS TEXT) AS question_order,
      CAST(option_orders AS TEXT) AS option_orders, deadline_at,
      (SELECT created_at FROM papers WHERE papers.id = attempts.paper_id) AS paper_stamp,
      (SELECT CAST(answer_key AS TEXT) FROM papers WHERE papers.id = attempts.paper_id) AS answer_key,
      (SELECT multiple_scoring FROM exams WHERE exams.id = attempts.exam_id) AS multiple_scoring
    """  # noqa: S608 - module constants only, never input
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


async def save(call: LaneCall) -> LaneReply | None:
    """``PUT /api/attempts/{attempt_id}/answers`` when the claim succeeds."""
    token = call.bearer_token(SESSION_COOKIE)
    if not token:
        return None
    try:
        body = AnswersSave.model_validate_json(call.body)
    except ValidationError:
        return None
    attempt_id, now = int(call.params["attempt_id"]), call.state.clock.now()
    grace_seconds = call.state.settings.save_grace_seconds
    params = _claim_params(call.is_sqlite, attempt_id, token_digest(token), now, grace_seconds) | {"seq": body.seq}
    deadline_at: datetime | None
    if call.is_sqlite:
        job = partial(_claim_then_write, params=params, answers=body.answers, attempt_id=attempt_id, seq=body.seq)
        deadline_at = await call.run_sqlite_job(partial(job, now=now))
    else:
        deadline_at = await _claim_and_write(call, params, body.answers, attempt_id=attempt_id, seq=body.seq, now=now)
    if deadline_at is None:
        return None
    reply = SaveResult(
        saved=True, last_seq=body.seq, saved_at=now, remaining_seconds=remaining_seconds(deadline_at, now)
    )
    return LaneReply(reply.model_dump_json(exclude_none=True).encode())


def _claim_params(sqlite: bool, attempt_id: int, digest: str, now: datetime, grace_seconds: float) -> dict[str, Any]:
    """The parameters every claim takes: who, which attempt, the time and the cut-off after the grace."""
    values = SQLITE_VALUES if sqlite else POSTGRESQL_VALUES
    return {
        "attempt_id": attempt_id, "now": values.time(now), "digest": digest,
        "cutoff": values.time(now - timedelta(seconds=grace_seconds)), "active": values.flag(True),
    }  # fmt: skip


def _claim_then_write(
    connection: Any,
    *,
    params: dict[str, Any],
    answers: Mapping[str, Sequence[str]],
    attempt_id: int,
    seq: int,
    now: datetime,
) -> datetime | None:
    """SQLite writer job: the claim returns the attempt's presentation and the current key; the rows
    follow. A bad answer raises 422 and the job's savepoint undoes the claim."""
    values = SQLITE_VALUES
    claimed = fetchrow(connection, CLAIM_SAVE.sqlite, params)
    if claimed is None:
        return None
    paper = served_paper_sync(connection, claimed["paper_id"], values.read_time(claimed["paper_stamp"]))
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
        stored_at = values.time(now)
        for row in rows:
            row["saved_at"] = stored_at
            row["is_correct"] = values.flag(row["is_correct"])
        executemany(connection, UPSERT_ANSWER.sqlite, rows)
    return values.read_time(claimed["deadline_at"])


# PostgreSQL: one statement, no explicit transaction. The rows are validated and scored first, with the
# attempt's presentation and its paper's key as this process last read them; the claim then holds only
# if the paper's key (and stamp) and the exam's multiple-choice rule are still exactly those, so a key
# corrected meanwhile makes the claim refuse and the save is redone the ordinary way.
ATTEMPT_SCORING = DriverSQL.of(
    """
    SELECT a.paper_id, a.started_at, CAST(a.question_order AS TEXT) AS question_order,
      CAST(a.option_orders AS TEXT) AS option_orders, e.multiple_scoring,
      pa.created_at AS paper_stamp, CAST(pa.answer_key AS TEXT) AS answer_key
    FROM attempts a JOIN papers pa ON pa.id = a.paper_id JOIN exams e ON e.id = a.exam_id
    WHERE a.id = :attempt_id
    """
)

@dataclass(frozen=True, slots=True)
class _Scoring:
    """What scoring one attempt's answers needs, as this process last read it. The attempt's paper and
    start time identify it beyond its id (the claim checks both)."""

    paper_id: int
    started_at: datetime
    paper_stamp: datetime
    question_order: Any
    option_orders: Any
    multiple_scoring: str
    answer_key_text: str
    answer_key: Any

    @classmethod
    def of(cls, row: Any, values: DriverValues) -> _Scoring:
        answer_key_text = row["answer_key"] or "{}"
        return cls(
            paper_id=row["paper_id"],
            started_at=values.read_time(row["started_at"]),  # type: ignore[arg-type]
            paper_stamp=values.read_time(row["paper_stamp"]),  # type: ignore[arg-type]
            question_order=values.read_json_text(row["question_order"]),
            option_orders=values.read_json_text(row["option_orders"]),
            multiple_scoring=row["multiple_scoring"],
            answer_key_text=answer_key_text,
            answer_key=values.read_json_text(answer_key_text),
        )


_SCORING_CACHE = 50_000
_scoring: OrderedDict[int, _Scoring] = OrderedDict()


async def _read_scoring(driver: Driver, attempt_id: int) -> _Scoring | None:
    row = await driver.fetchrow(ATTEMPT_SCORING, {"attempt_id": attempt_id})
    if row is None:
        return None
    return _remember_scoring(attempt_id, _Scoring.of(row, driver.values))


def _remember_scoring(attempt_id: int, scoring: _Scoring) -> _Scoring:
    _scoring[attempt_id] = scoring
    while len(_scoring) > _SCORING_CACHE:
        _scoring.popitem(last=False)
    return scoring


async def _claim_and_write(
    call: LaneCall,
    params: dict[str, Any],
    answers: Mapping[str, Sequence[str]],
    *,
    attempt_id: int,
    seq: int,
    now: datetime,
) -> datetime | None:
    """PostgreSQL: score with this process's copy of the attempt's presentation and key, then claim and
    write in one statement — batched with other saves of this process (``app.exams.batches``), or alone on the
    request's own connection when its session is overridden (the tests)."""
    scoring = _scoring.get(attempt_id) or await _read_scoring(await call.driver(), attempt_id)
    if scoring is None:
        return None
    paper = served_papers.get(scoring.paper_id, scoring.paper_stamp) or await served_paper_via(
        await call.driver(), scoring.paper_id, scoring.paper_stamp
    )
    rows = answer_rows(
        paper,
        scoring.question_order,
        scoring.option_orders,
        scoring.answer_key,
        scoring.multiple_scoring,
        answers,
        attempt_id=attempt_id,
        seq=seq,
        now=now,
    )
    claim = (
        attempt_id, seq, params["now"], params["cutoff"], params["digest"], scoring.paper_id, scoring.started_at,
        scoring.paper_stamp, scoring.answer_key_text, scoring.multiple_scoring,
    )  # fmt: skip
    pending = Pending(attempt_id, claim, [(r["position"], r["keys"], r["points"], r["is_correct"]) for r in rows])
    saved = await call.batched(SaveBatches, pending)
    deadline_at = None if saved is None else POSTGRESQL_VALUES.read_time(saved["deadline_at"])
    if deadline_at is None:
        # Refused: perhaps only because the key changed; read it again next time.
        _scoring.pop(attempt_id, None)
    return deadline_at





# Submit -----------------------------------------------------------------------------------------------

# Submit and grade in one statement: the status flip is the claim (whoever flips it grades, exactly
# once); the score is the sum of the points stored with each save. Only a formal exam's attempt whose
# answer sheet is complete and scored qualifies — anything else is graded by the grading service.
CLAIM_SUBMIT = DriverSQL.of(
    f"""
    UPDATE attempts SET status = '{SUBMITTED}', submitted_at = :now, submit_reason = '{SubmitReason.examinee}',
      graded_at = :now,
      score = (SELECT COALESCE(SUM(points), 0) FROM attempt_answers WHERE attempt_id = attempts.id)
    WHERE id = :attempt_id AND status = '{IN_PROGRESS}' AND deadline_at >= :cutoff
      AND session_digest = :digest AND participant_id = ({_CALLER_IS_EXAMINEE})
      AND (SELECT mode FROM exams WHERE exams.id = attempts.exam_id) = '{ExamMode.formal}'
      AND (SELECT COUNT(*) FROM attempt_answers WHERE attempt_id = attempts.id AND points IS NOT NULL)
        = (SELECT COUNT(*) FROM paper_slots WHERE paper_slots.paper_id = attempts.paper_id)
    RETURNING id
    """  # noqa: S608 - module constants only, never input
)


async def submit(call: LaneCall) -> LaneReply | None:
    """``POST /api/attempts/{attempt_id}/submit`` for an open formal attempt submitted in time."""
    token = call.bearer_token(SESSION_COOKIE)
    if not token:
        return None
    attempt_id, now = int(call.params["attempt_id"]), call.state.clock.now()
    params = _claim_params(
        call.is_sqlite, attempt_id, token_digest(token), now, call.state.settings.save_grace_seconds
    )
    claimed: object
    if call.is_sqlite:
        claimed = await call.run_sqlite_job(lambda connection: fetchrow(connection, CLAIM_SUBMIT.sqlite, params))
    else:
        pending = Pending(attempt_id, (attempt_id, params["now"], params["cutoff"], params["digest"]))
        claimed = await call.batched(SubmitBatches, pending)
    if claimed is None:
        return None
    reply = {
        "attempt_id": attempt_id, "status": SUBMITTED, "submitted_at": now,
        "submit_reason": str(SubmitReason.examinee), "result": None,
    }  # fmt: skip
    return LaneReply(_JSON.dump_json(reply))


# First start ------------------------------------------------------------------------------------------

# The caller as an examinee of this exam, with what a first start needs.
_START_CONTEXT = """
    SELECT e.mode, e.status, e.opens_at, e.closes_at, e.seed, e.shuffle_questions, e.shuffle_options,
      e.time_limit_seconds, e.multiple_scoring, p.id AS participant_id, p.unit_id,
      (SELECT COUNT(*) FROM absences a WHERE a.exam_id = p.exam_id AND a.cadre_id = p.cadre_id) AS absences,
      (SELECT COUNT(*) FROM attempts t WHERE t.participant_id = p.id) AS attempts_made,
      (SELECT pa.id FROM papers pa WHERE pa.exam_id = p.exam_id AND pa.unit_id = p.unit_id) AS paper_id,
      (SELECT pa.created_at FROM papers pa WHERE pa.exam_id = p.exam_id AND pa.unit_id = p.unit_id)
        AS paper_stamp,
      (SELECT CAST(pa.answer_key AS TEXT) FROM papers pa WHERE pa.exam_id = p.exam_id AND pa.unit_id = p.unit_id)
        AS answer_key
    FROM auth_sessions s
    JOIN users u ON u.id = s.user_id
    JOIN participants p ON p.user_id = s.user_id
    JOIN exams e ON e.id = p.exam_id
    WHERE s.token_digest = :digest AND s.revoked_at IS NULL AND s.expires_at > :now AND u.is_active = :active
      AND p.exam_id = :exam_id
"""
START_CONTEXT = DriverSQL.of(_START_CONTEXT)

_INSERT_ATTEMPT = """
    INSERT INTO attempts (exam_id, participant_id, paper_id, unit_id, attempt_no, status, started_at,
      deadline_at, last_seq, shuffle_seed, question_order, option_orders, focus_losses, event_count,
      session_digest)
    {values}
    ON CONFLICT (participant_id, attempt_no) DO NOTHING
    RETURNING id
"""
_ATTEMPT_VALUES = f"""
    :exam_id, :participant_id, :paper_id, :unit_id, 1, '{IN_PROGRESS}', :now, :deadline_at, 0, :seed,
    :question_order, :option_orders, 0, 0, :digest
"""
# SQLite: the attempt, then its answer sheet (one unanswered row per question, see
# ``attempts._create_attempt``), in the session's write transaction.
INSERT_ATTEMPT = DriverSQL.of(_INSERT_ATTEMPT.format(values=f"VALUES ({_ATTEMPT_VALUES})"))
CREATE_ANSWER_SHEET = DriverSQL.of(
    """
    INSERT INTO attempt_answers (attempt_id, position, keys, seq, saved_at, points, is_correct)
    SELECT :attempt_id, position, '', 0, :now, 0.0, FALSE FROM paper_slots WHERE paper_id = :paper_id
    """
)

@dataclass(frozen=True, slots=True)
class _Started:
    attempt_id: int
    mode: str
    deadline_at: datetime
    paper: ServedPaper
    presentation: Any


async def start(call: LaneCall) -> LaneReply | None:
    """``POST /api/exams/{exam_id}/attempts`` for an examinee's first attempt at an open exam."""
    token = call.bearer_token(SESSION_COOKIE)
    if not token:
        return None
    exam_id, digest, now = int(call.params["exam_id"]), token_digest(token), call.state.clock.now()
    started: _Started | None
    if call.is_sqlite:
        started = await call.run_sqlite_job(partial(_start_on_sqlite, exam_id=exam_id, digest=digest, now=now))
    else:
        # A read, then one guarded insert of the attempt with its answer sheet (no transaction).
        started = await _start_on_postgresql(call, exam_id=exam_id, digest=digest, now=now)
    if started is None:  # not a first start, or the exam just closed: the route says what it is
        return None
    presentation = started.presentation
    reply = {
        "attempt_id": started.attempt_id, "exam_id": exam_id, "attempt_no": 1, "mode": started.mode,
        "status": IN_PROGRESS, "started_at": now, "deadline_at": started.deadline_at,
        "remaining_seconds": remaining_seconds(started.deadline_at, now), "last_seq": 0, "answers": {},
    }  # fmt: skip
    questions = started.paper.shown_questions_json(presentation.question_order, presentation.option_orders)
    return LaneReply(_JSON.dump_json(reply)[:-1] + b',"questions":' + questions + b"}")


def _first_start_exam(row: Any, values: DriverValues, now: datetime) -> SimpleNamespace | None:
    """The exam of a first start, or None when this is not one; 409 (from the rules) when it is closed."""
    if row is None or row["attempts_made"] or row["absences"] or row["paper_id"] is None:
        return None
    exam = SimpleNamespace(
        status=row["status"],
        opens_at=values.read_time(row["opens_at"]),
        closes_at=values.read_time(row["closes_at"]),
        seed=row["seed"],
        shuffle_questions=bool(row["shuffle_questions"]),
        shuffle_options=bool(row["shuffle_options"]),
        time_limit_seconds=row["time_limit_seconds"],
    )
    ensure_exam_open(exam, now)  # type: ignore[arg-type]
    return exam


def _attempt_values(
    values: DriverValues, row: Any, exam: Any, paper: ServedPaper, *, exam_id: int, digest: str, now: datetime
) -> tuple[dict[str, Any], Any, datetime]:
    seed, presentation = presentation_for(exam, paper, row["participant_id"], 1)
    deadline_at = deadline_for(exam, now)
    params = {
        "exam_id": exam_id, "participant_id": row["participant_id"], "paper_id": paper.id,
        "unit_id": row["unit_id"], "now": values.time(now), "deadline_at": values.time(deadline_at),
        "seed": seed, "question_order": values.json(presentation.question_order),
        "option_orders": values.json(presentation.option_orders), "digest": digest,
    }  # fmt: skip
    return params, presentation, deadline_at


def _start_on_sqlite(connection: Any, *, exam_id: int, digest: str, now: datetime) -> _Started | None:
    """SQLite writer job: read, insert the attempt and its answer sheet."""
    values = SQLITE_VALUES
    row = fetchrow(
        connection,
        START_CONTEXT.sqlite,
        {"exam_id": exam_id, "digest": digest, "now": values.time(now), "active": values.flag(True)},
    )
    exam = _first_start_exam(row, values, now)
    if exam is None or row is None:
        return None
    paper = served_paper_sync(connection, row["paper_id"], values.read_time(row["paper_stamp"]))
    params, presentation, deadline_at = _attempt_values(
        values, row, exam, paper, exam_id=exam_id, digest=digest, now=now
    )
    inserted = fetchrow(connection, INSERT_ATTEMPT.sqlite, params)
    if inserted is None:
        return None
    execute(connection, CREATE_ANSWER_SHEET.sqlite, params | {"attempt_id": inserted[0]})
    return _Started(inserted[0], row["mode"], deadline_at, paper, presentation)


async def _start_on_postgresql(call: LaneCall, *, exam_id: int, digest: str, now: datetime) -> _Started | None:
    """The read, then the insert: alone on the request's connection when its session is overridden (the
    tests), else batched with the other first starts of this process (``app.exams.batches``)."""
    driver = await call.driver()
    values = driver.values
    row = await driver.fetchrow(
        START_CONTEXT, {"exam_id": exam_id, "digest": digest, "now": values.time(now), "active": values.flag(True)}
    )
    exam = _first_start_exam(row, values, now)
    if exam is None:
        return None
    assert row is not None
    paper = await served_paper_via(driver, row["paper_id"], values.read_time(row["paper_stamp"]))
    params, presentation, deadline_at = _attempt_values(
        values, row, exam, paper, exam_id=exam_id, digest=digest, now=now
    )
    pending = Pending(row["participant_id"], tuple(params[name] for name in _START_ARRAY_PARAMS))
    inserted = await call.batched(StartBatches, pending)
    if inserted is None:
        return None
    # This process will most likely take the attempt's saves: it knows how to score them already.
    _remember_scoring(
        inserted[0],
        _Scoring(
            paper_id=paper.id, started_at=now, paper_stamp=paper.stamp,
            question_order=presentation.question_order, option_orders=presentation.option_orders,
            multiple_scoring=row["multiple_scoring"], answer_key_text=row["answer_key"] or "{}",
            answer_key=values.read_json_text(row["answer_key"] or "{}"),
        ),
    )  # fmt: skip
    return _Started(inserted[0], row["mode"], deadline_at, paper, presentation)


# The order of StartBatches.arrays, by the names of _attempt_values.
_START_ARRAY_PARAMS = ("exam_id", "participant_id", "paper_id", "unit_id", "now", "deadline_at", "seed",
                       "question_order", "option_orders", "digest")  # fmt: skip

LANE_ROUTES = (
    LaneRoute("PUT", "/api/attempts/{attempt_id}/answers", save),
    LaneRoute("POST", "/api/attempts/{attempt_id}/submit", submit),
    LaneRoute("POST", "/api/exams/{exam_id}/attempts", start),
)
