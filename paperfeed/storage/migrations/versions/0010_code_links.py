"""Code links and stars: each paper's repository and project page (found at import, or set by a member who
may), the repositories the worker's ``github-stars`` job checks (stars, ETag, empty or missing), their
star history (for "trending by stars"), and pauses a third party asked for (GitHub's rate limit).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "paper_links",
        sa.Column(
            "paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("repo_url", sa.Text),  # canonical: https://github.com/owner/name (paperfeed/links.py)
        sa.Column("project_page", sa.Text),
        # abstract | comments (found at import) | member (set by an author or admin: imports never change it)
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("set_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("paper_links_repo", "paper_links", ["repo_url"])
    op.create_table(
        "repos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("url", sa.Text, nullable=False, unique=True),
        sa.Column("stars", sa.Integer),  # GitHub's stargazers_count at the last check; None before it
        sa.Column(
            "status", sa.String(12), nullable=False, server_default="unchecked"
        ),  # ok | empty | missing
        sa.Column("etag", sa.Text),  # for a conditional request: a 304 costs no rate limit
        sa.Column("message", sa.Text),  # what the last check met, when it was not a plain answer
        sa.Column("checked_at", TIMESTAMP),
        sa.Column("next_check_at", TIMESTAMP, nullable=False),
    )
    op.create_index("repos_due", "repos", ["next_check_at"])
    op.create_table(
        "repo_stars",
        sa.Column("repo_id", sa.Integer, sa.ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("at", TIMESTAMP, primary_key=True),
        sa.Column("stars", sa.Integer, nullable=False),
    )
    op.create_table(
        "service_pauses",
        sa.Column("service", sa.String(32), primary_key=True),
        sa.Column("until", TIMESTAMP, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_pauses")
    op.drop_table("repo_stars")
    op.drop_index("repos_due", "repos")
    op.drop_table("repos")
    op.drop_index("paper_links_repo", "paper_links")
    op.drop_table("paper_links")
