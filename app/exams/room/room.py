"""The exam room's hot paths, written once: the first start, the autosave claim with its answer rows, and
the submit claim with its grading, run on the rules of ``app.exams.room.rules``.

Both ways in call these functions: the hot-path lane (``app.exams.room.lane``, through a ``LaneCall``:
SQLite's group-commit writer, PostgreSQL's batches) and the ordinary routes (``app.exams.room.attempts``,
through ``SessionRoom``: the request's own transaction). They settle the common case and return None
for anything else; the routes then add only what the lane does not do — explaining a refusal, resuming,
a later attempt, a submit the grading service settles.

Time is the request's arrival (``app.core.arrival.arrival_time``), never when its batch runs: a save or a
submit that reached the server — or a trusted proxy that stamped it — before the deadline and its grace is
accepted however long it queued.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.bank.models import QuestionType
from app.core.batches import Batches, Pending
from app.core.driver import Driver, DriverRow, DriverValues, driver_for
from app.core.errors import UnprocessableError, field_error
from app.core.sqlite_writer import Job, ReadThenWrite, executemany, fetchrow, run_job
from app.exams.exam_rules import ensure_exam_open
from app.exams.room import rules, shuffling
from app.exams.room.batches import SaveBatches, ScoringReads, StartBatches, StartContextReads, SubmitBatches
from app.exams.room.served_paper import ServedPaper, served_paper_sync, served_paper_via, served_papers
from app.grading.scorers import encode_keys, score_answer

T = TypeVar("T")
B = TypeVar("B", bound=Batches)
SQLITE_VALUES, POSTGRESQL_VALUES = DriverValues("sqlite"), DriverValues("postgresql")


class RoomIO(Protocol):
    """Where the exam room's statements run: ``app.core.lane.LaneCall`` (the lane) or ``SessionRoom``."""

    @property
    def is_sqlite(self) -> bool: ...

    async def run_sqlite_job(self, job: Job[T]) -> T: ...

    async def batched(self, kind: type[B], pending: Pending) -> DriverRow | None: ...

    async def driver(self) -> Driver: ...


class SessionRoom:
    """The exam room on a request's own session and transaction (the ordinary routes)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.is_sqlite = session.get_bind().dialect.name == "sqlite"

    async def run_sqlite_job(self, job: Job[T]) -> T:
        return await run_job(self.session, job)

    async def batched(self, kind: type[B], pending: Pending) -> DriverRow | None:
        return await kind.send_alone(await self.driver(), pending)

    async def driver(self) -> Driver:
        return await driver_for(self.session)


# The rules in Python: time left, the grace, the deadline, the presentation, scoring ---------------------


def remaining_seconds(deadline_at: datetime, now: datetime) -> int:
    return max(0, int((deadline_at - now).total_seconds()))


def cutoff_of(now: datetime, grace_seconds: float) -> datetime:
    """The earliest deadline still open at ``now``: a deadline before it has passed with its grace."""
    return now - timedelta(seconds=grace_seconds)


def is_overdue(deadline_at: datetime, now: datetime, grace_seconds: float) -> bool:
    """Past the deadline and its grace: saves are refused and the attempt is due for submission."""
    return deadline_at < cutoff_of(now, grace_seconds)


def deadline_of(
    started_at: datetime, time_limit_seconds: int, closes_at: datetime | None, extra_time_seconds: int = 0
) -> datetime:
    """An attempt's deadline: the earlier of its start + the time limit and the exam's closing time, both
    moved by the examinee's extra time."""
    extra = timedelta(seconds=extra_time_seconds)
    deadline_at = started_at + timedelta(seconds=time_limit_seconds) + extra
    return deadline_at if closes_at is None else min(deadline_at, closes_at + extra)


def deadline_for(exam: Any, started_at: datetime, extra_time_seconds: int = 0) -> datetime:
    """The deadline of an attempt of ``exam`` started at ``started_at`` (``deadline_of``)."""
    return deadline_of(started_at, exam.time_limit_seconds, exam.closes_at, extra_time_seconds)


