"""For-you in real Chromium (issue #14 items 2 and 3): "less like this" takes the card off the list at
once (through the API, no reload) and it stays off; "more like this" is pressed in place; opening a paper
records it as seen by a POST from its page, so it is not in the list next time; "mark all as seen"
empties the list. No console error, uncaught exception or CSP violation on the way."""

# ruff: noqa: F811 - the browser fixtures come from tests/test_browser.py, imported below by name
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page

from paperfeed.models import Paper
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import feedback as feedback_store
from tests.community import member
from tests.conftest import LiveServer
from tests.test_browser import Problems, assert_clean, browser, page_and_problems  # noqa: F401
from tests.test_reading_browser import card_ids, log_in, reading_papers, shot

pytestmark = pytest.mark.browser


@pytest.fixture
def site(settings: Settings, db: Database) -> Iterator[tuple[LiveServer, Database, list[Paper], int]]:
    papers = reading_papers(db, settings)
    ada = member(db, "ada")
    feedback_store.set_feedback(db, ada.id, papers[5].id, "more", datetime.now(UTC))
    with LiveServer(settings) as server:
        yield server, db, papers, ada.id


def wait_for(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_less_more_opened_and_mark_all_seen(
    page_and_problems: tuple[Page, Problems], site: tuple[LiveServer, Database, list[Paper], int]
) -> None:
    page, problems = page_and_problems
    server, db, papers, ada = site
    log_in(page, server)
    page.click("#nav-for-you")
    page.wait_for_url(server.url + "/for-you")
    shown = card_ids(page)
    assert shown and papers[5].id not in shown  # asked more of: not offered back
    assert page.locator("main article.card .card-reason").count() == len(shown)
    shot(page, "for-you")

    # "Less like this": gone at once, without a reload, and recorded.
    first = shown[0]
    page.locator(f'article.card[data-paper-id="{first}"] .feedback-less').click()
    page.locator(f'article.card[data-paper-id="{first}"]').wait_for(state="detached")
    assert page.url == server.url + "/for-you"
    assert feedback_store.feedback_on(db, ada, [first]) == {first: "less"}
    page.reload()
    assert first not in card_ids(page)

    # "More like this": pressed in place.
    second = card_ids(page)[0]
    more = page.locator(f'article.card[data-paper-id="{second}"] .feedback-more')
    more.click()
    wait_for(lambda: more.get_attribute("aria-pressed") == "true")
    assert feedback_store.feedback_on(db, ada, [second]) == {second: "more"}

    # Opening a paper marks it seen (a POST from its page); it is not in the list next time.
    third = card_ids(page)[1]
    page.locator(f'article.card[data-paper-id="{third}"] .card-link').click()
    page.wait_for_url(f"{server.url}/papers/{third}")
    wait_for(lambda: feedback_store.seen_via(db, ada).get(third) == "opened")
    page.goto(server.url + "/for-you")
    left = card_ids(page)
    assert third not in left and first not in left and second not in left

    # Mark all as seen: nothing left unseen.
    page.click("#mark-all-seen-button")
    page.wait_for_url(server.url + "/for-you")
    assert card_ids(page) == [] and page.locator("#for-you-empty").is_visible()
    assert set(left) <= set(feedback_store.seen_via(db, ada))
    shot(page, "for-you-all-seen")
    assert_clean(page, problems)


def test_a_visitor_is_invited(
    page_and_problems: tuple[Page, Problems], site: tuple[LiveServer, Database, list[Paper], int]
) -> None:
    page, problems = page_and_problems
    server = site[0]
    page.goto(server.url + "/for-you")
    page.click("#for-you-login")
    page.wait_for_url(server.url + "/login?next=/for-you")
    assert_clean(page, problems)
