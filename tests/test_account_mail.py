"""Sign-up by email and password reset, end to end: the web stores requests, the worker job mails them
through a real SMTP server, and the links in the received mail are followed through the real app.

Also what the answers do not say: a sign-up or a reset request for an address that has an account reads
the same (status, page, what is stored) as one for an address that has none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperfeed import account_mail, accounts
from paperfeed.cli import main
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from paperfeed.storage import users as user_store
from paperfeed.storage.schema import account_requests
from paperfeed.web.app import create_app
from tests.community import PASSWORD, csrf_of, form_token, member, token_for
from tests.digest_helpers import digest_settings
from tests.smtp_server import SmtpServer

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def mail_settings(tmp_path: Path, smtp: SmtpServer) -> Settings:
    return digest_settings(
        tmp_path, smtp.url, base_url="https://testserver", account_resend_seconds=0, worker_poll_seconds=0.01
    )


@pytest.fixture
def site(mail_settings: Settings) -> Iterator[tuple[TestClient, Database]]:
    with TestClient(
        create_app(mail_settings), base_url="https://testserver", follow_redirects=False
    ) as client:
        db = open_database(mail_settings.database_url)
        yield client, db
        db.close()


def run_worker_job(settings: Settings) -> str:
    """``paperfeed worker --once --job account-mail``, as cron would run it."""
    result = CliRunner().invoke(
        main, ["worker", "--once", "--job", "account-mail"], env=settings.environment()
    )
    assert result.exit_code == 0, result.output
    return result.output


def link_in(mail: EmailMessage, path: str) -> str:
    """The path and query of the link to ``path`` in the plain-text part (the same in the HTML part)."""
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    found = re.search(rf"https://testserver({re.escape(path)}\?token=[\w-]+)", text)
    assert found, text
    assert found.group(1) in html
    return found.group(1)


def post_form(client: TestClient, page_url: str, action: str, fields: dict[str, str]) -> httpx.Response:
    page = client.get(page_url)
    assert page.status_code == 200, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token
    return client.post(action, data={"csrf": form_token(page.text), "token": token.group(1), **fields})


def stored_requests(db: Database) -> list[tuple[str, str, str]]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(account_requests.c.kind, account_requests.c.email, account_requests.c.status).order_by(
                account_requests.c.id
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


# -- sign-up -----------------------------------------------------------------------------------------------


def test_sign_up_is_finished_by_the_emailed_link(
    site: tuple[TestClient, Database], smtp: SmtpServer, mail_settings: Settings
) -> None:
    client, db = site
    answer = client.post(
        "/signup",
        data={
            "csrf": csrf_of(client),
            "name": "ada",
            "email": " Ada@Example.org ",
            "password": PASSWORD,
            "next": "/papers",
        },
    )
    assert answer.status_code == 200 and 'id="signup-sent"' in answer.text
    assert "ada@example.org" in answer.text and "set-cookie" not in answer.headers
    assert user_store.user_by_name(db, "ada") is None  # nothing exists until the link is used
    assert smtp.handler.messages == []  # the web sends no mail: the worker does

    assert "1 activation links sent" in run_worker_job(mail_settings)
    (mail,) = smtp.handler.to("ada@example.org")
    assert mail["Subject"] == "Activate your paperfeed account"
    link = link_in(mail, "/signup/confirm")
    secret = link.split("token=")[1]
    with db.read() as conn:
        stored = conn.execute(sa.select(account_requests.c.token_hash)).scalar_one()
    assert stored == accounts.digest(secret) and secret not in stored

    # Opening the link changes nothing; the password chosen at sign-up activates.
    wrong = post_form(client, link, "/signup/confirm", {"password": "not the one at all"})
    assert wrong.status_code == 400 and "not the password you chose" in wrong.text
    assert user_store.user_by_name(db, "ada") is None
    done = post_form(client, link, "/signup/confirm", {"password": PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/papers"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("__Host-session=")
    assert {"Secure", "HttpOnly", "Path=/"} <= {part.strip() for part in cookie.split(";")}
    assert "samesite=lax" in cookie.lower() and "domain=" not in cookie.lower()
    assert 'id="nav-user"' in client.get("/").text
    ada = user_store.user_by_name(db, "ada")
    assert ada is not None and ada.email == "ada@example.org" and not ada.is_admin
    assert accounts.authenticate(db, "ada", PASSWORD) == ada
    stored_hash = user_store.password_hash_of(db, "ada")
    assert (
        stored_hash is not None and stored_hash[1].startswith("$argon2id$") and PASSWORD not in stored_hash[1]
    )

    # The link worked once.
    assert client.get(link).status_code == 400
    assert stored_requests(db) == []


def test_an_activation_link_expires(
    site: tuple[TestClient, Database], smtp: SmtpServer, mail_settings: Settings
) -> None:
    client, db = site
    account_mail.request_sign_up(db, "ada", "ada@example.org", PASSWORD)
    # Mailed two days and an hour ago: its 48 hours are over.
    account_mail.send_due(db, mail_settings, now=datetime.now(UTC) - timedelta(hours=49))
    link = link_in(smtp.handler.to("ada@example.org")[0], "/signup/confirm")
    page = client.get(link)
    assert page.status_code == 400 and "expired" in page.text
    with pytest.raises(account_mail.DeadLink):
        account_mail.activate(db, link.split("token=")[1], PASSWORD)
    assert user_store.user_by_name(db, "ada") is None


def test_sign_up_does_not_say_whether_an_email_has_an_account(
    site: tuple[TestClient, Database], smtp: SmtpServer, mail_settings: Settings
) -> None:
    client, db = site
    member(db, "bob")  # bob@example.org has an account

    def attempt(name: str, email: str) -> tuple[int, str, str | None]:
        data = {"csrf": csrf_of(client), "name": name, "email": email, "password": PASSWORD}
        response = client.post("/signup", data=data)
        body = response.text.replace(email, "EMAIL").replace(name, "NAME")
        return response.status_code, body, response.headers.get("set-cookie")

    taken = attempt("carol", "bob@example.org")
    free = attempt("dave", "dave@example.org")
    assert taken == free
    assert taken[0] == 200 and taken[2] is None
    # The web stored the same kind of request for both: it never looked the address up.
    assert stored_requests(db) == [
        ("signup", "bob@example.org", "requested"),
        ("signup", "dave@example.org", "requested"),
    ]

    # The worker tells each address what is true: bob is told he has an account (no link), dave gets one.
    summary = run_worker_job(mail_settings)
    assert "1 activation links sent" in summary and "1 notices sent" in summary
    (notice,) = smtp.handler.to("bob@example.org")
    text = notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "already has an account" in text and "https://testserver/password/forgot" in text
    assert "token=" not in text
    assert link_in(smtp.handler.to("dave@example.org")[0], "/signup/confirm")
    assert user_store.user_by_name(db, "carol") is None

    # A handle is public (/users/bob), so a taken one is named, for the person choosing.
    data = {"csrf": csrf_of(client), "name": "BOB", "email": "new@example.org", "password": PASSWORD}
    named = client.post("/signup", data=data)
    assert named.status_code == 400 and "BOB&#39; is taken" in named.text


def test_a_newer_sign_up_replaces_the_older_and_mails_stay_spaced(
    site: tuple[TestClient, Database], smtp: SmtpServer, mail_settings: Settings
) -> None:
    client, db = site
    spaced = mail_settings.model_copy(update={"account_resend_seconds": 600})
    t0 = datetime.now(UTC)
    account_mail.request_sign_up(db, "ada", "ada@example.org", PASSWORD, now=t0)
    account_mail.send_due(db, spaced, now=t0)
    first = link_in(smtp.handler.to("ada@example.org")[0], "/signup/confirm")
    # Someone asks again for the same address, with another handle and password.
    account_mail.request_sign_up(db, "mallory", "ada@example.org", "mallory's own password", now=t0)
    assert "nothing to send" in account_mail.send_due(db, spaced, now=t0 + timedelta(seconds=60))
    assert len(smtp.handler.to("ada@example.org")) == 1  # at most one mail per 10 minutes
    assert client.get(first).status_code == 400  # the first link died with its request
    account_mail.send_due(db, spaced, now=t0 + timedelta(seconds=601))
    second = link_in(smtp.handler.to("ada@example.org")[1], "/signup/confirm")
    # The link does not hand its reader an account whose password someone else chose.
    with pytest.raises(accounts.AccountError, match="not the password"):
        account_mail.activate(db, second.split("token=")[1], PASSWORD)
    assert user_store.user_by_name(db, "mallory") is None


# -- password reset ----------------------------------------------------------------------------------------


def test_password_reset_end_to_end(
    site: tuple[TestClient, Database], smtp: SmtpServer, mail_settings: Settings
) -> None:
    client, db = site
    ada = member(db, "ada")
    bearer = token_for(db, ada)
    with TestClient(create_app(mail_settings), base_url="https://testserver") as other:
        other.post("/login", data={"csrf": csrf_of(other), "name": "ada", "password": PASSWORD})
        old_session = other.cookies["__Host-session"]
        assert accounts.session_user(db, old_session) == ada

        page = client.get("/password/forgot")
        assert page.status_code == 200 and 'id="forgot-email"' in page.text
        asked = client.post(
            "/password/forgot", data={"csrf": form_token(page.text), "email": "ADA@example.org"}
        )
        assert asked.status_code == 200 and 'id="form-done"' in asked.text
        assert smtp.handler.messages == []

        assert "1 reset links sent" in run_worker_job(mail_settings)
        (mail,) = smtp.handler.to("ada@example.org")
        assert mail["Subject"] == "Reset your paperfeed password"
        link = link_in(mail, "/password/reset")

        form = client.get(link)
        assert form.status_code == 200 and 'id="reset-password"' in form.text
        assert accounts.authenticate(db, "ada", PASSWORD) == ada  # a GET changes nothing
        short = post_form(client, link, "/password/reset", {"new": "short"})
        assert short.status_code == 400 and "at least 10" in short.text
        done = post_form(client, link, "/password/reset", {"new": NEW_PASSWORD})
        assert done.status_code == 200 and 'id="form-done"' in done.text

        # The new password works, the old one does not; every session and token is over.
        assert accounts.authenticate(db, "ada", NEW_PASSWORD) == ada
        assert accounts.authenticate(db, "ada", PASSWORD) is None
        assert accounts.session_user(db, old_session) is None
        assert 'id="nav-login"' in other.get("/").text
        refused = client.post("/api/papers/index", json={"arxivId": "2607.07386"}, headers=bearer)
        assert refused.status_code == 401
        # The link worked once.
        assert client.get(link).status_code == 400
        again = client.post(
            "/password/reset", data={"csrf": csrf_of(client), "token": link.split("=")[1], "new": "x" * 12}
        )
        assert again.status_code == 400
        assert accounts.authenticate(db, "ada", NEW_PASSWORD) == ada


def test_a_reset_link_expires_and_a_new_one_replaces_it(
    site: tuple[TestClient, Database], smtp: SmtpServer, mail_settings: Settings
) -> None:
    client, db = site
    member(db, "ada")
    account_mail.request_reset(db, "ada@example.org")
    account_mail.send_due(db, mail_settings, now=datetime.now(UTC) - timedelta(minutes=61))
    expired = link_in(smtp.handler.to("ada@example.org")[0], "/password/reset")
    assert client.get(expired).status_code == 400
    with pytest.raises(account_mail.DeadLink):
        account_mail.reset_password(db, expired.split("token=")[1], NEW_PASSWORD)

    account_mail.request_reset(db, "ada@example.org")
    run_worker_job(mail_settings)
    first = link_in(smtp.handler.to("ada@example.org")[1], "/password/reset")
    account_mail.request_reset(db, "ada@example.org")
    run_worker_job(mail_settings)
    second = link_in(smtp.handler.to("ada@example.org")[2], "/password/reset")
    assert client.get(first).status_code == 400  # replaced by the newer request
    assert client.get(second).status_code == 200
    # A password changed on the settings page kills a reset link in flight.
    ada = user_store.user_by_name(db, "ada")
    assert ada is not None
    accounts.change_password(db, ada, PASSWORD, NEW_PASSWORD)
    assert client.get(second).status_code == 400
    assert accounts.authenticate(db, "ada", NEW_PASSWORD) == ada


def test_forgot_answers_the_same_for_any_address(
    site: tuple[TestClient, Database], smtp: SmtpServer, mail_settings: Settings
) -> None:
    client, db = site
    member(db, "ada")

    def ask(email: str) -> tuple[int, str]:
        response = client.post("/password/forgot", data={"csrf": csrf_of(client), "email": email})
        return response.status_code, response.text.replace(email, "EMAIL")

    assert ask("ada@example.org") == ask("nobody@example.org")
    assert stored_requests(db) == [
        ("reset", "ada@example.org", "requested"),
        ("reset", "nobody@example.org", "requested"),
    ]
    summary = run_worker_job(mail_settings)
    assert "1 reset links sent" in summary and "1 resets for no account" in summary
    assert [m.rcpt_tos for m in smtp.handler.messages] == [["ada@example.org"]]
    assert stored_requests(db) == [("reset", "ada@example.org", "sent")]

    bad = client.post("/password/forgot", data={"csrf": csrf_of(client), "email": "not an address"})
    assert bad.status_code == 400 and "is not an email address" in bad.text


def test_forgot_is_rate_limited_per_address(mail_settings: Settings) -> None:
    limited = mail_settings.model_copy(update={"rate_password_reset": "2/3600"})
    with TestClient(create_app(limited), base_url="https://testserver") as client:
        token = csrf_of(client)
        codes = [
            client.post("/password/forgot", data={"csrf": token, "email": f"x{i}@example.org"}).status_code
            for i in range(3)
        ]
        assert codes == [200, 200, 429]
        blocked = client.post("/password/forgot", data={"csrf": token, "email": "x@example.org"})
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) <= 3600


def test_without_smtp_requests_wait_and_stale_ones_are_dropped(settings: Settings, db: Database) -> None:
    member(db, "ada")
    t0 = datetime.now(UTC)
    account_mail.request_reset(db, "ada@example.org", now=t0)
    assert account_mail.send_due(db, settings, now=t0).startswith("skipped: PAPERFEED_SMTP_URL is not set")
    assert stored_requests(db) == [("reset", "ada@example.org", "requested")]
    # Never mailed within the longest link lifetime (48 hours): dropped.
    account_mail.send_due(db, settings, now=t0 + timedelta(hours=49))
    assert stored_requests(db) == []
