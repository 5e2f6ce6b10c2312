"""Rate limits on login, sign-up, submit, comment and upvote: past the configured HITS/SECONDS a request
gets 429 with Retry-After. The counters live in the database (storage.ratelimits explains why)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from math import ceil

from starlette.requests import Request

from paperfeed.storage import ratelimits
from paperfeed.web.kit import Refused


def client(request: Request) -> str:
    """The client address (behind a proxy, uvicorn's --proxy-headers puts the real one here)."""
    return request.client.host if request.client else "unknown"


def limit(request: Request, action: str, who: str) -> None:
    """Count this request; raise Refused(429) with Retry-After when ``who`` is over the rate."""
    hits, seconds = (int(x) for x in getattr(request.app.state.settings, f"rate_{action}").split("/"))
    now = datetime.now(UTC)
    window = timedelta(seconds=seconds)
    count, started = ratelimits.hit(request.app.state.db, f"{action}:{who}"[:160], window, now)
    if count > hits:
        retry = max(1, ceil((started + window - now).total_seconds()))
        raise Refused(
            429, f"too many {action} requests: at most {hits} per {seconds} s", {"Retry-After": str(retry)}
        )
