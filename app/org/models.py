from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base


class Rank(enum.StrEnum):
    ting = "ting"
    chu = "chu"
    ke = "ke"


RANK_LABELS = {Rank.ting: "厅级", Rank.chu: "处级", Rank.ke: "科级"}


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    headcount: Mapped[int] = mapped_column(Integer)
    large: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Cadre(Base):
    __tablename__ = "cadres"
    __table_args__ = (UniqueConstraint("unit_id", "employee_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    rank: Mapped[str] = mapped_column(String(8))
    # The 职务与职级 as the roster wrote it (app.org.titles maps it onto ``rank``).
    title: Mapped[str | None] = mapped_column(String(32))
    employee_no: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UnitDuty(Base):
    """One line of a unit's 岗位职责清单, matched against its policy questions' knowledge points."""

    __tablename__ = "unit_duties"
    __table_args__ = (UniqueConstraint("unit_id", "knowledge_point"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    knowledge_point: Mapped[str] = mapped_column(String(255))
