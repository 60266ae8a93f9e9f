from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SectionCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=50_000)
    legal_basis: str | None = Field(default=None, max_length=5_000)
    # Items of the unit's duty list (their knowledge points) the section explains.
    duty_points: list[str] = Field(default_factory=list, max_length=500)
    # Questions of the bank that test it: shared theory/law questions or the unit's own policy questions.
    question_ids: list[int] = Field(default_factory=list, max_length=2_000)
    # 1-based place in the handbook; the end when absent.
    position: int | None = Field(default=None, ge=1, le=10_000)


class SectionUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, max_length=50_000)
    legal_basis: str | None = Field(default=None, max_length=5_000)
    duty_points: list[str] | None = Field(default=None, max_length=500)
    question_ids: list[int] | None = Field(default=None, max_length=2_000)
    position: int | None = Field(default=None, ge=1, le=10_000)


class SectionRead(BaseModel):
    id: int
    unit_id: int
    position: int
    title: str
    body: str
    legal_basis: str | None
    duty_points: list[str]
    question_ids: list[int]
    updated_at: datetime


class HandbookRead(BaseModel):
    unit_id: int
    unit_name: str
    sections: list[SectionRead]


class DutyChain(BaseModel):
    """One duty-list item followed through: 清单 → 手册 (the sections explaining it) → 题库 (its questions)."""

    knowledge_point: str
    section_ids: list[int]
    questions: int


class SectionCoverage(BaseModel):
    section_id: int
    title: str
    duty_points: int
    questions: int
    has_legal_basis: bool


class HandbookGaps(BaseModel):
    duties_without_section: list[str]
    duties_without_questions: list[str]
    sections_without_duty: list[str]
    sections_without_questions: list[str]
    sections_without_legal_basis: list[str]
    # Points a section links that are no longer on the duty list.
    stale_duty_points: list[str]


class UnitCoverage(BaseModel):
    unit_id: int
    name: str
    duty_points: int
    sections: int
    policy_questions: int
    duties_in_handbook: int
    duties_with_questions: int
    duties: list[DutyChain]
    sections_coverage: list[SectionCoverage]
    gaps: HandbookGaps
    # The gaps as sentences for the supervisors' notes (Chinese).
    gap_notes: list[str]


class CoverageReport(BaseModel):
    units: list[UnitCoverage]
