"""Cadres keep their civil-service title (职务与职级) as the roster wrote it, beside the mapped rank.

Revision ID: 0014
Revises: 0016
Create Date: 2026-12-03 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cadres") as batch:
        batch.add_column(sa.Column("title", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cadres") as batch:
        batch.drop_column("title")
