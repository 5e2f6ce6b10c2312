"""A short-lived cache of rendered responses for anonymous readers: the hot, public pages (the feed, the
daily list in the API) are rendered once per ``page_cache_seconds`` per web worker, not once a request.

What a reader may see: a page up to ``page_cache_seconds`` (default 5 s) old — a new paper or vote shows
that much later. Only GET responses with status 200 to requests without cookies are cached (a signed-in
reader's page depends on who they are); the key is the path with the query string as sent. Each web
worker keeps its own entries (at most ``_MAX_ENTRIES``, oldest dropped first): nothing is shared, so
nothing needs invalidating across machines.

Measured by ``bench/web.py``: rendering the feed page costs ≈ 6 ms; a cached answer is what the framework
costs (see docs/deploy.md for the figures).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

_MAX_ENTRIES = 512


class PageCache:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: OrderedDict[str, tuple[float, int, bytes, list[tuple[bytes, bytes]]]] = OrderedDict()
        self._lock = threading.Lock()
        self._rendering: set[str] = set()  # keys some thread is rendering right now

    def answer(self, request: Request, render: Callable[[], Response]) -> Response:
        """The cached response for this request if it is fresh, else ``render()`` (kept if cacheable)."""
        if self.seconds <= 0 or request.method != "GET" or request.headers.get("cookie"):
            return render()
        key = request.url.path + "?" + request.url.query
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return _replay(entry)
        with self._lock:
            # One thread renders an expired page; the others keep serving the old one meanwhile, rather
            # than all rendering at once (which on a busy worker multiplies everyone's latency).
            if entry is not None and key in self._rendering:
                return _replay(entry)
            self._rendering.add(key)
        try:
            response = render()
        finally:
            with self._lock:
                self._rendering.discard(key)
        body = getattr(response, "body", None)  # streamed responses have none: never cached
        if response.status_code == 200 and isinstance(body, bytes):
            with self._lock:
                self._entries[key] = (now + self.seconds, 200, body, list(response.raw_headers))
                self._entries.move_to_end(key)
                while len(self._entries) > _MAX_ENTRIES:
                    self._entries.popitem(last=False)
        return response


def _replay(entry: tuple[float, int, bytes, list[tuple[bytes, bytes]]]) -> Response:
    response = Response(entry[2], status_code=entry[1])
    response.raw_headers = list(entry[3])  # the original headers, content type and length included
    return response


def cached(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Serve ``handler``'s answers from the app's PageCache (``app.state.page_cache``).

    The wrapper keeps the handler's signature, so FastAPI validates parameters exactly as before."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        request: Request = kwargs["request"]
        cache: PageCache = request.app.state.page_cache
        return cache.answer(request, lambda: handler(*args, **kwargs))

    return wrapper
