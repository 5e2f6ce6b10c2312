"""The HTML pages in-process: the feed (day, week, month, sorts, pages, navigation), the paper page, error
pages, escaping of hostile data, security headers and the vendored KaTeX files.

Expectations come from the bundled data files themselves (data/*.jsonl), not from the code under test: a
paper's feed day is the date of its v1, and seed cards enter the feed on the day they were imported."""

from __future__ import annotations

import html
import http.client
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from paperfeed.models import Organization, Paper, Version
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage.lists import latest_day
from paperfeed.storage.papers import upsert_papers
from paperfeed.web.app import CSP, REQUESTS_PER_CONNECTION, create_app
from tests.conftest import CARDS, RECENT, SNAPSHOT, LiveServer

STATIC = Path(__file__).resolve().parent.parent / "paperfeed" / "web" / "static"


# -- what the data files say -------------------------------------------------------------------------


def _words(text: str) -> str:
    return " ".join(text.split())


def _raw(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _v1_day(record: dict[str, Any]) -> date:
    return parsedate_to_datetime(record["versions"][0]["created"]).astimezone(UTC).date()


@pytest.fixture(scope="session")
def arxiv_days() -> dict[str, date]:
    """arXiv id → feed day, from the recent and snapshot files."""
    return {r["id"]: _v1_day(r) for path in (RECENT, SNAPSHOT) for r in _raw(path)}


@pytest.fixture(scope="session")
def seed_cards() -> list[dict[str, Any]]:
    return _raw(CARDS)


@pytest.fixture(scope="session")
def today(loaded_db: Database) -> date:
    """The day the seed cards were imported: the newest day of the loaded data."""
    day = latest_day(loaded_db)
    assert day is not None
    return day


# -- reading the pages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    id: str
    href: str
    title: str
    upvotes: int
    feed_day: str  # the day it is listed on
    arxiv_day: str  # the day it first appeared on arXiv ('' for cards not on arXiv)
    meta: str  # authors and the meta line, as text


_CARD = re.compile(
    r'<article class="card" id="paper-[^"]*" data-paper-id="(?P<id>[^"]*)">.*?'
    r'<span class="vote-count">(?P<votes>[\d,]+)</span>.*?'
    r'<h2 class="card-title tex"><a class="card-link" href="(?P<href>[^"]*)">(?P<title>.*?)</a></h2>\s*'
    r'<p class="card-authors">(?P<authors>.*?)</p>\s*'
    r'<p class="card-meta">(?P<meta>.*?)</p>',
    re.S,
)


def cards(page: str) -> list[Card]:
    out = []
    for m in _CARD.finditer(page):
        listed = re.search(r'class="feed-day">Listed <time datetime="([^"]*)"', m["meta"])
        arxiv = re.search(r'class="arxiv-day">arXiv <time datetime="([^"]*)"', m["meta"])
        out.append(
            Card(
                id=html.unescape(m["id"]),
                href=html.unescape(m["href"]),
                title=html.unescape(m["title"]),
                upvotes=int(m["votes"].replace(",", "")),
                feed_day=listed[1] if listed else "",
                arxiv_day=arxiv[1] if arxiv else "",
                meta=html.unescape(re.sub(r"<[^>]+>", " ", m["authors"] + " · " + m["meta"])),
            )
        )
    return out


def link(page: str, element_id: str) -> str | None:
    m = re.search(rf'id="{element_id}" href="([^"]*)"|href="([^"]*)"[^>]*id="{element_id}"', page)
    return html.unescape(m[1] or m[2]) if m else None


def all_feed_ids(client: TestClient, url: str) -> list[str]:
    """Every paper id of a period, following the pager."""
    ids: list[str] = []
    for p in range(20):
        response = client.get(f"{url}&p={p}")
        assert response.status_code == 200
        found = cards(response.text)
        if not found:
            break
        ids += [c.id for c in found]
    return ids


def get_ok(client: TestClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    return response.text


# -- the feed ----------------------------------------------------------------------------------------


def test_home_shows_the_latest_day_in_upvote_order(
    client: TestClient, today: date, seed_cards: list[dict[str, Any]]
) -> None:
    page = get_ok(client, "/")
    assert today.strftime("%A, %B %-d, %Y") in page
    assert f'<span id="paper-count">{len(seed_cards)}</span> papers' in page
    shown = cards(page)
    assert {c.title for c in shown} == {_words(s["title"]) for s in seed_cards}
    votes = {_words(s["title"]): s["upvotes"] for s in seed_cards}
    assert [c.upvotes for c in shown] == [votes[c.title] for c in shown]
    assert [c.upvotes for c in shown] == sorted(votes.values(), reverse=True)
    assert shown[0].title == _words(max(seed_cards, key=lambda s: s["upvotes"])["title"])
    # /papers with no period is the same page
    assert [c.id for c in cards(get_ok(client, "/papers"))] == [c.id for c in shown]


def test_cards_show_authors_organization_and_date(
    client: TestClient, seed_cards: list[dict[str, Any]], today: date
) -> None:
    by_title = {c.title: c for c in cards(get_ok(client, "/"))}
    unknown = next(s for s in seed_cards if s["num_authors"] is None)
    assert "authors unknown" in by_title[_words(unknown["title"])].meta
    counted = next(s for s in seed_cards if s["num_authors"] and s["num_authors"] > 1)
    assert f"{counted['num_authors']} authors" in by_title[_words(counted["title"])].meta
    with_org = next(s for s in seed_cards if s.get("organization"))
    card = by_title[_words(with_org["title"])]
    assert _words(with_org["organization"].get("fullname") or with_org["organization"]["name"]) in card.meta
    # the day a card joined the list and the day it reached arXiv are two dates, each labelled
    dated = next(s for s in seed_cards if s.get("published_at"))
    assert by_title[_words(dated["title"])].arxiv_day == dated["published_at"][:10]
    assert by_title[_words(dated["title"])].feed_day == today.isoformat()
    # every card links to its page and shows its abstract (script clamps it to three lines)
    page = get_ok(client, "/")
    assert page.count('<p class="tex snippet"') == len(seed_cards)
    assert all(c.href == f"/papers/{c.id}" for c in by_title.values())


def test_a_day_shows_exactly_its_papers(client: TestClient, arxiv_days: dict[str, date]) -> None:
    day = date(2026, 8, 20)
    expected = {i for i, d in arxiv_days.items() if d == day}
    page = get_ok(client, f"/papers?date={day}")
    assert {c.id for c in cards(page)} == expected
    assert f'<span id="paper-count">{len(expected)}</span>' in page
    assert all(c.feed_day == day.isoformat() == c.arxiv_day for c in cards(page))


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("week=2026-W34", date(2026, 8, 17), date(2026, 8, 23)),
        ("week=2026-W30", date(2026, 7, 20), date(2026, 7, 26)),
        ("month=2026-07", date(2026, 7, 1), date(2026, 7, 31)),
        ("month=2026-08", date(2026, 8, 1), date(2026, 8, 31)),
    ],
)
def test_week_and_month_pages_hold_their_papers(
    client: TestClient, arxiv_days: dict[str, date], query: str, start: date, end: date
) -> None:
    expected = {i for i, d in arxiv_days.items() if start <= d <= end}
    assert expected
    ids = all_feed_ids(client, f"/papers?{query}")
    assert len(ids) == len(set(ids)) == len(expected)  # the pager neither repeats nor drops a paper
    assert set(ids) == expected
    assert f'<span id="paper-count">{len(expected)}</span>' in get_ok(client, f"/papers?{query}")


