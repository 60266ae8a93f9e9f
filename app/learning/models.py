from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base


class ReviewDrill(Base):
    """A practice round drawn from a cadre's 错题本; answered once, then graded by the same scorers."""

    __tablename__ = "review_drills"

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The questions in the order shown.
    question_ids: Mapped[list[Any]] = mapped_column()
    seed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column()
    correct: Mapped[int | None] = mapped_column(Integer)


class ReviewDrillAnswer(Base):
    __tablename__ = "review_drill_answers"

    drill_id: Mapped[int] = mapped_column(ForeignKey("review_drills.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    keys: Mapped[str] = mapped_column(String(16))
    is_correct: Mapped[bool] = mapped_column(Boolean)
