"""Submitting one paper to the feed, as a member does: ``paperfeed submit`` and, later, the web form.

The id is checked first (no request for something that is not an arXiv id); a paper not stored yet (or
one asked to be refreshed) is fetched through the arXiv API and stored; then ``mark_submitted`` puts it on
the feed of the day: the day it was first published, or the day it is submitted if later. A paper is
submitted once; a second submission is refused and says by whom and when. Free of click on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from paperfeed.arxiv_ids import BadArxivId, parse_arxiv_id
from paperfeed.ingest.arxiv_api import ApiError, ArxivApi
from paperfeed.models import Paper
from paperfeed.storage import Database
from paperfeed.storage import papers as paper_store

Reason = Literal["bad_id", "bad_name", "already_submitted", "not_found", "unavailable"]
MAX_NAME = 96  # papers.submitted_by


class SubmitError(ValueError):
    """A refused submission; ``reason`` lets a web form choose its status code, the message is for people."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


@dataclass(frozen=True, slots=True)
class Submission:
    paper: Paper  # as stored after the submission: feed_day, submitted_at, submitted_by set
    fetched: bool  # True when this call fetched it from the arXiv API


def submit_paper(
    db: Database,
    api: ArxivApi | None,
    arxiv_id: str,
    by: str | None = None,
    now: datetime | None = None,
    refresh: bool = False,
) -> Submission:
    """Put one arXiv paper on the feed. ``api`` may be None when the paper is known to be stored."""
    now = now or datetime.now(UTC)
    try:
        paper_id = parse_arxiv_id(arxiv_id)[0]
    except BadArxivId as exc:
        raise SubmitError("bad_id", f"cannot submit: {exc}") from exc
    name = (by or "").strip() or None
    if name is not None and len(name) > MAX_NAME:
        raise SubmitError("bad_name", f"cannot submit {paper_id}: names are at most {MAX_NAME} characters")
    stored = paper_store.paper(db, paper_id)
    if stored is not None and stored.submitted_at is not None:
        raise _already(stored)
    fetched = False
    if stored is None or refresh:
        _fetch(db, api, paper_id, now)
        fetched = True
    if not paper_store.mark_submitted(db, paper_id, name, now):
        # Someone else submitted it between our read and our write.
        raise _already(paper_store.paper(db, paper_id) or stored)
    result = paper_store.paper(db, paper_id)
    assert result is not None  # stored above, and papers are never deleted
    return Submission(result, fetched)


def _fetch(db: Database, api: ArxivApi | None, paper_id: str, now: datetime) -> None:
    if api is None:
        raise SubmitError("unavailable", f"cannot submit {paper_id}: it is not stored, and no arXiv client")
    try:
        found, problems = api.lookup([paper_id])
    except ApiError as exc:
        message = f"cannot submit {paper_id}: fetching it from arXiv failed: {exc}"
        raise SubmitError("unavailable", message) from exc
    mine = [p for p in found if p.id == paper_id]
    if not mine:
        # Keep what says more than "not found" (an entry arXiv sent but we could not read, say).
        other = [p for p in problems if not p.endswith(": not found on arXiv")]
        detail = f" ({'; '.join(other)})" if other else ""
        raise SubmitError("not_found", f"cannot submit {paper_id}: arXiv has no such paper{detail}")
    paper_store.upsert_papers(db, mine, now)


def _already(paper: Paper | None) -> SubmitError:
    if paper is None or paper.submitted_at is None:
        return SubmitError("already_submitted", "this paper was already submitted")
    who = f" by {paper.submitted_by}" if paper.submitted_by else ""
    when = paper.submitted_at.strftime("%Y-%m-%d %H:%M UTC")
    return SubmitError(
        "already_submitted",
        f"{paper.id} was already submitted{who} on {when}; it is on the feed of {paper.feed_day}",
    )
