"""RSS and Atom feeds, parsed with feedparser as a reader would: entries are the list's papers in the
list's order, links are absolute, and hostile titles and abstracts stay well-formed plain text."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient

from paperfeed.feed import feed_page, parse_period
from paperfeed.models import Paper, Version
from paperfeed.settings import Settings
from paperfeed.storage import Database, lists
from paperfeed.storage import papers as paper_store
from paperfeed.storage.lists import Sort
from paperfeed.tex import text_mode
from paperfeed.web.app import create_app

BASE = "http://testserver"  # settings.base_url in the test settings
FEEDS = [
    ("/feed.xml", "rss20", "application/rss+xml; charset=utf-8"),
    ("/feed.atom", "atom10", "application/atom+xml; charset=utf-8"),
]


def _parse(client: TestClient, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def _expected(db: Database, sort: Sort = "upvotes", limit: int = 50, **period: str) -> list[Paper]:
    """The papers the feed should show: the daily list itself, first page, in its order."""
    chosen = parse_period(period.get("date"), period.get("week"), period.get("month"), lists.latest_day(db))
    return feed_page(db, chosen, sort, 0, limit).papers


@pytest.mark.parametrize(("path", "version", "content_type"), FEEDS)
@pytest.mark.parametrize(
    ("params", "sort", "count"),
    [
        ({}, "upvotes", 50),  # the latest day: the seed cards
        ({"date": "2026-08-20", "sort": "published"}, "published", 17),
        ({"week": "2026-W34", "sort": "trending", "limit": "100"}, "trending", 58),
        ({"month": "2026-08", "limit": "100"}, "upvotes", 100),  # 149 that month: the first 100
    ],
)
def test_entries_are_the_list_in_order(
    client: TestClient,
    loaded_db: Database,
    path: str,
    version: str,
    content_type: str,
    params: dict[str, str],
    sort: Sort,
    count: int,
) -> None:
    r = client.get(path, params=params)
    assert r.headers["content-type"] == content_type
    parsed = _parse(client, path, **params)
    assert parsed.version == version
    period = {k: v for k, v in params.items() if k in ("date", "week", "month")}
    papers = _expected(loaded_db, sort, int(params.get("limit", 50)), **period)
    assert len(parsed.entries) == len(papers) == count
    assert [e.link for e in parsed.entries] == [f"{BASE}/papers/{p.id}" for p in papers]
    for entry, paper in zip(parsed.entries, papers, strict=True):
        assert entry.id == entry.link  # guid/id: the permanent page address
        title = entry.title if version == "atom10" else html.unescape(entry.title)
        assert title == text_mode(paper.title)  # LaTeX text-mode macros as Unicode, math as written
        summary = entry.summary if version == "atom10" else html.unescape(entry.summary)
        assert summary == text_mode(paper.abstract)
        assert [a["name"] for a in entry.get("authors", [])] == [text_mode(a) for a in paper.authors]
        assert [t["term"] for t in entry.get("tags", [])] == paper.categories
        assert entry.published_parsed is not None
    if sort == "upvotes":
        votes = [p.upvotes for p in papers]
        assert votes == sorted(votes, reverse=True)
    feed = parsed.feed
    assert feed.link.startswith(f"{BASE}/papers") and all(
        e.link.startswith(f"{BASE}/papers/") for e in parsed.entries
    )
    label = parse_period(
        period.get("date"), period.get("week"), period.get("month"), lists.latest_day(loaded_db)
    ).label
    assert label in feed.title and label in feed.subtitle


def test_entries_carry_the_data(client: TestClient) -> None:
    """One known paper, checked against the bundled record rather than against the storage layer."""
    parsed = _parse(client, "/feed.atom", date="2026-07-08", sort="published")
    [entry] = [e for e in parsed.entries if e.link.endswith("/papers/2607.07386")]
    assert entry.title == "Sparse Delta Memory: Scaling the State of Linear RNNs through Sparsity"
    assert len(entry.authors) == 9 and entry.authors[0]["name"] == "Loïc Cabannes"
    assert entry.published_parsed[:6] == (2026, 7, 8, 13, 17, 19)
    assert [t["term"] for t in entry.tags] == ["cs.LG"]
    assert entry.summary.startswith("Linear attention models allow a fixed state size")
    rss = _parse(client, "/feed.xml", date="2026-07-08", sort="published")
    [item] = [e for e in rss.entries if e.link.endswith("/papers/2607.07386")]
    assert item.id == item.link and item.published_parsed[:6] == (2026, 7, 8, 13, 17, 19)


def test_self_and_alternate_links(client: TestClient) -> None:
    atom = _parse(client, "/feed.atom", week="2026-W34", sort="published")
    links = {link["rel"]: link["href"] for link in atom.feed.links}
    assert links["self"] == f"{BASE}/feed.atom?week=2026-W34&sort=published" == atom.feed.id
    assert links["alternate"] == f"{BASE}/papers?week=2026-W34&sort=published"
    latest = _parse(client, "/feed.xml")
    assert latest.feed.link == f"{BASE}/papers"  # the latest list, whatever day that is
    assert "Daily papers" in latest.feed.title


def test_bad_parameters_are_400(client: TestClient) -> None:
    for path in ("/feed.xml", "/feed.atom"):
        for params in (
            {"date": "2026-02-30"},
            {"week": "W34"},
            {"sort": "best"},
            {"date": "2026-08-20", "week": "2026-W34"},
        ):
            r = client.get(path, params=params)
            assert r.status_code == 400 and r.json()["error"], params


def test_etag_and_cache_headers(client: TestClient) -> None:
    first = client.get("/feed.atom", params={"date": "2026-08-20"})
    assert first.headers["cache-control"].startswith("public")
    assert first.headers["last-modified"].endswith(" GMT")
    again = client.get("/feed.atom", params={"date": "2026-08-20"})
    assert again.headers["etag"] == first.headers["etag"] and again.content == first.content
    cached = client.get(
        "/feed.atom", params={"date": "2026-08-20"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert cached.status_code == 304 and cached.content == b""
    other = client.get(
        "/feed.xml", params={"date": "2026-08-20"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert other.status_code == 200


# -- hostile text, in a fresh database --------------------------------------------------------------------

TITLE = 'Attack </title><script>alert("t")</script> & <![CDATA[x]]> $a<b$ \\textbf{B}\x01\x0b'
# No NUL: PostgreSQL refuses it in text, and every ingest path drops control characters anyway.
ABSTRACT = "We prove <b>this</b> & that: $x < y > z$, R&D &amp; \\emph{it}\x02\x1b\ufffe ]]> <!-- c --> done."
AUTHOR = "Eve <i>O'Neil</i> & \x08Mallory"
DAY = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def hostile_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    papers = [
        Paper(
            id="2609.00002",
            title=TITLE,
            abstract=ABSTRACT,
            authors=[AUTHOR, "Plain Name"],
            categories=["cs.CR", "x<y"],
            versions=[Version(1, DAY)],
            published_at=DAY,
            upvotes=5,
        ),
        Paper(
            id="hep-th/9901001",
            title="Old style id",
            abstract="Plain.",
            authors=["O. Old"],
            categories=["hep-th"],
            versions=[Version(1, DAY)],
            published_at=DAY.replace(hour=9),
            upvotes=9,
        ),
    ]
    paper_store.upsert_papers(db, papers)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _visible(text: str) -> str:
    """What survives: characters XML 1.0 allows."""
    return "".join(c for c in text if c in "\t\n\r" or (c >= " " and c not in "\ufffe\uffff"))


@pytest.mark.parametrize(("path", "version", "content_type"), FEEDS)
def test_hostile_text_stays_well_formed_plain_text(
    hostile_client: TestClient, path: str, version: str, content_type: str
) -> None:
    for period in ({}, {"date": "2026-09-01"}, {"week": "2026-W36"}, {"month": "2026-09"}):
        params = {**period, "sort": "published"}
        r = hostile_client.get(path, params=params)
        assert r.status_code == 200 and r.headers["content-type"] == content_type
        assert b"<script" not in r.content and b"<b>" not in r.content  # escaped, never markup
        parsed = feedparser.parse(r.content)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert [e.link for e in parsed.entries] == [
            f"{BASE}/papers/2609.00002",
            f"{BASE}/papers/hep-th/9901001",
        ]
        entry = parsed.entries[0]
        # RSS readers render titles and descriptions as HTML: they arrive escaped once more
        title = entry.title if version == "atom10" else html.unescape(entry.title)
        assert title == _visible(TITLE.replace("\\textbf{B}", "B"))
        summary = entry.summary if version == "atom10" else html.unescape(entry.summary)
        assert summary == _visible(ABSTRACT.replace("\\emph{it}", "it").replace("<!-- c -->", "<!– c →"))
        assert [a["name"] for a in entry.authors] == [_visible(AUTHOR), "Plain Name"]
        assert [t["term"] for t in entry.tags] == ["cs.CR", "x<y"]


def test_rss_description_shows_markup_as_text(hostile_client: TestClient) -> None:
    # Readers render an RSS description as HTML; the abstract's '<b>' must reach them as '&lt;b&gt;'.
    item = _parse(hostile_client, "/feed.xml", sort="published").entries[0]
    assert "&lt;b&gt;this&lt;/b&gt;" in item.summary and "<b>" not in item.summary


def test_empty_period_is_an_empty_feed(hostile_client: TestClient) -> None:
    for path, _, _ in FEEDS:
        parsed = _parse(hostile_client, path, date="2026-08-20")
        assert parsed.entries == [] and "0 papers" in parsed.feed.subtitle


def test_entries_follow_the_sort(hostile_client: TestClient) -> None:
    by_votes = _parse(hostile_client, "/feed.atom", date="2026-09-01").entries
    newest = _parse(hostile_client, "/feed.atom", date="2026-09-01", sort="published").entries
    assert [e.link.rsplit("/papers/", 1)[1] for e in by_votes] == ["hep-th/9901001", "2609.00002"]
    assert [e.link.rsplit("/papers/", 1)[1] for e in newest] == ["2609.00002", "hep-th/9901001"]
    assert date(*newest[0].published_parsed[:3]) == date(2026, 9, 1)
