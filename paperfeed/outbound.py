"""Outbound HTTP from the worker: the clients with which paperfeed reaches a third party (arXiv for
submissions, GitHub for stars, an OpenAI-compatible endpoint for summaries, members' webhook endpoints), one
per service and worker run.

No web request waits on a third party. A handler records what a member asked for (a queue in storage) and
answers at once; a job of ``paperfeed/jobs.py`` drains the queue through one of these clients. A global job
runs on one worker at a time, so one client paces every request to a service (for arXiv,
``arxiv_request_interval`` between the starts of two requests) however many members asked at once: before
this, each submission opened its own client inside its request, and 45 of them from three accounts sent
~40 requests to arXiv at once while their retries held every thread of the site for 89 s.

A worker client fails fast: it never sleeps on a retry and gives up on a request after
``outbound_timeout``. The job records the failure on the queued item, which waits ``backoff`` before its
next try, and a later run tries again. tests/test_outbound.py checks that no module of ``web/`` imports
an HTTP client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from paperfeed.ingest.http import PoliteClient, user_agent
from paperfeed.settings import Settings
from paperfeed.storage import Database

FIRST_WAIT = 60.0  # seconds before a queued item's second try; doubling after each failed one
LONGEST_WAIT = 3600.0


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    interval: Callable[[Settings], float]  # least seconds between the starts of two requests


SERVICES: dict[str, Service] = {
    "arxiv": Service("arxiv", lambda s: s.arxiv_request_interval),
    "github": Service("github", lambda s: s.github_request_interval),
    # The operator's own summarising endpoint: one request at a time is pace enough.
    "summaries": Service("summaries", lambda s: 0.0),
}


def client(settings: Settings, service: str, db: Database | None = None) -> PoliteClient:
    """A fail-fast client for one worker run: no retries, the service's pace, ``outbound_timeout``. Given
    the database, arXiv's pace is shared with every other arXiv client on it (``shared_turn``)."""
    spec = SERVICES[service]
    interval = spec.interval(settings)
    return PoliteClient(
        interval=interval,
        retries=0,
        timeout=settings.outbound_timeout,
        agent=user_agent(settings.base_url),
        turn=shared_turn(db, service, interval) if db is not None and service == "arxiv" else None,
    )


def shared_turn(db: Database, service: str, interval: float) -> Callable[[], float]:
    """A ``PoliteClient`` turn shared through the database (``storage/pace.py``): the harvest, submissions
    and full-text jobs each run their own client, maybe on different workers, and arXiv's 3 s between
    requests must hold across all of them."""
    from paperfeed.storage.pace import take_turn

    return lambda: take_turn(db, service, interval, time.time())


def webhook_client(settings: Settings) -> httpx.Client:
    """The client webhook deliveries go out through (paperfeed/webhooks/send.py): POSTs, no redirect
    followed (a redirect could lead to an address that was never checked), ``outbound_timeout``."""
    return httpx.Client(
        timeout=settings.outbound_timeout,
        follow_redirects=False,
        headers={"User-Agent": user_agent(settings.base_url)},
    )


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds a queued item waits after its ``attempts``-th failed try: a minute, doubling, at most an
    hour, and never less than the service asked for (Retry-After)."""
    wait = min(FIRST_WAIT * 2 ** max(attempts - 1, 0), LONGEST_WAIT)
    return max(wait, retry_after or 0.0)
