"""All SQL about the lists readers browse: which papers a list holds in a period, in which order, and which
days around it have papers.

A list is a ``Selection``: everything harvested, or only the curated papers (those a member submitted or a
curator picked, ``papers.submitted_at`` set), optionally narrowed to some arXiv categories (a union) or one
submitter. The sort orders are one table, ``SORTS``; trending's SQL (and trending by stars, ``storage/links.py``)
is documented in docs/trending.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from paperfeed.models import Paper
from paperfeed.storage.db import Database
from paperfeed.storage.links import STARS_WINDOW_DAYS, star_gain
from paperfeed.storage.papers import paper_of_row, paper_query
from paperfeed.storage.schema import papers, repos, votes

Sort = Literal["upvotes", "published", "trending", "stars"]


@dataclass(frozen=True, slots=True)
class SortOrder:
    """One order of a list of papers: its name in URLs (``?sort=``), its label on the pages, its name in
    the HF-shaped API (``/api/daily_papers?sort=``), what it means, and its SQL."""

    name: Sort
    label: str
    api_name: str
    help: str
    order: Callable[[Database, datetime], list[Any]]


@dataclass(frozen=True, slots=True)
class Selection:
    """Which papers a list shows, whatever the period: ``curated`` only, or everything; the papers of any
    of ``categories`` (none: every category); those ``submitter`` submitted."""

    curated: bool = False
    categories: tuple[str, ...] = ()
    submitter: str | None = None


EVERYTHING = Selection()


# Each question below is one statement per dialect and *shape* of selection (curated or not, with
# categories or not, with a submitter or not), built once with the selection's values, days and page as
# bind parameters: building these statements and their cache keys cost more than running them (a signed-in
# feed page asks five). Only the orders that depend on the time (trending) are built at each call.


def _where(dialect: str, curated: bool, categories: bool, submitter: bool) -> list[Any]:
    """A selection's conditions, its values as the bind parameters ``_values`` fills."""
    conditions: list[Any] = []
    if curated:
        conditions.append(papers.c.submitted_at.is_not(None))
    if submitter:
        conditions.append(papers.c.submitted_by == sa.bindparam("submitter"))
    if categories:
        conditions.append(_in_categories(dialect))
    return conditions


def _shape(db: Database, selection: Selection) -> tuple[str, bool, bool, bool]:
    return db.dialect, selection.curated, bool(selection.categories), selection.submitter is not None


def _values(selection: Selection, **more: Any) -> dict[str, Any]:
    values = dict(more)
    if selection.categories:
        values["categories"] = list(selection.categories)
    if selection.submitter is not None:
        values["submitter"] = selection.submitter
    return values


def _in_categories(dialect: str) -> Any:
    """Whether a paper's JSON list of categories holds any of the selection's (SQLite's json_each,
    PostgreSQL's jsonb_array_elements_text): within a period's few hundred papers a scan costs little, and
    the import stays one row per paper."""
    if dialect == "postgresql":
        each = sa.func.jsonb_array_elements_text(papers.c.categories).table_valued("value")
    else:
        each = sa.func.json_each(papers.c.categories).table_valued("value")
    return sa.exists(
        sa.select(1).select_from(each).where(each.c.value.in_(sa.bindparam("categories", expanding=True)))
    )


_IN_PERIOD = papers.c.feed_day.between(sa.bindparam("start"), sa.bindparam("end"))
_TIMELESS: tuple[Sort, ...] = ("upvotes", "published")  # orders whose SQL does not depend on the time


def _feed_query(shape: tuple[str, bool, bool, bool], order: list[Any]) -> sa.Select[Any]:
    return (
        paper_query()
        .where(_IN_PERIOD, *_where(*shape))
        .order_by(*order)
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )


_FEED_QUERIES: dict[tuple[tuple[str, bool, bool, bool], Sort], sa.Select[Any]] = {}  # the timeless ones


