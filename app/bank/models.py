from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event, text
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria

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
        # Only staged rows are indexed: a read's ``import_id IS NULL`` never picks this index over the others.
        Index("ix_questions_staged", "import_id", sqlite_where=text("import_id IS NOT NULL"),
              postgresql_where=text("import_id IS NOT NULL")),
    )  # fmt: skip

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
    # Set while an import writes the question in its batches (see ``published``); NULL once it is visible.
    import_id: Mapped[int | None] = mapped_column(Integer)


class QuestionTag(Base):
    __tablename__ = "question_tags"

    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class QuestionVersion(Base):
    """An immutable snapshot of a question as it was at one version; papers pin these."""

    __tablename__ = "question_versions"
    __table_args__ = (
        UniqueConstraint("question_id", "version"),
        Index("ix_question_versions_staged", "import_id", sqlite_where=text("import_id IS NOT NULL"),
              postgresql_where=text("import_id IS NOT NULL")),
    )  # fmt: skip

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
    import_id: Mapped[int | None] = mapped_column(Integer)


class QuestionImport(Base):
    """An import writing its questions in batches; its rows stay staged until it publishes them at once.

    ``touched_at`` moves with every batch: an import untouched for ``importer.ABANDONED_AFTER`` died, and
    whatever it staged is deleted by the next import or at start-up."""

    __tablename__ = "question_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column()
    touched_at: Mapped[datetime] = mapped_column()


# Execution option for the importer's own bookkeeping, the one reader that must see staged rows.
INCLUDE_STAGED = "exambank_include_staged"


def published(columns: Any) -> ColumnElement[bool]:
    """THE staging rule: a question or version an import has not yet published is seen by no read.

    Every ORM query gets it from ``_hide_staged``; a Core query over the tables (the paper draw) adds it."""
    return columns.import_id.is_(None)  # type: ignore[no-any-return]


@event.listens_for(Session, "do_orm_execute")
def _hide_staged(state: ORMExecuteState) -> None:
    if not state.is_select or state.is_column_load or state.is_relationship_load:
        return
    if state.execution_options.get(INCLUDE_STAGED):
        return
    state.statement = state.statement.options(
        with_loader_criteria(Question, lambda entity: published(entity), include_aliases=True),
        with_loader_criteria(QuestionVersion, lambda entity: published(entity), include_aliases=True),
    )
