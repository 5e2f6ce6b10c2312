"""Accessibility (issue #13 item 11): axe-core, the npm package, run inside real Chromium on the feed, a paper
page, search results, the sign-up form, a collection and the feed on a 390×844 phone (and the feed in the
dark scheme): no serious or critical violation. Counts of every impact go to artifacts/axe.json.

axe-core is installed by ``make test`` (``make axe``: npm, into .venv/node_modules). Without it these tests
skip, unless PAPERFEED_REQUIRE_AXE=1 (which ``make test`` sets), when they fail. The script is evaluated
through the DevTools protocol, which the page's Content-Security-Policy does not apply to, so the pages are
checked exactly as served."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import collections as collection_store
from tests.community import add_papers, member
from tests.conftest import LiveServer
from tests.test_browser import ARTIFACTS, browser  # noqa: F401

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / ".venv" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}
RESULTS: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="module")
def axe_source() -> Iterator[str]:
    if not AXE.exists():
        message = f"axe-core is not installed at {AXE.relative_to(ROOT)} (make axe)"
        if os.environ.get("PAPERFEED_REQUIRE_AXE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    yield AXE.read_text(encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "axe.json").write_text(json.dumps(RESULTS, indent=2, sort_keys=True), encoding="utf-8")


def audit(page: Page, source: str, name: str) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (WCAG 2.x A and AA rules and axe's best practices)."""
    page.evaluate("document.fonts.ready.then(() => true)")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(source + "\n;true")
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" ") + " :: " + (n.failureSummary || "").split("\\n")[1])
        }))"""
    )
    counts = {impact: 0 for impact in ("minor", "moderate", "serious", "critical")}
    for v in violations:
        counts[v["impact"]] += len(v["nodes"])
    RESULTS[name] = {"counts": counts, "violations": violations}
    (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screenshots" / f"a11y-{name}.png"))
    return [v for v in violations if v["impact"] in SERIOUS]


def describe(found: list[dict[str, Any]]) -> str:
    return "\n".join(f"{v['impact']} {v['id']}: {v['help']}\n  " + "\n  ".join(v["nodes"][:5]) for v in found)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    yield context.new_page()
    context.close()


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("feed", "/"),
        ("feed-week", "/papers?week=2026-W34"),
        ("paper", "/papers/0704.0005"),
        ("search", "/search?q=language+model+reasoning"),
        ("signup", "/signup"),
        ("not-found", "/nowhere"),
    ],
)
def test_pages_have_no_serious_accessibility_problem(
    page: Page, live_server: LiveServer, axe_source: str, name: str, path: str
) -> None:
    page.goto(live_server.url + path)
    page.wait_for_load_state("load")
    found = audit(page, axe_source, name)
    assert not found, describe(found)


def test_the_phone_feed_and_its_menu(browser: Browser, live_server: LiveServer, axe_source: str) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    phone.goto(live_server.url + "/")
    found = audit(phone, axe_source, "phone-feed")
    phone.click(".site-menu summary")
    found += audit(phone, axe_source, "phone-menu")
    context.close()
    assert not found, describe(found)


def test_the_dark_feed(browser: Browser, live_server: LiveServer, axe_source: str) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    dark = context.new_page()
    dark.goto(live_server.url + "/")
    found = audit(dark, axe_source, "feed-dark")
    context.close()
    assert not found, describe(found)


def test_a_collection_and_a_signed_in_paper_page(
    page: Page, settings: Settings, db: Database, axe_source: str
) -> None:
    papers = add_papers(
        db, 4, title=r"Bounds on $\Lambda_\alpha$", abstract=r"We \emph{show} $x^2$ -- tight."
    )
    owner = member(db, "ada")
    now = datetime.now(UTC)
    made = collection_store.create(db, owner.id, "Reading list", "Papers to read", True, now)
    for paper in papers:
        collection_store.put_item(db, made.id, paper.id, "A note.", now)
    with LiveServer(settings) as server:
        page.goto(f"{server.url}/collections/{made.id}")
        found = audit(page, axe_source, "collection")
        page.goto(server.url + "/login")
        page.fill("#login-name", "ada")
        page.fill("#login-password", "correct horse battery staple")
        page.click("#login-submit")
        page.wait_for_url(server.url + "/")
        found += audit(page, axe_source, "feed-signed-in")
        page.goto(f"{server.url}/collections/{made.id}")
        found += audit(page, axe_source, "collection-owner")
        page.goto(f"{server.url}/papers/{papers[0].id}")
        found += audit(page, axe_source, "paper-signed-in")
        page.goto(f"{server.url}/for-you")
        found += audit(page, axe_source, "for-you")
        page.goto(f"{server.url}/settings/for-you-feed")
        found += audit(page, axe_source, "for-you-feed")
    assert not found, describe(found)
