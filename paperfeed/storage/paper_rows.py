"""A paper as a row of the papers table, made without the database (no SQL here): ``prepare`` turns the
papers an import read into what ``papers.store_prepared`` writes, with their authors' keys and the code links
their text names. A bulk import prepares them in its reading process (ingest/reader.py), so that the
writer only writes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import orjson

from paperfeed.links import Found, find_links
from paperfeed.models import Organization, Paper, Version, feed_day_of
from paperfeed.storage.authors import author_keys

# Every column a stored paper's row sets, in the order _row builds it.
COLUMNS = (
    "id", "title", "abstract", "authors", "num_authors", "categories", "primary_category", "versions",
    "version", "published_at", "updated_at", "comments", "journal_ref", "doi", "report_no", "license",
    "submitter", "organization_id", "feed_day", "submitted_at", "submitted_by", "upvotes", "num_comments",
    "ingested_at", "rev",
)  # fmt: skip


class PreparedPaper(NamedTuple):
    """A paper as an import writes it: its row, its authors' keys and the code links its text names."""

    id: str
    version: int
    row: tuple[Any, ...]  # the papers row in COLUMNS order, without rev; organization_id is filled in
    organization: Organization | None  # at the write, which looks its id up
    # What UpsertCounts.written needs besides the row; None where the import asks for none (the reading
    # process then leaves them out of what it sends).
    authors: list[str] | None
    categories: list[str] | None
    feed_day: date | None
    author_keys: list[str]
    links: Found | None


def prepare(batch: Sequence[Paper], now: datetime, dialect: str) -> list[PreparedPaper]:
    """Papers made ready for ``store_prepared`` into a database of this dialect ('sqlite' or
    'postgresql'), ``now`` being the import's time (the feed day of a paper without one, ingested_at)."""
    ingested: Any
    if dialect == "sqlite":
        # Values converted here, by position, instead of by SQLAlchemy's per-value processors: bulk
        # imports spent a third of their time in those. The conversions are the ones they make.
        bind, ingested = _SQLITE, _sqlite_timestamp(now)
    else:
        bind, ingested = _AS_IS, now
    prepared = []
    for p in batch:
        day = p.feed_day or feed_day_of(p.published_at, p.submitted_at, now)
        prepared.append(
            PreparedPaper(
                p.id, p.version, _row(p, day, ingested, bind), p.organization, p.authors, p.categories, day,
                author_keys(p.authors), find_links(p.abstract, p.comments),
            )
        )  # fmt: skip
    return prepared


@dataclass(frozen=True, slots=True)
class _Binds:
    """How a dialect takes the values that are not plain strings and numbers."""

    timestamp: Callable[[datetime | None], Any]
    json: Callable[[list[str]], Any]
    versions: Callable[[list[Version]], Any]
    day: Callable[[date], Any]


def _row(p: Paper, day: date, ingested: Any, bind: _Binds) -> tuple[Any, ...]:
    """The paper's row, but its change number (the last column); its organization's id is None."""
    ts = bind.timestamp
    return (
        p.id,
        p.title,
        p.abstract,
        bind.json(p.authors),
        p.num_authors,
        bind.json(p.categories),
        p.categories[0] if p.categories else None,
        bind.versions(p.versions),
        p.version,
        ts(p.published_at),
        ts(p.updated_at),
        p.comments,
        p.journal_ref,
        p.doi,
        p.report_no,
        p.license,
        p.submitter,
        None,
        bind.day(day),
        ts(p.submitted_at),
        p.submitted_by,
        p.upvotes,
        p.num_comments,
        ingested,
    )


def _sqlite_timestamp(value: datetime | None) -> str | None:
    """UTC as naive ISO text, what SQLAlchemy's DateTime stores in SQLite."""
    if value is None:
        return None
    if value.tzinfo is UTC:  # what every source produces: drop the "+00:00" rather than convert
        return value.isoformat(" ", "microseconds")[:-6]
    if value.tzinfo is None:  # the same guard as UTCDateTime, which this path bypasses
        raise ValueError(f"naive datetime {value!r}: paperfeed stores UTC-aware timestamps only")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def json_text(value: Any) -> str:
    # orjson writes a Version as {"version": 1, "created": "<isoformat>"}, the same text as _versions.
    return orjson.dumps(value).decode()


def _versions(versions: list[Version]) -> list[dict[str, Any]]:
    return [{"version": v.version, "created": v.created.isoformat()} for v in versions]


def _same(value: Any) -> Any:
    return value


_SQLITE = _Binds(timestamp=_sqlite_timestamp, json=json_text, versions=json_text, day=date.isoformat)
_AS_IS = _Binds(timestamp=_same, json=_same, versions=_versions, day=_same)
