"""Outbound work moves to the worker: the queue of submissions waiting to be fetched from arXiv, and the
confirmation emails /subscribe asked for (``subscribers.confirm_due_at``), sent by the worker too.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer, primary_key=True),
        # Version-less arXiv id; a paper is submitted once, so one row per paper (a failed one is reused).
        sa.Column("paper_id", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),  # pending | done | failed
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),  # failed tries to reach arXiv
        sa.Column("message", sa.Text),  # why it failed, or why it still waits
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("next_try_at", TIMESTAMP, nullable=False),  # a pending row is not tried before this
    )
    # The worker takes pending rows by next_try_at; a member's page lists their own, newest first.
    op.create_index("submissions_due", "submissions", ["status", "next_try_at"])
    op.create_index("submissions_by_user", "submissions", ["user_id", "id"])
    # When a confirmation email is due: set by /subscribe, cleared by the worker once it is sent.
    op.add_column("subscribers", sa.Column("confirm_due_at", TIMESTAMP))
    op.create_index("subscribers_confirm_due", "subscribers", ["confirm_due_at"])


def downgrade() -> None:
    op.drop_index("subscribers_confirm_due", "subscribers")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("confirm_due_at")
    op.drop_table("submissions")