def test_pager_splits_by_page_size(client: TestClient, loaded_settings: Settings, today: date) -> None:
    first = get_ok(client, "/papers?month=2026-08")
    assert len(cards(first)) == loaded_settings.page_size
    assert link(first, "next-period") == f"/papers?month={today:%Y-%m}"  # the seed cards' month
    assert 'href="/papers?month=2026-08&amp;p=1"' in first
    assert 'aria-current="page">1</span>' in first
    second = get_ok(client, "/papers?month=2026-08&p=1")
    assert 'href="/papers?month=2026-08"' in second  # back to the first page, canonical URL
    past = client.get("/papers?month=2026-08&p=99")
    assert past.status_code == 200 and not cards(past.text)
    assert "past the last paper" in past.text


def test_previous_links_walk_every_day_with_papers(
    client: TestClient, arxiv_days: dict[str, date], today: date
) -> None:
    days = sorted({*arxiv_days.values(), today}, reverse=True)
    url: str | None = "/"
    seen = []
    while url:
        page = get_ok(client, url)
        shown = cards(page)
        assert shown, url  # navigation never lands on an empty day
        day = today if url == "/" else date.fromisoformat(url.split("date=")[1])
        seen.append(day)
        assert all(arxiv_days.get(c.id, today) == day for c in shown)
        url = link(page, "previous-period")
    assert seen == days
    # and next goes back the way previous came
    page = get_ok(client, f"/papers?date={days[-1]}")
    assert link(page, "next-period") == f"/papers?date={days[-2]}"
    assert link(get_ok(client, "/"), "next-period") is None


