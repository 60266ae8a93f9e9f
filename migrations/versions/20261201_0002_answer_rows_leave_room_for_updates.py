"""Answer rows leave room in their pages for updates (PostgreSQL fillfactor 70).

Every answer row is created when the attempt starts and then updated by each save that touches it. In
full pages every update puts the new row version on another page and adds an index entry for it; with
room left PostgreSQL updates within the page (a HOT update: no index entry). Measured on the deadline
burst (5,000 final saves of 45 answers): PostgreSQL CPU 7.4 s → 6.3 s (docs/PERFORMANCE.md). SQLite has
no such setting.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE attempt_answers SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE attempt_answers RESET (fillfactor)")
