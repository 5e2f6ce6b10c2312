"""Community: accounts, sessions, API tokens, upvotes, comments, organization members, authorship claims,
collections, and the rate-limit counters every web worker shares.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "name", sa.String(96), nullable=False, unique=True
        ),  # the handle, as in papers.submitted_by
        sa.Column("email", sa.String(256), nullable=False, unique=True),
        sa.Column("fullname", sa.String(256), nullable=False, server_default=""),
        sa.Column("password_hash", sa.Text, nullable=False),  # argon2id, PHC string
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("is_moderator", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "sessions",
        # sha256 of the cookie value: a leaked database does not hand out live sessions.
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
    )
    op.create_index("sessions_user", "sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 of the token
        sa.Column("label", sa.String(96), nullable=False, server_default=""),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "votes",
        # The primary key is what makes an upvote idempotent under concurrency, on both backends.
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("votes_paper", "votes", ["paper_id", "created_at"])
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("comments.id")),  # one level of replies
        sa.Column("body", sa.Text, nullable=False),  # Markdown as written; HTML is rendered on read
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("edited_at", TIMESTAMP),
        sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),  # by a moderator
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),  # by its author
    )
    op.create_index("comments_paper", "comments", ["paper_id", "created_at"])
    op.create_table(
        "organization_members",
        sa.Column(
            "organization_id",
            sa.Integer,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),  # admin | member
        sa.Column("added_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author", sa.Text, nullable=False),  # the author entry, as listed on the paper
        sa.Column("status", sa.String(16), nullable=False),  # pending | approved | rejected
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("decided_at", TIMESTAMP),
        sa.Column("decided_by", sa.Integer, sa.ForeignKey("users.id")),
        sa.UniqueConstraint("paper_id", "author", "user_id", name="claims_once"),
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("is_public", sa.Boolean, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="collections_name_once"),
    )
    op.create_table(
        "collection_items",
        sa.Column(
            "collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("added_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "rate_limits",
        # One fixed window per (action, who): every web worker counts in the same row.
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
    )
