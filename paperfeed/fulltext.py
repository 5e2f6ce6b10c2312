"""Full text: the worker's ``fulltext`` job GETs arXiv's HTML rendering of the papers on the feed
(``PAPERFEED_ARXIV_HTML_URL`` + the versioned id, newest feed day first, ``PAPERFEED_FULLTEXT_BATCH`` a
run), turns it into Markdown (``paperfeed/latexml.py``), keeps it (``storage/fulltext.py``) with the code
repository the text names as its own (where none is known: ``paperfeed/links.py``), and makes the first
figure the paper's thumbnail (``paperfeed/thumbnails.py``). ``/papers/{id}.md`` serves the text.

Polite as every arXiv client here: one request at a time, the turn shared with every other arXiv request
of the database (``outbound.shared_turn``: ≥ 3 s apart across jobs and workers), conditional requests
with the stored ``ETag`` / ``Last-Modified`` (a 304 keeps the text). A 404 means arXiv has no HTML for
that version (some papers never get one): asked again after ``PAPERFEED_FULLTEXT_MISSING_RETRY``. A
429/503 stops the run and leaves arXiv's HTML alone for its ``Retry-After`` (``service_pauses``); no
answer or a 5xx stops it too, the paper waiting a minute, doubling. A page that is not a LaTeXML document
is recorded as malformed with the reason; one cut short is kept as far as it goes (``partial``). Each
paper's outcome is one transaction: a worker killed mid-run leaves the papers it had not finished due,
and the next run asks for them again. No web request waits on any of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx

from paperfeed import latexml, thumbnails
from paperfeed.ingest.http import ArxivHTTPError, PoliteClient, retry_after_seconds
from paperfeed.links import find_in_full_text
from paperfeed.outbound import backoff
from paperfeed.storage import Database
from paperfeed.storage import fulltext as store
from paperfeed.storage import links as link_store
from paperfeed.storage.fulltext import Due

SERVICE = "arxiv-html"  # its pause in service_pauses
ANSWERS = (200, 304, 404, 410, 429, 500, 502, 503, 504)
BUSY = (429, 503)


@dataclass(slots=True)
class FullTextReport:
    fetched: int = 0  # converted and stored (200)
    unchanged: int = 0  # 304
    missing: int = 0  # arXiv has no HTML rendering (404, 410)
    malformed: int = 0  # answered, but not a paper
    thumbnails: int = 0
    paused_until: datetime | None = None
    unreachable: str | None = None

    def summary(self) -> str:
        text = (
            f"{self.fetched} fetched, {self.unchanged} unchanged, {self.missing} without HTML, "
            f"{self.malformed} malformed, {self.thumbnails} thumbnails"
        )
        if self.paused_until is not None:
            text += f"; arXiv asked us to wait: left alone until {self.paused_until:%Y-%m-%d %H:%M:%S} UTC"
        return text


@dataclass(frozen=True, slots=True)
class Schedule:
    """How long each outcome waits before the paper is asked for again (seconds)."""

    refresh: float  # a stored text: a conditional request then
    missing_retry: float  # no HTML rendering yet


def _headers(paper: Due) -> dict[str, str]:
    headers = {"Accept": "text/html"}
    if paper.etag:
        headers["If-None-Match"] = paper.etag
    if paper.last_modified:
        headers["If-Modified-Since"] = paper.last_modified
    return headers


def fetch_due(
    db: Database,
    client: PoliteClient,
    html_url: str,
    schedule: Schedule,
    batch: int,
    since: date | None = None,
    now: datetime | None = None,
) -> FullTextReport:
    """Fetch the full texts that are due, one request each (and one for a new thumbnail); stop at the
    first sign that arXiv wants no more now or cannot be reached."""
    now = now or datetime.now(UTC)
    report = FullTextReport()
    if (pause := link_store.paused(db, SERVICE, now)) is not None:
        report.paused_until = pause[0]
        return report
    for paper in store.due(db, now, batch, since):
        url = f"{html_url}{paper.paper_id}v{paper.version}"
        try:
            response = client.get(url, ok=ANSWERS, headers=_headers(paper))
        except ArxivHTTPError as exc:  # no answer: a timeout, a refused connection
            _failed(db, paper, now, f"arXiv unreachable: {exc}")
            report.unreachable = str(exc)
            return report
        status = response.status_code
        figure = paper.first_figure
        if status == 200:
            figure = _store_page(db, paper, response.text, str(response.url), response.headers, now, schedule,
                                 report)  # fmt: skip
        elif status == 304:
            store.record_unchanged(db, paper.paper_id, now, now + timedelta(seconds=schedule.refresh))
            report.unchanged += 1
        elif status in (404, 410):
            why = f"arXiv has no HTML rendering of {paper.paper_id}v{paper.version} (HTTP {status})"
            store.record_none(db, paper.paper_id, paper.version, now,
                              now + timedelta(seconds=schedule.missing_retry), why)  # fmt: skip
            report.missing += 1
            continue
        elif status in BUSY:
            wait = retry_after_seconds(response.headers.get("Retry-After"), now)
            until = now + timedelta(seconds=max(wait or 0.0, backoff(paper.attempts + 1)))
            why = f"arXiv answered {status}: asked again after {until:%Y-%m-%d %H:%M:%S} UTC"
            store.record_failure(db, paper.paper_id, paper.version, paper.attempts + 1, until, why)
            link_store.pause(db, SERVICE, until, why)
            report.paused_until = until
            return report
        else:  # 5xx: arXiv is unwell; the others wait for a later run
            report.unreachable = f"GET {url}: HTTP {status}"
            _failed(db, paper, now, report.unreachable)
            return report
        if figure and (status == 200 or not paper.thumbnail):
            report.thumbnails += _thumbnail(db, client, paper.paper_id, figure, now)
    return report


def _failed(db: Database, paper: Due, now: datetime, why: str) -> None:
    attempts = paper.attempts + 1
    store.record_failure(db, paper.paper_id, paper.version, attempts,
                         now + timedelta(seconds=backoff(attempts)), why)  # fmt: skip


def _store_page(
    db: Database,
    paper: Due,
    html: str,
    url: str,
    headers: httpx.Headers,
    now: datetime,
    schedule: Schedule,
    report: FullTextReport,
) -> dict[str, str] | None:
    """Convert and store one page; returns its first figure (None without one, or when the page could
    not be read: recorded as malformed, with why)."""
    etag, modified = headers.get("ETag"), headers.get("Last-Modified")
    next_at = now + timedelta(seconds=schedule.refresh)
    try:
        converted = latexml.convert(html, url)
    except latexml.NotLatexml as exc:
        why: str | None = f"not a paper: {exc}"
    except (RecursionError, ValueError, AssertionError) as exc:  # html.parser's own failures
        why = f"the page could not be parsed: {type(exc).__name__}: {exc}"
    else:
        why = None if converted.markdown.strip() else "the page holds no text of the paper"
    if why is not None:
        store.store_text(db, paper.paper_id, paper.version, store.MALFORMED, None, [], etag, modified, now,
                         next_at, why)  # fmt: skip
        report.malformed += 1
        return None
    complete = converted.complete
    status = store.OK if complete else store.PARTIAL
    message = None if complete else "the page ended before the paper did: kept as far as it went"
    figures = [{"url": f.url, "caption": f.caption} for f in converted.figures]
    store.store_text(db, paper.paper_id, paper.version, status, converted.markdown, figures, etag, modified,
                     now, next_at, message, find_in_full_text(converted.markdown))  # fmt: skip
    report.fetched += 1
    return figures[0] if figures else None


def _thumbnail(
    db: Database, client: PoliteClient, paper_id: str, figure: dict[str, str], now: datetime
) -> int:
    """Fetch the figure and store its thumbnail; 1 when stored. A figure that cannot be had is skipped
    (the card simply shows none): it is tried again when the text is next fetched."""
    url = figure["url"]
    try:
        response = client.get(url, ok=(200,), headers={"Accept": "image/*"})
        made = thumbnails.make(response.content)
    except (ArxivHTTPError, thumbnails.NotAnImage):
        return 0
    store.store_thumbnail(db, paper_id, made.image, made.media_type, made.size, url, figure["caption"], now)
    return 1
