"""Fetching submitted papers from arXiv: ``paperfeed submit`` at once (``submit_paper``), and the worker's
``submissions`` job for what members queued on the web (``fetch_queued``). Free of click on purpose.

The id is checked first (no request for something that is not an arXiv id); a paper not stored yet (or
one asked to be refreshed) is fetched through the arXiv API and stored; then ``mark_submitted`` puts it on
the feed of the day: the day it was first published, or the day it is submitted if later. A paper is
submitted once; a second submission is refused and says by whom and when (``ingest/submission.py`` holds
these rules, and the web's way in, which never fetches).

``fetch_queued`` fetches every due submission through the one client of its run (``paperfeed/outbound.py``),
up to ``ID_BATCH`` ids a request. When arXiv cannot be reached, every submission of that request counts a
failed try and waits (``outbound.backoff``); after ``attempts`` tries it fails, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from paperfeed.ingest.arxiv_api import ID_BATCH, ApiError, ArxivApi
from paperfeed.ingest.submission import Submission, SubmitError, already, checked, waiting
from paperfeed.models import QueuedSubmission
from paperfeed.outbound import backoff
from paperfeed.storage import Database
from paperfeed.storage import papers as paper_store
from paperfeed.storage import submissions as queue

__all__ = ["FetchReport", "Submission", "SubmitError", "fetch_queued", "submit_paper"]


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
    paper_id, name = checked(arxiv_id, by)
    stored = paper_store.paper(db, paper_id)
    if stored is not None and stored.submitted_at is not None:
        raise already(stored)
    queued = queue.submission(db, paper_id)
    if queued is not None and queued.status == queue.PENDING:
        raise waiting(queued)
    fetched = False
    if stored is None or refresh:
        _fetch(db, api, paper_id, now)
        fetched = True
    if not paper_store.mark_submitted(db, paper_id, name, now):
        # Someone else submitted it between our read and our write.
        raise already(paper_store.paper(db, paper_id) or stored)
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


@dataclass(slots=True)
class FetchReport:
    done: int = 0  # stored and on the feed
    failed: int = 0  # given up, each with its reason
    waiting: int = 0  # arXiv could not be reached: tried again later
    unreachable: str | None = None  # why arXiv could not be reached, when it could not

    def summary(self) -> str:
        return f"{self.done} submitted, {self.failed} failed, {self.waiting} waiting"


def fetch_queued(db: Database, api: ArxivApi, attempts: int, now: datetime | None = None) -> FetchReport:
    """Settle the queued submissions that are due: fetch the papers not stored yet (up to ``ID_BATCH`` ids a
    request, through ``api``'s one client), put each on the feed of the day it was submitted, and mark
    the unknown ones failed. When arXiv cannot be reached, the submissions of that request wait (their
    try counted, ``outbound.backoff``) or fail after ``attempts`` tries, and the run stops there."""
    now = now or datetime.now(UTC)
    report = FetchReport()
    seen: set[int] = set()
    while due := [e for e in queue.due(db, now, ID_BATCH) if e.id not in seen]:
        seen.update(e.id for e in due)
        missing = [e for e in due if paper_store.paper(db, e.paper_id) is None]
        for entry in (e for e in due if e not in missing):  # stored meanwhile (a harvest): no request
            _settle(db, entry, now, report)
        if not missing:
            continue
        try:
            found, problems = api.lookup([e.paper_id for e in missing])
        except ApiError as exc:
            retry_after = getattr(exc.__cause__, "retry_after", None)
            for entry in missing:
                tries = entry.attempts + 1
                if tries >= attempts:
                    message = (
                        f"cannot submit {entry.paper_id}: arXiv could not be reached ({tries} tries): {exc}"
                    )
                    queue.finish(db, entry.id, queue.FAILED, message, now)
                    report.failed += 1
                else:
                    wait = backoff(tries, retry_after)
                    message = (
                        f"arXiv could not be reached (try {tries} of {attempts}); trying again in "
                        f"{wait / 60:.0f} min: {exc}"
                    )
                    queue.try_later(db, entry.id, message, now + timedelta(seconds=wait), now)
                    report.waiting += 1
            report.unreachable = str(exc)
            return report
        mine = {p.id: p for p in found}
        paper_store.upsert_papers(db, [mine[e.paper_id] for e in missing if e.paper_id in mine], now)
        for entry in missing:
            if entry.paper_id in mine:
                _settle(db, entry, now, report)
                continue
            # Keep what says more than "not found" (an entry arXiv sent but we could not read, say).
            other = [p for p in problems if f"{entry.paper_id}:" in p and "not found on arXiv" not in p]
            detail = f" ({'; '.join(other)})" if other else ""
            message = f"cannot submit {entry.paper_id}: arXiv has no such paper{detail}"
            queue.finish(db, entry.id, queue.FAILED, message, now)
            report.failed += 1
    return report


def _settle(db: Database, entry: QueuedSubmission, now: datetime, report: FetchReport) -> None:
    """Put a queued paper, now stored, on the feed of the day it was submitted, in its member's name."""
    if not paper_store.mark_submitted(db, entry.paper_id, entry.submitted_by, entry.created_at):
        current = paper_store.paper(db, entry.paper_id)
        if current is None or current.submitted_by != entry.submitted_by:  # not our own earlier run
            queue.finish(db, entry.id, queue.FAILED, str(already(current)), now)
            report.failed += 1
            return
    queue.finish(db, entry.id, queue.DONE, None, now)
    report.done += 1