def test_navigation_skips_empty_days_and_keeps_the_sort(client: TestClient) -> None:
    page = get_ok(client, "/papers?date=2026-08-16&sort=published")  # a Sunday: no papers
    assert "No papers for this day" in page
    assert not cards(page)
    assert link(page, "previous-period") == "/papers?date=2026-08-13&sort=published"
    assert link(page, "next-period") == "/papers?date=2026-08-17&sort=published"
    week = get_ok(client, "/papers?week=2026-W33&sort=trending")
    assert link(week, "previous-period") == "/papers?week=2026-W32&sort=trending"
    assert link(week, "next-period") == "/papers?week=2026-W34&sort=trending"


def test_period_switch_lands_on_papers(client: TestClient) -> None:
    page = get_ok(client, "/papers?month=2026-08")
    # Day goes to the month's latest day with papers, Week to the week holding it
    assert 'href="/papers?date=2026-08-20">Day</a>' in page
    assert 'href="/papers?week=2026-W34">Week</a>' in page
    assert 'aria-current="page" class="active">Month</a>' in page
    day = get_ok(client, "/papers?date=2026-07-08&sort=published")
    assert 'href="/papers?month=2026-07&amp;sort=published">Month</a>' in day
    assert 'href="/papers?date=2026-07-08&amp;sort=trending">Trending</a>' in day


def test_sort_orders_on_real_data(client: TestClient, seed_cards: list[dict[str, Any]]) -> None:
    by_votes = cards(get_ok(client, "/"))
    by_date = cards(get_ok(client, "/papers?sort=published"))
    assert {c.id for c in by_votes} == {c.id for c in by_date}
    assert [c.id for c in by_votes] != [c.id for c in by_date]
    published = {_words(s["title"]): s["published_at"][:10] for s in seed_cards if s.get("published_at")}
    assert len(published) > 10
    dated = [published[c.title] for c in by_date if c.title in published]
    assert dated == sorted(dated, reverse=True)
    assert dated != [published[c.title] for c in by_votes if c.title in published]
    assert [c.upvotes for c in by_votes] == sorted((c.upvotes for c in by_votes), reverse=True)
    assert 'aria-current="page" class="active">Newest</a>' in get_ok(client, "/papers?sort=published")


@dataclass
class Site:
    db: Database
    client: TestClient


@pytest.fixture
def site(settings: Settings, db: Database) -> Iterator[Site]:
    """The app over a fresh, empty database that the test fills."""
    with TestClient(create_app(settings)) as test_client:
        yield Site(db, test_client)


def make_paper(pid: str, published: datetime, upvotes: int = 0, **kw: Any) -> Paper:
    return Paper(
        id=pid,
        title=kw.pop("title", f"Paper {pid}"),
        abstract=kw.pop("abstract", "An abstract."),
        authors=kw.pop("authors", ["A. Author", "B. Author"]),
        categories=kw.pop("categories", ["cs.LG"]),
        versions=[Version(1, published)],
        published_at=published,
        upvotes=upvotes,
        **kw,
    )


def test_the_three_sort_orders_differ(site: Site) -> None:
    now = datetime.now(UTC)
    day = now.date()
    upsert_papers(site.db, [
        make_paper("2601.00001", now - timedelta(days=5), upvotes=10, feed_day=day),  # old, many votes
        make_paper("2601.00002", now - timedelta(hours=3), upvotes=3, feed_day=day),  # recent, some votes
        make_paper("2601.00003", now - timedelta(minutes=30), upvotes=0, feed_day=day),  # newest, none
    ])  # fmt: skip

    def order(sort: str) -> list[str]:
        return [c.id for c in cards(get_ok(site.client, f"/papers?date={day}&sort={sort}"))]

    assert order("upvotes") == ["2601.00001", "2601.00002", "2601.00003"]
    assert order("published") == ["2601.00003", "2601.00002", "2601.00001"]
    # (votes + 1) / (hours + 2): 4/5 beats 1/2.5 beats 11/122
    assert order("trending") == ["2601.00002", "2601.00003", "2601.00001"]


