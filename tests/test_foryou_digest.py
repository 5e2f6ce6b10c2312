"""One ranking, two channels (issue #14 item 7): a member subscriber's digest picks come from the For-you
model, and the digest and For-you share one seen-once ledger: what a digest sent is not in the member's
next For-you nor their next digest, what they opened or marked is not in their next digest, and a
digest the server refused is not counted as seen. Real SMTP (aiosmtpd), the real API, both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperfeed.digest.compose import load_period, shortlist
from paperfeed.digest.send import send_digests
from paperfeed.digest.subscriptions import add_confirmed
from paperfeed.models import User
from paperfeed.storage import Database, open_database
from paperfeed.storage import deliveries as ledger
from paperfeed.storage import feedback as feedback_store
from paperfeed.storage import subscribers as subscriber_store
from paperfeed.storage import users as user_store
from tests.community import https_client, member, token_for
from tests.digest_helpers import DAY, digest_settings, follows, store_papers
from tests.smtp_server import SmtpServer

DAY_DATE = DAY.date()
GRAPH, AGAIN = "2608.00007", "2608.00008"  # two papers about graph neural networks, by Grace Hopper


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(reject={"refused@example.org"}) as server:
        yield server


def _member_subscriber(db: Database, name: str) -> int:
    user = member(db, name)
    add_confirmed(db, [(f"{name}@example.org", "daily", [])])
    sub = subscriber_store.subscriber_by_email(db, f"{name}@example.org")
    assert sub is not None
    subscriber_store.link_user(db, sub.id, user.id)
    return user.id


def _picks(smtp: SmtpServer, address: str) -> tuple[str, str]:
    (message,) = smtp.handler.to(address)
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    top, _, picks = text.partition("PICKED FOR YOU")
    return top, picks


def test_a_members_picks_come_from_the_model_and_what_a_digest_sent_is_seen(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = digest_settings(tmp_path, smtp.url, digest_top_papers=2, digest_max_picks=3)
    db = open_database(settings.database_url)
    store_papers(db)
    ada = _member_subscriber(db, "ada")
    feedback_store.set_feedback(db, ada, GRAPH, "more", DAY)  # "more like this" of one graph paper
    add_confirmed(db, [("plain@example.org", "daily", follows(("topic", "graph neural network")))])

    report = send_digests(db, settings, "daily", DAY_DATE)
    assert (report.sent, report.failed) == (2, 0)
    _, picks = _picks(smtp, "ada@example.org")
    # The model's first pick, with its reason: the other graph paper, by the same author.
    assert AGAIN in picks
    assert "Why: By Grace Hopper, who wrote “Bounds of" in picks or "Why: Close to “Bounds of" in picks
    assert GRAPH not in picks  # liked already: not picked back
    # A subscriber without an account keeps the follow-based sources.
    _, plain = _picks(smtp, "plain@example.org")
    assert "Why: Matches your topic “graph neural network”" in plain

    sub = subscriber_store.subscriber_by_email(db, "ada@example.org")
    assert sub is not None
    sent = set(ledger.papers_sent(db, sub.id))
    assert len(sent) == 3 and AGAIN in sent  # two top papers and the one personal pick
    assert feedback_store.seen_via(db, ada) == dict.fromkeys(sent, "digest")
    plain_sub = subscriber_store.subscriber_by_email(db, "plain@example.org")
    assert plain_sub is not None and plain_sub.user_id is None

    # The next For-you holds none of them, unless asked.
    with https_client(settings) as client:
        auth = token_for(db, _user(db, "ada"))
        query = f"since={DAY_DATE.isoformat()}&until={DAY_DATE.isoformat()}&limit=100"
        listed = {i["paper"]["id"] for i in client.get(f"/api/for-you?{query}", headers=auth).json()}
        assert listed and not listed & sent
        everything = {
            i["paper"]["id"] for i in client.get(f"/api/for-you?{query}&seen=include", headers=auth).json()
        }
        assert sent <= everything

        # Opened on the site: not in the next digest either (the weekly one, same papers).
        rest = sorted(listed)
        assert (
            client.post(f"/api/papers/{rest[0]}/seen", json={"via": "opened"}, headers=auth).status_code
            == 200
        )
    weekly = subscriber_store.subscriber_by_email(db, "ada@example.org")
    assert weekly is not None
    pp = load_period(db, "weekly", DAY_DATE, DAY + timedelta(days=1), model=settings.embedding_model)
    short = shortlist(pp, weekly, 2, 3)
    assert rest[0] not in {i for i, _ in short.picks}  # the model leaves seen papers out
    db.close()


def _user(db: Database, name: str) -> User:
    found = user_store.user_by_name(db, name)
    assert found is not None
    return found


def test_seen_on_the_site_is_left_out_of_the_digest_even_among_the_top(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = digest_settings(tmp_path, smtp.url, digest_top_papers=3, digest_max_picks=0)
    db = open_database(settings.database_url)
    store_papers(db)
    ada = _member_subscriber(db, "ada")
    feedback_store.mark_seen(db, ada, ["2608.00001"], "marked", datetime.now(UTC))
    send_digests(db, settings, "daily", DAY_DATE)
    top, _ = _picks(smtp, "ada@example.org")
    assert (
        "Plain paper number 1" not in top and "Plain paper number 2" in top and "Plain paper number 4" in top
    )
    assert feedback_store.seen_via(db, ada)["2608.00001"] == "marked"  # the first channel stays
    db.close()


def test_a_digest_the_server_refused_is_not_seen(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = digest_settings(tmp_path, smtp.url, digest_top_papers=2, digest_max_picks=2)
    db = open_database(settings.database_url)
    store_papers(db)
    refused = _member_subscriber(db, "refused")
    report = send_digests(db, settings, "daily", DAY_DATE)
    assert report.failed == 1
    assert feedback_store.seen_via(db, refused) == {}
    db.close()


def test_the_claim_records_seen_in_its_own_transaction(tmp_path: Path, smtp: SmtpServer) -> None:
    """What a kill -9 right after the claim leaves: the digest's papers recorded, and seen by the member
    (the same transaction), so a digest that may have gone out never comes back in For-you."""
    settings = digest_settings(tmp_path, smtp.url)
    db = open_database(settings.database_url)
    store_papers(db)
    ada = _member_subscriber(db, "ada")
    sub = subscriber_store.subscriber_by_email(db, "ada@example.org")
    assert sub is not None
    feedback_store.mark_seen(db, ada, ["2608.00002"], "opened", DAY)
    offered = ["2608.00001", "2608.00002", "2608.00003"]
    claimed = ledger.claim(
        db,
        sub.id,
        "daily:x",
        "sender",
        DAY,
        offered,
        lambda sent: [i for i in offered if i not in sent],
        None,
        ada,
    )
    assert claimed is not None and claimed.paper_ids == [
        "2608.00001",
        "2608.00003",
    ]  # the opened one left out
    assert feedback_store.seen_via(db, ada) == {
        "2608.00001": "digest",
        "2608.00002": "opened",
        "2608.00003": "digest",
    }
    db.close()
