"""The questions an examinee marked for review are stored with his attempt (table attempt_flags), and the
venue and seat printed on each admission ticket (table ticket_places).

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attempt_flags",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("question_nos", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_attempt_flags_attempt_id_attempts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_attempt_flags")),
    )
    op.create_table(
        "ticket_places",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("venue", sa.String(length=128), nullable=True),
        sa.Column("seat", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_ticket_places_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_ticket_places")),
    )


def downgrade() -> None:
    op.drop_table("ticket_places")
    op.drop_table("attempt_flags")
