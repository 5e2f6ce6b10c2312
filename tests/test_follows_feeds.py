"""Every list is a feed (#14 item 5), read with feedparser as a reader would: a saved search
(``/feed.xml?q=…&category=…``, on the bundled papers and their real search indexes) holds only the papers
the search finds, newest first; an author's, an organization's and a public collection's feeds hold their
papers with hostile titles and abstracts kept as plain text; a private collection has no feed."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient

from paperfeed.models import Organization, Paper, Version
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import collections as collection_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from tests.community import NOW, add_papers, https_client, member

BASE = "http://testserver"
KINDS = [("xml", "rss20"), ("atom", "atom10")]


def _parse(client: TestClient, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(("application/rss+xml", "application/atom+xml"))
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


@pytest.mark.parametrize(("suffix", "version"), KINDS)
def test_saved_search_feed_holds_only_matching_papers(client: TestClient, suffix: str, version: str) -> None:
    asked = {"q": "language models", "category": "cs.CL"}
    parsed = _parse(client, f"/feed.{suffix}", **asked)
    assert parsed.version == version
    found = client.get("/api/papers/search", params={**asked, "limit": 120}).json()
    matching = {f"{BASE}/papers/{item['paper']['id']}" for item in found}
    links = [e.link for e in parsed.entries]
    assert links and set(links) <= matching  # only what the search finds
    assert all("cs.CL" in {t["term"] for t in e.tags} for e in parsed.entries)
    days = [e.published_parsed for e in parsed.entries]
    assert days == sorted(days, reverse=True)  # newest first
    assert len(links) == min(50, len(matching))  # the site's page size
    assert parsed.feed.title == "paperfeed: search “language models” (category cs.CL)"
    self_link = next(link.href for link in parsed.feed.links if link.rel == "self")
    assert self_link == f"{BASE}/feed.{suffix}?q=language+models&category=cs.CL"
    alternate = next(link.href for link in parsed.feed.links if link.rel == "alternate")
    assert alternate == f"{BASE}/search?q=language+models&category=cs.CL"
    # Another category: another set of papers, none of them outside it.
    other = _parse(client, f"/feed.{suffix}", q="language models", category="cs.CV", limit="5")
    assert all("cs.CV" in {t["term"] for t in e.tags} for e in other.entries) and len(other.entries) <= 5


def test_saved_search_feed_filters_and_errors(client: TestClient) -> None:
    nothing = _parse(client, "/feed.xml", q="zqxv wbrtk plmnq")
    assert nothing.entries == []  # no close matches: an empty, valid feed
    since = _parse(client, "/feed.atom", q="reinforcement learning", since="2026-08-15")
    assert since.entries and all(e.published_parsed[:3] >= (2026, 8, 15) for e in since.entries)
    for params, words in (
        ({"q": "agents", "date": "2026-08-20"}, "q:"),
        ({"q": "agents", "category": "cs.CL,cs.LG"}, "one category"),
        ({"q": "agents", "since": "last week"}, "since='last week'"),
        ({"organization": "x"}, "give q too"),
    ):
        r = client.get("/feed.xml", params=params)
        assert r.status_code == 400 and words in r.json()["error"], (params, r.text)


def test_category_feed(client: TestClient) -> None:
    parsed = _parse(client, "/feed.xml", category="cs.LG", month="2026-08", limit="100")
    assert parsed.entries and all("cs.LG" in {t["term"] for t in e.tags} for e in parsed.entries)


# -- hostile text, in a fresh database --------------------------------------------------------------------

TITLE = 'Attack </title><script>alert("t")</script> & $a<b$ \\textbf{B}\x01'
ABSTRACT = "We prove <b>this</b> & that: $x < y > z$, R&D &amp; \\emph{it} ]]> done."


def _papers(db: Database) -> list[Paper]:
    papers = [
        Paper(
            id="2611.00100",
            title=TITLE,
            abstract=ABSTRACT,
            authors=["eve  MALLORY", "Plain Name"],  # the oldest paper's spelling
            categories=["cs.CR"],
            versions=[Version(1, NOW - timedelta(days=1))],
            published_at=NOW - timedelta(days=1),
            organization=Organization("acme", "Acme <Research> & Co"),
        ),
        *add_papers(
            db, 2, authors=["Eve Mallory"], organization=Organization("acme", "Acme <Research> & Co")
        ),
    ]
    paper_store.upsert_papers(db, papers[:1])
    return papers


@pytest.mark.parametrize(("suffix", "version"), KINDS)
def test_author_organization_and_collection_feeds(
    settings: Settings, db: Database, suffix: str, version: str
) -> None:
    hostile, newest, older = _papers(db)
    ada = member(db, "ada")
    public = collection_store.create(db, ada.id, "Reading <list>", "", True, NOW)
    private = collection_store.create(db, ada.id, "Secret", "", False, NOW)
    for i, p in enumerate((older, hostile, newest)):
        collection_store.put_item(db, public.id, p.id, "", NOW + timedelta(minutes=i))
        collection_store.put_item(db, private.id, p.id, "", NOW)
    with https_client(settings) as client:
        by_author = _parse(client, f"/authors/eve mallory/feed.{suffix}")
        assert by_author.version == version
        assert [e.link for e in by_author.entries] == [
            f"{BASE}/papers/{p.id}" for p in (newest, older, hostile)
        ]  # newest on the feed first
        assert by_author.feed.title == "paperfeed: Eve Mallory"
        entry = by_author.entries[2]
        title = entry.title if version == "atom10" else html.unescape(entry.title)
        assert title == TITLE.replace("\\textbf{B}", "B").replace("\x01", "")
        summary = entry.summary if version == "atom10" else html.unescape(entry.summary)
        assert summary == ABSTRACT.replace("\\emph{it}", "it")
        raw = client.get(f"/authors/Eve%20Mallory/feed.{suffix}").content
        assert b"<script" not in raw and b"<b>" not in raw
        self_link = next(link.href for link in by_author.feed.links if link.rel == "self")
        assert self_link == f"{BASE}/authors/Eve%20Mallory/feed.{suffix}"

        by_org = _parse(client, f"/orgs/acme/feed.{suffix}")
        # RSS readers render a channel's title as HTML: it arrives escaped once more.
        org_title = by_org.feed.title if version == "atom10" else html.unescape(by_org.feed.title)
        assert org_title == "paperfeed: Acme <Research> & Co"
        assert {e.link for e in by_org.entries} == {f"{BASE}/papers/{p.id}" for p in (hostile, newest, older)}

        collected = _parse(client, f"/collections/{public.id}/feed.{suffix}")
        list_title = collected.feed.title if version == "atom10" else html.unescape(collected.feed.title)
        assert list_title == "paperfeed: Reading <list>"
        assert [e.link for e in collected.entries] == [
            f"{BASE}/papers/{p.id}" for p in (newest, hostile, older)
        ]  # the latest added first
        # Missing things, and a private collection (a feed reader has no session), are JSON 404s.
        for path in (
            f"/collections/{private.id}/feed.{suffix}",
            f"/collections/999/feed.{suffix}",
            f"/orgs/nowhere/feed.{suffix}",
            f"/authors/Nobody/feed.{suffix}",
        ):
            missing = client.get(path)
            assert missing.status_code == 404 and "error" in missing.json(), path
        # The pages name their feeds for feed readers.
        assert (
            f'href="/collections/{public.id}/feed.{suffix}"' in client.get(f"/collections/{public.id}").text
        )
        assert f'href="/orgs/acme/feed.{suffix}"' in client.get("/orgs/acme").text
        etag = client.get(f"/orgs/acme/feed.{suffix}").headers["etag"]
        assert client.get(f"/orgs/acme/feed.{suffix}", headers={"If-None-Match": etag}).status_code == 304


def test_org_exists_for_its_feed(settings: Settings, db: Database) -> None:
    ada = member(db, "ada")
    org_store.create_org(db, "empty", "Empty Lab", ada.id, NOW)
    with https_client(settings) as client:
        parsed = _parse(client, "/orgs/empty/feed.atom")
        assert parsed.entries == [] and parsed.feed.title == "paperfeed: Empty Lab"
