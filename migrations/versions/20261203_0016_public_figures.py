"""What goes public: the notice's signature and the overlap cap on exams, question statistics in the bank.

``questions`` gain their statistics (times drawn and answered, facility, corrected item–total
discrimination, last used, flags), refreshed when an exam is graded. ``exams.max_shared_questions`` caps the questions any two units' papers share (null: as few as the bank
allows); ``exams.notice_office`` and ``exams.notice_date`` sign the notice (通报).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exams") as batch:
        batch.add_column(sa.Column("max_shared_questions", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("notice_office", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("notice_date", sa.Date(), nullable=True))
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("times_drawn", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("times_answered", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("facility", sa.Float(), nullable=True))
        batch.add_column(sa.Column("discrimination", sa.Float(), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("stat_flags", sa.String(length=96), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        for column in ("stat_flags", "last_used_at", "discrimination", "facility", "times_answered", "times_drawn"):
            batch.drop_column(column)
    with op.batch_alter_table("exams") as batch:
        batch.drop_column("notice_date")
        batch.drop_column("notice_office")
        batch.drop_column("max_shared_questions")
