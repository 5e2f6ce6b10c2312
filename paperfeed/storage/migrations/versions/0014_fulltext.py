"""Full text: what the worker's ``fulltext`` job made of arXiv's HTML rendering of a paper (Markdown, the
figures it names, the validators a conditional request sends back), the first figure's thumbnail, and
the shared pace of requests to arXiv (one row per service: when the next request may start, whichever
worker or job sends it).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "paper_fulltext",
        sa.Column(
            "paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("version", sa.Integer, nullable=False),  # the arXiv version the stored text is of
        # ok | partial (the page ended early: what it had) | none (arXiv has no HTML: 404) | malformed |
        # failed (not reached yet: a timeout, a 5xx)
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("markdown", sa.Text),  # sections, LaTeX, captions, references; null when none
        sa.Column("figures", sa.JSON, nullable=False),  # [{"url", "caption"}]: arXiv's image URLs, in order
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("fetched_at", TIMESTAMP),  # the last answer arXiv gave (200, 304, 404)
        sa.Column("next_fetch_at", TIMESTAMP, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),  # failed in a row
        sa.Column("message", sa.Text),  # what the last try met
    )
    # The job's question: whose text is due, soonest first.
    op.create_index("paper_fulltext_due", "paper_fulltext", ["next_fetch_at"])
    op.create_table(
        "paper_thumbnails",
        sa.Column(
            "paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        # In the database rather than on a disk: every web node serves it without shared storage, and
        # backups and 'migrate-db' carry it. A few KB each (WebP, at most 320x180).
        sa.Column("image", sa.LargeBinary, nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("source_url", sa.Text, nullable=False),  # the figure it was made from
        sa.Column("caption", sa.Text, nullable=False),  # the figure's caption: the image's alt text
        sa.Column("made_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "service_pace",
        sa.Column("service", sa.String(32), primary_key=True),
        # Seconds since the epoch (a float: the same arithmetic in SQLite and PostgreSQL) before which no
        # request to the service may start.
        sa.Column("next_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_pace")
    op.drop_table("paper_thumbnails")
    op.drop_index("paper_fulltext_due", "paper_fulltext")
    op.drop_table("paper_fulltext")
