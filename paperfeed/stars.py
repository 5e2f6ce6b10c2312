"""GitHub stars: the worker's ``github-stars`` job asks GitHub's REST API (``GET /repos/{owner}/{name}``)
for each linked repository that is due, through one client of ``paperfeed/outbound.py``, and keeps every
count it reads (``repo_stars``: what "trending by stars" measures the gain against).

Polite by construction: a conditional request (``If-None-Match`` with the stored ETag; GitHub does not
count a 304 against the rate limit), one request at a time ``PAPERFEED_GITHUB_REQUEST_INTERVAL`` apart,
and when GitHub says the budget is spent (``X-RateLimit-Remaining: 0`` until ``X-RateLimit-Reset``, or a
403/429 with ``Retry-After``) the run stops and every worker leaves GitHub alone until then
(``service_pauses``). A repository GitHub answers 404 (or 410, 451) for is flagged missing; one with
nothing in it (``size`` 0) is flagged empty. No web request ever waits on any of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from paperfeed.ingest.http import ArxivHTTPError, PoliteClient, retry_after_seconds
from paperfeed.links import github_name
from paperfeed.outbound import backoff
from paperfeed.storage import Database
from paperfeed.storage import links as link_store
from paperfeed.storage.links import RepoCheck

SERVICE = "github"
ANSWERS = (200, 304, 403, 404, 410, 429, 451, 500, 502, 503, 504)
GONE = (404, 410, 451)
RATE_LIMITED_WAIT = 3600.0  # a 403/429 naming no reset time: GitHub's primary window is an hour


@dataclass(slots=True)
class StarsReport:
    checked: int = 0  # a count read (200)
    unchanged: int = 0  # 304: the stored count stands
    flagged: int = 0  # empty or missing
    paused_until: datetime | None = None  # GitHub asked us to stop until then
    unreachable: str | None = None  # why GitHub could not be reached, when it could not

    def summary(self) -> str:
        text = f"{self.checked} counted, {self.unchanged} unchanged, {self.flagged} flagged empty or missing"
        if self.paused_until is not None:
            text += f"; rate-limited: GitHub left alone until {self.paused_until:%Y-%m-%d %H:%M:%S} UTC"
        return text


def _headers(repo: RepoCheck, token: str) -> dict[str, str]:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if repo.etag:
        headers["If-None-Match"] = repo.etag
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _pause_until(response: httpx.Response, now: datetime) -> datetime | None:
    """When GitHub lets us ask again, if this answer says the budget is spent; None when it does not."""
    wait = retry_after_seconds(response.headers.get("Retry-After"), now)
    if wait is not None and response.status_code in (403, 429):
        return now + timedelta(seconds=max(wait, 1.0))
    if response.headers.get("X-RateLimit-Remaining") == "0":
        reset = response.headers.get("X-RateLimit-Reset", "")
        if reset.isdigit():
            return max(datetime.fromtimestamp(int(reset), UTC), now + timedelta(seconds=1))
        return now + timedelta(seconds=RATE_LIMITED_WAIT)
    if response.status_code == 429:
        return now + timedelta(seconds=RATE_LIMITED_WAIT)
    return None


def check_stars(
    db: Database,
    client: PoliteClient,
    api_url: str,
    token: str,
    refresh: float,
    batch: int,
    now: datetime | None = None,
) -> StarsReport:
    """Check the repositories that are due, one request each; stop at the first sign that GitHub wants
    no more (rate limit) or cannot be reached (those left wait for a later run)."""
    now = now or datetime.now(UTC)
    report = StarsReport()
    if (pause := link_store.paused(db, SERVICE, now)) is not None:
        report.paused_until = pause[0]
        return report
    next_at = now + timedelta(seconds=refresh)
    for repo in link_store.due_repos(db, now, batch):
        name = github_name(repo.url)
        assert name is not None  # due_repos returns GitHub repositories only
        url = f"{api_url.rstrip('/')}/repos/{name}"
        try:
            response = client.get(url, ok=ANSWERS, headers=_headers(repo, token))
        except ArxivHTTPError as exc:
            report.unreachable = str(exc)
            link_store.postpone(
                db, repo.id, now + timedelta(seconds=backoff(1)), f"GitHub unreachable: {exc}"
            )
            return report
        status = response.status_code
        if status == 200:
            body = response.json()
            stars = int(body.get("stargazers_count") or 0)
            empty = int(body.get("size") or 0) == 0
            link_store.record_check(
                db, repo.id, now, next_at, "empty" if empty else "ok", stars, response.headers.get("ETag")
            )
            report.checked += 1
            report.flagged += empty
        elif status == 304:
            # Nothing changed: the stored count stands, and goes into the history as today's.
            link_store.record_check(db, repo.id, now, next_at, repo.status, repo.stars)
            report.unchanged += 1
        elif status in GONE:
            message = f"GitHub answers {status} for {name}"
            link_store.record_check(db, repo.id, now, next_at, "missing", message=message)
            report.flagged += 1
        elif (until := _pause_until(response, now)) is not None:
            message = f"GitHub's rate limit (HTTP {status}): asked again after {until:%Y-%m-%d %H:%M:%S} UTC"
            link_store.postpone(db, repo.id, until, message)
            link_store.pause(db, SERVICE, until, message)
            report.paused_until = until
            return report
        elif status == 403:  # refused for another reason (access blocked): try again at the next refresh
            link_store.postpone(db, repo.id, next_at, f"GitHub answers 403 for {name}")
        else:  # 5xx: GitHub is unwell; the others wait for a later run
            report.unreachable = f"GET {url}: HTTP {status}"
            link_store.postpone(db, repo.id, now + timedelta(seconds=backoff(1)), report.unreachable)
            return report
        if (until := _pause_until(response, now)) is not None:  # that was the budget's last request
            link_store.pause(db, SERVICE, until, "GitHub's rate limit: X-RateLimit-Remaining 0")
            report.paused_until = until
            return report
    return report