def presentation_for(exam: Any, paper: ServedPaper, participant_id: int, attempt_no: int) -> tuple[int, Any]:
    """The attempt's shuffle seed and its (seeded, reproducible) question and option order."""
    seed = shuffling.attempt_seed(exam.seed, participant_id, attempt_no)
    presentation = paper.presentation_plan.draw(
        seed, shuffle_questions=exam.shuffle_questions, shuffle_options=exam.shuffle_options
    )
    return seed, presentation


# One validated answer in the paper's terms: (position — the paper's number —, keys, points, is_correct).
# A plain tuple: a save of 45 answers makes 45 of them, and a dataclass costs twenty times as much to build.
ScoredAnswer = tuple[int, str, float, bool]


_MULTIPLE = QuestionType.multiple.value


def scored_answers(
    paper: ServedPaper,
    question_order: Sequence[int],
    option_orders: Mapping[str, Sequence[str]],
    answer_key: Mapping[str, Sequence[str]],
    multiple_scoring: str,
    answers: Mapping[str, Sequence[str]],
) -> list[ScoredAnswer]:
    """The answers (in the examinee's numbers and letters) validated and scored; raises 422 naming the
    first bad question."""
    scored: list[ScoredAnswer] = []
    for shown_no, chosen in answers.items():
        try:
            index = int(shown_no)
        except ValueError:
            raise _bad_answer(shown_no, f"{shown_no!r} is not a question number") from None
        if not 1 <= index <= len(question_order):
            raise _bad_answer(shown_no, f"没有第 {shown_no} 题（题号 1–{len(question_order)}）")
        paper_no = question_order[index - 1]
        number = str(paper_no)
        question = paper.questions[paper_no]
        order = option_orders.get(number, question.option_keys)
        paper_keys = shuffling.to_paper_keys(question.type, order, chosen)
        if paper_keys is None:
            shown = "/".join(shuffling.displayed_keys(question.type, order))
            raise _bad_answer(shown_no, f"question {shown_no} has only the options {shown}")
        keys = encode_keys(paper_keys)
        if len(keys) > 1 and question.type != _MULTIPLE:
            raise _bad_answer(shown_no, f"question {shown_no} takes one answer")
        right = encode_keys(answer_key.get(number, ()))
        result = score_answer(question.type, keys, right, question.points, multiple_scoring)
        scored.append((paper_no, keys, result.points, result.is_correct))
    return scored


def _bad_answer(shown_no: str, message: str) -> UnprocessableError:
    return UnprocessableError(field_error(f"answers.{shown_no}", message))


# Scoring an attempt's saves ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scoring:
    """What scoring one attempt's answers needs, as this process last read it. The attempt's paper and
    start time identify it beyond its id (the claim checks both, and the key and rule it was scored with)."""

    paper_id: int
    started_at: datetime
    paper_stamp: datetime
    question_order: Any
    option_orders: Any
    multiple_scoring: str
    answer_key_text: str
    answer_key: Any
    # The claim's conditions in each backend's stored form, worked out at the first save (not every save).
    _claim_inputs: dict[bool, dict[str, Any]] = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def of(cls, row: Any, values: DriverValues) -> Scoring:
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

    def claim_values(self, values: DriverValues) -> dict[str, Any]:
        """The claim's conditions that the scoring still holds (``rules.SAVE_INPUTS``); shared: never mutate."""
        found = self._claim_inputs.get(values.is_sqlite)
        if found is None:
            found = self._claim_inputs[values.is_sqlite] = {
                "paper_id": self.paper_id, "started_at": values.time(self.started_at),
                "paper_stamp": values.time(self.paper_stamp), "answer_key": self.answer_key_text,
                "multiple_scoring": self.multiple_scoring,
            }  # fmt: skip
        return found

    def score(self, paper: ServedPaper, answers: Mapping[str, Sequence[str]]) -> list[ScoredAnswer]:
        return scored_answers(
            paper, self.question_order, self.option_orders, self.answer_key, self.multiple_scoring, answers
        )


