"""Papers, organizations, the change counter for derived indexes, import checkpoints, OAI-PMH harvests.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(96), nullable=False, unique=True),
        sa.Column("fullname", sa.String(256), nullable=False),
    )
    op.create_table(
        "papers",
        sa.Column("id", sa.String(64), primary_key=True),  # version-less arXiv id, or card-<hash>
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("authors", JSON, nullable=False),  # ordered display names
        sa.Column("num_authors", sa.Integer),
        sa.Column("categories", JSON, nullable=False),  # primary first
        sa.Column("primary_category", sa.String(32)),
        sa.Column("versions", JSON, nullable=False),  # [{"version": 1, "created": iso8601}, …]
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("published_at", TIMESTAMP),
        sa.Column("updated_at", TIMESTAMP),
        sa.Column("comments", sa.Text),
        sa.Column("journal_ref", sa.Text),
        sa.Column("doi", sa.Text),
        sa.Column("report_no", sa.Text),
        sa.Column("license", sa.Text),
        sa.Column("submitter", sa.Text),
        sa.Column("organization_id", sa.Integer, sa.ForeignKey("organizations.id")),
        sa.Column("feed_day", sa.Date, nullable=False),
        sa.Column("submitted_at", TIMESTAMP),
        sa.Column("submitted_by", sa.String(96)),
        sa.Column("upvotes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("num_comments", sa.Integer, nullable=False, server_default="0"),
        sa.Column("ingested_at", TIMESTAMP, nullable=False),
        # Bumped on every write; derived indexes catch up from the highest rev they have seen.
        sa.Column("rev", sa.BigInteger, nullable=False),
    )
    op.create_index("papers_feed_day", "papers", ["feed_day", "upvotes"])
    op.create_index("papers_rev", "papers", ["rev", "id"])  # keyset paging for derived indexes
    # Partial: most papers have neither, and a bulk import should not pay for indexing NULLs.
    for name, column in (("papers_organization", "organization_id"), ("papers_submitted_by", "submitted_by")):
        present = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "papers", [column], sqlite_where=present, postgresql_where=present)
    op.create_table(
        "counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ingest_checkpoints",  # how far a file import got, so a rerun after a kill skips ahead
        sa.Column("source", sa.Text, primary_key=True),  # path|size|mtime: a changed file starts over
        sa.Column("line", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "harvests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("metadata_prefix", sa.String(32), nullable=False),
        sa.Column("set_spec", sa.String(64), nullable=False, server_default=""),
        sa.Column("from_date", sa.String(10), nullable=False),
        sa.Column("until_date", sa.String(10), nullable=False, server_default=""),
        sa.Column("resumption_token", sa.Text),  # the next page to ask for; NULL before the first page
        sa.Column("pages", sa.Integer, nullable=False, server_default="0"),
        sa.Column("records", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False),  # running | done | failed
        sa.Column("error", sa.Text),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index(
        "harvests_window", "harvests", ["endpoint", "metadata_prefix", "set_spec", "from_date", "until_date"]
    )
