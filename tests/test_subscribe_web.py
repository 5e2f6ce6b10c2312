"""The subscription pages in-process, with confirmation emails received by a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.digest import tokens
from paperfeed.digest.subscriptions import add_confirmed
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from paperfeed.storage import subscribers as store
from paperfeed.storage import users as user_store
from paperfeed.web.app import create_app
from tests.community import sign_up
from tests.digest_helpers import SECRET, digest_settings
from tests.smtp_server import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def site(tmp_path: Path, smtp: SmtpServer) -> Iterator[tuple[TestClient, Database, Settings]]:
    settings = digest_settings(tmp_path, smtp.url, base_url="https://testserver")
    # https: the CSRF cookie is Secure (web/csrf.py), and a client keeps it only over https.
    with TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False) as client:
        db = open_database(settings.database_url)
        yield client, db, settings
        db.close()


def _csrf(client: TestClient, path: str = "/subscribe") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def _subscribe(client: TestClient, email: str, frequency: str = "weekly") -> str:
    token = _csrf(client)
    done = client.post("/subscribe", data={"email": email, "frequency": frequency, "csrf": token})
    assert done.status_code == 200, done.text
    return done.text


def test_double_opt_in(site: tuple[TestClient, Database, Settings], smtp: SmtpServer) -> None:
    client, db, _ = site
    answer = _subscribe(client, "  New.Reader@Example.ORG ")
    assert "a link to confirm is on its way" in answer
    sub = store.subscriber_by_email(db, "new.reader@example.org")
    assert sub is not None and sub.status == "pending" and sub.frequency == "weekly"
    (mail,) = smtp.handler.to("new.reader@example.org")
    link = re.search(
        r"https://testserver(/subscribe/confirm\?token=\S+)", mail.get_body(("plain",)).get_content()
    )
    assert link and mail.get_body(("html",)) is not None
    token = link.group(1).split("token=")[1]
    # Only the hash is stored.
    with db.read() as conn:
        stored = conn.exec_driver_sql("SELECT confirm_token_hash FROM subscribers").scalar_one()
    assert stored == tokens.hash_token(token) and token not in stored
    # Opening the link changes nothing: it shows a button.
    page = client.get(link.group(1))
    assert page.status_code == 200 and 'id="confirm-button"' in page.text
    assert store.subscriber_by_email(db, "new.reader@example.org").status == "pending"  # type: ignore[union-attr]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = client.post("/subscribe/confirm", data={"token": token, "csrf": csrf})
    assert done.status_code == 200 and "You are subscribed" in done.text
    assert store.subscriber_by_email(db, "new.reader@example.org").status == "active"  # type: ignore[union-attr]
    again = client.post("/subscribe/confirm", data={"token": token, "csrf": csrf})
    assert again.status_code == 400, "single use"


def test_the_answer_never_tells_whether_an_address_is_known(
    site: tuple[TestClient, Database, Settings], smtp: SmtpServer
) -> None:
    client, db, _ = site
    add_confirmed(db, [("known@example.org", "daily", [])])
    known = _subscribe(client, "known@example.org")
    unknown = _subscribe(client, "unknown@example.org")
    assert known.replace("known@", "X@") == unknown.replace("unknown@", "X@")
    assert smtp.handler.to("known@example.org") == [], "an active address gets no new confirmation"
    # Resends to one address are rate-limited: a second request right away sends nothing more.
    _subscribe(client, "unknown@example.org")
    assert len(smtp.handler.to("unknown@example.org")) == 1


def test_expired_token_and_csrf(site: tuple[TestClient, Database, Settings]) -> None:
    client, db, _ = site
    no_cookie = TestClient(client.app)
    refused = no_cookie.post("/subscribe", data={"email": "x@example.org", "csrf": "forged.token"})
    assert refused.status_code == 403
    assert store.subscriber_by_email(db, "x@example.org") is None
    bad = client.post("/subscribe", data={"email": "not an address", "csrf": _csrf(client)})
    assert bad.status_code == 400 and "is not an email address" in bad.text
    csrf = _csrf(client)
    assert client.post("/subscribe/confirm", data={"token": "guess", "csrf": csrf}).status_code == 400
    # An expired link confirms nothing.
    past = datetime.now(UTC) - timedelta(hours=1)
    token, token_hash = tokens.new_confirm_token()
    store.request_confirmation(db, "late@example.org", "daily", token_hash, past, past, timedelta(0))
    late = client.post("/subscribe/confirm", data={"token": token, "csrf": csrf})
    assert late.status_code == 400 and "expired" in late.text
    assert store.subscriber_by_email(db, "late@example.org").status == "pending"  # type: ignore[union-attr]


def test_subscribe_requests_are_rate_limited_per_client(site: tuple[TestClient, Database, Settings]) -> None:
    client, _, settings = site
    codes = []
    for i in range(12):
        form = {"email": f"r{i}@example.org", "csrf": _csrf(client)}
        codes.append(client.post("/subscribe", data=form).status_code)
    assert codes == [200] * 10 + [429, 429]
    # Counted in the database like every other limit: another web worker refuses the same client too.
    with TestClient(create_app(settings), base_url="https://testserver") as other:
        refused = other.post("/subscribe", data={"email": "late@example.org", "csrf": _csrf(other)})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "at most 10 per 600 s" in refused.text


def test_one_click_unsubscribe(site: tuple[TestClient, Database, Settings]) -> None:
    client, db, _ = site
    add_confirmed(db, [("reader@example.org", "daily", [])])
    sub = store.subscriber_by_email(db, "reader@example.org")
    assert sub is not None
    token = tokens.sign(SECRET, "unsubscribe", sub.id, sub.email)
    # GET shows a confirmation page and changes nothing.
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "Stop sending digests to reader@example.org?" in page.text
    assert store.subscriber(db, sub.id).status == "active"  # type: ignore[union-attr]
    # A tampered token changes nothing.
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    mail_client = TestClient(client.app, follow_redirects=False)  # a mail provider: no cookies
    body = {"List-Unsubscribe": "One-Click"}
    assert mail_client.post(f"/unsubscribe/{tampered}", data=body).status_code == 400
    assert mail_client.post(f"/unsubscribe/2.{token.split('.')[1]}", data=body).status_code == 400
    assert store.subscriber(db, sub.id).status == "active"  # type: ignore[union-attr]
    # RFC 8058: POST List-Unsubscribe=One-Click, no cookies → 200, no redirect, suppressed at once.
    for _ in range(2):
        done = mail_client.post(f"/unsubscribe/{token}", data=body)
        assert done.status_code == 200 and "unsubscribed" in done.text
        assert not mail_client.cookies
    assert store.subscriber(db, sub.id).status == "suppressed"  # type: ignore[union-attr]
    # multipart/form-data is allowed by RFC 8058 too.
    multi = mail_client.post(f"/unsubscribe/{token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert multi.status_code == 200
    assert client.get(f"/unsubscribe/{token}").status_code == 200


def test_preferences(site: tuple[TestClient, Database, Settings]) -> None:
    client, db, _ = site
    add_confirmed(db, [("reader@example.org", "daily", [])])
    sub = store.subscriber_by_email(db, "reader@example.org")
    assert sub is not None
    path = f"/subscription/{tokens.sign(SECRET, 'preferences', sub.id, sub.email)}"
    csrf = _csrf(client, path)
    form = {
        "csrf": csrf,
        "frequency": "weekly",
        "paused": "on",
        "topics": "diffusion models\n\ngraph  neural networks",
        "authors": "Grace Hopper",
        "organizations": "DeepLab",
    }
    saved = client.post(path, data=form)
    assert saved.status_code == 200 and 'id="saved"' in saved.text
    now = store.subscriber(db, sub.id)
    assert now is not None and (now.frequency, now.paused) == ("weekly", True)
    assert sorted((f.kind, f.value) for f in now.follows) == [
        ("author", "Grace Hopper"),
        ("organization", "DeepLab"),
        ("topic", "diffusion models"),
        ("topic", "graph neural networks"),
    ]
    assert client.post(path, data={**form, "csrf": "x.y"}).status_code == 403
    other = tokens.sign(SECRET, "unsubscribe", sub.id, sub.email)  # a token for another purpose
    assert client.get(f"/subscription/{other}").status_code == 404


def test_a_member_who_confirms_while_signed_in_owns_the_subscription(
    site: tuple[TestClient, Database, Settings], smtp: SmtpServer
) -> None:
    client, db, _ = site
    _subscribe(client, "reader@example.org")
    (mail,) = smtp.handler.to("reader@example.org")
    token = re.search(r"confirm\?token=(\S+)", mail.get_body(("plain",)).get_content()).group(1)  # type: ignore[union-attr]
    sign_up(client, "reader")
    csrf = _csrf(client, f"/subscribe/confirm?token={token}")
    assert client.post("/subscribe/confirm", data={"token": token, "csrf": csrf}).status_code == 200
    sub = store.subscriber_by_email(db, "reader@example.org")
    member = user_store.user_by_name(db, "reader")
    assert sub is not None and member is not None and sub.user_id == member.id
