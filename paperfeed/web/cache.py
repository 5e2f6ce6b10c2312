"""A short-lived cache of rendered responses for anonymous readers: the hot, public pages (the feed, the
daily list in the API) are rendered once per ``page_cache_seconds`` per web worker, not once a request.

What a reader may see: a page up to ``page_cache_seconds`` (default 5 s) old — a new paper or vote shows
that much later; while the database is unavailable (a PostgreSQL restart), the last copy of a page, however
old, rather than an error. Only GET responses with status 200 to readers who are not signed in are cached (a
signed-in reader's page depends on who they are); the key is the path with the query string as sent. Each web
worker keeps its own entries (at most ``_MAX_ENTRIES``, oldest dropped first): nothing is shared, so
nothing needs invalidating across machines.

Handlers marked ``@cached`` render and store; ``CachedPages``, a middleware in front of the router, answers
requests whose page is fresh without parameter parsing or a hop to the thread pool. Measured by
``bench/web.py``: a cached answer costs less than the bare page of the framework (docs/benchmarks.md has the
figures).

Signed-in pages (issue #14) are never cached here and always show the database as it is: their speed comes
from what can be shared without going stale — each card, rendered once per paper value with stand-ins for
the reader's CSRF token and page, filled in per request (``web/cards.CardBodies``); statements built once
(``storage/lists.py``, the session lookup, the page's upvotes, the unread count); one connection and read
transaction for a page's reads (``Database.snapshot``).
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
from starlette.types import ASGIApp, Receive, Scope, Send

from paperfeed.storage.db import unavailable

_MAX_ENTRIES = 512
_SESSION = b"__Host-session="  # web/auth.py's cookie
_Entry = tuple[float, int, bytes, list[tuple[bytes, bytes]]]  # (fresh until, status, body, headers)


class PageCache:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._rendering: set[str] = set()  # keys some thread is rendering right now

    def fresh(self, scope: Scope) -> _Entry | None:
        """The fresh entry for this request, if it may be answered from the cache (``CachedPages``)."""
        key = _key(scope)
        entry = self._entries.get(key) if key is not None else None
        return entry if entry is not None and entry[0] > time.monotonic() else None

    def answer(self, request: Request, render: Callable[[], Response]) -> Response:
        """The cached response for this request if it is fresh, else ``render()`` (kept if cacheable)."""
        key = _key(request.scope) if self.seconds > 0 else None
        if key is None:
            return render()
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
        except Exception as error:
            if entry is not None and unavailable(error):
                return _replay(entry)  # the database is down: the page as it last was, not a 503
            raise
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


def _key(scope: Scope) -> str | None:
    """The cache key (path and query string as sent), or None when the request may not be cached: only
    GETs (and HEADs, which get the same headers, and no body from the server) by readers who are not
    signed in (no session cookie, no bearer token). Other cookies (the CSRF cookie every browser gets with
    its first page) do not matter: an anonymous page carries no token."""
    if scope["method"] not in ("GET", "HEAD"):
        return None
    for name, value in scope["headers"]:
        if name == b"authorization" or (name == b"cookie" and _SESSION in value):
            return None
    return f"{scope['path']}?{scope['query_string'].decode('latin-1')}"


class CachedPages:
    """ASGI middleware that answers requests whose page is fresh in the cache before routing: no parameter
    parsing, no hop to the thread pool. Misses go on to the handlers, which render and store (``cached``)."""

    def __init__(self, app: ASGIApp, cache: PageCache) -> None:
        self.app, self.cache = app, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = self.cache.fresh(scope) if scope["type"] == "http" else None
        if entry is None:
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": entry[1], "headers": entry[3]})
        await send({"type": "http.response.body", "body": entry[2]})


def _replay(entry: _Entry) -> Response:
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
