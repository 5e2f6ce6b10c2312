"""Follow buttons in real Chromium against a live server (#14 item 4): a visitor is sent to log in and back;
a member follows an author, an organization, a category and a search by clicking, each page then shows
the state, and ``/follows`` lists them and unfollows; under the Content-Security-Policy, with no console
error, CSP violation or dialog, and axe-core finds no serious problem on the pages with a follow button or on ``/follows``. Screenshots go to artifacts/screenshots/."""

# ruff: noqa: F811 - the browser fixtures come from tests/test_browser.py, imported below by name
from __future__ import annotations

import pytest
from playwright.sync_api import Page

from paperfeed.models import Organization
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import follows as follow_store
from paperfeed.storage import orgs as org_store
from tests.community import NOW, PASSWORD, add_papers, member
from tests.conftest import LiveServer
from tests.test_a11y_browser import audit, axe_source, describe  # noqa: F401
from tests.test_browser import ARTIFACTS, Problems, assert_clean, browser, page_and_problems  # noqa: F401

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "screenshots"


def _pressed(page: Page) -> str | None:
    return page.locator("main .follow-button").first.get_attribute("aria-pressed")


def test_follow_by_clicking(
    page_and_problems: tuple[Page, Problems],
    settings: Settings,
    db: Database,
    axe_source: str,
) -> None:
    page, problems = page_and_problems
    ada = member(db, "ada")
    org_store.create_org(db, "acme", "Acme Labs", ada.id, NOW)
    papers = add_papers(
        db,
        3,
        authors=["Grace Hopper", "Alan Turing"],
        categories=["cs.CL"],
        organization=Organization("acme", "Acme Labs"),
    )
    day = papers[0].published_at
    assert day is not None
    with LiveServer(settings) as server:
        # A visitor's button is a link to the login form, which comes back to the author's page.
        page.goto(server.url + "/authors/grace hopper")
        page.click("main a.follow-button")
        page.fill("#login-name", "ada")
        page.fill("#login-password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(server.url + "/authors/grace%20hopper")
        assert page.locator("#author-name").inner_text() == "Grace Hopper"
        assert _pressed(page) == "false"
        page.click("main button.follow-button")
        page.wait_for_load_state()
        assert (
            _pressed(page) == "true"
            and "Following Grace Hopper" in page.locator("main .follow-button").inner_text()
        )
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "follows-author.png"))
        found = audit(page, axe_source, "author")
        assert not found, describe(found)

        for path in (
            "/orgs/acme",
            f"/papers?date={day:%Y-%m-%d}&category=cs.CL",
            "/search?q=Paper+number&category=cs.CL",
        ):
            page.goto(server.url + path)
            assert _pressed(page) == "false", path
            page.click("main button.follow-button")
            page.wait_for_load_state()
            assert page.url == server.url + path and _pressed(page) == "true", path
            found = audit(page, axe_source, "follow-" + path.split("?")[0].strip("/").replace("/", "-"))
            assert not found, describe(found)

        page.goto(server.url + "/users/ada")
        page.click("#profile-follows")
        page.wait_for_url(server.url + "/follows")
        assert page.locator("ul.follows li").count() == 4
        assert page.locator("#follows-search li a").first.inner_text() == "“Paper number” · category cs.CL"
        page.screenshot(path=str(SHOTS / "follows-page.png"), full_page=True)
        found = audit(page, axe_source, "follows")
        assert not found, describe(found)
        page.locator("#follows-organization button.unfollow").click()
        page.wait_for_url(server.url + "/follows")
        assert page.locator("ul.follows li").count() == 3
        assert {f.kind for f in follow_store.follows_of(db, ada.id)} == {"author", "category", "search"}
        page.goto(server.url + "/orgs/acme")
        assert _pressed(page) == "false"
        # Following by name from the page's own form.
        page.goto(server.url + "/follows")
        page.select_option("#follow-kind", "author")
        page.fill("#follow-value", "alan turing")
        page.click("#follow-submit")
        page.wait_for_url(server.url + "/follows")
        assert "Alan Turing" in page.locator("#follows-author").inner_text()
        assert_clean(page, problems)
