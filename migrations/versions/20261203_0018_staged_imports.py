"""An import writes its questions in short transactions, staged (``import_id`` set on questions and
question_versions, invisible to every read) until one last transaction publishes them; table
question_imports lists the imports under way, so that what a dead one staged can be deleted.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAGED = sa.text("import_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "question_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_imports")),
    )
    for table in ("questions", "question_versions"):
        op.add_column(table, sa.Column("import_id", sa.Integer(), nullable=True))
        op.create_index(f"ix_{table}_staged", table, ["import_id"], sqlite_where=_STAGED, postgresql_where=_STAGED)


def downgrade() -> None:
    # Rows still staged belong to no finished import: without the column they would become visible.
    op.execute(sa.text("DELETE FROM question_versions WHERE import_id IS NOT NULL"))
    op.execute(
        sa.text("DELETE FROM question_tags WHERE question_id IN (SELECT id FROM questions WHERE import_id IS NOT NULL)")
    )
    op.execute(sa.text("DELETE FROM questions WHERE import_id IS NOT NULL"))
    for table in ("question_versions", "questions"):
        op.drop_index(f"ix_{table}_staged", table_name=table)
        op.drop_column(table, "import_id")
    op.drop_table("question_imports")
