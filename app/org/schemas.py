from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.org.models import Rank


def _strip(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("不能为空")
    return value


class UnitCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=128)
    headcount: int = Field(ge=0, le=1_000_000)
    large: bool = False

    _name = field_validator("name")(_strip)


class UnitUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    headcount: int | None = Field(default=None, ge=0, le=1_000_000)
    large: bool | None = None


class UnitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    headcount: int
    large: bool
    created_at: datetime


class CadreCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    rank: Rank
    employee_no: str | None = Field(default=None, max_length=64)
    title: str | None = Field(default=None, max_length=32, description="职务与职级 as HR writes it, e.g. 一级调研员")

    _name = field_validator("name")(_strip)


class CadreUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    rank: Rank | None = None
    title: str | None = Field(default=None, max_length=32)
    employee_no: str | None = Field(default=None, max_length=64)
    is_active: bool | None = None


class CadreRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    name: str
    rank: Rank
    title: str | None = None
    employee_no: str | None
    is_active: bool


class RowError(BaseModel):
    row: int
    field: str
    message: str


class RosterImportResult(BaseModel):
    created: int
    updated: int
    errors: list[RowError]


class DutyList(BaseModel):
    knowledge_points: list[str] = Field(max_length=2000)
