"""Search: a dense vector per paper (what the vector index is derived from), keywords per paper, and
the positions of jobs that walk the papers in change order.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("papers", sa.Column("keywords", JSON))  # filled by 'paperfeed index'
    op.create_table(
        "paper_embeddings",
        sa.Column(
            "paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        # The paper's key in vector indexes (a 63-bit hash of the id): maps search hits back to papers.
        sa.Column("key", sa.BigInteger, nullable=False, unique=True),
        sa.Column("model", sa.String(128), nullable=False),
        # Of the text that was embedded: a new version with the same title and abstract keeps its vector.
        sa.Column("text_hash", sa.String(32), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),  # float16, little-endian
        sa.Column("rev", sa.BigInteger, nullable=False),  # change number: the vector index catches up by it
    )
    op.create_index("paper_embeddings_rev", "paper_embeddings", ["rev", "paper_id"])
    op.create_table(
        "job_positions",  # how far a job that walks papers in (rev, id) order got; shared by all workers
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("rev", sa.BigInteger, nullable=False),
        sa.Column("last_id", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
