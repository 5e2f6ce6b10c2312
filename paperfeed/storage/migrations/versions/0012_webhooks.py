"""Outgoing webhooks: the endpoints members register, the delivery ledger the worker sends from, and how
far the worker has looked for new events in each source.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),  # whsec_…: the receiver verifies signatures with it
        sa.Column(
            "events", sa.JSON, nullable=False
        ),  # event types, e.g. ["paper.curated", "comment.created"]
        sa.Column("categories", sa.JSON, nullable=False),  # for paper.new: arXiv categories
        sa.Column("format", sa.String(12), nullable=False),  # json | slack | discord
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),  # in a row; reset by a success
        sa.Column("disabled_at", TIMESTAMP),  # after too many failures in a row; the member re-enables it
        sa.Column("last_status", sa.Text),  # the last delivery's outcome, shown to the member
        sa.Column("last_at", TIMESTAMP),
    )
    op.create_index("webhooks_by_user", "webhooks", ["user_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column(
            "id", sa.String(40), primary_key=True
        ),  # msg_…: the webhook-id header, the same on every try
        sa.Column("webhook_id", sa.Integer, sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_key", sa.String(160), nullable=False),  # type:subject: one delivery per endpoint
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),  # the JSON event, as signed (chat formats derive)
        sa.Column("status", sa.String(12), nullable=False),  # pending | sent | failed
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("due_at", TIMESTAMP, nullable=False),
        sa.Column("sent_at", TIMESTAMP),
        sa.Column("last_status", sa.Text),
        sa.UniqueConstraint("webhook_id", "event_key", name="webhook_deliveries_once"),
    )
    op.create_index("webhook_deliveries_due", "webhook_deliveries", ["status", "due_at"])
    op.create_table(
        "webhook_cursors",
        sa.Column("source", sa.String(32), primary_key=True),  # papers (rev), comments (id), submissions (id)
        sa.Column("position", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_cursors")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