# -- the paper page ----------------------------------------------------------------------------------


def test_snapshot_paper_page_shows_everything(client: TestClient) -> None:
    page = get_ok(client, "/papers/0704.0001")
    assert "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies" in page
    authors = ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan")  # each linked to their page
    assert "".join(f'<li><a href="/authors/{quote(a)}">{a}</a></li>' for a in authors) in page
    assert '<span class="version">v1</span> <time datetime="2007-04-02T19:18:42+00:00">' in page
    assert '<span class="version">v2</span> <time datetime="2007-07-24T20:10:27+00:00">' in page
    assert (
        '<a id="doi" href="https://doi.org/10.1103/PhysRevD.76.013009">10.1103/PhysRevD.76.013009</a>' in page
    )
    assert '<dd id="journal-ref">Phys.Rev.D76:013009,2007</dd>' in page
    assert "37 pages, 15 figures; published version" in page
    assert "ANL-HEP-PR-07-12" in page
    assert '<a class="category" rel="tag" href="/papers?category=hep-ph">hep-ph</a>' in page
    assert link(page, "arxiv-abs") == "https://arxiv.org/abs/0704.0001"
    assert link(page, "arxiv-pdf") == "https://arxiv.org/pdf/0704.0001"
    assert "A fully differential calculation in perturbative quantum chromodynamics" in page
    day = link(page, "feed-day")
    assert day == "/papers?date=2007-04-02"
    assert "0704.0001" in [c.id for c in cards(get_ok(client, day))]


def test_paper_page_loads_katex_only_when_there_is_math(client: TestClient) -> None:
    with_math = get_ok(client, "/papers/0704.0005")  # "From dyadic $\Lambda_{\alpha}$ to $\Lambda_{\alpha}$"
    assert r"From dyadic $\Lambda_{\alpha}$ to $\Lambda_{\alpha}$" in with_math
    for src in (
        "/static/katex/katex.min.js",
        "/static/katex/contrib/auto-render.min.js",
        "/static/js/math.js",
    ):
        assert f'<script defer src="{src}"></script>' in with_math
    assert 'href="/static/katex/katex.min.css"' in with_math
    # A page whose text has no math skips KaTeX (a paper page also shows its similar papers' cards).
    assert "katex" not in get_ok(client, "/login")


def test_card_page_has_no_arxiv_links(client: TestClient, seed_cards: list[dict[str, Any]]) -> None:
    unknown = next(s for s in seed_cards if s["num_authors"] is None)
    card = next(c for c in cards(get_ok(client, "/")) if c.title == _words(unknown["title"]))
    page = get_ok(client, card.href)
    assert "Authors unknown" in page
    assert "arxiv-abs" not in page and "arxiv-pdf" not in page
    assert f'<span class="vote-count" id="upvotes">{unknown["upvotes"]}</span>' in page
    assert _words(unknown["summary"])[:80] in html.unescape(page)


def test_old_style_id_page(site: Site, client: TestClient) -> None:
    # The bundled data has only new-style ids; check there, then with one stored here.
    assert get_ok(client, "/papers/0704.0002")
    upsert_papers(
        site.db,
        [
            make_paper(
                "hep-th/9901001",
                datetime(1999, 1, 4, 10, tzinfo=UTC),
                upvotes=2,
                title="Old-style identifiers",
            )
        ],
    )
    page = get_ok(site.client, "/papers/hep-th/9901001")
    assert "Old-style identifiers" in page
    assert link(page, "arxiv-abs") == "https://arxiv.org/abs/hep-th/9901001"
    day = get_ok(site.client, "/papers?date=1999-01-04")
    assert [c.href for c in cards(day)] == ["/papers/hep-th/9901001"]


# -- errors ------------------------------------------------------------------------------------------


