"""Each paper's authors by their normal name (``name_key``: no case, accents or extra spaces), one row per
(paper, author), so that an author's page, feed and follows find their papers through an index instead of
scanning every paper's JSON list of authors (at a million papers, seconds a request). Filled at import
(``storage/papers.py``) and here, once, for the papers already stored.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from paperfeed.storage.authors import author_keys

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    # Keyed by (key, paper_id): "the papers of this author" reads one range of the key, and the import
    # writes one b-tree (SQLite: WITHOUT ROWID, the key is the table). A paper's rows are found again by
    # its stored authors when a new version replaces them (storage/authors.py).
    op.create_table(
        "paper_authors",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column(
            "paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        sqlite_with_rowid=False,
    )
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    papers = sa.table("papers", sa.column("id", sa.String), sa.column("authors", sa.JSON))
    target = sa.table("paper_authors", sa.column("paper_id", sa.String), sa.column("key", sa.String))
    after = ""
    while True:
        rows = conn.execute(
            sa.select(papers.c.id, papers.c.authors)
            .where(papers.c.id > after)
            .order_by(papers.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        values = [
            {"paper_id": pid, "key": key} for pid, authors in rows for key in author_keys(authors or [])
        ]
        if values:
            conn.execute(target.insert(), values)
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_table("paper_authors")
