"""All SQL about what a reader did that their For-you ranking learns from, read together in one
transaction: their upvotes, the papers in their collections, their "more / less like this", the papers
they claimed (approved claims), what they follow, and what they have seen; and what the model reads of
the papers they liked or disliked outside the period (``paper_texts``).

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
from paperfeed.storage.schema import UTCDateTime, papers

MAX_LIKES = 200


@dataclass(frozen=True, slots=True)
class ReaderRows:
    """(paper id, kind, when) of each like, newest first: kind upvote | collection | more | claim; the
    papers marked "less"; the reader's follows, oldest first."""

    likes: list[tuple[str, str, datetime | None]]
    less: list[str]
    follows: list[Followed]
    seen: set[str]  # every paper they have seen, on any channel (storage/feedback.py)


# Written once as SQL both dialects read alike: building these with Core expressions on every call cost
# more than running them (as the digest's ledger found, storage/deliveries.py), and a digest run asks them
# for every member subscriber.
_LIKES = sa.text(
    "SELECT paper_id, kind, at FROM ("
    " SELECT paper_id, 'upvote' AS kind, created_at AS at FROM votes WHERE user_id = :user"
    " UNION ALL SELECT i.paper_id, 'collection', i.added_at FROM collection_items i"
    "  JOIN collections c ON c.id = i.collection_id WHERE c.user_id = :user"
    " UNION ALL SELECT paper_id, 'more', created_at FROM paper_feedback WHERE user_id = :user AND signal = 'more'"
    " UNION ALL SELECT paper_id, 'claim', created_at FROM claims WHERE user_id = :user AND status = 'approved'"
    ") AS likes ORDER BY at DESC LIMIT :limit"
).columns(sa.column("paper_id"), sa.column("kind"), sa.column("at", UTCDateTime()))
_SEEN = sa.text("SELECT paper_id FROM seen_papers WHERE user_id = :user")
_LESS = sa.text("SELECT paper_id FROM paper_feedback WHERE user_id = :user AND signal = 'less'")
_FOLLOWS = sa.text(
    "SELECT id, user_id, kind, value, key, created_at FROM follows WHERE user_id = :user ORDER BY id"
).columns(
    *(sa.column(c) for c in ("id", "user_id", "kind", "value", "key")), sa.column("created_at", UTCDateTime())
)


def reader_rows(db: Database, user_id: int, max_likes: int = MAX_LIKES) -> ReaderRows:
    with db.read() as conn:
        likes = [(r[0], r[1], r[2]) for r in conn.execute(_LIKES, {"user": user_id, "limit": max_likes})]
        less = list(conn.execute(_LESS, {"user": user_id}).scalars())
        followed = [Followed(*r) for r in conn.execute(_FOLLOWS, {"user": user_id})]
        seen = set(conn.execute(_SEEN, {"user": user_id}).scalars())
    return ReaderRows(likes, less, followed, seen)


@dataclass(frozen=True, slots=True)
class PaperText:
    """What the For-you model reads of a liked or disliked paper: its words, authors and categories."""

    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]


# Five columns of the papers table, not a whole Paper (its organization, links, summary, thumbnail and
# versions, joined and decoded): a reader's first visit reads a few dozen liked papers, for their words.
_TEXTS = sa.select(
    papers.c.id, papers.c.title, papers.c.abstract, papers.c.authors, papers.c.categories
).where(papers.c.id.in_(sa.bindparam("ids", expanding=True)))


def paper_texts(db: Database, ids: list[str]) -> list[PaperText]:
    """The stored papers among ``ids`` (in no particular order)."""
    if not ids:
        return []
    with db.read() as conn:
        return [PaperText(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(_TEXTS, {"ids": ids})]
