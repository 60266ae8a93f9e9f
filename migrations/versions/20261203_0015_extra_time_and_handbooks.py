"""A participant's extra time (an accommodation, or minutes lost to a fault).

``participants.extra_time_seconds`` lengthens his attempt's deadline and lets it run past the exam's
closing time by the same amount: deadline = min(start + time limit + extra, closes_at + extra).

Revision ID: 0015
Revises: 0002
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("extra_time_seconds", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("extra_time_seconds")
