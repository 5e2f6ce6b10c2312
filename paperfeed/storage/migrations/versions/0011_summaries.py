"""Abstractive summaries: what the worker's ``summaries`` job got from the configured OpenAI-compatible
endpoint for a paper, with its provenance (model, when) and the hash of the abstract it summarised, so a
new arXiv version is summarised again.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_summaries",
        sa.Column(
            "paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_hash", sa.String(32), nullable=False),  # of title + abstract summarised
    )


def downgrade() -> None:
    op.drop_table("paper_summaries")
