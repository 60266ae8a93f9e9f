from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base


class QuestionType(enum.StrEnum):
    single = "single"
    multiple = "multiple"
    judge = "judge"


class Category(enum.StrEnum):
    theory = "theory"
    law = "law"
    policy = "policy"


class QuestionStatus(enum.StrEnum):
    active = "active"
    retired = "retired"


TYPE_LABELS = {QuestionType.single: "单选", QuestionType.multiple: "多选", QuestionType.judge: "判断"}
CATEGORY_LABELS = {Category.theory: "基本理论", Category.law: "基础法律", Category.policy: "部门政策业务"}


class Question(Base):
    """The current state of a question; every edit also writes an immutable ``QuestionVersion``."""

    __tablename__ = "questions"
    __table_args__ = (
        Index("ix_questions_pool", "type", "category", "unit_id", "status"),
        Index("ix_questions_stem_hash", "stem_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=QuestionStatus.active)
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list[Any]] = mapped_column(default=list)
    answer: Mapped[list[Any]] = mapped_column(default=list)
    difficulty: Mapped[int] = mapped_column(Integer, default=3)
    knowledge_point: Mapped[str | None] = mapped_column(String(255), index=True)
    explanation: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    # Lower-cased stem and option texts, for substring search of short Chinese words.
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Digest of the normalised stem, to find exact duplicates by index.
    stem_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How the question behaved, over every graded exam and practice that carried it (app.exams.statistics).
    times_drawn: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    times_answered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    facility: Mapped[float | None] = mapped_column(Float)
    discrimination: Mapped[float | None] = mapped_column(Float)
    last_used_at: Mapped[datetime | None] = mapped_column()
    # ",too_easy,negative_discrimination," — comma-framed so that one flag is found with LIKE on any backend.
    stat_flags: Mapped[str] = mapped_column(String(96), default="", server_default="")


class QuestionTag(Base):
    __tablename__ = "question_tags"

    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class QuestionVersion(Base):
    """An immutable snapshot of a question as it was at one version; papers pin these."""

    __tablename__ = "question_versions"
    __table_args__ = (UniqueConstraint("question_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list[Any]] = mapped_column(default=list)
    answer: Mapped[list[Any]] = mapped_column(default=list)
    difficulty: Mapped[int] = mapped_column(Integer, default=3)
    knowledge_point: Mapped[str | None] = mapped_column(String(255))
    explanation: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    change_note: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
