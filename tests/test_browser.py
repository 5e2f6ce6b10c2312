"""The pages in a real browser: Debian's Chromium driven by Playwright against a live uvicorn server.

Checks what only a browser can: navigation by clicking, KaTeX typesetting under the Content-Security-Policy,
that hostile LaTeX/HTML in the data runs nothing, and that no page logs an error or a CSP violation.
Screenshots go to artifacts/; ``PAPERFEED_UPDATE_SCREENSHOT=1`` also refreshes docs/screenshot.png (off by
default: the home page shows today's date, so the file would change on every run).

Never ``playwright install``: the browser is /usr/bin/chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, sync_playwright
from pydantic import SecretStr

from paperfeed.arxiv_ids import NEW_STYLE
from paperfeed.models import Paper, Version
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage.lists import latest_day, previous_day
from paperfeed.storage.papers import upsert_papers
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Runs before any page script (Playwright injects it outside the page's CSP) and records violations.
RECORD_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@dataclass
class Problems:
    """Everything a page should never produce: console errors, uncaught exceptions, dialogs."""

    console: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page_and_problems(browser: Browser) -> Iterator[tuple[Page, Problems]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    context.add_init_script(RECORD_CSP)
    page = context.new_page()
    problems = Problems()
    page.on("console", lambda m: problems.console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.exceptions.append(str(e)))

    def on_dialog(dialog: Dialog) -> None:
        problems.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page, problems
    context.close()


def assert_clean(page: Page, problems: Problems) -> None:
    assert page.evaluate("window.__csp") == []
    assert problems.console == []
    assert problems.exceptions == []
    assert problems.dialogs == []


def test_browse_the_feed_and_read_math(
    page_and_problems: tuple[Page, Problems], live_server: LiveServer, loaded_db: Database
) -> None:
    page, problems = page_and_problems
    newest = latest_day(loaded_db)
    assert newest is not None
    before = previous_day(loaded_db, newest)
    assert before is not None

    page.goto(live_server.url + "/")
    cards = page.locator("article.card")
    assert cards.count() > 0
    label = page.locator("#period-label").inner_text()
    assert label == newest.strftime("%A, %B %-d, %Y")
    # three lines of the abstract, and the rest on "More" (tests/test_reading_browser.py has the details)
    first = cards.first
    assert first.locator(".abstract .snippet").is_visible()
    first.locator("button.expand").click()
    assert first.locator(".abstract.open").count() == 1
    page.screenshot(path=str(ARTIFACTS / "feed.png"))

    page.click("#previous-period")
    page.wait_for_url(re.compile(rf"date={before.isoformat()}$"))
    assert page.locator("#period-label").inner_text() == before.strftime("%A, %B %-d, %Y")
    assert page.locator("article.card").count() > 0
    page.screenshot(path=str(ARTIFACTS / "previous-day.png"), full_page=True)

    title = page.locator("article.card .card-title a").first
    title_text = title.inner_text()
    title.click()
    page.wait_for_url(re.compile(rf"/papers/{NEW_STYLE}$"))
    assert page.locator("h1.paper-title").inner_text() == title_text
    assert page.locator("#arxiv-abs").get_attribute("href", timeout=1000) == (
        "https://arxiv.org/abs/" + page.url.rsplit("/papers/", 1)[1]
    )

    # A snapshot paper with LaTeX in title and abstract, reached from its day: KaTeX typesets it.
    page.goto(live_server.url + "/papers?date=2007-04-02")
    page.locator("article.card .card-title a", has_text="From dyadic").click()
    page.wait_for_url(re.compile(r"/papers/0704\.0005$"))
    page.wait_for_selector("html.math-ready")
    assert page.locator("h1.paper-title .katex").count() == 2
    assert page.locator(".paper-abstract .katex").count() >= 2
    assert page.locator(".katex-error").count() == 0
    # the fonts KaTeX asked for came from /static (woff2)
    fonts = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    woff2 = [f for f in fonts if f.endswith(".woff2")]
    assert woff2 and all(f.startswith(live_server.url + "/static/katex/fonts/") for f in woff2)
    page.screenshot(path=str(ARTIFACTS / "paper-math.png"))

    # Week and month views through the switch
    page.goto(live_server.url + "/papers?date=2026-08-20")
    page.click(".segmented >> text=Week")
    page.wait_for_url(re.compile(r"week=2026-W34$"))
    assert page.locator("article.card").count() > 17
    page.click(".segmented >> text=Month")
    page.wait_for_url(re.compile(r"month=2026-08$"))
    assert page.locator("article.card").count() > 0
    assert_clean(page, problems)


def test_home_screenshot(page_and_problems: tuple[Page, Problems], loaded_settings: Settings) -> None:
    page, problems = page_and_problems
    # As an installation that sends mail shows it: the subscribe box at the top is open (nothing is sent).
    mail = {"smtp_url": SecretStr("smtp://127.0.0.1:9"), "secret_key": SecretStr("k" * 32)}
    with LiveServer(loaded_settings.model_copy(update=mail)) as server:
        page.goto(server.url + "/")
        page.wait_for_selector("html.math-ready, body")
        page.evaluate("document.fonts.ready.then(() => true)")
        page.screenshot(path=str(ARTIFACTS / "home.png"))
        if os.environ.get("PAPERFEED_UPDATE_SCREENSHOT") == "1":
            page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))
        # a narrow phone screen does not scroll sideways
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(ARTIFACTS / "home-phone.png"))
    assert_clean(page, problems)


@pytest.fixture
def hostile_server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    """A server over a fresh database holding one paper with hostile HTML and LaTeX."""
    now = datetime.now(UTC)
    upsert_papers(db, [Paper(
        id="2602.00666",
        title="<script>alert(1)</script> Attack on $x^2$",
        abstract="See <img src=x onerror=alert(2)> and $\\href{javascript:alert(3)}{click}$ and "
                 "\\(\\url{javascript:alert(4)}\\) and $$\\htmlStyle{color:red}{y}$$ <b>bold</b>.",
        authors=["<i>Eve</i>"],
        versions=[Version(1, now)],
        published_at=now,
    )])  # fmt: skip
    with LiveServer(settings) as server:
        yield server


def test_hostile_paper_runs_nothing(
    page_and_problems: tuple[Page, Problems], hostile_server: LiveServer
) -> None:
    page, problems = page_and_problems
    for path in ("/papers/2602.00666", "/"):
        page.goto(hostile_server.url + path)
        page.wait_for_selector("html.math-ready")
        page.locator(".abstract").evaluate_all("ds => ds.forEach(d => d.classList.add('open'))")
        # the text shows as text, the math as math, and nothing became a link, an image or a script
        assert "<script>alert(1)</script>" in page.locator(".tex").first.inner_text()
        assert page.locator(".tex .katex").count() >= 2
        assert page.locator("img").count() == 0
        assert page.locator("main script, main b, main i").count() == 0
        assert page.locator("a[href^='javascript' i]").count() == 0
        assert page.evaluate("window.__csp") == []
    page.screenshot(path=str(ARTIFACTS / "hostile.png"))
    assert problems.dialogs == []
    assert problems.exceptions == []
    assert problems.console == []
