"""The MCP server (Model Context Protocol, on the official ``mcp`` SDK): paperfeed's tools and its papers as
``paper://{id}`` resources, served over stdio by ``paperfeed mcp`` and over streamable HTTP at ``/mcp`` by
the web app (web/app.py routes ``/mcp`` to ``HttpEndpoint``).

Over HTTP the server is stateless and answers JSON (no session, no event stream), so any of the web
server's worker processes can answer any request, and a member's token travels with each one.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from starlette.types import Receive, Scope, Send

from paperfeed.agents.tools import WRITES, Tools
from paperfeed.search.hybrid import Searcher
from paperfeed.settings import Settings
from paperfeed.storage import Database

PATH = "/mcp"
INSTRUCTIONS = (
    "paperfeed: recent arXiv papers with a community's upvotes and comments. Start with list_papers (the "
    "day's, week's or month's list) or search_papers; get_paper gives a paper's abstract as Markdown. "
    "my_collections, add_to_collection, upvote and comment act as the member whose API token you "
    "connected with."
)


def build(db: Database, settings: Settings, searcher: Callable[[], Searcher]) -> MCPServer:
    server: MCPServer = MCPServer(
        settings.site_name, instructions=INSTRUCTIONS, version="0.1.0", log_level="WARNING"
    )
    tools = Tools(db, settings, searcher)
    for tool in tools.all():
        write = tool.__name__ in WRITES
        server.add_tool(
            tool,
            annotations=ToolAnnotations(
                read_only_hint=not write, destructive_hint=False, open_world_hint=False
            ),
        )

    @server.resource("paper://{paper_id}", mime_type="text/markdown", description="A paper as Markdown.")
    def paper(paper_id: str) -> str:
        text = tools.paper_resource(paper_id)
        if text is None:
            raise ResourceNotFoundError(f"paper {paper_id!r} is not on this site")
        return text

    return server


class HttpEndpoint:
    """The ASGI app at ``/mcp``. A session manager runs once, and a web app's lifespan may run more than
    once (tests start one app several times), so each ``running()`` builds a fresh one.

    DNS-rebinding protection admits the Host of ``base_url`` (and loopback, for a local server), so a
    page on another site cannot reach a paperfeed on a private network through a rebound name."""

    def __init__(self, server: MCPServer, settings: Settings) -> None:
        site = urlsplit(settings.base_url)
        self.server = server
        self.security = TransportSecuritySettings(
            allowed_hosts=[site.netloc, "127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=[f"{site.scheme}://{site.netloc}", "http://127.0.0.1:*", "http://localhost:*"],
        )
        self.manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            transport_security=self.security,
        )
        manager = self.server.session_manager
        async with manager.run():
            self.manager = manager
            try:
                yield
            finally:
                self.manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.manager is None:
            raise RuntimeError("the MCP endpoint is served only while the web app runs")
        await self.manager.asgi_app(scope, receive, send)


def serve_stdio(db: Database, settings: Settings) -> None:
    """Serve over stdin/stdout until the client closes them (``paperfeed mcp``)."""
    opened: list[Searcher] = []
    lock = threading.Lock()  # tools run on worker threads: two first searches open the indexes once

    def searcher() -> Searcher:
        with lock:
            if not opened:
                opened.append(Searcher.open(db, settings))
            return opened[0]

    anyio.run(build(db, settings, searcher).run_stdio_async)
