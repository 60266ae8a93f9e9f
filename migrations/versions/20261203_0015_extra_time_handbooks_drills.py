"""A participant's extra time, and the unit handbooks.

``participants.extra_time_seconds`` (an accommodation, or minutes lost to a fault) lengthens his attempt's
deadline and lets it run past the exam's closing time by the same amount:
deadline = min(start + time limit + extra, closes_at + extra).

``handbook_sections`` (一本手册) with their links to duty-list items (by knowledge point) and to the
questions that cover them.

``review_drills`` and their answers: practice rounds a cadre draws from his 错题本.

Revision ID: 0015
Revises: 0002
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("extra_time_seconds", sa.Integer(), nullable=False, server_default="0"))

    op.create_table(
        "handbook_sections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_handbook_sections_unit_id_units"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_handbook_sections_updated_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handbook_sections")),
    )
    with op.batch_alter_table("handbook_sections") as batch:
        batch.create_index(batch.f("ix_handbook_sections_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "handbook_section_duties",
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("knowledge_point", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["handbook_sections.id"],
            name=op.f("fk_handbook_section_duties_section_id_handbook_sections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("section_id", "knowledge_point", name=op.f("pk_handbook_section_duties")),
    )

    op.create_table(
        "handbook_section_questions",
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["handbook_sections.id"],
            name=op.f("fk_handbook_section_questions_section_id_handbook_sections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_handbook_section_questions_question_id_questions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("section_id", "question_id", name=op.f("pk_handbook_section_questions")),
    )
    with op.batch_alter_table("handbook_section_questions") as batch:
        batch.create_index(batch.f("ix_handbook_section_questions_question_id"), ["question_id"], unique=False)

    op.create_table(
        "review_drills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cadre_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "question_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("correct", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cadre_id"], ["cadres.id"], name=op.f("fk_review_drills_cadre_id_cadres"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_review_drills_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_drills")),
    )
    with op.batch_alter_table("review_drills") as batch:
        batch.create_index(batch.f("ix_review_drills_cadre_id"), ["cadre_id"], unique=False)

    op.create_table(
        "review_drill_answers",
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("keys", sa.String(length=16), nullable=False),
        sa.Column("is_correct", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["drill_id"],
            ["review_drills.id"],
            name=op.f("fk_review_drill_answers_drill_id_review_drills"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_review_drill_answers_question_id_questions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("drill_id", "question_id", name=op.f("pk_review_drill_answers")),
    )
    with op.batch_alter_table("review_drill_answers") as batch:
        batch.create_index(batch.f("ix_review_drill_answers_question_id"), ["question_id"], unique=False)


def downgrade() -> None:
    op.drop_table("review_drill_answers")
    op.drop_table("review_drills")
    op.drop_table("handbook_section_questions")
    op.drop_table("handbook_section_duties")
    op.drop_table("handbook_sections")
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("extra_time_seconds")
