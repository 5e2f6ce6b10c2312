"""Notifications in real Chromium against a live server: a member @mentions another through the comment
form; she sees the unread badge, opens /notifications, follows a notification to its comment, marks one
read and then all, and switches a kind off, all by clicking, under the Content-Security-Policy, with no
console error, CSP violation or dialog."""

# ruff: noqa: F811 - the browser fixtures come from tests/test_browser.py, imported below by name
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page

from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import comments as comment_store
from paperfeed.storage import notifications as store
from tests.community import PASSWORD, add_papers, member
from tests.conftest import LiveServer
from tests.test_a11y_browser import audit, axe_source, describe  # noqa: F401
from tests.test_browser import ARTIFACTS, Problems, assert_clean, browser, page_and_problems  # noqa: F401

pytestmark = pytest.mark.browser


def log_in(page: Page, server: LiveServer, name: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#login-name", name)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(server.url + "/")


def test_mention_badge_list_mark_read_and_switches(
    page_and_problems: tuple[Page, Problems], settings: Settings, db: Database
) -> None:
    page, problems = page_and_problems
    paper = add_papers(db, 1)[0]
    ada, bob = member(db, "ada"), member(db, "bob")
    top = comment_store.add_comment(
        db, paper.id, ada.id, "My first take.", "<p>My first take.</p>", datetime.now(UTC)
    )
    with LiveServer(settings) as server:
        log_in(page, server, "bob")
        assert page.locator("#nav-unread").count() == 0
        page.goto(f"{server.url}/papers/{paper.id}")
        page.fill("#comment-body", "Have you seen this, @ada?")
        page.click("#comment-submit")
        page.wait_for_url(f"{server.url}/papers/{paper.id}#comment-*")
        mention = int(page.url.rsplit("-", 1)[1])
        reply = comment_store.add_comment(
            db, paper.id, bob.id, "Agreed.", "<p>Agreed.</p>", datetime.now(UTC), top.id
        )
        page.click("#nav-logout")

        log_in(page, server, "ada")
        assert page.locator("#nav-unread").inner_text() == "2"
        page.click("#nav-notifications")
        page.wait_for_url(f"{server.url}/notifications")
        items = page.locator("li.notification")
        assert items.count() == 2 and page.locator("li.notification.unread").count() == 2
        assert "bob mentioned you on" in items.nth(1).inner_text()
        page.screenshot(path=str(ARTIFACTS / "notifications.png"), full_page=True)
        notes = {x.comment_id: x.id for x in store.notifications_of(db, ada.id, 10)}
        note = notes[reply.id]
        page.click(f"#read-{note}")
        page.wait_for_url(f"{server.url}/notifications")
        assert page.locator("li.notification.unread").count() == 1
        assert page.locator("#nav-unread").inner_text() == "1"
        # Following a notification opens its comment on the paper's page.
        page.click(f"#notification-{notes[mention]} a")
        page.wait_for_url(f"{server.url}/papers/{paper.id}#comment-{mention}")
        assert page.locator(f"#comment-{mention}").is_visible()
        page.click("#nav-notifications")
        page.click("#read-all")
        page.wait_for_url(f"{server.url}/notifications")
        assert (
            page.locator("li.notification.unread").count() == 0 and page.locator("#nav-unread").count() == 0
        )
        page.uncheck("#on-mention")
        page.click("#save-notification-settings")
        page.wait_for_url(f"{server.url}/notifications#settings")
        assert not page.is_checked("#on-mention") and page.is_checked("#on-reply")
        assert store.muted_kinds(db, ada.id) == {"mention"}
        assert page.locator("li.notification").count() == 1  # the mention is hidden while mentions are off
        assert_clean(page, problems)


def test_the_page_and_its_header_pass_axe(
    page_and_problems: tuple[Page, Problems], settings: Settings, db: Database, axe_source: str
) -> None:
    """No serious or critical accessibility problem on /notifications with unread items and the badge."""
    page, problems = page_and_problems
    paper = add_papers(db, 1)[0]
    ada, bob = member(db, "ada"), member(db, "bob")
    top = comment_store.add_comment(db, paper.id, ada.id, "Mine.", "<p>Mine.</p>", datetime.now(UTC))
    comment_store.add_comment(db, paper.id, bob.id, "Yes.", "<p>Yes.</p>", datetime.now(UTC), top.id)
    comment_store.add_comment(db, paper.id, bob.id, "@ada", "<p>@ada</p>", datetime.now(UTC), None, ["ada"])
    with LiveServer(settings) as server:
        log_in(page, server, "ada")
        page.goto(server.url + "/notifications")
        found = audit(page, axe_source, "notifications")
    assert not found, describe(found)
    assert_clean(page, problems)
