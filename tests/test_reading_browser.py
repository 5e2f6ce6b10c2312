"""The daily reading experience (issue #13 items 3–9) in real Chromium, on a desktop and a 390×844 phone:
cards a researcher can scan, votes cast in place (and without script, and across a log-in), the phone menu
and search, LaTeX in comments and every list of cards, styled answers and inline form errors, the subscribe
box, keyboard shortcuts with a visible focus, the light/dark switch and the day picker. Each test saves
screenshots under artifacts/screenshots/; none may log a console error, an uncaught exception or a CSP
violation. The accessibility checks (axe-core) are in tests/test_a11y_browser.py."""

# ruff: noqa: F811 - the browser fixtures come from tests/test_browser.py, imported below by name
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page
from pydantic import SecretStr

from paperfeed.models import Paper, Version
from paperfeed.search import indexer
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import collections as collection_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import votes as vote_store
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.schema import papers as papers_table
from tests.community import PASSWORD, member
from tests.conftest import LiveServer, cached_embedder
from tests.test_browser import ARTIFACTS, Problems, assert_clean, browser, page_and_problems  # noqa: F401

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "screenshots"
PHONE = {"width": 390, "height": 844}
COUNT = 24
ABSTRACT = (
    "We study how researchers scan a long daily list of papers and what a card must show for a decision "
    "within seconds. "
    * 5
    + r"The bound is $O(n \log n)$ and \emph{tight}; benchmarks---on three domains---agree."
)