@functools.cache
def _day_query(shape: tuple[str, bool, bool, bool], question: str) -> sa.Select[Any]:
    conditions = _where(*shape)
    if question == "count":
        return sa.select(sa.func.count()).where(_IN_PERIOD, *conditions)
    if question == "latest":
        return sa.select(sa.func.max(papers.c.feed_day)).where(*conditions)
    if question == "before":
        return sa.select(sa.func.max(papers.c.feed_day)).where(
            papers.c.feed_day < sa.bindparam("day"), *conditions
        )
    if question == "after":
        return sa.select(sa.func.min(papers.c.feed_day)).where(
            papers.c.feed_day > sa.bindparam("day"), *conditions
        )
    assert question == "around"
    before = sa.select(sa.func.max(papers.c.feed_day)).where(
        papers.c.feed_day < sa.bindparam("start"), *conditions
    )
    after = sa.select(sa.func.min(papers.c.feed_day)).where(
        papers.c.feed_day > sa.bindparam("end"), *conditions
    )
    count = sa.select(sa.func.count()).where(_IN_PERIOD, *conditions)
    return sa.select(before.scalar_subquery(), after.scalar_subquery(), count.scalar_subquery())


def feed_papers(
    db: Database,
    start: date,
    end: date,
    sort: Sort = "upvotes",
    limit: int = 50,
    offset: int = 0,
    selection: Selection = EVERYTHING,
    now: datetime | None = None,
) -> list[Paper]:
    """The selection's papers whose feed day lies in [start, end], best first."""
    shape = _shape(db, selection)
    query = _FEED_QUERIES.get((shape, sort))
    if query is None:
        query = _feed_query(shape, SORTS[sort].order(db, now or datetime.now(UTC)))
        if sort in _TIMELESS:
            _FEED_QUERIES[shape, sort] = query
    values = _values(selection, start=start, end=end, limit=limit, offset=offset)
    with db.read() as conn:
        return [paper_of_row(r) for r in conn.execute(query, values)]


def _day_answer(db: Database, selection: Selection, question: str, **values: Any) -> Any:
    with db.read() as conn:
        return conn.execute(
            _day_query(_shape(db, selection), question), _values(selection, **values)
        ).scalar_one()


def around(
    db: Database, start: date, end: date, selection: Selection = EVERYTHING
) -> tuple[date | None, date | None, int]:
    """What a feed page shows around its list, in one question: the closest earlier day with papers, the
    closest later one, and how many papers [start, end] holds (``previous_day(start)``, ``next_day(end)``,
    ``count_feed_papers``)."""
    with db.read() as conn:
        query = _day_query(_shape(db, selection), "around")
        before, after, count = conn.execute(query, _values(selection, start=start, end=end)).one()
    return before, after, int(count)


def count_feed_papers(db: Database, start: date, end: date, selection: Selection = EVERYTHING) -> int:
    return int(_day_answer(db, selection, "count", start=start, end=end))


def latest_day(db: Database, selection: Selection = EVERYTHING) -> date | None:
    """The newest day on which the selection has papers."""
    found: date | None = _day_answer(db, selection, "latest")
    return found


def previous_day(db: Database, day: date, selection: Selection = EVERYTHING) -> date | None:
    """The closest earlier day on which the selection has papers (weekends and holidays have none)."""
    found: date | None = _day_answer(db, selection, "before", day=day)
    return found


def next_day(db: Database, day: date, selection: Selection = EVERYTHING) -> date | None:
    found: date | None = _day_answer(db, selection, "after", day=day)
    return found


def recent_days(db: Database, count: int, selection: Selection = EVERYTHING) -> list[date]:
    """The newest ``count`` days on which the selection has papers, newest first (For-you's default
    period: a quiet or old installation still has a week of papers)."""
    query = (
        sa.select(papers.c.feed_day)
        .where(*_where(*_shape(db, selection)))
        .group_by(papers.c.feed_day)
        .order_by(papers.c.feed_day.desc())
        .limit(count)
    )
    with db.read() as conn:
        return list(conn.execute(query, _values(selection)).scalars())


def period_stamp(db: Database, start: date, end: date, selection: Selection = EVERYTHING) -> tuple[int, int]:
    """(how many papers, their newest revision) in [start, end]: it changes whenever a paper joins,
    leaves or is updated, so a cache of the period's papers keyed by it is never stale in what it ranks."""
    query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(papers.c.rev), 0)).where(
        papers.c.feed_day.between(start, end), *_where(*_shape(db, selection))
    )
    with db.read() as conn:
        count, rev = conn.execute(query, _values(selection)).one()
        return int(count), int(rev)


