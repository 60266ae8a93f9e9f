"""The exam room's hot paths: first start, autosave and submit in a few driver-level statements each.

Thousands of examinees start in the same minute, save every few seconds and submit at the same second;
Python CPU per request decides how many one server carries. These handlers run in the hot-path lane
(``app.core.lane``): they authenticate inside their own first statement (the login session, its user
and his participant row are conditions of the claim), send SQL straight to the driver
(``app.core.driver``) and answer with JSON serialised once. They settle only the common case — a valid
save with a newer ``seq`` in time, a first start of an open exam, a formal submit within the time with
every question answered — and leave everything else (every refusal and its explanation, a resume, an
overdue attempt, a practice review) to the routes of ``app.exams.room.attempts_router`` and the rules of
``app.exams.room.attempts``, which answer exactly as if the lane were not there.
"""

from __future__ import annotations

import dataclasses
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
from app.core.driver import DriverSQL, DriverValues
from app.core.lane import LaneCall, LaneReply, LaneRoute
from app.core.security import token_digest
from app.core.sqlite_writer import ReadThenWrite, executemany, fetchrow
from app.exams.exam_rules import ensure_exam_open
from app.exams.models import ExamMode, ExamStatus
from app.exams.room.attempt_schemas import AnswersSave, SaveResult, SubmitReason
from app.exams.room.attempts import (
    IN_PROGRESS,
    SUBMITTED,
    ScoredAnswer,
    deadline_for,
    presentation_for,
    remaining_seconds,
    scored_answers,
)
from app.exams.room.batches import (
    ATTEMPT_SCORING_OF,
    START_CONTEXT_OF,
    SaveBatches,
    ScoringReads,
    StartBatches,
    StartContextReads,
    SubmitBatches,
)
from app.exams.room.served_paper import ServedPaper, served_paper_sync, served_paper_via, served_papers

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

