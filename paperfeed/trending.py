"""Why a paper is trending: the numbers behind ``sort=trending`` for one paper, shown on its page
("Why trending") and at ``/api/papers/{id}/trending``. The score itself is ``storage.papers.trending_score``;
docs/trending.md documents it. ``why_stars`` does the same for ``sort=stars`` (stars gained by the paper's
repository, ``storage/links.py: star_gain``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from paperfeed.storage import Database, lists
from paperfeed.storage.links import StarGain, gain_of


@dataclass(frozen=True, slots=True)
class WhyTrending:
    upvotes: int
    recent_upvotes: int  # cast within window_hours: the velocity term
    comments: int
    age_hours: float
    score: float
    window_hours: int = lists.TRENDING_WINDOW_HOURS
    gravity_hours: float = lists.TRENDING_GRAVITY_HOURS


def why_trending(db: Database, paper_id: str, now: datetime | None = None) -> WhyTrending | None:
    found = lists.trending_numbers(db, paper_id, now or datetime.now(UTC))
    return WhyTrending(*found) if found else None


def why_stars(db: Database, paper_id: str, now: datetime | None = None) -> StarGain | None:
    """The numbers behind the paper's place in ``sort=stars``; None when it links no repository."""
    return gain_of(db, paper_id, now or datetime.now(UTC))
