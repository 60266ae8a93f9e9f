from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.bank.models import Category, QuestionStatus, QuestionType
from app.bank.statistics import decode_flags


class OptionIn(BaseModel):
    key: str = Field(max_length=4)
    text: str = Field(max_length=2000)


class OptionRead(BaseModel):
    key: str
    text: str


class QuestionCreate(BaseModel):
    """One question as sent; ``answer`` also takes ``"AC"``, ``"A,C"``, ``"A、C"`` or 对/错."""

    type: QuestionType
    category: Category
    unit_id: int | None = None
    stem: str = Field(max_length=8000)
    options: list[OptionIn] | None = Field(default=None, max_length=8)
    answer: list[str] | str
    difficulty: int | None = Field(default=None, ge=1, le=5)
    knowledge_point: str | None = Field(default=None, max_length=255)
    explanation: str | None = Field(default=None, max_length=8000)
    legal_basis: str | None = Field(default=None, max_length=8000)
    tags: list[str] | None = Field(default=None, max_length=50)


class QuestionUpdate(BaseModel):
    """Fields to change; any change writes a new version."""

    type: QuestionType | None = None
    category: Category | None = None
    unit_id: int | None = None
    stem: str | None = Field(default=None, max_length=8000)
    options: list[OptionIn] | None = Field(default=None, max_length=8)
    answer: list[str] | str | None = None
    difficulty: int | None = Field(default=None, ge=1, le=5)
    knowledge_point: str | None = Field(default=None, max_length=255)
    explanation: str | None = Field(default=None, max_length=8000)
    legal_basis: str | None = Field(default=None, max_length=8000)
    tags: list[str] | None = Field(default=None, max_length=50)
    change_note: str | None = Field(default=None, max_length=255)


class QuestionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version: int
    version_id: int | None = Field(default=None, validation_alias="current_version_id")
    type: QuestionType
    category: Category
    unit_id: int | None
    status: QuestionStatus
    stem: str
    options: list[OptionRead]
    answer: list[str]
    difficulty: int
    knowledge_point: str | None
    explanation: str | None
    legal_basis: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    # How the question behaved in graded exams and practice (refreshed when an exam is graded).
    times_drawn: int = 0
    times_answered: int = 0
    facility: float | None = None
    discrimination: float | None = None
    last_used_at: datetime | None = None
    flags: list[str] = Field(default_factory=list, validation_alias="stat_flags")

    @field_validator("flags", mode="before")
    @classmethod
    def _decode_flags(cls, value: object) -> object:
        return decode_flags(value) if isinstance(value, str) or value is None else value


class QuestionsRetire(BaseModel):
    question_ids: list[int] = Field(min_length=1, max_length=500)


class QuestionVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    question_id: int
    version: int
    type: QuestionType
    category: Category
    unit_id: int | None
    stem: str
    options: list[OptionRead]
    answer: list[str]
    difficulty: int
    knowledge_point: str | None
    explanation: str | None
    legal_basis: str | None
    tags: list[str]
    change_note: str | None
    created_by: int | None
    created_at: datetime


class ImportRowError(BaseModel):
    row: int
    field: str
    message: str


class ImportSkipped(BaseModel):
    row: int
    reason: str


class ImportDuplicate(BaseModel):
    row: int
    kind: str  # "exact" or "near"
    similar_to_row: int | None = None
    question_id: int | None = None
    score: float


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int = 0
    errors: list[ImportRowError] = Field(default_factory=list)
    skipped: list[ImportSkipped] = Field(default_factory=list)
    duplicates: list[ImportDuplicate] = Field(default_factory=list)
    warnings: list[dict[str, Any]] = Field(default_factory=list)
