from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.bank.models import Category, QuestionType
from app.papers.models import MultipleScoring


class SectionIn(BaseModel):
    type: QuestionType
    count: int
    points: float


class BlueprintSpec(BaseModel):
    """A blueprint as sent to the preview: sections, the category split in percent, a time limit."""

    name: str | None = Field(default=None, max_length=128)
    time_limit_seconds: int
    sections: list[SectionIn]
    category_split: dict[str, float]
    multiple_scoring: MultipleScoring = MultipleScoring.all_or_nothing
    # Optional cross-checks: when sent, they must match what the sections add up to.
    total_questions: int | None = None
    total_points: float | None = None


class BlueprintCreate(BlueprintSpec):
    name: str = Field(min_length=1, max_length=128)


class QuotaRead(BaseModel):
    type: QuestionType
    category: Category
    count: int
    points: float


class SectionRead(BaseModel):
    type: QuestionType
    count: int
    points: float


class BlueprintPreview(BaseModel):
    name: str | None = None
    time_limit_seconds: int
    sections: list[SectionRead]
    category_split: dict[str, float]
    multiple_scoring: MultipleScoring
    total_questions: int
    total_points: float
    quotas: list[QuotaRead]
    by_category: dict[str, int]
    rounded: bool
    rounding_note: str | None = None
    warnings: list[str] = Field(default_factory=list)


class BlueprintRead(BlueprintPreview):
    id: int
    name: str | None = None
    is_preset: bool
    created_by: int | None
    created_at: datetime


class PresetRead(BlueprintPreview):
    key: str
    # The stored blueprint of this preset, once ``POST /api/blueprints/presets/{key}`` created it.
    blueprint_id: int | None = None


class PaperSlotDetail(BaseModel):
    """One question of a paper as an organiser previews it: the served item plus its key."""

    no: int
    type: QuestionType
    category: Category
    points: float
    stem: str
    options: list[dict[str, Any]]
    answer: list[str]
    question_id: int
    question_version_id: int
    version: int
    difficulty: int
    knowledge_point: str | None = None
    explanation: str | None = None
    legal_basis: str | None = None


class PaperDetail(BaseModel):
    paper_id: int
    exam_id: int
    unit_id: int
    seed: int
    expected_difficulty: float
    total_points: float
    created_at: datetime
    questions: list[PaperSlotDetail]
