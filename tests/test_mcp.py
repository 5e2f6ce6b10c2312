"""The MCP server (paperfeed/agents/), driven by the official SDK's client over both transports: stdio
(``paperfeed mcp`` spawned as a subprocess, its settings passed in its environment) and streamable HTTP
(``/mcp`` on a live server). Every tool is called; a personal tool is refused without a token, a write with
a read-scope token; papers read as ``paper://`` resources."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import sqlalchemy as sa
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextResourceContents

from paperfeed import accounts
from paperfeed.models import Paper
from paperfeed.settings import Settings
from paperfeed.storage import collections as collection_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import schema
from tests.conftest import LiveServer, load_bundled, make_settings

TOOLS = {
    "search_papers",
    "list_papers",
    "get_paper",
    "similar_papers",
    "organization_papers",
    "author_papers",
    "get_collection",
    "my_collections",
    "for_you",
    "add_to_collection",
    "upvote",
    "comment",
}
PAPERFEED = str(Path(sys.executable).parent / "paperfeed")


@dataclass
class Site:
    settings: Settings
    paper: Paper  # by an author with a name, in the organization 'acme'
    public_id: int
    private_id: int
    read_token: str
    write_token: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    settings = make_settings(tmp_path_factory.mktemp("mcp"))
    db = load_bundled(settings)
    now = datetime.now(UTC)
    ada = accounts.sign_up(db, "ada", "ada@example.org", "correct horse battery")
    with db.read() as conn:
        query = sa.select(schema.papers.c.id).where(~schema.papers.c.id.startswith("card-")).limit(20)
        ids = list(conn.execute(query).scalars())
    paper = next(p for p in paper_store.papers_by_ids(db, ids) if p.authors and p.feed_day)
    org_store.link_paper(db, org_store.create_org(db, "acme", "Acme Labs", ada.id, now), paper.id)
    public = collection_store.create(db, ada.id, "Reading", "to read", True, now)
    collection_store.put_item(db, public.id, paper.id, "first", now)
    private = collection_store.create(db, ada.id, "Secret", "", False, now)
    site = Site(
        settings,
        paper_store.paper(db, paper.id) or paper,
        public.id,
        private.id,
        accounts.create_token(db, ada, scope="read"),
        accounts.create_token(db, ada, scope="write"),
    )
    db.close()
    yield site


def text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def call(client: Client, tool: str, **arguments: Any) -> CallToolResult:
    return await client.call_tool(tool, arguments)


async def reads(client: Client, site: Site) -> None:
    """Every anonymous tool, a resource, and the refusals a visitor meets."""
    assert {t.name for t in (await client.list_tools()).tools} == TOOLS
    paper = site.paper

    found = await call(client, "search_papers", query=paper.title, limit=5)
    assert not found.is_error, text(found)
    assert found.structured_content["papers"][0]["id"] == paper.id
    assert paper.id in text(found)
    assert (await call(client, "search_papers", query="x", since="yesterday")).is_error

    listed = await call(client, "list_papers", period="month", date=paper.feed_day.isoformat(), list="all")
    assert not listed.is_error, text(listed)
    assert listed.structured_content["total"] >= 1 and listed.structured_content["papers"]
    assert (await call(client, "list_papers", category="not a category!")).is_error

    one = await call(client, "get_paper", paper_id=f"arXiv:{paper.id}v1")
    assert not one.is_error, text(one)
    assert one.structured_content["id"] == paper.id
    assert text(one).startswith("# ") and "## Abstract" in text(one)
    missing = await call(client, "get_paper", paper_id="2999.99999")
    assert missing.is_error and "not on this site" in text(missing) and "Traceback" not in text(missing)

    similar = await call(client, "similar_papers", paper_id=paper.id, limit=3)
    assert not similar.is_error and len(similar.structured_content["papers"]) == 3
    assert paper.id not in {p["id"] for p in similar.structured_content["papers"]}

    org = await call(client, "organization_papers", name="acme")
    assert [p["id"] for p in org.structured_content["papers"]] == [paper.id]
    assert (await call(client, "organization_papers", name="nobody")).is_error

    by = await call(client, "author_papers", name=paper.authors[0])
    assert paper.id in {p["id"] for p in by.structured_content["papers"]}

    shown = await call(client, "get_collection", collection_id=site.public_id)
    assert shown.structured_content["papers"][0]["note"] == "first"

    resource = await client.read_resource(f"paper://{paper.id}")
    content = resource.contents[0]
    assert isinstance(content, TextResourceContents) and "## Abstract" in content.text
    with pytest.raises(MCPError, match="not on this site"):
        await client.read_resource("paper://2999.99999")


async def anonymous(client: Client, site: Site) -> None:
    await reads(client, site)
    refused = await call(client, "my_collections")
    assert refused.is_error and "API token" in text(refused)
    refused = await call(client, "for_you")
    assert refused.is_error and "API token" in text(refused)
    assert (await call(client, "upvote", paper_id=site.paper.id)).is_error
    hidden = await call(client, "get_collection", collection_id=site.private_id)
    assert hidden.is_error and "no public collection" in text(hidden)


async def reader(client: Client, site: Site) -> None:
    mine = await call(client, "my_collections")
    assert not mine.is_error, text(mine)
    assert {c["name"] for c in mine.structured_content["collections"]} == {"Reading", "Secret"}
    assert not (await call(client, "get_collection", collection_id=site.private_id)).is_error
    # For-you, as /for-you ranks it: a read token is enough; the collected paper is not offered back.
    day = site.paper.feed_day.isoformat()
    mine = await call(client, "for_you", since=day, until=day, limit=5)
    assert not mine.is_error, text(mine)
    found = mine.structured_content["papers"]
    assert found and all(p["reason"] for p in found) and site.paper.id not in {p["id"] for p in found}
    assert "why: " in text(mine) and mine.structured_content["since"] == day
    assert (await call(client, "for_you", since="2026-08-10", until="2026-07-01")).is_error
    for tool, args in [
        ("upvote", {"paper_id": site.paper.id}),
        ("comment", {"paper_id": site.paper.id, "body": "hello"}),
        ("add_to_collection", {"collection_id": site.private_id, "paper_id": site.paper.id}),
    ]:
        refused = await call(client, tool, **args)
        assert refused.is_error and "scope read" in text(refused), tool


async def writer(client: Client, site: Site, word: str) -> None:
    voted = await call(client, "upvote", paper_id=site.paper.id)
    assert not voted.is_error and voted.structured_content["upvoted"] is True
    assert voted.structured_content["upvotes"] >= 1
    said = await call(client, "comment", paper_id=site.paper.id, body=f"A *{word}* result: $x^2$")
    assert not said.is_error, text(said)
    assert said.structured_content["author"] == "ada"
    added = await call(client, "add_to_collection", collection_id=site.private_id, paper_id=site.paper.id)
    assert not added.is_error, text(added)
    secret = await call(client, "get_collection", collection_id=site.private_id)
    assert site.paper.id in {p["id"] for p in secret.structured_content["papers"]}
    undone = await call(client, "upvote", paper_id=site.paper.id, remove=True)
    assert undone.structured_content["upvoted"] is False
    bad = await call(client, "add_to_collection", collection_id=site.public_id + 1000, paper_id=site.paper.id)
    assert bad.is_error and "not one of yours" in text(bad)


Connect = Callable[[str | None], Client]


def run_all(connect: Connect, site: Site, word: str) -> None:
    async def main() -> None:
        async with connect(None) as client:
            await anonymous(client, site)
        async with connect(site.read_token) as client:
            await reader(client, site)
        async with connect(site.write_token) as client:
            await writer(client, site, word)

    anyio.run(main)


def test_stdio(site: Site) -> None:
    def connect(token: str | None) -> Client:
        env = site.settings.environment()
        if token:
            env["PAPERFEED_TOKEN"] = token
        return Client(
            StdioServerParameters(command=PAPERFEED, args=["mcp"], env=env), read_timeout_seconds=60
        )

    run_all(connect, site, "stdio")


def test_http(site: Site) -> None:
    with LiveServer(site.settings) as server:

        def connect(token: str | None) -> Client:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            http = httpx2.AsyncClient(headers=headers, timeout=60)
            return Client(streamable_http_client(f"{server.url}/mcp", http_client=http))

        run_all(connect, site, "http")


def test_http_refuses_a_foreign_host(site: Site) -> None:
    """DNS rebinding: a request naming another host is refused before any tool runs."""
    import httpx

    with LiveServer(site.settings) as server:
        answer = httpx.post(
            f"{server.url}/mcp",
            headers={
                "Host": "evil.example",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
    assert answer.status_code in (403, 421)
