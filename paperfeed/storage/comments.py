"""All SQL about comments: threads of one level, edits, author deletion, moderator hiding, and the
papers.num_comments counter kept in step (visible comments only) in the same transaction. Each comment
keeps its Markdown and the HTML rendered from it when it was written, so a view never renders.

A new comment (or an edit) notifies who it concerns in its own transaction (``storage/notifications.py``):
the caller passes the @handles it mentions, read from the Markdown by ``paperfeed.markdown.mentions``.

Like votes, counter changes leave papers.rev alone: comments are not in any search index.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paperfeed.models import Comment
from paperfeed.storage import notifications
from paperfeed.storage.db import Database
from paperfeed.storage.schema import comments, papers, users


class CommentError(ValueError):
    """A refused comment operation; the message says why."""


def add_comment(
    db: Database,
    paper_id: str,
    user_id: int,
    body: str,
    html: str,
    now: datetime,
    parent_id: int | None = None,
    mentions: Sequence[str] = (),
) -> Comment:
    with db.write() as conn:
        if conn.execute(sa.select(papers.c.id).where(papers.c.id == paper_id)).first() is None:
            raise KeyError(paper_id)
        if parent_id is not None:
            parent = conn.execute(
                sa.select(comments.c.paper_id, comments.c.parent_id).where(comments.c.id == parent_id)
            ).one_or_none()
            if parent is None or parent.paper_id != paper_id:
                raise CommentError(f"parentId: no comment {parent_id} on paper {paper_id}")
            if parent.parent_id is not None:
                raise CommentError("parentId: replies go one level deep; reply to the first comment")
        comment_id = conn.execute(
            comments.insert()
            .values(
                paper_id=paper_id, user_id=user_id, parent_id=parent_id, body=body, html=html, created_at=now
            )
            .returning(comments.c.id)
        ).scalar_one()
        _count(conn, paper_id, 1)
        notifications.for_comment(conn, comment_id, mentions, now)
    found = comment(db, comment_id)
    assert found is not None
    return found


def _count(conn: sa.Connection, paper_id: str, by: int) -> None:
    conn.execute(
        papers.update().where(papers.c.id == paper_id).values(num_comments=papers.c.num_comments + by)
    )


_SELECT = sa.select(comments, users.c.name.label("author")).select_from(
    comments.join(users, comments.c.user_id == users.c.id)
)


def _comment(row: Any) -> Comment:
    return Comment(
        row.id,
        row.paper_id,
        row.author,
        row.parent_id,
        row.body,
        row.html or "",
        row.created_at,
        row.edited_at,
        bool(row.hidden),
        bool(row.deleted),
    )


def comment(db: Database, comment_id: int) -> Comment | None:
    with db.read() as conn:
        row = conn.execute(_SELECT.where(comments.c.id == comment_id)).one_or_none()
    return _comment(row) if row else None


def paper_comments(db: Database, paper_id: str) -> list[Comment]:
    """Every comment on the paper, oldest first (hidden and deleted ones too: they keep their replies)."""
    with db.read() as conn:
        rows = conn.execute(
            _SELECT.where(comments.c.paper_id == paper_id).order_by(comments.c.created_at, comments.c.id)
        )
        return [_comment(r) for r in rows]


def edit_comment(
    db: Database,
    comment_id: int,
    user_id: int,
    body: str,
    html: str,
    now: datetime,
    mentions: Sequence[str] = (),
) -> Comment:
    with db.write() as conn:
        owner = _owner(conn, comment_id)
        if owner.user_id != user_id or owner.deleted:
            raise CommentError(f"comment {comment_id}: only its author can edit it")
        conn.execute(
            comments.update().where(comments.c.id == comment_id).values(body=body, html=html, edited_at=now)
        )
        notifications.for_comment(conn, comment_id, mentions, now)  # only members it newly mentions
    found = comment(db, comment_id)
    assert found is not None
    return found


def delete_comment(db: Database, comment_id: int, user_id: int) -> None:
    """The author deletes: the text goes, a placeholder stays so replies keep their place."""
    with db.write() as conn:
        owner = _owner(conn, comment_id)
        if owner.user_id != user_id:
            raise CommentError(f"comment {comment_id}: only its author can delete it")
        if not owner.deleted:
            conn.execute(
                comments.update().where(comments.c.id == comment_id).values(deleted=True, body="", html="")
            )
            if not owner.hidden:
                _count(conn, owner.paper_id, -1)


def set_hidden(db: Database, comment_id: int, hidden: bool) -> None:
    """A moderator hides (or shows again) a comment; the counter follows what readers can see."""
    with db.write() as conn:
        owner = _owner(conn, comment_id)
        if bool(owner.hidden) == hidden:
            return
        conn.execute(comments.update().where(comments.c.id == comment_id).values(hidden=hidden))
        if not owner.deleted:
            _count(conn, owner.paper_id, -1 if hidden else 1)


def _owner(conn: sa.Connection, comment_id: int) -> Any:
    row = conn.execute(
        sa.select(comments.c.user_id, comments.c.paper_id, comments.c.hidden, comments.c.deleted)
        .where(comments.c.id == comment_id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise KeyError(comment_id)
    return row