# -- trending -----------------------------------------------------------------------------------------------

TRENDING_GRAVITY_HOURS = 2.0
TRENDING_WINDOW_HOURS = 24  # votes cast this recently count twice: upvote velocity


def _recent_votes(now: datetime) -> sa.ScalarSelect[Any]:
    since = now - timedelta(hours=TRENDING_WINDOW_HOURS)
    return (
        sa.select(sa.func.count())
        .where(votes.c.paper_id == papers.c.id, votes.c.created_at >= since)
        .scalar_subquery()
    )


def trending_score(db: Database, now: datetime) -> sa.ColumnElement[float]:
    """(upvotes + votes of the last 24 h + 2·comments + 1) / (hours since the paper entered the feed + 2).

    Votes and discussion raise a paper, recent votes (its velocity) twice; age pulls it down
    hyperbolically, so a fresh paper with a few votes can pass an older one with more. docs/trending.md
    explains the choice; paperfeed.trending shows the numbers for one paper.
    """
    entered = sa.func.coalesce(papers.c.submitted_at, papers.c.published_at, papers.c.ingested_at)
    if db.dialect == "postgresql":
        age_hours: Any = sa.extract("epoch", sa.literal(now) - entered) / 3600.0
    else:
        age_hours = (
            sa.func.julianday(sa.literal(now.astimezone(UTC).replace(tzinfo=None)))
            - sa.func.julianday(entered)
        ) * 24.0
    age_hours = sa.func.max(age_hours, 0.0) if db.dialect == "sqlite" else sa.func.greatest(age_hours, 0.0)
    weight = papers.c.upvotes + _recent_votes(now) + 2 * papers.c.num_comments + 1.0
    return weight / (age_hours + TRENDING_GRAVITY_HOURS)


def trending_numbers(db: Database, paper_id: str, now: datetime) -> tuple[int, int, int, float, float] | None:
    """(upvotes, votes in the window, comments, hours on the feed, score) of one paper: the numbers
    behind its place in ``sort=trending``, computed by the same SQL expression."""
    entered = sa.func.coalesce(papers.c.submitted_at, papers.c.published_at, papers.c.ingested_at)
    query = sa.select(
        papers.c.upvotes,
        _recent_votes(now),
        papers.c.num_comments,
        entered,
        trending_score(db, now),
    ).where(papers.c.id == paper_id)
    with db.read() as conn:
        row = conn.execute(query).one_or_none()
    if row is None:
        return None
    at = row[3] if isinstance(row[3], datetime) else datetime.fromisoformat(str(row[3]))
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    age = max((now - at).total_seconds() / 3600.0, 0.0)
    return int(row[0]), int(row[1]), int(row[2]), age, float(row[4])


# The one table of sort orders; the first is the pages' and feeds' default.
SORTS: dict[Sort, SortOrder] = {
    s.name: s
    for s in (
        SortOrder(
            "upvotes",
            "Most upvoted",
            "upvotes",
            "most upvoted first",
            lambda db, now: [papers.c.upvotes.desc(), papers.c.published_at.desc().nulls_last(), papers.c.id],
        ),
        SortOrder(
            "published",
            "Newest",
            "publishedAt",
            "newest on arXiv first",
            lambda db, now: [papers.c.published_at.desc().nulls_last(), papers.c.id],
        ),
        SortOrder(
            "trending",
            "Trending",
            "trending",
            "trending first (votes and comments against age, docs/trending.md)",
            lambda db, now: [trending_score(db, now).desc(), papers.c.id],
        ),
        SortOrder(
            "stars",
            "Trending on GitHub",
            "githubStars",
            f"most GitHub stars gained in {STARS_WINDOW_DAYS} days first, papers without a repository last "
            "(docs/trending.md)",
            lambda db, now: [
                star_gain(now).desc().nulls_last(),
                repos.c.stars.desc().nulls_last(),
                repos.c.id.is_(None),  # a repository not counted yet before no repository
                papers.c.published_at.desc().nulls_last(),
                papers.c.id,
            ],
        ),
    )
}
