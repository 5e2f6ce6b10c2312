"""Leases: which worker holds a job or a harvest window, until when; the row is the job's schedule too.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        # 'job:oai-harvest', 'harvest:<window>', 'job:search-index@<host>:<index folder>'
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column(
            "holder", sa.String(255), nullable=False
        ),  # node:pid of the worker holding it; '' when free
        # Until then nobody else may take it: renewed by the holder's heartbeat while it works; once the
        # work is done, the time the job is next due (so the row schedules the job as well as locking it).
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
