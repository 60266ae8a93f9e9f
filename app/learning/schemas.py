from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class HistoryAttempt(BaseModel):
    attempt_id: int
    attempt_no: int
    status: str
    started_at: datetime
    submitted_at: datetime | None
    # Null until the caller may see it: a formal exam's score once the results are published.
    score: float | None


class HistoryExam(BaseModel):
    exam_id: int
    name: str
    mode: str
    status: str
    ticket_no: str
    absent: bool
    results_published: bool
    attempts: list[HistoryAttempt]


class CadreHistory(BaseModel):
    cadre_id: int
    name: str
    unit_id: int
    exams: list[HistoryExam]


class OptionRead(BaseModel):
    key: str
    text: str


class Mistake(BaseModel):
    """One question of the 错题本, with what he answered last time he got it wrong."""

    question_id: int
    type: str
    stem: str
    options: list[OptionRead]
    answer: list[str]
    last_wrong_answer: list[str]
    explanation: str | None
    legal_basis: str | None
    knowledge_point: str | None
    times_wrong: int
    last_wrong_at: datetime
    # Answered right since (in a practice exam or a drill).
    mastered: bool


class MistakeBook(BaseModel):
    cadre_id: int
    items: list[Mistake]
    total: int
    mastered: int


class DrillCreate(BaseModel):
    count: int = Field(default=10, ge=1, le=100)
    include_mastered: bool = False


class DrillQuestion(BaseModel):
    no: int
    question_id: int
    type: str
    stem: str
    options: list[OptionRead]


class DrillRead(BaseModel):
    drill_id: int
    created_at: datetime
    questions: list[DrillQuestion]


class DrillAnswers(BaseModel):
    answers: dict[str, list[str]] = Field(max_length=100)


class DrillItemResult(BaseModel):
    no: int
    question_id: int
    given: list[str]
    answer: list[str]
    is_correct: bool
    explanation: str | None
    legal_basis: str | None


class DrillResult(BaseModel):
    drill_id: int
    submitted_at: datetime
    correct: int
    total: int
    items: list[DrillItemResult]


class MissedPoint(BaseModel):
    knowledge_point: str | None
    answers: int
    wrong: int
    wrong_rate: float
    cadres_wrong: int


class MissedPoints(BaseModel):
    unit_id: int
    items: list[MissedPoint]
    total: int
