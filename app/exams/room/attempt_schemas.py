"""Request and response bodies of taking an exam, discipline and the live monitor."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.exams.models import IncidentKind

ShortKey = Annotated[str, StringConstraints(min_length=1, max_length=2)]


class SubmitReason(enum.StrEnum):
    examinee = "examinee"
    deadline = "deadline"
    closed = "closed"
    focus_loss = "focus_loss"


class EventKind(enum.StrEnum):
    focus_lost = "focus_lost"
    visibility_hidden = "visibility_hidden"
    fullscreen_exit = "fullscreen_exit"
    copy = "copy"
    cut = "cut"
    paste = "paste"
    context_menu = "context_menu"
    print_screen = "print_screen"


class OptionShown(BaseModel):
    key: str
    text: str


class QuestionShown(BaseModel):
    no: int
    type: str
    points: float
    stem: str
    options: list[OptionShown]


class AttemptStart(BaseModel):
    """The paper as this examinee sees it; never a key, an explanation or a score."""

    attempt_id: int
    exam_id: int
    attempt_no: int
    mode: str
    status: str
    started_at: datetime
    deadline_at: datetime
    remaining_seconds: int
    # Continue numbering saves after this (a resumed attempt keeps the highest seq already stored).
    last_seq: int
    questions: list[QuestionShown]
    answers: dict[str, list[str]]
    # The question numbers the examinee marked for review (saved with his answers).
    flags: list[int] = Field(default_factory=list)


class AttemptState(BaseModel):
    attempt_id: int
    exam_id: int
    attempt_no: int
    status: str
    started_at: datetime
    deadline_at: datetime
    remaining_seconds: int
    submitted_at: datetime | None
    submit_reason: str | None
    last_seq: int
    last_saved_at: datetime | None
    answers: dict[str, list[str]]
    flags: list[int] = Field(default_factory=list)


class AnswersSave(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=1, le=2**62)
    answers: dict[Annotated[str, StringConstraints(max_length=4)], Annotated[list[ShortKey], Field(max_length=8)]] = (
        Field(max_length=200)
    )
    # Sent only when the marks changed: the whole list of marked question numbers, stored with this save.
    flags: list[Annotated[int, Field(ge=1, le=10_000)]] | None = Field(default=None, max_length=200)


class SaveResult(BaseModel):
    saved: bool
    last_seq: int
    saved_at: datetime | None = None
    remaining_seconds: int | None = None
    # The attempt's deadline: the exam room's countdown follows it when extra time moves it.
    deadline_at: datetime | None = None
    ignored: str | None = None


class ReviewQuestion(BaseModel):
    no: int
    type: str
    points: float
    stem: str
    options: list[OptionShown]
    your_answer: list[str]
    right_answer: list[str]
    points_earned: float
    is_correct: bool
    explanation: str | None
    legal_basis: str | None


class AttemptResult(BaseModel):
    attempt_id: int
    exam_id: int
    attempt_no: int
    mode: str
    status: str
    submitted_at: datetime | None
    submit_reason: str | None
    score: float | None
    total_points: float
    passed: bool | None
    excellent: bool | None
    max_attempts: int
    required_attempts: int | None = None
    required_score: float | None = None
    # Practice attempts (and organisers) get the review: right answers and explanations.
    questions: list[ReviewQuestion] | None = None


class SubmitResult(BaseModel):
    attempt_id: int
    status: str
    submitted_at: datetime | None
    submit_reason: str | None
    # Present for practice exams only: score, right answers and explanations right away.
    result: AttemptResult | None = None


class CloseResult(BaseModel):
    exam_id: int
    status: str
    closed_at: datetime | None
    attempts_submitted: int


class RegradeRequest(BaseModel):
    question_id: int


class RegradeResult(BaseModel):
    exam_id: int
    question_id: int
    version: int
    papers: int
    slots_repinned: int
    answers_rescored: int
    attempts_rescored: int
    attempts_changed: int


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cadre_id: int
    kind: IncidentKind
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class IncidentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    exam_id: int
    cadre_id: int
    unit_id: int
    kind: str
    note: str | None
    recorded_by: int | None
    created_at: datetime


EventValue = Annotated[str, StringConstraints(max_length=200)] | int | float | bool | None


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: EventKind
    # Small facts the page knows (seconds away, the field copied from); bounded, events are capped anyway.
    detail: dict[Annotated[str, StringConstraints(max_length=40)], EventValue] = Field(
        default_factory=dict, max_length=10
    )


class EventResult(BaseModel):
    recorded: bool
    event_count: int
    focus_losses: int
    focus_loss_limit: int | None
    submitted: bool


class ProgressCounts(BaseModel):
    participants: int
    not_started: int
    in_progress: int
    submitted: int
    absent: int


class UnitProgress(ProgressCounts):
    unit_id: int
    unit_name: str


class ExamineeProgress(BaseModel):
    participant_id: int
    cadre_id: int
    name: str
    unit_id: int
    ticket_no: str
    state: str
    attempt_id: int | None
    attempt_no: int | None
    started_at: datetime | None
    last_saved_at: datetime | None
    remaining_seconds: int | None
    submitted_at: datetime | None
    submit_reason: str | None
    focus_losses: int | None
    extra_time_seconds: int = 0
    deadline_at: datetime | None = None
    locked: bool = Field(
        default=False, description="准考证因 PIN 错误次数过多被锁定（监考员可解锁） (locked out by wrong PINs)"
    )


class MonitorRead(BaseModel):
    exam_id: int
    status: str
    now: datetime
    totals: ProgressCounts
    units: list[UnitProgress]
    examinees: list[ExamineeProgress]
