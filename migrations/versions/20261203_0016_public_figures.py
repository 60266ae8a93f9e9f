"""What goes public: the notice's signature and the overlap cap on exams.

``exams.max_shared_questions`` caps the questions any two units' papers share (null: as few as the bank
allows); ``exams.notice_office`` and ``exams.notice_date`` sign the notice (通报).

Revision ID: 0016
Revises: 0002
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exams") as batch:
        batch.add_column(sa.Column("max_shared_questions", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("notice_office", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("notice_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exams") as batch:
        batch.drop_column("notice_date")
        batch.drop_column("notice_office")
        batch.drop_column("max_shared_questions")
