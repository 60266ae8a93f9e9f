from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base


class MultipleScoring(enum.StrEnum):
    all_or_nothing = "all_or_nothing"
    partial = "partial"


class Blueprint(Base):
    __tablename__ = "blueprints"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    time_limit_seconds: Mapped[int] = mapped_column(Integer)
    sections: Mapped[list[Any]] = mapped_column()
    category_split: Mapped[dict[str, Any]] = mapped_column()
    quotas: Mapped[list[Any]] = mapped_column()
    multiple_scoring: Mapped[str] = mapped_column(String(32), default=MultipleScoring.all_or_nothing)
    is_preset: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Paper(Base):
    """The frozen questions one unit gets in one exam; ``content`` is what examinees are shown."""

    __tablename__ = "papers"
    __table_args__ = (UniqueConstraint("exam_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    expected_difficulty: Mapped[float] = mapped_column(Float)
    total_points: Mapped[float] = mapped_column(Float)
    # [{no, type, category, points, stem, options: [{key, text}]}] without any key: the paper as served.
    content: Mapped[list[Any]] = mapped_column()
    # {"<no>": ["A", "C"]}: the key of each slot, pinned with the version.
    answer_key: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaperSlot(Base):
    __tablename__ = "paper_slots"

    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="RESTRICT"), index=True)
    question_version_id: Mapped[int] = mapped_column(
        ForeignKey("question_versions.id", ondelete="RESTRICT"), index=True
    )
    type: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    points: Mapped[float] = mapped_column(Float)
