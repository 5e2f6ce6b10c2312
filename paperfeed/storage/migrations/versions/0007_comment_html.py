"""Comments keep the HTML rendered from their Markdown when they are written: rendering on every view let
a few hostile comments (thousands of unclosed brackets) multiply a page's cost.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from paperfeed import markdown

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade() -> None:
    op.add_column("comments", sa.Column("html", sa.Text))
    comments = sa.table(
        "comments", sa.column("id", sa.Integer), sa.column("body", sa.Text), sa.column("html")
    )
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(comments.c.id, comments.c.body)
            .where(comments.c.id > last)
            .order_by(comments.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            conn.execute(
                comments.update().where(comments.c.id == row.id).values(html=markdown.render(row.body))
            )
        last = rows[-1].id


def downgrade() -> None:
    op.drop_column("comments", "html")
