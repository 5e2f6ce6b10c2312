"""All SQL about upvotes: one row per (user, paper), and the papers.upvotes counter kept in step.

The primary key (user_id, paper_id) makes a vote idempotent: a second INSERT does nothing on either
backend, however many arrive at once, and the counter moves only when a row really went in or out, in
the same transaction. Counter changes leave papers.rev alone: votes are not in any search index.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import collection_items, collections, papers, votes


def upvote(db: Database, user_id: int, paper_id: str, now: datetime) -> tuple[bool, int]:
    """(whether this call added the vote, the paper's upvotes after it). KeyError for an unknown paper."""
    with db.write() as conn:
        stmt = upsert(conn, votes).values(user_id=user_id, paper_id=paper_id, created_at=now)
        added = conn.execute(stmt.on_conflict_do_nothing().returning(votes.c.user_id)).first() is not None
        return added, _bump(conn, paper_id, 1 if added else 0)


def remove_upvote(db: Database, user_id: int, paper_id: str) -> tuple[bool, int]:
    with db.write() as conn:
        gone = conn.execute(
            votes.delete()
            .where(votes.c.user_id == user_id, votes.c.paper_id == paper_id)
            .returning(votes.c.user_id)
        ).first()
        return gone is not None, _bump(conn, paper_id, -1 if gone else 0)


def _bump(conn: sa.Connection, paper_id: str, by: int) -> int:
    if by:
        conn.execute(papers.update().where(papers.c.id == paper_id).values(upvotes=papers.c.upvotes + by))
    count = conn.execute(sa.select(papers.c.upvotes).where(papers.c.id == paper_id)).scalar_one_or_none()
    if count is None:
        raise KeyError(paper_id)
    return int(count)


# Built once (asked on every signed-in page with cards); the primary key (user_id, paper_id) answers it.
_UPVOTED = sa.select(votes.c.paper_id).where(
    votes.c.user_id == sa.bindparam("user_id"), votes.c.paper_id.in_(sa.bindparam("ids", expanding=True))
)


def has_upvoted(db: Database, user_id: int, paper_ids: list[str]) -> set[str]:
    """Which of these papers the user has upvoted (to draw the buttons pressed): one query for a page."""
    if not paper_ids:
        return set()
    with db.read() as conn:
        return set(conn.execute(_UPVOTED, {"user_id": user_id, "ids": list(paper_ids)}).scalars())


def count_votes(db: Database, paper_id: str) -> int:
    """Votes counted from the rows themselves (the counter must always equal this)."""
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).where(votes.c.paper_id == paper_id)).scalar_one())


def votes_since(db: Database, paper_id: str, since: datetime) -> int:
    with db.read() as conn:
        query = sa.select(sa.func.count()).where(votes.c.paper_id == paper_id, votes.c.created_at >= since)
        return int(conn.execute(query).scalar_one())


def liked(db: Database, user_id: int, limit: int = 50) -> list[tuple[str, str]]:
    """(paper id, 'upvoted' | 'collected') of a member's most recent upvotes and collected papers."""
    upvoted = sa.select(
        votes.c.paper_id, sa.literal("upvoted").label("how"), votes.c.created_at.label("at")
    ).where(votes.c.user_id == user_id)
    collected = (
        sa.select(
            collection_items.c.paper_id,
            sa.literal("collected").label("how"),
            collection_items.c.added_at.label("at"),
        )
        .join(collections, collections.c.id == collection_items.c.collection_id)
        .where(collections.c.user_id == user_id)
    )
    both = sa.union_all(upvoted, collected).subquery()
    query = sa.select(both.c.paper_id, both.c.how).order_by(both.c.at.desc()).limit(limit)
    with db.read() as conn:
        return [(r.paper_id, r.how) for r in conn.execute(query)]