def test_unknown_paper_is_a_404_page(client: TestClient) -> None:
    response = client.get("/papers/9999.99999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    assert "Paper not found" in response.text and "9999.99999" in response.text


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/no/such/page", 404, "There is nothing at /no/such/page."),
        ("GET", "/users", 404, "There is nothing at /users."),
        ("GET", "/static/none.css", 404, "There is nothing at /static/none.css."),
        ("POST", "/search", 405, "POST is not allowed here."),
        ("GET", "/search?since=not-a-date&q=x", 400, "since=&#39;not-a-date&#39; is not a date"),
        ("GET", "/collections/abc", 404, "There is nothing at /collections/abc."),
    ],
)
def test_every_error_of_a_page_is_an_html_page(
    client: TestClient, method: str, path: str, status: int, message: str
) -> None:
    """Unknown URLs, wrong methods and bad parameters answer with the site's error page, not raw JSON."""
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    assert message in response.text and '<section class="error-page">' in response.text


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/api/no/such/thing", 404, "There is nothing at /api/no/such/thing."),
        ("PUT", "/api/daily_papers", 405, "PUT is not allowed here."),
        ("GET", "/api/daily_papers?limit=0", 400, "invalid value for 'limit'"),
        ("GET", "/api/collections/12345", 404, "collection 12345 not found"),
        ("GET", "/papers/9999.99999.md", 404, "paper '9999.99999' not found"),
    ],
)
def test_every_error_of_the_api_is_json(
    client: TestClient, method: str, path: str, status: int, message: str
) -> None:
    """The API, the feeds and the Markdown view answer every error as {"error": ...} naming the problem."""
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date=2026-02-30", "date='2026-02-30' is not a valid date"),
        ("date=yesterday", "date='yesterday' is not a valid date"),
        ("week=2026-W60", "week='2026-W60' is not a valid week"),
        ("month=2026-13", "month='2026-13' is not a valid month"),
        ("date=2026-08-20&week=2026-W34", "give only one of date, week and month"),
        ("week=9999-W53", "week='9999-W53' is not a valid week"),
        ("sort=best", "sort='best' is not a sort order"),
        ("date=2026-08-20&p=two", "p='two' is not a page number"),
        ("p=-1", "p='-1' is not a page number"),
        ("p=99999999999999999999999", "is too large"),
    ],
)
def test_bad_parameters_are_a_400_page(client: TestClient, query: str, message: str) -> None:
    response = client.get(f"/papers?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    assert message in html.unescape(response.text)
    assert client.get("/?sort=best").status_code == 400


# -- escaping and headers ----------------------------------------------------------------------------

EVIL_TITLE = "<script>alert(1)</script> Attack on $x$"
EVIL_ABSTRACT = 'See <img src=x onerror=alert(1)> and \\href{javascript:alert(1)}{x} or <b>"bold"</b>.'


def test_hostile_text_is_escaped_everywhere(site: Site) -> None:
    now = datetime.now(UTC)
    upsert_papers(site.db, [make_paper(
        "2602.00666", now, upvotes=1, title=EVIL_TITLE, abstract=EVIL_ABSTRACT,
        authors=["<i>Eve</i>", "Mallory\" onmouseover=\"alert(1)"], comments="<script>c()</script>",
        journal_ref="<iframe>", doi='10.1/x" onclick="alert(1)', license="javascript:alert(1)",
        organization=Organization("evil", "<b>Evil Org</b>"),
    )])  # fmt: skip
    pages = [get_ok(site.client, "/papers/2602.00666"), get_ok(site.client, f"/papers?date={now.date()}")]
    not_found = site.client.get("/papers/<script>alert(1)</script>")
    assert not_found.status_code == 404
    pages.append(not_found.text)
    for page in pages:
        for raw in ("<script>alert", "<img", "<b>", "<i>Eve", "<iframe", '" onmouseover=', '" onclick='):
            assert raw not in page
        assert 'href="javascript:' not in page
    paper_page, day_page = pages[0], pages[1]
    for page in (paper_page, day_page):
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Attack on $x$" in page
        assert "See &lt;img src=x onerror=alert(1)&gt; and \\href{javascript:alert(1)}{x}" in page
        assert "&lt;b&gt;Evil Org&lt;/b&gt;" in page
    assert "&lt;i&gt;Eve&lt;/i&gt;" in paper_page
    assert "Mallory&#34; onmouseover=&#34;alert(1)" in paper_page
    assert 'href="https://doi.org/10.1/x%22%20onclick%3D%22alert%281%29"' in paper_page
    assert "<dd>javascript:alert(1)</dd>" in paper_page  # a license that is no http(s) URL stays text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[2]


def test_a_connection_is_closed_after_its_share_of_requests(live_server: LiveServer) -> None:
    """So that connections opened while the node was idle, which one worker may have taken all of, are
    opened again and spread over the workers (web/app.py, ConnectionTurnover)."""
    connection = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
    for n in range(1, REQUESTS_PER_CONNECTION + 1):
        connection.request("GET", "/robots.txt")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        assert (response.getheader("connection") == "close") == (n == REQUESTS_PER_CONNECTION)
    assert connection.sock is None  # the client closed its side as told; the next request opens a new one
    connection.request("GET", "/robots.txt")
    assert connection.getresponse().getheader("connection") is None
    connection.close()


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)


