"""``paperfeed ingest cards``: paper cards as the Daily Papers page shows them (title, summary, number of
authors, organization, date, upvotes) with no arXiv id. Each gets a stable id from its title, and enters the
feed on the day it is imported, as a community submission would."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from paperfeed.ingest.jsonlines import Progress, Stored, import_file
from paperfeed.ingest.normalize import BadRecord, clean_text
from paperfeed.models import ImportReport, Organization, Paper


def card_id(title: str) -> str:
    """A stable id from the title alone, so re-importing the same cards changes nothing."""
    digest = hashlib.blake2b(clean_text(title).casefold().encode(), digest_size=6).hexdigest()
    return f"card-{digest}"


def paper_from_card(card: Any, now: datetime) -> Paper:
    if not isinstance(card, Mapping):
        raise BadRecord(f"expected a JSON object, got {type(card).__name__}")
    title = card.get("title")
    if not isinstance(title, str) or not clean_text(title):
        raise BadRecord("missing field 'title'")
    summary = card.get("summary")
    paper_id = card_id(title)
    if not isinstance(summary, str) or not clean_text(summary):
        raise BadRecord(f"{paper_id}: missing field 'summary'")
    num_authors = card.get("num_authors")  # null on some real cards: unknown, not zero
    if num_authors is not None and (not isinstance(num_authors, int) or num_authors < 0):
        raise BadRecord(f"{paper_id}: field 'num_authors' must be a non-negative integer or null")
    upvotes = card.get("upvotes", 0)
    if not isinstance(upvotes, int) or upvotes < 0:
        raise BadRecord(f"{paper_id}: field 'upvotes' must be a non-negative integer")
    return Paper(
        id=paper_id,
        title=clean_text(title),
        abstract=clean_text(summary),
        authors=[],
        num_authors=num_authors,
        published_at=_published(card.get("published_at"), paper_id),
        organization=_organization(card.get("organization"), paper_id),
        submitted_at=now,
        upvotes=upvotes,
    )


def _published(value: Any, paper_id: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(str(value)), time(), UTC)
    except ValueError as exc:
        raise BadRecord(f"{paper_id}: field 'published_at' is not a date: {value!r}") from exc


def _organization(value: Any, paper_id: str) -> Organization | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        raise BadRecord(f"{paper_id}: field 'organization' needs a 'name'")
    name = clean_text(value["name"])
    return Organization(name, clean_text(value.get("fullname") or name))


def ingest_cards(
    db: Any, path: Path, progress: Progress | None = None, stored: Stored | None = None
) -> ImportReport:
    return import_file(db, path, paper_from_card, progress, stored=stored)
