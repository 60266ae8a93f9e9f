from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.core.db import Base


class HandbookSection(Base):
    """One section of a unit's handbook (岗位履职手册)."""

    __tablename__ = "handbook_sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class HandbookSectionDuty(Base):
    """A duty-list item the section explains. Linked by its knowledge point, which stays when the list
    is replaced (``org.service.set_duties`` renews the rows); a point dropped from the list is a gap."""

    __tablename__ = "handbook_section_duties"

    section_id: Mapped[int] = mapped_column(ForeignKey("handbook_sections.id", ondelete="CASCADE"), primary_key=True)
    knowledge_point: Mapped[str] = mapped_column(String(255), primary_key=True)


class HandbookSectionQuestion(Base):
    """A question of the bank that tests what the section says."""

    __tablename__ = "handbook_section_questions"

    section_id: Mapped[int] = mapped_column(ForeignKey("handbook_sections.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