def shot(page: Page, name: str, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def reading_papers(db: Database, settings: Settings) -> list[Paper]:
    """A day of COUNT papers (today), ranked by their imported upvotes, with math, five authors each,
    junk among their keyphrases, and one published under an organization; searchable."""
    now = datetime.now(UTC).replace(microsecond=0)
    papers = [
        Paper(
            id=f"2611.{i:05d}",
            title=f"Scanning papers, part {i}" + (r": bounds on $\Lambda_\alpha$" if i % 4 == 0 else ""),
            abstract=ABSTRACT,
            authors=[f"Author {i}-{j}" for j in range(5)],
            categories=["cs.LG", "cs.CL"],
            versions=[Version(1, now - timedelta(seconds=i))],
            published_at=now - timedelta(seconds=i),
            upvotes=COUNT - i,
        )
        for i in range(COUNT)
    ]
    upsert_papers(db, papers)
    indexer.bring_up_to_date(db, settings, embedder=cached_embedder(settings))
    junk = ["Alves et al", "beats GPT-2", "unseen user--item pairs---is"]
    with db.write() as conn:
        conn.execute(
            sa.update(papers_table).values(
                keywords=[*junk, "card layouts", "daily lists", "reading speed", "x"]
            )
        )
    owner = member(db, "owner")
    org_store.link_paper(db, org_store.create_org(db, "acme", "Acme Labs", owner.id, now), papers[0].id)
    return papers


@pytest.fixture
def site(settings: Settings, db: Database) -> Iterator[tuple[LiveServer, Database, list[Paper]]]:
    papers = reading_papers(db, settings)
    member(db, "ada")
    with LiveServer(settings) as server:
        yield server, db, papers


def log_in(page: Page, server: LiveServer, name: str = "ada") -> None:
    page.goto(server.url + "/login")
    page.fill("#login-name", name)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(server.url + "/")


def card_ids(page: Page) -> list[str]:
    return page.locator("main article.card").evaluate_all("cs => cs.map(c => c.dataset.paperId)")


# -- items 1 and 2: the two lists and categories -----------------------------------------------------------


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_two_lists_and_category_filters(
    browser: Browser, site: tuple[LiveServer, Database, list[Paper]], viewport: str
) -> None:
    server, db, papers = site
    now = datetime.now(UTC).replace(microsecond=0)
    vision = Paper(
        id="2611.09000",
        title="Seeing papers",
        abstract="A vision paper.",
        authors=["V. Ision"],
        categories=["cs.CV"],
        versions=[Version(1, now - timedelta(seconds=COUNT))],  # today, after the day's others
        published_at=now - timedelta(seconds=COUNT),
    )
    upsert_papers(db, [vision])
    for paper in papers[:3]:
        paper_store.mark_submitted(db, paper.id, "ada", now)
    options = {"viewport": PHONE, "is_mobile": True, "has_touch": True} if viewport == "phone" else {}
    context = browser.new_context(**options)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(server.url + "/papers?sort=published")  # the site shows everything first (tests' setting)
    assert len(card_ids(page)) == COUNT + 1
    page.locator("#list-tabs").get_by_text("Curated", exact=True).click()
    page.wait_for_url(re.compile(r"list=curated"))
    assert sorted(card_ids(page)) == sorted(p.id for p in papers[:3])
    shot(page, f"lists-curated-{viewport}")
    page.locator("#list-tabs").get_by_text("All new", exact=True).click()
    page.wait_for_url(re.compile(r"/papers\?date=[0-9-]+&sort=published$"))
    page.locator(f'article.card[data-paper-id="{vision.id}"] a.category').click()
    page.wait_for_url(re.compile(r"category=cs\.CV"))
    assert card_ids(page) == [vision.id]
    assert page.locator("#category-filters").is_visible()
    shot(page, f"category-filter-{viewport}")
    page.locator("#category-filters").get_by_text("all categories").click()
    page.wait_for_url(re.compile(r"/papers\?date=[0-9-]+$"))
    assert len(card_ids(page)) == COUNT + 1
    assert page.evaluate("document.documentElement.scrollWidth") <= (
        PHONE["width"] if viewport == "phone" else 10_000
    )
    context.close()


# -- item 3: cards ----------------------------------------------------------------------------------------


def test_cards_can_be_scanned(
    page_and_problems: tuple[Page, Problems], site: tuple[LiveServer, Database, list[Paper]]
) -> None:
    page, problems = page_and_problems
    server, _, papers = site
    page.goto(server.url + "/")
    page.wait_for_selector("html.math-ready")
    first = page.locator(f'article.card[data-paper-id="{papers[0].id}"]')
    assert first.locator(".card-authors").inner_text() == "Author 0-0, Author 0-1, Author 0-2 +2"
    assert first.locator("a.org").get_attribute("href") == "/orgs/acme"
    assert first.locator("a.arxiv-link").get_attribute("href") == f"https://arxiv.org/abs/{papers[0].id}"
    assert first.locator("a.pdf-link").get_attribute("href") == f"https://arxiv.org/pdf/{papers[0].id}"
    assert first.locator("a.comments").inner_text() == "0 comments"
    assert first.locator("a.category").get_attribute("href") == "/papers?category=cs.LG"
    assert (
        "Listed" in first.locator(".feed-day").inner_text()
        and "arXiv" in first.locator(".arxiv-day").inner_text()
    )
    assert first.locator(".keywords li").all_inner_texts() == ["card layouts", "daily lists", "reading speed"]
    assert first.locator(".card-title .katex").count() == 1  # math in a card title, typeset
    text = first.locator(".snippet")
    assert "\\emph" not in text.inner_text() and "domains—agree" in text.inner_text()
    # three lines, then "More"
    line = float(text.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    clamped = text.bounding_box()["height"]  # type: ignore[index]
    assert clamped <= 3 * line + 2
    more = first.locator("button.expand")
    assert more.is_visible() and more.get_attribute("aria-expanded") == "false"
    shot(page, "cards-desktop")
    more.click()
    assert more.get_attribute("aria-expanded") == "true" and more.inner_text() == "Less"
    assert text.bounding_box()["height"] > 2 * clamped  # type: ignore[index]
    page.click("#expand-all")
    assert page.locator(".card .abstract.open").count() == COUNT
    assert page.locator("#expand-all").inner_text() == "Collapse all"
    page.click("#expand-all")
    assert page.locator(".card .abstract.open").count() == 0
    assert_clean(page, problems)


# -- item 4: votes --------------------------------------------------------------------------------------


def test_a_vote_is_cast_in_place(
    page_and_problems: tuple[Page, Problems], site: tuple[LiveServer, Database, list[Paper]]
) -> None:
    page, problems = page_and_problems
    server, db, papers = site
    log_in(page, server)
    order = card_ids(page)
    target = papers[12]
    card = page.locator(f'article.card[data-paper-id="{target.id}"]')
    card.scroll_into_view_if_needed()
    page.evaluate("window.__same = true")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 500
    card.locator("button.vote-button").click()
    page.wait_for_function(
        f"() => document.querySelector('article.card[data-paper-id=\"{target.id}\"] .vote-button')"
        ".getAttribute('aria-pressed') === 'true'"
    )
    assert card.locator(".vote-count").inner_text() == str(target.upvotes + 1)
    assert page.evaluate("window.__same") is True  # no reload
    assert page.evaluate("window.scrollY") == scrolled and card_ids(page) == order  # no jump, no re-sort
    assert vote_store.count_votes(db, target.id) == 1
    shot(page, "vote-in-place")
    card.locator("button.vote-button").click()  # and back
    page.wait_for_function(
        f"() => document.querySelector('article.card[data-paper-id=\"{target.id}\"] .vote-button')"
        ".getAttribute('aria-pressed') === 'false'"
    )
    assert card.locator(".vote-count").inner_text() == str(target.upvotes)
    assert vote_store.count_votes(db, target.id) == 0 and page.evaluate("window.__same") is True
    assert_clean(page, problems)


def test_without_script_a_vote_returns_to_its_card(
    browser: Browser,
    site: tuple[LiveServer, Database, list[Paper]],
) -> None:
    server, db, papers = site
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    log_in(page, server)
    target = papers[15]
    page.locator(f'article.card[data-paper-id="{target.id}"] button.vote-button').click()
    page.wait_for_url(re.compile(rf"#paper-{re.escape(target.id)}$"))
    card = page.locator(f'article.card[data-paper-id="{target.id}"]')
    assert card.locator("button.vote-button").get_attribute("aria-pressed") == "true"
    assert page.evaluate("window.scrollY") > 500  # the page opened at the card
    assert vote_store.count_votes(db, target.id) == 1
    # the abstract is whole without script: nothing would expand it
    assert card.locator("button.expand").is_hidden()
    shot(page, "vote-without-script")
    context.close()


def test_a_visitors_vote_survives_logging_in(
    page_and_problems: tuple[Page, Problems], site: tuple[LiveServer, Database, list[Paper]]
) -> None:
    page, problems = page_and_problems
    server, db, papers = site
    target = papers[9]
    page.goto(server.url + "/")
    page.locator(f'article.card[data-paper-id="{target.id}"] a.votes').click()
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("#login-name", "ada")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(re.compile(rf"/\?vote={re.escape(target.id)}#paper-{re.escape(target.id)}$"))
    assert vote_store.count_votes(db, target.id) == 0  # the GET cast nothing
    form = page.locator(f'article.card[data-paper-id="{target.id}"] form.votes')
    assert "confirm" in (form.get_attribute("class") or "")
    assert page.evaluate("document.activeElement.closest('form.votes')?.dataset.paperId") == target.id
    assert form.locator(".vote-confirm").is_visible()
    shot(page, "vote-confirm-after-login")
    page.keyboard.press("Enter")  # the focused ▲: one key (or click) casts it
    page.wait_for_function("() => !document.querySelector('.vote-confirm')")
    assert vote_store.count_votes(db, target.id) == 1
    assert form.locator("button.vote-button").get_attribute("aria-pressed") == "true"
    assert_clean(page, problems)


# -- item 5: the phone ------------------------------------------------------------------------------------


def test_on_a_phone_every_link_is_in_the_menu_and_search_works(
    browser: Browser,
    site: tuple[LiveServer, Database, list[Paper]],
) -> None:
    server, _, _ = site
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(server.url + "/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator(".site-nav").is_hidden()
    shot(page, "phone-feed")
    page.click(".site-menu summary")
    for link in ("Daily papers", "Subscribe", "RSS", "API", "Log in", "Sign up"):
        assert page.locator(".menu-nav").get_by_text(link, exact=True).is_visible(), link
    shot(page, "phone-menu")
    page.locator(".menu-nav").get_by_text("Log in", exact=True).click()
    page.wait_for_url(server.url + "/login")
    page.fill("#login-name", "ada")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(server.url + "/")
    page.click(".site-menu summary")
    for link in ("Submit", "ada", "Log out"):
        assert page.locator(".menu-nav").get_by_text(link, exact=True).is_visible(), link
    page.click(".site-menu summary")
    search = page.locator("#site-search")
    assert search.is_visible() and search.bounding_box()["width"] >= 150  # type: ignore[index]
    search.fill("scanning papers")
    search.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=scanning\+papers"))
    page.wait_for_selector("#results article.card")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "phone-search")
    context.close()


# -- item 6: LaTeX ----------------------------------------------------------------------------------------


def test_latex_is_typeset_in_comments_and_every_card_list(
    page_and_problems: tuple[Page, Problems], site: tuple[LiveServer, Database, list[Paper]]
) -> None:
    page, problems = page_and_problems
    server, db, papers = site
    ada = member(db, "grace")
    now = datetime.now(UTC)
    made = collection_store.create(db, ada.id, "Bounds", "", True, now)
    collection_store.put_item(db, made.id, papers[4].id, "", now)
    for url in (f"/collections/{made.id}", "/orgs/acme"):
        page.goto(server.url + url)
        page.wait_for_selector("html.math-ready")
        assert page.locator("article.card .katex").count() >= 1, url
        assert page.locator(".katex-error").count() == 0
    shot(page, "latex-collection")
    log_in(page, server)
    page.goto(f"{server.url}/papers/{papers[1].id}")
    page.fill("#comment-body", "Why is $a*b$ not $c*d$, and is $\\{x_1\\}$ a set?")
    page.click("#comment-submit")
    page.wait_for_selector(".comment-body .katex")
    assert page.locator(".comment-body .katex").count() == 3 and page.locator(".comment-body em").count() == 0
    shot(page, "latex-comment")
    assert_clean(page, problems)


# -- item 7: styled answers, inline errors ----------------------------------------------------------------


def test_every_answer_is_a_page_and_form_errors_sit_by_their_form(
    page_and_problems: tuple[Page, Problems], site: tuple[LiveServer, Database, list[Paper]]
) -> None:
    page, problems = page_and_problems
    server, _, papers = site
    missing = page.goto(server.url + "/users")
    assert missing is not None and missing.status == 404
    assert (
        page.locator("h1").inner_text() == "Not found" and page.locator("link[rel=stylesheet]").count() == 1
    )
    shot(page, "not-found")
    # a 404 answer is what Chromium logs as a failed load: expected here, and the only one
    assert problems.console == [
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    ]
    problems.console.clear()
    log_in(page, server)
    page.goto(f"{server.url}/papers/{papers[2].id}")
    page.fill("#comment-body", "   ")
    page.click("#comment-submit")
    page.wait_for_selector("#comment-error")
    error, box = page.locator("#comment-error").bounding_box(), page.locator("#comment-body").bounding_box()
    assert error and box and 0 <= box["y"] - (error["y"] + error["height"]) < 40  # right above the box
    assert "a comment needs some text" in page.locator("#comment-error").inner_text()
    assert page.locator("h1.paper-title").is_visible()
    shot(page, "comment-error")
    assert problems.console == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
    problems.console.clear()
    assert page.evaluate("window.__csp") == [] and problems.exceptions == []


# -- item 8: subscribe ------------------------------------------------------------------------------------


def test_the_feed_says_mail_is_off_before_anyone_types(
    page_and_problems: tuple[Page, Problems], site: tuple[LiveServer, Database, list[Paper]]
) -> None:
    page, problems = page_and_problems
    server, _, _ = site
    page.goto(server.url + "/")
    banner = page.locator(".subscribe-banner")
    assert banner.locator("h2").inner_text() == "Get trending papers in your email inbox!"
    assert banner.locator("input[type=email]").is_disabled() and banner.locator("button").is_disabled()
    assert "PAPERFEED_SMTP_URL" in banner.locator("#subscribe-off").inner_text()
    assert_clean(page, problems)


def test_subscribing_from_the_feed(
    page_and_problems: tuple[Page, Problems], settings: Settings, db: Database
) -> None:
    page, problems = page_and_problems
    reading_papers(db, settings)
    member(db, "ada")
    mail = {"smtp_url": SecretStr("smtp://127.0.0.1:9"), "secret_key": SecretStr("k" * 32)}
    with LiveServer(settings.model_copy(update=mail)) as server:
        page.goto(server.url + "/")
        page.fill("#subscribe-email", "reader@example.org")
        shot(page, "subscribe-box")
        page.click("#subscribe-submit")
        page.wait_for_url(re.compile(r"/subscribe\?email=reader%40example\.org$"))
        assert page.locator("#subscribe-page-email").input_value() == "reader@example.org"
        log_in(page, server)
        assert page.locator("#subscribe-email").input_value() == "ada@example.org"
    assert_clean(page, problems)


# -- item 9: reading at speed -----------------------------------------------------------------------------


def test_keyboard_shortcuts_and_a_visible_focus(
    page_and_problems: tuple[Page, Problems], site: tuple[LiveServer, Database, list[Paper]]
) -> None:
    page, problems = page_and_problems
    server, db, _ = site
    log_in(page, server)
    ids = card_ids(page)
    page.keyboard.press("j")
    page.keyboard.press("j")
    current = page.locator("article.card.current")
    assert current.count() == 1 and current.get_attribute("data-paper-id") == ids[1]
    assert page.evaluate("document.activeElement.closest('article.card').dataset.paperId") == ids[1]
    outline = page.evaluate(
        "getComputedStyle(document.activeElement).outlineStyle + ' ' + getComputedStyle(document.activeElement).outlineWidth"
    )
    assert outline.startswith("solid") and not outline.endswith(" 0px")
    page.keyboard.press("k")
    assert page.locator("article.card.current").get_attribute("data-paper-id") == ids[0]
    page.keyboard.press("u")
    page.wait_for_function(
        "() => document.querySelector('article.card.current .vote-button').getAttribute('aria-pressed') === 'true'"
    )
    assert vote_store.count_votes(db, ids[0]) == 1
    page.keyboard.press("x")
    assert page.locator("article.card.current .abstract.open").count() == 1
    shot(page, "keyboard-focus")
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    shot(page, "shortcuts-help")
    page.keyboard.press("Escape")
    assert page.locator("#shortcuts").is_hidden()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "site-search"
    page.keyboard.type("jk")  # typing in a field is typing, not shortcuts
    assert page.locator("#site-search").input_value() == "jk"
    page.locator("article.card").nth(2).locator(".card-link").focus()
    page.keyboard.press("o")
    page.wait_for_url(f"{server.url}/papers/{ids[2]}")
    assert_clean(page, problems)


def test_the_light_dark_switch_is_remembered(
    page_and_problems: tuple[Page, Problems], site: tuple[LiveServer, Database, list[Paper]]
) -> None:
    page, problems = page_and_problems
    server, _, _ = site
    page.goto(server.url + "/")
    background = "getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    toggle = page.locator("#theme-toggle")
    assert "automatic" in (toggle.get_attribute("aria-label") or "")
    while page.evaluate("document.documentElement.dataset.theme") != "dark":
        toggle.click()
    assert page.evaluate(background) != light
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate(background) != light
    shot(page, "feed-dark")
    page.locator("#theme-toggle").click()  # dark → automatic: the system's (light) again
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") is None
    assert page.evaluate(background) == light
    assert_clean(page, problems)


def test_the_day_picker(
    page_and_problems: tuple[Page, Problems], site: tuple[LiveServer, Database, list[Paper]]
) -> None:
    page, problems = page_and_problems
    server, _, _ = site
    page.goto(server.url + "/")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    page.fill("#pick-date", yesterday.isoformat())
    page.click("#pick-date-go")
    page.wait_for_url(f"{server.url}/papers?date={yesterday.isoformat()}")
    assert page.locator("#period-label").inner_text() == yesterday.strftime("%A, %B %-d, %Y")
    assert Path(SHOTS).is_dir()
    assert_clean(page, problems)
