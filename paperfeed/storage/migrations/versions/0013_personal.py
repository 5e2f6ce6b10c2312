"""A reader's own paperfeed: what they follow, their "more / less like this", the papers they have seen on
any channel, their notifications (and the kinds they switched off), and the private tokens of their
For-you feed.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def _user() -> sa.Column:
    return sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


def _paper(nullable: bool = False) -> sa.Column:
    return sa.Column(
        "paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer, primary_key=True),
        _user(),
        sa.Column("kind", sa.String(16), nullable=False),  # author | organization | category | search
        sa.Column("value", sa.String(512), nullable=False),  # as the member gave it, shown back
        sa.Column("key", sa.String(512), nullable=False),  # the value normalised: one follow per thing
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("user_id", "kind", "key", name="follows_once"),
    )
    # "who follows this author / category": new papers notify them and fill their feeds
    op.create_index("follows_by_thing", "follows", ["kind", "key"])
    op.create_table(
        "paper_feedback",
        _user(),
        _paper(),
        sa.Column("signal", sa.String(8), nullable=False),  # more | less
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "paper_id"),
    )
    op.create_table(
        "seen_papers",
        _user(),
        _paper(),
        sa.Column("via", sa.String(12), nullable=False),  # digest | opened | marked
        sa.Column("seen_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "paper_id"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True),
        _user(),
        sa.Column(
            "kind", sa.String(16), nullable=False
        ),  # reply | mention | claimed_comment | followed_author
        _paper(nullable=True),
        sa.Column("comment_id", sa.Integer, sa.ForeignKey("comments.id", ondelete="CASCADE")),
        sa.Column("actor_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("text", sa.Text, nullable=False, server_default=""),
        # what caused it (e.g. "comment:42"): one notification per cause, however often the job runs
        sa.Column("source", sa.String(160), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("read_at", TIMESTAMP),
        sa.Column("emailed_at", TIMESTAMP),  # sent in a digest's section: never twice
        sa.UniqueConstraint("user_id", "kind", "source", name="notifications_once"),
    )
    op.create_index("notifications_by_user", "notifications", ["user_id", "read_at", "id"])
    op.create_table(
        "notification_mutes",
        _user(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "kind"),
    )
    op.create_table(
        "feed_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        _user(),
        sa.Column(
            "token_hash", sa.String(64), nullable=False, unique=True
        ),  # sha256: the URL holds the token
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP),
    )


def downgrade() -> None:
    for name in ("feed_tokens", "notification_mutes", "notifications", "seen_papers", "paper_feedback"):
        op.drop_table(name)
    op.drop_index("follows_by_thing", table_name="follows")
    op.drop_table("follows")
