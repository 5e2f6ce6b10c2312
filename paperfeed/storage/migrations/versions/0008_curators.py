"""Curators: members who pick papers for the curated list (admins may too).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("is_curator", sa.Boolean, nullable=False, server_default=sa.false()))
    # The curated list's days: few papers among many, so a small partial index answers "latest day".
    present = sa.text("submitted_at IS NOT NULL")
    op.create_index(
        "papers_curated_day", "papers", ["feed_day"], sqlite_where=present, postgresql_where=present
    )


def downgrade() -> None:
    op.drop_index("papers_curated_day", "papers")
    op.drop_column("users", "is_curator")
