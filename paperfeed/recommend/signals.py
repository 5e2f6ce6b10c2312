"""What a reader told paperfeed, as plain data: the papers they liked (and how), the papers they wanted
less of, and what they follow. A new reader starts from seeds (``seeded``): a few arXiv ids, author
names, categories.

Nothing here reads the database: the web and the digest gather a reader's upvotes, collections,
feedback, claims and follows from storage and hand them in as ``Signals``.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from paperfeed.models import Follow

LikeKind = Literal["upvote", "collection", "more", "claim", "seed"]
LIKE_KINDS: tuple[LikeKind, ...] = ("upvote", "collection", "more", "claim", "seed")
# Follow kinds the model reads; models.Follow's "topic" (words a paper must contain) counts as well.
FOLLOW_KINDS = ("author", "organization", "category", "topic")

# How a liked paper reads in a reason: "close to X, which you upvoted".
VERB: dict[LikeKind, str] = {
    "upvote": "which you upvoted",
    "collection": "which you collected",
    "more": "which you asked more of",
    "claim": "which you wrote",
    "seed": "which you started from",
}


@dataclass(frozen=True, slots=True)
class Liked:
    """A paper the reader liked: upvoted, put in a collection, asked "more like this" of, claimed as
    its author, or named as a seed. ``at`` (when) lets old likes count less."""

    paper_id: str
    kind: LikeKind = "upvote"
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything one reader's ranking is learned from. ``disliked`` are "less like this" papers: never
    shown again, and their neighbours move down."""

    liked: tuple[Liked, ...] = ()
    disliked: tuple[str, ...] = ()
    follows: tuple[Follow, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.liked or self.disliked or self.follows)

    def paper_ids(self) -> set[str]:
        """The papers whose vectors and metadata the model needs besides the candidates."""
        return {like.paper_id for like in self.liked} | set(self.disliked)


def seeded(
    arxiv_ids: Iterable[str] = (),
    authors: Iterable[str] = (),
    categories: Iterable[str] = (),
    signals: Signals | None = None,
) -> Signals:
    """A new reader's starting point: seed papers count as liked, seed authors and categories as
    follows. Added to ``signals`` when given (a reader may seed on top of what they did)."""
    base = signals or Signals()
    liked = base.liked + tuple(Liked(i, "seed") for i in arxiv_ids)
    follows = (
        base.follows
        + tuple(Follow("author", a) for a in authors)
        + tuple(Follow("category", c) for c in categories)
    )
    return Signals(liked, base.disliked, follows)


@functools.lru_cache(maxsize=200_000)  # the same names recur in every reader's likes and every period
def name_key(name: str) -> str:
    """Author and organization names compare without case, accents or extra spaces (as the digest's
    author follows do)."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return " ".join(plain.replace(".", ". ").casefold().split())
