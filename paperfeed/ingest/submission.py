"""What a submission is, without any network: the id check, the one-submission-per-paper rule and its
refusals, and ``request_submission``, the web's way in.

A member's submission never waits on arXiv: a paper stored already goes on the feed at once; any other is
queued (``storage/submissions.py``) and the worker's ``submissions`` job fetches it
(``ingest/submit.py``, ``fetch_queued``). Nothing here imports an HTTP client, so the web cannot reach one
through this module (tests/test_outbound.py checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from paperfeed.arxiv_ids import BadArxivId, parse_arxiv_id
from paperfeed.models import Paper, QueuedSubmission
from paperfeed.storage import Database
from paperfeed.storage import papers as paper_store
from paperfeed.storage import submissions as queue

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


def checked(arxiv_id: str, by: str | None) -> tuple[str, str | None]:
    try:
        paper_id = parse_arxiv_id(arxiv_id)[0]
    except BadArxivId as exc:
        raise SubmitError("bad_id", f"cannot submit: {exc}") from exc
    name = (by or "").strip() or None
    if name is not None and len(name) > MAX_NAME:
        raise SubmitError("bad_name", f"cannot submit {paper_id}: names are at most {MAX_NAME} characters")
    return paper_id, name


def already(paper: Paper | None) -> SubmitError:
    if paper is None or paper.submitted_at is None:
        return SubmitError("already_submitted", "this paper was already submitted")
    who = f" by {paper.submitted_by}" if paper.submitted_by else ""
    when = paper.submitted_at.strftime("%Y-%m-%d %H:%M UTC")
    return SubmitError(
        "already_submitted",
        f"{paper.id} was already submitted{who} on {when}; it is on the feed of {paper.feed_day}",
    )


def waiting(entry: QueuedSubmission) -> SubmitError:
    when = entry.created_at.strftime("%Y-%m-%d %H:%M UTC")
    return SubmitError(
        "already_submitted",
        f"{entry.paper_id} was already submitted by {entry.submitted_by} on {when}; "
        "it is waiting to be fetched from arXiv",
    )


def request_submission(
    db: Database, arxiv_id: str, user_id: int, by: str, now: datetime | None = None
) -> Submission | QueuedSubmission:
    """A member's submission, answered without asking arXiv anything: a stored paper goes on the feed at
    once (its Submission); any other is queued for the worker (its QueuedSubmission, pending). Refused
    (SubmitError) as ``submit_paper`` refuses: a bad id, a paper submitted or waiting already."""
    now = now or datetime.now(UTC)
    paper_id, name = checked(arxiv_id, by)
    stored = paper_store.paper(db, paper_id)
    if stored is not None:
        if stored.submitted_at is not None or not paper_store.mark_submitted(db, paper_id, name, now):
            raise already(paper_store.paper(db, paper_id) or stored)
        result = paper_store.paper(db, paper_id)
        assert result is not None  # stored above, and papers are never deleted
        return Submission(result, False)
    entry, queued = queue.enqueue(db, paper_id, user_id, now)
    if not queued:
        raise already(paper_store.paper(db, paper_id)) if entry.status == queue.DONE else waiting(entry)
    return entry
