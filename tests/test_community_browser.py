"""The community layer in real Chromium against a live server: sign up (activating by the emailed link),
upvote, comment (with a hostile comment that must run nothing) and submit a paper (fetched by the worker's
job from the replayed arXiv API), all by clicking, under the Content-Security-Policy, with no console
error, CSP violation or dialog."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page
from pydantic import SecretStr

from paperfeed.account_mail import send_due
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import comments as comment_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import votes as vote_store
from tests.arxiv_replay import ReplayServer, atom
from tests.community import PASSWORD, add_papers, run_job
from tests.conftest import LiveServer
from tests.smtp_server import SmtpServer
from tests.test_browser import ARTIFACTS, Problems, assert_clean, browser, page_and_problems  # noqa: F401

pytestmark = pytest.mark.browser
SUBMIT = "2607.07386"  # in api/id-2607.07386.xml


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        server.route(atom(f"api/id-{SUBMIT}.xml"), id_list=SUBMIT)
        yield server


def test_sign_up_upvote_comment_and_submit(
    page_and_problems: tuple[Page, Problems],  # noqa: F811
    settings: Settings,
    db: Database,
    replay: ReplayServer,
    smtp: SmtpServer,
) -> None:
    page, problems = page_and_problems
    paper = add_papers(db, 3)[0]
    server_settings = settings.model_copy(
        update={"arxiv_api_endpoint": f"{replay.url}/api/query", "smtp_url": SecretStr(smtp.url)}
    )
    with LiveServer(server_settings) as server:
        page.goto(server.url + "/")
        page.click("#nav-signup")
        page.fill("#signup-name", "ada")
        page.fill("#signup-email", "ada@example.org")
        page.fill("#signup-password", PASSWORD)
        page.click("#signup-submit")
        page.wait_for_selector("#signup-sent")
        # The worker's job mails the activation link; the browser follows it.
        send_due(db, server_settings.model_copy(update={"base_url": server.url}))
        (mail,) = smtp.handler.to("ada@example.org")
        link = re.search(r"http://\S+/signup/confirm\?token=[\w-]+", mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        assert link
        page.goto(link.group())
        page.fill("#activate-password", PASSWORD)
        page.click("#activate-submit")
        page.wait_for_url(server.url + "/")
        assert page.locator("#nav-user").inner_text() == "ada"
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert cookies["__Host-session"]["httpOnly"] and cookies["__Host-session"]["secure"]
        assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read the session

        # Upvote the first paper from its card (in place, through the API: site.js).
        card = page.locator(f'article.card[data-paper-id="{paper.id}"]')
        card.locator("button.vote-button").click()
        page.wait_for_function(
            f"() => document.querySelector('article.card[data-paper-id=\"{paper.id}\"] .vote-button')"
            ".getAttribute('aria-pressed') === 'true'"
        )
        assert card.locator(".vote-count").inner_text() == "1"

        # Comment on it, once in Markdown and once with a payload that must stay text.
        card.locator(".card-title a").click()
        page.wait_for_url(re.compile(rf"/papers/{re.escape(paper.id)}$"))
        page.fill("#comment-body", "A **solid** result, see [code](https://example.org/code)")
        page.click("#comment-submit")
        page.wait_for_selector(".comment-body strong")
        page.fill(
            "#comment-body", "<img src=x onerror=alert(1)> [x](javascript:alert(2)) <script>alert(3)</script>"
        )
        page.click("#comment-submit")
        page.wait_for_function("document.querySelectorAll('li.comment').length === 2")
        assert page.locator(".comment-body a[href^='javascript']").count() == 0
        assert page.locator(".comment-body img, .comment-body script").count() == 0
        assert page.locator("h2", has_text="Discussion (2)").count() == 1

        # Submit a paper from arXiv (the replay server stands in for it): it waits for the worker, which
        # fetches it; then it is on the feed.
        page.click("#nav-submit")
        page.fill("#submit-id", f"https://arxiv.org/abs/{SUBMIT}v1")
        page.click("#submit-button")
        page.wait_for_url(re.compile(r"/submit#submission-\d+$"))
        assert "waiting to be fetched" in page.locator("#submissions li").first.inner_text()
        assert run_job(db, server_settings, "submissions") == "1 submitted, 0 failed, 0 waiting"
        page.reload()
        page.click(f'#submissions a[href="/papers/{SUBMIT}"]')
        page.wait_for_url(re.compile(rf"/papers/{SUBMIT}$"))
        assert page.locator("#submitted-by").inner_text() == "ada"
        # A second submission is refused with a clear message.
        page.click("#nav-submit")
        page.fill("#submit-id", SUBMIT)
        page.click("#submit-button")
        assert "was already submitted by ada" in page.locator("#form-error").inner_text()
        # The refusal is a 409 page, which Chromium logs; it must be the only console error.
        assert problems.console == [
            "Failed to load resource: the server responded with a status of 409 (Conflict)"
        ]
        problems.console.clear()
        page.screenshot(path=str(ARTIFACTS / "community.png"), full_page=True)

        # Log out: the session cookie goes and the nav offers a login again.
        page.click("#nav-logout")
        page.wait_for_url(server.url + "/")
        assert page.locator("#nav-login").count() == 1
        assert "__Host-session" not in {c["name"] for c in page.context.cookies()}
        assert_clean(page, problems)
    stored = paper_store.paper(db, SUBMIT)
    assert stored is not None and stored.submitted_by == "ada"
    assert vote_store.count_votes(db, paper.id) == 1
    assert len(comment_store.paper_comments(db, paper.id)) == 2
