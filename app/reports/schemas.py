"""Response shapes of the reports; figures are one-decimal half-up numbers, ``raw`` holds them unrounded."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class RankCounts(BaseModel):
    ting: int = 0
    chu: int = 0
    ke: int = 0


class OverallRaw(BaseModel):
    headcount_share: float | None
    average: float | None
    stdev: float | None
    pass_rate: float | None
    excellence_rate: float | None
    full_rate: float | None


class Overall(BaseModel):
    sat: int
    absent: int
    by_rank: RankCounts
    headcount: int
    headcount_share: float | None
    average: float | None
    stdev: float | None
    pass_count: int
    pass_rate: float | None
    excellent_count: int
    excellence_rate: float | None
    full_count: int
    full_rate: float | None
    fail_count: int


class FiguresRaw(BaseModel):
    average: float | None
    pass_rate: float | None
    excellence_rate: float | None
    full_rate: float | None


class RankRow(BaseModel):
    rank: str
    sat: int
    average: float | None
    pass_rate: float | None
    excellence_rate: float | None
    full_rate: float | None
    pass_count: int
    excellent_count: int
    full_count: int
    fail_count: int


class UnitRow(BaseModel):
    unit_id: int
    name: str
    sat: int
    absent: int
    average: float | None
    pass_rate: float | None
    excellence_rate: float | None
    full_rate: float | None
    pass_count: int
    excellent_count: int
    full_count: int
    fail_count: int
    headcount: int
    position: int | None


class Spread(BaseModel):
    best_unit_id: int | None
    worst_unit_id: int | None
    gap: float | None


class IncidentCounts(BaseModel):
    whispering: int = 0
    peeking: int = 0
    copying: int = 0
    other: int = 0


class DisciplineRow(BaseModel):
    unit_id: int
    incidents: IncidentCounts


class AbsenceRow(BaseModel):
    cadre_id: int
    unit_id: int
    reason: str


class CrossCell(BaseModel):
    sat: int
    average: float | None
    excellence_rate: float | None


class CrossRow(BaseModel):
    unit_id: int
    ting: CrossCell
    chu: CrossCell
    ke: CrossCell


class Band(BaseModel):
    low: int
    high: int
    label: str
    count: int
    share: float | None


class CategoryRates(BaseModel):
    theory: float | None = None
    law: float | None = None
    policy: float | None = None


class UnitCategoryRates(BaseModel):
    unit_id: int
    rates: CategoryRates


class Categories(BaseModel):
    overall: CategoryRates
    units: list[UnitCategoryRates]


class ReportRaw(BaseModel):
    overall: OverallRaw
    ranks: dict[str, FiguresRaw]
    units: dict[str, FiguresRaw]
    gap: float | None


class PaperSummary(BaseModel):
    """The papers' shape when every unit's paper has the same one (the notice's opening sentence)."""

    questions: int
    total_points: float
    time_limit_minutes: int
    types: list[str]


class ExamReport(BaseModel):
    exam_id: int
    exam_name: str
    mode: str
    paper: PaperSummary | None
    overall: Overall
    ranks: list[RankRow]
    units: list[UnitRow]
    spread: Spread
    discipline: list[DisciplineRow]
    absences: list[AbsenceRow]
    cross: list[CrossRow]
    distribution: list[Band]
    categories: Categories
    raw: ReportRaw


class IndividualRow(BaseModel):
    participant_id: int
    attempt_id: int
    cadre_id: int
    cadre_name: str
    rank: str
    unit_id: int
    unit_name: str
    points: float
    score: float
    submitted_at: datetime | None


class IndividualsRead(BaseModel):
    exam_id: int
    unit_id: int | None
    items: list[IndividualRow]
    total: int
