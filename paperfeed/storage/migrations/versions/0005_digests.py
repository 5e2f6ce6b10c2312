"""Email digests: subscribers (double opt-in), what they follow, the delivery ledger that makes sending
idempotent, the papers each subscriber was already sent, and the sender processes (to tell a crashed
sender's in-flight deliveries from a live one's).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),  # normalised: trimmed, lower case
        sa.Column("user_id", sa.Integer),  # the account it belongs to, once accounts exist (issue #4)
        sa.Column("frequency", sa.String(8), nullable=False),  # daily | weekly
        sa.Column("status", sa.String(12), nullable=False),  # pending | active | suppressed
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        # Only the SHA-256 of the emailed token is kept: a leaked database confirms nobody.
        sa.Column("confirm_token_hash", sa.String(64), unique=True),
        sa.Column("confirm_expires_at", TIMESTAMP),
        sa.Column("confirm_sent_at", TIMESTAMP),  # rate-limits resends to one address
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("confirmed_at", TIMESTAMP),
        sa.Column("suppressed_at", TIMESTAMP),
        sa.Column("suppressed_reason", sa.String(32)),  # unsubscribed | bounced
    )
    # The sender pages through the active subscribers of one frequency in id order.
    op.create_index("subscribers_sendable", "subscribers", ["frequency", "status", "id"])
    op.create_table(
        "subscriber_follows",
        sa.Column(
            "subscriber_id",
            sa.Integer,
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(16), primary_key=True),  # topic | author | organization
        sa.Column("value", sa.String(256), primary_key=True),
    )
    op.create_table(
        "digest_senders",  # one row per 'digest send' process, alive while its heartbeat is fresh
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("process_start", sa.String(32), nullable=False),  # tells a reused pid from the sender
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP),
    )
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("period", sa.String(24), nullable=False),  # daily:2026-08-20 | weekly:2026-W34
        # claimed → sent | unknown (crashed mid-send: never resent) | retry (transient) | failed | empty
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("sender_id", sa.String(36)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("claimed_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP),
        sa.Column("message_id", sa.String(255)),
        sa.Column("error", sa.Text),
        # The claim: whoever inserts this row first sends that digest; nobody else ever does.
        sa.UniqueConstraint("subscriber_id", "period", name="digest_deliveries_once"),
    )
    op.create_index("digest_deliveries_period", "digest_deliveries", ["period", "status"])
    op.create_index("digest_deliveries_sender", "digest_deliveries", ["sender_id", "status"])
    op.create_table(
        "digest_papers",  # a paper sent to a subscriber is never sent to them again
        sa.Column(
            "subscriber_id",
            sa.Integer,
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("paper_id", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(24), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "digest_papers",
        "digest_deliveries",
        "digest_senders",
        "subscriber_follows",
        "subscribers",
    ):
        op.drop_table(table)
