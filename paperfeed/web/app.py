"""Builds the ASGI application: opens storage and the search indexes once (and keeps them current), registers the routes table,
serves the vendored static files, and sets the security headers every response carries."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed import settings as settings_module
from paperfeed.agents import server as agents
from paperfeed.search.follower import IndexFollower
from paperfeed.search.hybrid import Searcher
from paperfeed.settings import Settings
from paperfeed.storage import open_database
from paperfeed.web import kit
from paperfeed.web.assets import StaticAssets
from paperfeed.web.cache import CachedPages, PageCache
from paperfeed.web.csrf import CSRFCookie
from paperfeed.web.remembered import Bodies
from paperfeed.web.routes import register
from paperfeed.web.search import RememberedSearches

HERE = Path(__file__).parent

# KaTeX renders with inline styles set through the DOM (allowed by style-src 'self'); no inline script runs.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


_CONNECTIONS_COUNTED = 10_000  # forgotten all at once beyond: a connection then closes a little later
REQUESTS_PER_CONNECTION = 100  # nginx's keepalive_requests was 100 until 1.19.10 (now 1000)


class SecurityHeaders:
    """Plain ASGI middleware (not BaseHTTPMiddleware, which costs a task per request on hot pages)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ConnectionTurnover:
    """Closes a keep-alive connection after ``requests`` answers (``Connection: close`` on the last one), as
    nginx's ``keepalive_requests`` does. Why: a node's web workers share one listening socket, and the
    kernel gives each new connection to whichever worker accepts first; connections opened while the node
    is idle (a proxy's pool of upstream connections, API clients that keep theirs) often all go to one
    worker, which then serves every request while the others idle, for as long as they stay open. A client
    that reconnects is accepted by a worker free to accept, the less busy one, so the load spreads again.
    A connection is known by the client's address and port, unique while it is open."""

    def __init__(self, app: ASGIApp, requests: int) -> None:
        self.app, self.requests = app, requests
        self._served: dict[tuple[str, int], int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client") if scope["type"] == "http" else None
        if not client or scope.get("http_version") != "1.1":
            await self.app(scope, receive, send)
            return
        key = (client[0], client[1])
        served = self._served.pop(key, 0) + 1
        if served < self.requests:
            if len(self._served) >= _CONNECTIONS_COUNTED:  # counts of connections closed meanwhile
                self._served.clear()
            self._served[key] = served
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Connection"] = "close"
            await send(message)

        await self.app(scope, receive, send_closing)


def served_app() -> FastAPI:
    """The app as ``paperfeed serve`` runs it in each web worker: ``create_app``, and the objects made at
    start kept out of the garbage collector's way (``_freeze_startup_objects``)."""
    app = create_app()
    app.state.freeze_gc = True
    return app


def _freeze_startup_objects(app: FastAPI) -> None:
    """Move what exists once the app has started (modules, the ORM's tables, templates, indexes: ~200,000
    objects) out of the cyclic collector's generations (``gc.freeze``): its full collections walked them
    all, and took a seventh of a signed-in feed page's CPU time. Every template is compiled first, so that
    its code is frozen too and the first page of each kind a worker serves does not compile it. Garbage is
    collected first, so nothing dead is kept; the shutdown unfreezes them."""
    env = app.state.templates.env
    for name in env.list_templates():
        env.get_template(name)
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or settings_module.load()
    db = open_database(settings.database_url)
    searcher = Searcher.open(db, settings)
    # The MCP server for agents, at /mcp (paperfeed/agents/): its session manager runs with the app.
    mcp = agents.HttpEndpoint(agents.build(db, settings, lambda: searcher), settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Keeps this node's search indexes current while the server runs (see search/follower.py).
        follower = IndexFollower(searcher, settings)
        follower.start()
        # Sync handlers run on anyio's shared thread pool (40 threads by default). They are mostly Python,
        # which holds the GIL: many threads at once only take turns, switching every few milliseconds and
        # losing their CPU caches, so each request costs more CPU the more run together. Requests beyond
        # the limit wait as coroutines. Writes keep their own limiter (bodies.WRITERS).
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = settings.web_threads or max(2, os.cpu_count() or 1)
        frozen = getattr(app.state, "freeze_gc", False)
        if frozen:
            _freeze_startup_objects(app)
        try:
            async with mcp.running():
                yield
        finally:
            follower.stop()
            if frozen:
                gc.unfreeze()

    app = FastAPI(
        lifespan=lifespan,
        title=settings.site_name,
        summary="Daily arXiv papers, upvotes and search; the JSON API follows Hugging Face's papers API.",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,  # the kit redirects '/login/' itself, to a path (web/kit.py)
    )
    app.state.settings = settings
    app.state.db = db
    app.state.searcher = searcher
    # The JSON of the searcher's remembered answers, for readers who are not signed in (web/search.py).
    app.state.search_bodies = Bodies(settings.search_cache_seconds, Path(settings.index_dir))
    app.state.page_cache = PageCache(settings.page_cache_seconds)
    kit.install(app, HERE / "templates", settings.site_name)
    app.add_middleware(CSRFCookie)
    app.add_middleware(CachedPages, cache=app.state.page_cache)
    app.add_middleware(RememberedSearches)  # repeated searches, answered before routing
    app.add_middleware(SecurityHeaders)  # outside the caches: cached answers get the headers too
    app.add_middleware(ConnectionTurnover, requests=REQUESTS_PER_CONNECTION)  # outermost: every answer counts
    app.mount("/static", StaticAssets(HERE / "static"), name="static")
    register(app)
    app.router.routes.append(Route(agents.PATH, mcp, methods=["GET", "POST", "DELETE"]))
    return app