# SQLite: the attempt's seq moves on only if the caller's session is the one that owns the attempt,
# belongs to its examinee, the attempt is open, the seq newer, time (with grace) remains — and the
# attempt, its paper's key and the exam's multiple-choice rule are still those the save was scored with
# (the read step that scored it held no lock; see ``_Scoring``). The PostgreSQL twin, for many saves at
# once, is ``batches.CLAIM_AND_WRITE_MANY``.
CLAIM_SAVE = DriverSQL.of(
    f"""
    UPDATE attempts SET last_seq = :seq, last_saved_at = :now
    WHERE id = :attempt_id AND status = '{IN_PROGRESS}' AND last_seq < :seq AND deadline_at >= :cutoff
      AND session_digest = :digest AND participant_id = ({_CALLER_IS_EXAMINEE})
      AND paper_id = :paper_id AND started_at = :started_at
      AND EXISTS (
        SELECT 1 FROM papers WHERE papers.id = attempts.paper_id AND papers.created_at = :paper_stamp
          AND CAST(papers.answer_key AS TEXT) = :answer_key)
      AND (SELECT multiple_scoring FROM exams WHERE exams.id = attempts.exam_id) = :multiple_scoring
    RETURNING deadline_at
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
    if body.flags is not None:  # the marks have their own small write: the route does it
        return None
    attempt_id, now = int(call.params["attempt_id"]), call.state.clock.now()
    grace_seconds = call.state.settings.save_grace_seconds
    params = _claim_params(call.is_sqlite, attempt_id, token_digest(token), now, grace_seconds) | {"seq": body.seq}
    deadline_at: datetime | None
    if call.is_sqlite:
        scorings = Scorings.of(call)
        score = partial(_score_save_on_sqlite, scorings=scorings, attempt_id=attempt_id, answers=body.answers)
        claim = partial(_claim_save_on_sqlite, scorings=scorings, params=params)
        deadline_at = await call.run_sqlite_job(ReadThenWrite(partial(score, seq=body.seq, now=now), claim))
    else:
        deadline_at = await _claim_and_write(call, params, body.answers, attempt_id=attempt_id, seq=body.seq, now=now)
    if deadline_at is None:
        return None
    reply = SaveResult(
        saved=True, last_seq=body.seq, saved_at=now, remaining_seconds=remaining_seconds(deadline_at, now),
        deadline_at=deadline_at,
    )
    return LaneReply(reply.model_dump_json(exclude_none=True).encode())


def _claim_params(sqlite: bool, attempt_id: int, digest: str, now: datetime, grace_seconds: float) -> dict[str, Any]:
    """The parameters every claim takes: who, which attempt, the time and the cut-off after the grace."""
    values = SQLITE_VALUES if sqlite else POSTGRESQL_VALUES
    return {
        "attempt_id": attempt_id, "now": values.time(now), "digest": digest,
        "cutoff": values.time(now - timedelta(seconds=grace_seconds)), "active": values.flag(True),
    }  # fmt: skip


# Both backends validate and score the rows first, with the attempt's presentation and its paper's key
# as this process last read them; the claim then holds only if the paper's key (and stamp) and the
# exam's multiple-choice rule are still exactly those, so a key corrected meanwhile makes the claim
# refuse and the save is redone the ordinary way. PostgreSQL: one statement, no explicit transaction;
# SQLite: a writer job whose read step scores and whose write step claims and writes.
ATTEMPT_SCORING = DriverSQL.of(ATTEMPT_SCORING_OF.format(inputs="(SELECT :attempt_id AS attempt_id) AS i"))

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


    @classmethod
    def at_start(cls, row: Any, values: DriverValues, paper: ServedPaper, presentation: Any, now: datetime) -> _Scoring:
        """What a first start (its context ``row``) just fixed: the attempt's saves will need it."""
        answer_key_text = row["answer_key"] or "{}"
        return cls(
            paper_id=paper.id, started_at=now, paper_stamp=paper.stamp,
            question_order=presentation.question_order, option_orders=presentation.option_orders,
            multiple_scoring=row["multiple_scoring"], answer_key_text=answer_key_text,
            answer_key=values.read_json_text(answer_key_text),
        )  # fmt: skip


class Scorings:
    """This application's copies of ``_Scoring`` by attempt id, the most recent 50,000 (each worker
    process has its own). Used from the event loop and the SQLite writer thread: each operation is one
    call on the dictionary, atomic under the GIL."""

    SIZE = 50_000

    def __init__(self) -> None:
        self._by_attempt: OrderedDict[int, _Scoring] = OrderedDict()

    @classmethod
    def of(cls, call: LaneCall) -> Scorings:
        scorings: Scorings | None = getattr(call.state, "lane_scorings", None)
        if scorings is None:
            scorings = call.state.lane_scorings = cls()
        return scorings

    def get(self, attempt_id: int) -> _Scoring | None:
        return self._by_attempt.get(attempt_id)

    def remember(self, attempt_id: int, scoring: _Scoring) -> _Scoring:
        self._by_attempt[attempt_id] = scoring
        while len(self._by_attempt) > self.SIZE:
            self._by_attempt.popitem(last=False)
        return scoring

    def forget(self, attempt_id: int) -> None:
        """After a refused claim: perhaps only the key changed; read it again next time."""
        self._by_attempt.pop(attempt_id, None)


async def _read_scoring(call: LaneCall, scorings: Scorings, attempt_id: int) -> _Scoring | None:
    """PostgreSQL: read with the other saves of this process that miss their copy."""
    row = await call.batched(ScoringReads, Pending(attempt_id, (attempt_id,)))
    if row is None:
        return None
    return scorings.remember(attempt_id, _Scoring.of(row, POSTGRESQL_VALUES))


@dataclass(frozen=True, slots=True)
class _ScoredSave:
    scoring: _Scoring
    rows: list[dict[str, Any]]


def _score_save_on_sqlite(
    connection: Any,
    *,
    scorings: Scorings,
    attempt_id: int,
    answers: Mapping[str, Sequence[str]],
    seq: int,
    now: datetime,
) -> _ScoredSave | None:
    """SQLite, the read step (no lock held): the answer rows, validated and scored with this process's
    copy of the attempt's presentation and key. A bad answer raises 422 before anything is written."""
    values = SQLITE_VALUES
    scoring = scorings.get(attempt_id)
    if scoring is None:
        found = fetchrow(connection, ATTEMPT_SCORING.sqlite, {"attempt_id": attempt_id})
        if found is None:
            return None
        scoring = scorings.remember(attempt_id, _Scoring.of(found, values))
    paper = served_paper_sync(connection, scoring.paper_id, scoring.paper_stamp)
    stored_at = values.time(now)
    rows = [
        {
            "attempt_id": attempt_id, "position": position, "keys": keys, "seq": seq, "saved_at": stored_at,
            "points": points, "is_correct": values.flag(is_correct),
        }
        for position, keys, points, is_correct in _scored(paper, scoring, answers)
    ]
    return _ScoredSave(scoring, rows)


def _claim_save_on_sqlite(
    connection: Any, scored: _ScoredSave, *, scorings: Scorings, params: dict[str, Any]
) -> datetime | None:
    """SQLite, the write step: the claim (which checks the scoring still holds), then the rows."""
    values, scoring = SQLITE_VALUES, scored.scoring
    scored_with = {
        "paper_id": scoring.paper_id, "started_at": values.time(scoring.started_at),
        "paper_stamp": values.time(scoring.paper_stamp), "answer_key": scoring.answer_key_text,
        "multiple_scoring": scoring.multiple_scoring,
    }  # fmt: skip
    claimed = fetchrow(connection, CLAIM_SAVE.sqlite, params | scored_with)
    if claimed is None:
        scorings.forget(params["attempt_id"])
        return None
    if scored.rows:
        executemany(connection, UPSERT_ANSWER.sqlite, scored.rows)
    return values.read_time(claimed["deadline_at"])


def _scored(paper: ServedPaper, scoring: _Scoring, answers: Mapping[str, Sequence[str]]) -> list[ScoredAnswer]:
    return scored_answers(
        paper, scoring.question_order, scoring.option_orders, scoring.answer_key, scoring.multiple_scoring, answers
    )


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
    write in one statement — batched with other saves of this process (``app.exams.room.batches``), or alone on the
    request's own connection when its session is overridden (the tests)."""
    scorings = Scorings.of(call)
    scoring = scorings.get(attempt_id) or await _read_scoring(call, scorings, attempt_id)
    if scoring is None:
        return None
    paper = served_papers.get(scoring.paper_id, scoring.paper_stamp) or await served_paper_via(
        await call.driver(), scoring.paper_id, scoring.paper_stamp
    )
    rows = _scored(paper, scoring, answers)
    claim = (
        attempt_id, seq, params["now"], params["cutoff"], params["digest"], scoring.paper_id, scoring.started_at,
        scoring.paper_stamp, scoring.answer_key_text, scoring.multiple_scoring,
    )  # fmt: skip
    pending = Pending(attempt_id, claim, rows)  # rows as SaveBatches' row arrays take them
    saved = await call.batched(SaveBatches, pending)
    deadline_at = None if saved is None else POSTGRESQL_VALUES.read_time(saved["deadline_at"])
    if deadline_at is None:
        scorings.forget(attempt_id)
    return deadline_at





# Submit -----------------------------------------------------------------------------------------------

# Submit and grade in one statement: the status flip is the claim (whoever flips it grades, exactly
# once); the score is the sum of the points stored with each save. Only a formal exam's attempt whose
# every question answered (and scored) qualifies — anything else is graded by the grading service, which
# also records the questions left unanswered.
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

# The caller as an examinee of this exam, with what a first start needs (see ``batches.START_CONTEXT_OF``).
START_CONTEXT = DriverSQL.of(
    START_CONTEXT_OF.format(inputs="(SELECT :digest AS digest, :exam_id AS exam_id, :now AS now) AS i")
)

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
# SQLite: the attempt — if its exam still takes attempts and its examinee (with the extra time his
# deadline was planned with) and paper are still there, for the read that planned it held no lock.
# (No answer rows: see ``attempts._create_attempt``.)
INSERT_ATTEMPT = DriverSQL.of(
    _INSERT_ATTEMPT.format(
        values=f"""SELECT {_ATTEMPT_VALUES}
    WHERE EXISTS (SELECT 1 FROM exams WHERE id = :exam_id AND status = '{ExamStatus.drawn}')
      AND EXISTS (SELECT 1 FROM participants WHERE id = :participant_id
        AND extra_time_seconds = :extra_time_seconds)
      AND EXISTS (SELECT 1 FROM papers WHERE id = :paper_id)"""  # noqa: S608 - module constants only
    )
)

@dataclass(frozen=True, slots=True)
class _Started:
    attempt_id: int
    mode: str
    deadline_at: datetime
    paper: ServedPaper
    presentation: Any
    scoring: _Scoring
    params: dict[str, Any] = dataclasses.field(default_factory=dict)  # SQLite: the planned insert's


async def start(call: LaneCall) -> LaneReply | None:
    """``POST /api/exams/{exam_id}/attempts`` for an examinee's first attempt at an open exam."""
    token = call.bearer_token(SESSION_COOKIE)
    if not token:
        return None
    exam_id, digest, now = int(call.params["exam_id"]), token_digest(token), call.state.clock.now()
    started: _Started | None
    if call.is_sqlite:
        plan = partial(_plan_start_on_sqlite, exam_id=exam_id, digest=digest, now=now)
        started = await call.run_sqlite_job(ReadThenWrite(plan, _write_start_on_sqlite))
    else:
        # A read, then one guarded insert of the attempt (no transaction); both batched.
        started = await _start_on_postgresql(call, exam_id=exam_id, digest=digest, now=now)
    if started is None:  # not a first start, or the exam just closed: the route says what it is
        return None
    # This process will most likely take the attempt's saves: it knows how to score them already.
    Scorings.of(call).remember(started.attempt_id, started.scoring)
    presentation = started.presentation
    reply = {
        "attempt_id": started.attempt_id, "exam_id": exam_id, "attempt_no": 1, "mode": started.mode,
        "status": IN_PROGRESS, "started_at": now, "deadline_at": started.deadline_at,
        "remaining_seconds": remaining_seconds(started.deadline_at, now), "last_seq": 0, "answers": {},
        "flags": [],
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
    ensure_exam_open(exam, now, row["extra_time_seconds"])  # type: ignore[arg-type]
    return exam


def _attempt_values(
    values: DriverValues, row: Any, exam: Any, paper: ServedPaper, *, exam_id: int, digest: str, now: datetime
) -> tuple[dict[str, Any], Any, datetime]:
    seed, presentation = presentation_for(exam, paper, row["participant_id"], 1)
    deadline_at = deadline_for(exam, now, row["extra_time_seconds"])
    params = {
        "exam_id": exam_id, "participant_id": row["participant_id"], "paper_id": paper.id,
        "unit_id": row["unit_id"], "now": values.time(now), "deadline_at": values.time(deadline_at),
        "seed": seed, "question_order": values.json(presentation.question_order),
        "option_orders": presentation.option_orders_json or values.json(presentation.option_orders),
        "digest": digest, "extra_time_seconds": row["extra_time_seconds"],
    }  # fmt: skip
    return params, presentation, deadline_at


def _plan_start_on_sqlite(connection: Any, *, exam_id: int, digest: str, now: datetime) -> _Started | None:
    """SQLite, the read step (no lock held): who starts which paper, and in what order he sees it."""
    values = SQLITE_VALUES
    row = fetchrow(
        connection,
        START_CONTEXT.sqlite,
        {"exam_id": exam_id, "digest": digest, "now": values.time(now)},
    )
    exam = _first_start_exam(row, values, now)
    if exam is None or row is None:
        return None
    paper = served_paper_sync(connection, row["paper_id"], values.read_time(row["paper_stamp"]))
    params, presentation, deadline_at = _attempt_values(
        values, row, exam, paper, exam_id=exam_id, digest=digest, now=now
    )
    scoring = _Scoring.at_start(row, values, paper, presentation, now)
    return _Started(0, row["mode"], deadline_at, paper, presentation, scoring, params)


def _write_start_on_sqlite(connection: Any, planned: _Started) -> _Started | None:
    """SQLite, the write step: the guarded insert of the attempt."""
    inserted = fetchrow(connection, INSERT_ATTEMPT.sqlite, planned.params)
    if inserted is None:  # started meanwhile (a second tab), or the exam closed: the route says which
        return None
    return dataclasses.replace(planned, attempt_id=inserted[0])


async def _start_on_postgresql(call: LaneCall, *, exam_id: int, digest: str, now: datetime) -> _Started | None:
    """The read, then the insert: alone on the request's connection when its session is overridden (the
    tests), else batched with the other first starts of this process (``app.exams.room.batches``)."""
    values = POSTGRESQL_VALUES
    row = await call.batched(StartContextReads, Pending(digest, (digest, exam_id, now)))
    exam = _first_start_exam(row, values, now)
    if exam is None:
        return None
    assert row is not None
    stamp = values.read_time(row["paper_stamp"])
    paper = served_papers.get(row["paper_id"], stamp) if stamp is not None else None
    paper = paper or await served_paper_via(await call.driver(), row["paper_id"], stamp)
    params, presentation, deadline_at = _attempt_values(
        values, row, exam, paper, exam_id=exam_id, digest=digest, now=now
    )
    pending = Pending(row["participant_id"], tuple(params[name] for name in _START_ARRAY_PARAMS))
    inserted = await call.batched(StartBatches, pending)
    if inserted is None:
        return None
    scoring = _Scoring.at_start(row, values, paper, presentation, now)
    return _Started(inserted[0], row["mode"], deadline_at, paper, presentation, scoring)


# The order of StartBatches.arrays, by the names of _attempt_values.
_START_ARRAY_PARAMS = ("exam_id", "participant_id", "paper_id", "unit_id", "now", "deadline_at", "seed",
                       "question_order", "option_orders", "digest", "extra_time_seconds")  # fmt: skip

LANE_ROUTES = (
    LaneRoute("PUT", "/api/attempts/{attempt_id}/answers", save),
    LaneRoute("POST", "/api/attempts/{attempt_id}/submit", submit),
    LaneRoute("POST", "/api/exams/{exam_id}/attempts", start),
)
