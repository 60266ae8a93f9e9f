from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.exams.models import ExamMode, ExamStatus
from app.org.models import Rank
from app.papers.models import MultipleScoring

MAX_SEED = 2**63 - 1
DEFAULT_DIFFICULTY_TOLERANCE = 0.02


class ExamCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    blueprint_id: int
    mode: ExamMode
    unit_ids: list[int] = Field(min_length=1, max_length=500)
    opens_at: AwareDatetime | None = None
    closes_at: AwareDatetime | None = None
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    shuffle_questions: bool = True
    shuffle_options: bool = True
    # Largest allowed gap between the easiest and the hardest paper's expected difficulty (share of points).
    difficulty_tolerance: float = Field(default=DEFAULT_DIFFICULTY_TOLERANCE, gt=0, le=1)
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    required_attempts: int | None = Field(default=None, ge=1, le=100)
    required_score: float | None = Field(default=None, ge=0, le=100)
    focus_loss_limit: int | None = Field(default=None, ge=1, le=1000)
    # Questions any two units' papers may share at most; absent: as few as the bank allows (none when it can).
    max_shared_questions: int | None = Field(default=None, ge=0, le=1000)
    notice_office: str | None = Field(default=None, max_length=64)
    notice_date: date | None = None


class ExamUpdate(BaseModel):
    """Fields to change; which ones may change depends on the exam's state."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    blueprint_id: int | None = None
    unit_ids: list[int] | None = Field(default=None, min_length=1, max_length=500)
    opens_at: AwareDatetime | None = None
    closes_at: AwareDatetime | None = None
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    shuffle_questions: bool | None = None
    shuffle_options: bool | None = None
    difficulty_tolerance: float | None = Field(default=None, gt=0, le=1)
    time_limit_seconds: int | None = Field(default=None, ge=60, le=24 * 3600)
    multiple_scoring: MultipleScoring | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    required_attempts: int | None = Field(default=None, ge=1, le=100)
    required_score: float | None = Field(default=None, ge=0, le=100)
    focus_loss_limit: int | None = Field(default=None, ge=1, le=1000)
    max_shared_questions: int | None = Field(default=None, ge=0, le=1000)
    notice_office: str | None = Field(default=None, max_length=64)
    notice_date: date | None = None


class ExamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    blueprint_id: int
    mode: ExamMode
    status: ExamStatus
    # ``status`` plus the window: draft, drawn (waiting for opens_at), open, ended (window over), closed, published.
    phase: str
    is_open: bool
    unit_ids: list[int]
    opens_at: datetime | None
    closes_at: datetime | None
    seed: int | None
    shuffle_questions: bool
    shuffle_options: bool
    difficulty_tolerance: float
    time_limit_seconds: int
    multiple_scoring: MultipleScoring
    max_attempts: int
    required_attempts: int | None
    required_score: float | None
    focus_loss_limit: int | None
    max_shared_questions: int | None = None
    notice_office: str | None = None
    notice_date: date | None = None
    owner_unit_id: int | None
    created_by: int | None
    created_at: datetime
    drawn_at: datetime | None
    closed_at: datetime | None
    published_at: datetime | None


class DrawRequest(BaseModel):
    """Optional: a new seed for the draw (stored on the exam, or on the paper for a redraw)."""

    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)


class PaperDrawn(BaseModel):
    unit_id: int
    paper_id: int
    question_ids: list[int]
    # The version number of each question as pinned (``version`` of ``GET /api/questions/{id}``), in paper order.
    question_versions: list[int]
    question_version_ids: list[int]
    expected_difficulty: float
    expected_score: float
    total_points: float
    seed: int


class PairOverlap(BaseModel):
    unit_ids: list[int]
    shared: int


class PapersSummary(BaseModel):
    exam_id: int
    seed: int
    tolerance: float
    difficulty_spread: float
    balanced: bool
    max_overlap: int
    max_overlap_units: list[int] | None
    papers: list[PaperDrawn]
    # The cap on questions any two papers share (null: as few as the bank allows), the least any pair
    # shares, and every pair's count: how evenly sharing is spread.
    max_shared_questions: int | None = None
    min_overlap: int = 0
    overlaps: list[PairOverlap] = Field(default_factory=list)


class SampleSpec(BaseModel):
    ratio: float = Field(gt=0, le=1)
    minimum: int = Field(default=30, ge=0, le=100_000)
    large_minimum: int = Field(default=50, ge=0, le=100_000)
    # Defaults to the exam's own seed, so the sample can be reproduced from what the exam stores.
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    # Sample only these units of the exam (all of them when absent).
    unit_ids: list[int] | None = Field(default=None, min_length=1)


class ParticipantsAdd(BaseModel):
    cadre_ids: list[int] | None = Field(default=None, min_length=1, max_length=20_000)
    sample: SampleSpec | None = None

    @model_validator(mode="after")
    def _one_way(self) -> ParticipantsAdd:
        if (self.cadre_ids is None) == (self.sample is None):
            raise ValueError("请提供 cadre_ids（指定干部）或 sample（按比例抽取）之一")
        return self


class ParticipantIssued(BaseModel):
    cadre_id: int
    unit_id: int
    ticket_no: str
    # Shown once, when the ticket is issued or re-issued; null for cadres who already had a ticket.
    pin: str | None
    name: str
    rank: Rank
    created: bool


class UnitSampleRead(BaseModel):
    unit_id: int
    unit_code: str
    large: bool
    minimum: int
    roster: dict[str, int]
    targets: dict[str, int]
    selected: int
    kept: int
    warnings: list[str]


class SamplePreview(BaseModel):
    seed: int
    ratio: float
    total: int
    units: list[UnitSampleRead]


class ParticipantRead(BaseModel):
    id: int
    cadre_id: int
    unit_id: int
    name: str
    rank: Rank
    ticket_no: str
    user_id: int
    absent: bool
    extra_time_seconds: int = 0
    # The deadline of his attempt under way, if one is.
    deadline_at: datetime | None = None
    created_at: datetime


class ParticipantUpdate(BaseModel):
    """Extra time for one examinee: the total, in seconds (0 takes it back)."""

    extra_time_seconds: int
    reason: str | None = Field(default=None, max_length=255)


class ExtraTimeGrant(BaseModel):
    """An exam-wide extension for an incident in a room: ``add_seconds`` more for each cadre listed."""

    cadre_ids: list[int] = Field(min_length=1, max_length=20_000)
    add_seconds: int
    reason: str = Field(min_length=1, max_length=255)


class TicketRead(BaseModel):
    ticket_no: str
    cadre_id: int
    name: str
    rank: Rank
    employee_no: str | None
    unit_id: int
    unit_code: str
    unit_name: str


class ReissueRequest(BaseModel):
    """Whose PINs to re-issue: listed cadres, one unit's participants, or everyone (``all``, or nothing sent)."""

    cadre_ids: list[int] | None = Field(default=None, min_length=1, max_length=20_000)
    unit_id: int | None = None
    all: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> ReissueRequest:
        if sum((self.cadre_ids is not None, self.unit_id is not None, self.all)) > 1:
            raise ValueError("请最多只提供 cadre_ids、unit_id 或 all: true 中的一项")
        return self


class AbsenceCreate(BaseModel):
    cadre_id: int
    reason: str = Field(min_length=1, max_length=255)


class AbsenceRead(BaseModel):
    cadre_id: int
    unit_id: int
    name: str
    reason: str
    recorded_by: int | None
    created_at: datetime
