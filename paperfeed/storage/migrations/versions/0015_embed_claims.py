"""Embedding claims: the batches of papers workers have taken to embed, so several can embed at once.

A claim is a stretch of papers in ``(rev, id)`` order, from just after ``(after_rev, after_id)`` up to and
including ``(upto_rev, upto_id)``, held by one worker until ``expires_at`` (renewed while it works). Claims
follow one another without a gap from the job's position in ``job_positions``; finished ones at its front
are folded into that position and deleted.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "embed_claims",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job", sa.String(64), nullable=False),  # job_positions.name: 'embed:<model>:<recipe>:kp<n>'
        sa.Column("after_rev", sa.BigInteger, nullable=False),
        sa.Column("after_id", sa.String(64), nullable=False),
        sa.Column("upto_rev", sa.BigInteger, nullable=False),
        sa.Column("upto_id", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),  # node:pid; '' when let go unfinished
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False, server_default=sa.false()),
        # Two claims never start at the same place: a guard under the position row's lock, which carves.
        sa.UniqueConstraint("job", "after_rev", "after_id", name="embed_claims_once"),
    )


def downgrade() -> None:
    op.drop_table("embed_claims")
