"""All SQL about what a reader did that their For-you ranking learns from, read together in one
transaction: their upvotes, the papers in their collections, their "more / less like this", the papers
they claimed (approved claims), and what they follow.

Rows come back as plain tuples; ``paperfeed/foryou.py`` turns them into the model's ``Signals``. The most
recent ``MAX_LIKES`` likes are kept: older ones count little (a like halves every year) and a reader's
request must stay a few milliseconds however long they have been a member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from paperfeed.models import Followed
from paperfeed.storage.db import Database
from paperfeed.storage.schema import claims, collection_items, collections, follows, paper_feedback, votes

MAX_LIKES = 200


@dataclass(frozen=True, slots=True)
class ReaderRows:
    """(paper id, kind, when) of each like, newest first: kind upvote | collection | more | claim; the
    papers marked "less"; the reader's follows, oldest first."""

    likes: list[tuple[str, str, datetime | None]]
    less: list[str]
    follows: list[Followed]


def reader_rows(db: Database, user_id: int, max_likes: int = MAX_LIKES) -> ReaderRows:
    upvoted = sa.select(
        votes.c.paper_id, sa.literal("upvote").label("kind"), votes.c.created_at.label("at")
    ).where(votes.c.user_id == user_id)
    collected = (
        sa.select(
            collection_items.c.paper_id,
            sa.literal("collection").label("kind"),
            collection_items.c.added_at.label("at"),
        )
        .join(collections, collections.c.id == collection_items.c.collection_id)
        .where(collections.c.user_id == user_id)
    )
    more = sa.select(
        paper_feedback.c.paper_id, sa.literal("more").label("kind"), paper_feedback.c.created_at.label("at")
    ).where(paper_feedback.c.user_id == user_id, paper_feedback.c.signal == "more")
    claimed = sa.select(
        claims.c.paper_id, sa.literal("claim").label("kind"), claims.c.created_at.label("at")
    ).where(claims.c.user_id == user_id, claims.c.status == "approved")
    every = sa.union_all(upvoted, collected, more, claimed).subquery()
    query = sa.select(every.c.paper_id, every.c.kind, every.c.at).order_by(every.c.at.desc()).limit(max_likes)
    with db.read() as conn:
        likes = [(r.paper_id, r.kind, r.at) for r in conn.execute(query)]
        less = list(
            conn.execute(
                sa.select(paper_feedback.c.paper_id).where(
                    paper_feedback.c.user_id == user_id, paper_feedback.c.signal == "less"
                )
            ).scalars()
        )
        rows = conn.execute(sa.select(follows).where(follows.c.user_id == user_id).order_by(follows.c.id))
        followed = [Followed(r.id, r.user_id, r.kind, r.value, r.key, r.created_at) for r in rows]
    return ReaderRows(likes, less, followed)