class Scorings:
    """This application's copies of ``Scoring`` by attempt id, the most recent 50,000 (each worker process
    has its own; a route uses an empty one, so it always reads). Used from the event loop and the SQLite
    writer thread: each operation is one call on the dictionary, atomic under the GIL."""

    SIZE = 50_000

    def __init__(self) -> None:
        self._by_attempt: OrderedDict[int, Scoring] = OrderedDict()

    @classmethod
    def of(cls, state: Any) -> Scorings:
        scorings: Scorings | None = getattr(state, "room_scorings", None)
        if scorings is None:
            scorings = state.room_scorings = cls()
        return scorings

    def get(self, attempt_id: int) -> Scoring | None:
        return self._by_attempt.get(attempt_id)

    def remember(self, attempt_id: int, scoring: Scoring) -> Scoring:
        self._by_attempt[attempt_id] = scoring
        while len(self._by_attempt) > self.SIZE:
            self._by_attempt.popitem(last=False)
        return scoring

    def forget(self, attempt_id: int) -> None:
        """After a refused claim: perhaps only the key changed; read it again next time."""
        self._by_attempt.pop(attempt_id, None)


# Autosave -----------------------------------------------------------------------------------------------


@dataclass(slots=True)  # made per request: not frozen, whose __init__ costs several times more
class SaveClaim:
    """One save: who, which attempt, its ``seq`` and answers, when it arrived."""

    attempt_id: int
    digest: str
    seq: int
    answers: Mapping[str, Sequence[str]]
    now: datetime
    grace_seconds: float

    def values(self, values: DriverValues, scoring: Scoring) -> dict[str, Any]:
        """The claim's inputs (``rules.SAVE_INPUTS``)."""
        return {
            "attempt_id": self.attempt_id, "seq": self.seq, "now": values.time(self.now),
            "cutoff": values.time(cutoff_of(self.now, self.grace_seconds)), "digest": self.digest,
        } | scoring.claim_values(values)  # fmt: skip

    def rows(self, values: DriverValues, scored: list[ScoredAnswer]) -> list[dict[str, Any]]:
        """The answer rows (``rules.ANSWER_ROWS``, with the save's ``seq`` and time)."""
        attempt_id, seq, saved_at, flag = self.attempt_id, self.seq, values.time(self.now), values.flag
        return [
            {
                "attempt_id": attempt_id, "position": position, "keys": keys, "points": points,
                "is_correct": flag(is_correct), "seq": seq, "saved_at": saved_at,
            }
            for position, keys, points, is_correct in scored
        ]  # fmt: skip


async def claim_save(io: RoomIO, scorings: Scorings, save: SaveClaim) -> datetime | None:
    """Store the save if its claim holds: returns the attempt's deadline, or None when nothing was stored
    (not the caller's, not open, a stale ``seq``, too late, another device, or the key changed since it
    was scored). Answers that are not valid raise 422 before anything is written."""
    if io.is_sqlite:
        read = partial(_score_on_sqlite, scorings=scorings, save=save)
        claim = partial(_claim_on_sqlite, scorings=scorings, save=save)
        return await io.run_sqlite_job(ReadThenWrite(read, claim))
    return await _claim_on_postgresql(io, scorings, save)


@dataclass(slots=True)  # made per request: not frozen, whose __init__ costs several times more
class _ScoredSave:
    scoring: Scoring
    rows: list[dict[str, Any]]


def _score_on_sqlite(connection: Any, *, scorings: Scorings, save: SaveClaim) -> _ScoredSave | None:
    """SQLite, the read step (no lock held on the writer): the answer rows, validated and scored."""
    scoring = scorings.get(save.attempt_id)
    if scoring is None:
        found = fetchrow(connection, rules.ATTEMPT_SCORING.sqlite, {"attempt_id": save.attempt_id})
        if found is None:
            return None
        scoring = scorings.remember(save.attempt_id, Scoring.of(found, SQLITE_VALUES))
    paper = served_paper_sync(connection, scoring.paper_id, scoring.paper_stamp)
    return _ScoredSave(scoring, save.rows(SQLITE_VALUES, scoring.score(paper, save.answers)))


def _claim_on_sqlite(connection: Any, scored: _ScoredSave, *, scorings: Scorings, save: SaveClaim) -> datetime | None:
    """SQLite, the write step: the claim (which checks the scoring still holds), then the rows."""
    claimed = fetchrow(connection, rules.CLAIM_SAVE.sqlite, save.values(SQLITE_VALUES, scored.scoring))
    if claimed is None:
        scorings.forget(save.attempt_id)
        return None
    if scored.rows:
        executemany(connection, rules.UPSERT_ANSWERS.sqlite, scored.rows)
    return SQLITE_VALUES.read_time(claimed["deadline_at"])