@pytest.mark.parametrize(
    "url",
    ["/", "/papers?week=2026-W34", "/papers/0704.0005", "/papers/0704.0001", "/papers/nope", "/papers?p=x"],
)
def test_html_has_csp_and_nothing_inline(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert not INLINE_SCRIPT.search(response.text)
    assert " style=" not in response.text and "<style" not in response.text
    assert not EVENT_HANDLER.search(response.text)


def test_static_katex_is_served(client: TestClient) -> None:
    css = client.get("/static/katex/katex.min.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    fonts = re.findall(r"url\(([^)]+)\)", css.text)
    assert fonts and all(f.startswith("fonts/") and f.endswith(".woff2") for f in fonts)
    for font in sorted(set(fonts)):
        response = client.get(f"/static/katex/{font}")
        assert response.status_code == 200 and response.content[:4] == b"wOF2", font
    for path in (
        "katex/katex.min.js",
        "katex/contrib/auto-render.min.js",
        "js/math.js",
        "css/site.css",
        "favicon.svg",
    ):
        response = client.get(f"/static/{path}")
        assert response.status_code == 200 and response.content, path
    assert "renderMathInElement" in client.get("/static/js/math.js").text
    assert (STATIC / "katex" / "LICENSE").read_text().startswith("The MIT License")
    assert not list((STATIC / "katex").rglob("*.ttf")) and not list((STATIC / "katex").rglob("*.woff"))


def test_other_spellings_of_an_id_redirect_to_the_paper(client: TestClient) -> None:
    response = client.get("/papers/2607.07386v2", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"].endswith("/papers/2607.07386")


def test_static_assets_are_served_with_etags(client: TestClient) -> None:
    css = client.get("/static/css/site.css")
    assert css.status_code == 200 and css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["cache-control"].startswith("public") and css.headers["etag"]
    again = client.get("/static/css/site.css", headers={"If-None-Match": css.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    font = client.head("/static/katex/fonts/KaTeX_Main-Regular.woff2")
    assert font.status_code == 200 and font.headers["content-type"] == "font/woff2" and font.content == b""
    assert client.get("/static/../settings.py").status_code == 404
    assert client.post("/static/css/site.css").status_code == 405


def test_arxiv_paths_open_here(client: TestClient) -> None:
    """Swapping the host of an arXiv link works: /abs/ is the paper's page, /pdf/ goes to arXiv's PDF."""
    found = client.get("/abs/2607.07386v2", follow_redirects=False)
    assert found.status_code == 301 and found.headers["location"] == "/papers/2607.07386"
    spelled = client.get("/abs/arXiv:0704.0001", follow_redirects=False)
    assert spelled.status_code == 301 and spelled.headers["location"] == "/papers/0704.0001"
    missing = client.get("/abs/2699.00001")
    assert missing.status_code == 404 and "/submit?arxiv_id=2699.00001" in missing.text
    assert client.get("/abs/not-an-id").status_code == 404
    pdf = client.get("/pdf/2607.07386v2", follow_redirects=False)
    assert pdf.status_code == 302 and pdf.headers["location"] == "https://arxiv.org/pdf/2607.07386v2"
    assert (
        client.get("/pdf/2699.00001.pdf", follow_redirects=False).headers["location"].endswith("/2699.00001")
    )
    assert client.get("/pdf/https://evil.example/x", follow_redirects=False).status_code == 404
