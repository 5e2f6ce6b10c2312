"""Notifications in the email digest, over real SMTP (aiosmtpd on loopback): a member subscriber's unread
notifications appear in a "Notifications" section once, never in a second digest; read or switched-off ones
stay out; a digest the server deferred hands them back to the next one; a digest with notifications and no
new paper is still sent; a subscription not linked to the member gets none."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from paperfeed.digest.send import send_digests
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from paperfeed.storage import comments as comment_store
from paperfeed.storage import notifications as store
from paperfeed.storage import subscribers as subscriber_store
from tests.community import https_client, member, token_for
from tests.digest_helpers import DAY, digest_settings, store_papers
from tests.smtp_server import SmtpServer

DAY_DATE = DAY.date()
PAPER = "2608.00001"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _setup(
    tmp_path: Path, smtp: SmtpServer, **overrides: object
) -> tuple[Settings, Database, dict[str, str], dict[str, str]]:
    settings = digest_settings(tmp_path, smtp.url, **overrides)
    db = open_database(settings.database_url)
    store_papers(db)
    ada, bob = member(db, "ada"), member(db, "bob")
    subscriber_store.add_confirmed(
        db, [("ada@example.org", "daily", []), ("bob@example.org", "daily", [])], DAY
    )
    sub = subscriber_store.subscriber_by_email(db, "ada@example.org")
    assert sub is not None
    subscriber_store.link_user(db, sub.id, ada.id)  # bob's subscription is not linked to his account
    return settings, db, token_for(db, ada), token_for(db, bob)


def _mention(settings: Settings, who: dict[str, str], body: str) -> int:
    with https_client(settings) as client:
        answer = client.post(f"/api/papers/{PAPER}/comments", json={"body": body}, headers=who)
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])


def test_unread_notifications_go_in_one_digest(tmp_path: Path, smtp: SmtpServer) -> None:
    settings, db, as_ada, as_bob = _setup(tmp_path, smtp, digest_top_papers=10)  # the day's every paper
    first = _mention(settings, as_bob, "@ada have a look")
    second = _mention(settings, as_bob, "@ada and <b>this</b>")
    read = _mention(settings, as_bob, "@ada already read")
    _mention(settings, as_ada, "@bob: bob's subscription is not linked, so no section for him")
    with https_client(settings) as client:
        (read_id,) = [
            n["id"] for n in client.get("/api/notifications", headers=as_ada).json() if n["commentId"] == read
        ]
        client.post("/api/notifications/read", json={"ids": [read_id]}, headers=as_ada)
    report = send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    assert report.sent == 2
    (mail,) = smtp.handler.to("ada@example.org")
    text, html = _text(mail).replace("\r\n", "\n"), _html(mail)
    assert "NOTIFICATIONS" in text and text.index("NOTIFICATIONS") < text.index("TRENDING")
    url = f"https://papers.example.org/papers/{PAPER}#comment-"
    assert f"bob mentioned you on “Plain paper number 1”\n  {url}{first}" in text
    assert f"{url}{second}" in text and f"{url}{read}" not in text
    assert ">Notifications</h2>" in html and f'href="{url}{first}"' in html
    (other,) = smtp.handler.to("bob@example.org")
    assert "NOTIFICATIONS" not in _text(other)
    # Emailed is not read: the list still shows them unread; the next digest does not carry them again.
    with https_client(settings) as client:
        assert client.get("/api/notifications", headers=as_ada).headers["X-Unread-Count"] == "2"
    later = _mention(settings, as_bob, "@ada one more")
    sub = subscriber_store.subscriber_by_email(db, "ada@example.org")
    assert sub is not None
    subscriber_store.update_preferences(db, sub.id, "weekly", False, [])
    weekly = send_digests(db, settings, "weekly", DAY_DATE)  # type: ignore[arg-type]
    assert weekly.sent == 1
    mails = smtp.handler.to("ada@example.org")
    assert len(mails) == 2
    week = _text(mails[1]).replace("\r\n", "\n")
    assert f"{url}{later}" in week and f"{url}{first}" not in week
    # The week's papers were all in the daily: a digest of notifications alone, and its subject says so.
    assert "TRENDING" not in week and mails[1]["Subject"].endswith("weekly: 1 notification")


def test_switched_off_kinds_are_not_emailed(tmp_path: Path, smtp: SmtpServer) -> None:
    settings, db, as_ada, as_bob = _setup(tmp_path, smtp)
    _mention(settings, as_bob, "@ada before switching mentions off")
    with https_client(settings) as client:
        client.put("/api/notifications/settings", json={"mention": False}, headers=as_ada)
    send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    (mail,) = smtp.handler.to("ada@example.org")
    assert "NOTIFICATIONS" not in _text(mail)


def test_a_deferred_digest_hands_its_notifications_back(tmp_path: Path, smtp: SmtpServer) -> None:
    settings, db, _, as_bob = _setup(tmp_path, smtp)
    made = _mention(settings, as_bob, "@ada deferred")
    smtp.handler.defer.add("ada@example.org")
    first = send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    assert first.retry == 1 and smtp.handler.to("ada@example.org") == []
    with db.read() as conn:
        assert conn.execute(store.notifications.select()).one().emailed_at is None
    smtp.handler.defer.clear()
    second = send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    assert second.sent == 1
    (mail,) = smtp.handler.to("ada@example.org")
    assert f"#comment-{made}" in _text(mail)
    with db.read() as conn:
        emailed = conn.execute(store.notifications.select()).one().emailed_at
    assert emailed is not None and emailed > DAY - timedelta(days=1)


def test_a_hidden_comment_is_not_emailed(tmp_path: Path, smtp: SmtpServer) -> None:
    settings, db, _, as_bob = _setup(tmp_path, smtp)
    hidden = _mention(settings, as_bob, "@ada something a moderator hid")
    kept = _mention(settings, as_bob, "@ada something that stays")
    comment_store.set_hidden(db, hidden, True)
    send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    (mail,) = smtp.handler.to("ada@example.org")
    assert f"#comment-{kept}" in _text(mail) and f"#comment-{hidden}" not in _text(mail)