async def _claim_on_postgresql(io: RoomIO, scorings: Scorings, save: SaveClaim) -> datetime | None:
    """PostgreSQL: score with this process's copy of the attempt's presentation and key (read, batched,
    when missing), then claim and write in one statement, batched with this process's other saves."""
    values = POSTGRESQL_VALUES
    scoring = scorings.get(save.attempt_id)
    if scoring is None:
        row = await io.batched(ScoringReads, Pending(save.attempt_id, {"attempt_id": save.attempt_id}))
        if row is None:
            return None
        scoring = scorings.remember(save.attempt_id, Scoring.of(row, values))
    paper = served_papers.get(scoring.paper_id, scoring.paper_stamp) or await served_paper_via(
        await io.driver(), scoring.paper_id, scoring.paper_stamp
    )
    rows = save.rows(values, scoring.score(paper, save.answers))
    saved = await io.batched(SaveBatches, Pending(save.attempt_id, save.values(values, scoring), rows))
    if saved is None:
        scorings.forget(save.attempt_id)
        return None
    return values.read_time(saved["deadline_at"])


# Submit -------------------------------------------------------------------------------------------------


async def claim_submit(io: RoomIO, *, attempt_id: int, digest: str, now: datetime, grace_seconds: float) -> bool:
    """Submit and grade a formal attempt whose every question is answered, in time, by its session
    (``rules.CLAIM_SUBMIT_OF``); False when that is not the case and nothing changed."""
    values = SQLITE_VALUES if io.is_sqlite else POSTGRESQL_VALUES
    inputs = {
        "attempt_id": attempt_id, "now": values.time(now), "cutoff": values.time(cutoff_of(now, grace_seconds)),
        "digest": digest,
    }  # fmt: skip
    claimed: object
    if io.is_sqlite:
        claimed = await io.run_sqlite_job(lambda connection: fetchrow(connection, rules.CLAIM_SUBMIT.sqlite, inputs))
    else:
        claimed = await io.batched(SubmitBatches, Pending(attempt_id, inputs))
    return claimed is not None


# Start --------------------------------------------------------------------------------------------------


@dataclass(slots=True)  # made per request: not frozen, whose __init__ costs several times more
class PlannedAttempt:
    """An attempt about to be inserted (``rules.ATTEMPT_INPUTS``) and what its start answers with."""

    inputs: dict[str, Any]
    deadline_at: datetime
    paper: ServedPaper
    presentation: Any
    seed: int


def plan_attempt(
    values: DriverValues,
    exam: Any,
    paper: ServedPaper,
    *,
    exam_id: int,
    participant_id: int,
    unit_id: int,
    attempt_no: int,
    extra_time_seconds: int,
    digest: str,
    now: datetime,
) -> PlannedAttempt:
    """An attempt of ``exam`` started ``now``: its presentation, deadline and row."""
    seed, presentation = presentation_for(exam, paper, participant_id, attempt_no)
    deadline_at = deadline_for(exam, now, extra_time_seconds)
    inputs = {
        "exam_id": exam_id, "participant_id": participant_id, "paper_id": paper.id, "unit_id": unit_id,
        "attempt_no": attempt_no, "now": values.time(now), "deadline_at": values.time(deadline_at), "seed": seed,
        "question_order": values.json(presentation.question_order),
        "option_orders": presentation.option_orders_json or values.json(presentation.option_orders),
        "digest": digest, "extra_time_seconds": extra_time_seconds,
    }  # fmt: skip
    return PlannedAttempt(inputs, deadline_at, paper, presentation, seed)


def _insert_on_sqlite(connection: Any, planned: PlannedAttempt) -> int | None:
    inserted = fetchrow(connection, rules.INSERT_ATTEMPT.sqlite, planned.inputs)
    return None if inserted is None else int(inserted["id"])


