"""Subscribing, confirming, choosing follows and unsubscribing in a real browser (Debian's Chromium)
against a live server, with the confirmation email sent by the worker's job and received by a real SMTP server: the CSRF cookie, the
forms and the Content-Security-Policy work together as a reader meets them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

from paperfeed.digest import tokens
from paperfeed.digest.subscriptions import send_confirmations
from paperfeed.storage import open_database
from paperfeed.storage import subscribers as store
from tests.conftest import LiveServer
from tests.digest_helpers import digest_settings
from tests.smtp_server import SmtpServer
from tests.test_browser import ARTIFACTS, Problems, assert_clean, browser, page_and_problems  # noqa: F401

pytestmark = pytest.mark.browser


def test_subscribe_confirm_follow_unsubscribe(
    page_and_problems: tuple[Page, Problems],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    page, problems = page_and_problems
    with SmtpServer() as smtp:
        settings = digest_settings(tmp_path, smtp.url)
        with LiveServer(settings) as server:
            page.goto(server.url + "/")
            page.click("#nav-subscribe")
            page.fill("#subscribe-page-email", "reader@example.org")
            page.check("input[value=weekly]")
            page.screenshot(path=str(ARTIFACTS / "subscribe.png"))
            page.click("main button[type=submit]")  # not the header's search button
            assert "a link to confirm is on its way" in page.locator("#subscribe-sent").inner_text()
            db = open_database(settings.database_url)
            # The worker's 'confirmations' job, configured with the site's address as the server is.
            worker_settings = settings.model_copy(update={"base_url": server.url})
            assert send_confirmations(db, worker_settings).sent == 1
            (mail,) = smtp.handler.to("reader@example.org")
            link = re.search(
                r"http://\S+/subscribe/confirm\?token=\S+", mail.get_body(("plain",)).get_content()
            )
            assert link
            page.goto(link.group(0))
            assert "reader@example.org" in page.locator("#confirm-address").inner_text()
            page.click("#confirm-button")
            assert "will get the weekly digest" in page.locator("#subscribed").inner_text()
            page.click("text=Choose topics")
            page.fill("textarea[name=topics]", "graph neural networks\ndiffusion")
            page.fill("textarea[name=authors]", "Grace Hopper")
            page.click("main button[type=submit]")  # not the header's search button
            assert page.locator("#saved").is_visible()
            page.screenshot(path=str(ARTIFACTS / "preferences.png"), full_page=True)
            sub = store.subscriber_by_email(db, "reader@example.org")
            assert sub is not None and sub.status == "active" and sub.frequency == "weekly"
            assert {f.value for f in sub.follows} == {"graph neural networks", "diffusion", "Grace Hopper"}
            assert_clean(page, problems)
            token = tokens.sign(settings.secret_key.get_secret_value(), "unsubscribe", sub.id, sub.email)
            page.goto(f"{server.url}/unsubscribe/{token}")
            page.click("#unsubscribe-button")
            assert "You are unsubscribed" in page.content()
            assert store.subscriber(db, sub.id).status == "suppressed"  # type: ignore[union-attr]
            db.close()
