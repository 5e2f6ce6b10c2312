"""A polite HTTP client for arXiv: what its terms of use ask of harvesters, enforced in one place.

One connection at a time; at least ``interval`` seconds (3 by default) between the *starts* of two
requests, retries included (and, given a ``turn``, between any two requests of every client that shares
it: ``outbound.shared_turn`` paces all of a database's arXiv traffic, on every worker); 503 and 429 honour ``Retry-After`` (seconds or an HTTP-date; 0 or missing
means the interval) and are retried, as are dropped connections, up to ``retries`` times; a User-Agent
that names paperfeed. Every error names the URL it was about.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version

import httpx

from paperfeed.settings import Settings

RETRY_STATUSES = frozenset({429, 503})
# A server asking for more than this is down for maintenance, not busy: fail with a clear message rather
# than sleep for hours inside a cron job.
MAX_RETRY_AFTER = 600.0
_MAX_BACKOFF = 60.0


class ArxivHTTPError(RuntimeError):
    """A request that failed for good (after its retries); the message names the URL. ``retry_after``:
    the seconds the server asked us to wait (503/429 with Retry-After), for callers that try again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def user_agent(contact: str = "") -> str:
    try:
        own = version("paperfeed")
    except PackageNotFoundError:  # running from a source tree that was never installed
        own = "dev"
    return f"paperfeed/{own} (self-hosted paper feed; +{contact or 'https://arxiv.org/help/api'})"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds to wait: '120' or an HTTP-date. None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class PoliteClient:
    """``get`` waits its turn, retries what is worth retrying and returns the final response."""

    def __init__(
        self,
        interval: float = 3.0,
        retries: int = 5,
        timeout: float = 60.0,
        agent: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        turn: Callable[[], float] | None = None,
    ) -> None:
        self.interval = interval
        self.retries = retries
        self._turn = turn  # reserves a turn shared with other clients; returns the seconds to wait for it
        self._clock = clock
        self._sleep = sleep
        self._next_start = float("-inf")  # no request may start before this (monotonic seconds)
        self._http = httpx.Client(
            timeout=timeout,
            # arXiv asks for one connection at a time; keep-alive reuses it between pages.
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            headers={"User-Agent": agent or user_agent()},
            follow_redirects=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings, turn: Callable[[], float] | None = None) -> PoliteClient:
        return cls(
            interval=settings.arxiv_request_interval,
            retries=settings.http_retries,
            timeout=settings.http_timeout,
            agent=user_agent(settings.base_url),
            turn=turn,
        )

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        ok: Collection[int] = (200,),
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """GET ``url`` (with these extra ``headers``); a status in ``ok`` is returned, 503/429/connection
        errors are retried, anything else raises ArxivHTTPError naming the URL."""
        return self.send(self._http.build_request("GET", url, params=params, headers=headers), ok)

    def post_json(
        self, url: str, body: object, ok: Collection[int] = (200,), headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """POST a JSON body, paced, retried and checked as ``get`` is."""
        return self.send(self._http.build_request("POST", url, json=body, headers=headers), ok)

    def send(self, request: httpx.Request, ok: Collection[int] = (200,)) -> httpx.Response:
        """Send one request in its turn; what ``get`` says of statuses and retries holds."""
        method = request.method
        shown = str(request.url)
        attempt = 0
        while True:
            self._wait_turn()
            started = self._clock()
            self._next_start = started + self.interval
            try:
                response = self._http.send(request)
                response.read()
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise ArxivHTTPError(
                        f"{method} {shown}: {_describe(exc)} (gave up after {self.retries} retries)"
                    ) from exc
                attempt += 1
                # Exponential backoff on dropped connections, never below the interval.
                self._push_next_start(min(self.interval * 2 ** (attempt - 1), _MAX_BACKOFF))
                continue
            if response.status_code in ok:
                return response
            if response.status_code in RETRY_STATUSES:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is not None and wait > MAX_RETRY_AFTER:
                    raise ArxivHTTPError(
                        f"{method} {shown}: HTTP {response.status_code} asking to retry after {wait:.0f} s "
                        f"(more than {MAX_RETRY_AFTER:.0f} s); try again later",
                        wait,
                    )
                if attempt >= self.retries:
                    raise ArxivHTTPError(
                        f"{method} {shown}: still HTTP {response.status_code} after {self.retries} retries",
                        wait,
                    )
                attempt += 1
                self._push_next_start(wait or 0.0)
                continue
            raise ArxivHTTPError(
                f"{method} {shown}: HTTP {response.status_code} {_snippet(response)}".rstrip()
            )

    def _wait_turn(self) -> None:
        delay = self._next_start - self._clock()
        if delay > 0:
            self._sleep(delay)
        if self._turn is not None and (shared := self._turn()) > 0:
            self._sleep(shared)

    def _push_next_start(self, wait: float) -> None:
        # Retry-After counts from when the answer came (now); the interval from the start of the request.
        self._next_start = max(self._next_start, self._clock() + wait)


def _describe(exc: httpx.TransportError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.text[:200].split())
    return f"({text})" if text else ""