async def insert_attempt(io: RoomIO, planned: PlannedAttempt) -> int | None:
    """Insert the planned attempt (``rules.INSERT_ATTEMPT_OF``): its id, or None when the exam no longer
    takes attempts, the examinee or paper went away, or this attempt was started meanwhile."""
    if io.is_sqlite:
        return await io.run_sqlite_job(partial(_insert_on_sqlite, planned=planned))
    inserted = await io.batched(StartBatches, Pending(planned.inputs["participant_id"], planned.inputs))
    return None if inserted is None else int(inserted["id"])


@dataclass(slots=True)  # made per request: not frozen, whose __init__ costs several times more
class Started:
    attempt_id: int
    mode: str
    planned: PlannedAttempt
    scoring: Scoring


async def first_start(io: RoomIO, *, exam_id: int, digest: str, now: datetime) -> Started | None:
    """The caller's first attempt at an open exam, when that is what this is (else None; 409 from the
    exam's rules when it is closed)."""
    if io.is_sqlite:
        plan = partial(_plan_start_on_sqlite, exam_id=exam_id, digest=digest, now=now)
        return await io.run_sqlite_job(ReadThenWrite(plan, _write_start_on_sqlite))
    values = POSTGRESQL_VALUES
    inputs = {"digest": digest, "exam_id": exam_id, "now": now}
    row = await io.batched(StartContextReads, Pending(digest, inputs))
    exam = _first_start_exam(row, values, now)
    if exam is None or row is None:
        return None
    stamp = values.read_time(row["paper_stamp"])
    paper = served_papers.get(row["paper_id"], stamp) if stamp is not None else None
    paper = paper or await served_paper_via(await io.driver(), row["paper_id"], stamp)
    started = _planned_start(row, values, exam, paper, exam_id=exam_id, digest=digest, now=now)
    attempt_id = await insert_attempt(io, started.planned)
    return None if attempt_id is None else replace(started, attempt_id=attempt_id)


def _first_start_exam(row: Any, values: DriverValues, now: datetime) -> Any:
    """The exam of a first start, or None when this is not one; 409 (from the rules) when it is closed."""
    if row is None or row["attempts_made"] or row["absences"] or row["paper_id"] is None:
        return None
    exam = _ExamOfStart(
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


@dataclass(slots=True)  # made per request: not frozen, whose __init__ costs several times more
class _ExamOfStart:
    status: str
    opens_at: datetime | None
    closes_at: datetime | None
    seed: int
    shuffle_questions: bool
    shuffle_options: bool
    time_limit_seconds: int


def _planned_start(
    row: Any, values: DriverValues, exam: Any, paper: ServedPaper, *, exam_id: int, digest: str, now: datetime
) -> Started:
    planned = plan_attempt(
        values, exam, paper, exam_id=exam_id, participant_id=row["participant_id"], unit_id=row["unit_id"],
        attempt_no=1, extra_time_seconds=row["extra_time_seconds"], digest=digest, now=now,
    )  # fmt: skip
    answer_key_text = row["answer_key"] or "{}"
    scoring = Scoring(
        paper_id=paper.id, started_at=now, paper_stamp=paper.stamp,
        question_order=planned.presentation.question_order, option_orders=planned.presentation.option_orders,
        multiple_scoring=row["multiple_scoring"], answer_key_text=answer_key_text,
        answer_key=values.read_json_text(answer_key_text),
    )  # fmt: skip
    return Started(0, row["mode"], planned, scoring)


def _plan_start_on_sqlite(connection: Any, *, exam_id: int, digest: str, now: datetime) -> Started | None:
    """SQLite, the read step (no lock held on the writer): who starts which paper, in what order he sees it."""
    values = SQLITE_VALUES
    inputs = {"exam_id": exam_id, "digest": digest, "now": values.time(now)}
    row = fetchrow(connection, rules.START_CONTEXT.sqlite, inputs)
    exam = _first_start_exam(row, values, now)
    if exam is None or row is None:
        return None
    paper = served_paper_sync(connection, row["paper_id"], values.read_time(row["paper_stamp"]))
    return _planned_start(row, values, exam, paper, exam_id=exam_id, digest=digest, now=now)


def _write_start_on_sqlite(connection: Any, started: Started) -> Started | None:
    """SQLite, the write step: the guarded insert (the read that planned it held no lock)."""
    attempt_id = _insert_on_sqlite(connection, started.planned)
    return None if attempt_id is None else replace(started, attempt_id=attempt_id)
