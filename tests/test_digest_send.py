"""Digests over real SMTP (aiosmtpd on loopback): every received message is parsed and checked."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dkim
import pytest
from pydantic import SecretStr

from paperfeed.digest import tokens
from paperfeed.digest.latex import readable
from paperfeed.digest.mail import Mailer
from paperfeed.digest.send import SendError, send_digests
from paperfeed.digest.subscriptions import add_confirmed
from paperfeed.storage import Database, open_database
from paperfeed.storage import deliveries as ledger
from paperfeed.storage import subscribers as subscriber_store
from tests.digest_helpers import DAY, SECRET, digest_settings, dkim_key, follows, store_papers
from tests.smtp_server import SmtpServer

DAY_DATE = DAY.date()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(reject={"gone@example.org"}) as server:
        yield server
    for received in server.handler.messages:  # every message any test here received, parsed
        message = received.parsed()
        assert not message.defects and not any(p.defects for p in message.walk())
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Unsubscribe"].startswith("<https://papers.example.org/unsubscribe/")
        assert message["Message-ID"] and message["Date"] and message["List-Id"]
        assert message["To"] == received.rcpt_tos[0]
        text, html = (message.get_body((kind,)) for kind in ("plain", "html"))
        assert text is not None and html is not None
        assert "Unsubscribe with one click: https://papers.example.org/unsubscribe/" in text.get_content()
        assert "<script" not in html.get_content()


def _open(tmp_path: Path, smtp: SmtpServer, **overrides: object) -> tuple[Database, object]:
    settings = digest_settings(tmp_path, smtp.url, **overrides)
    return open_database(settings.database_url), settings


def test_a_digest_holds_top_papers_and_personal_picks_with_why(tmp_path: Path, smtp: SmtpServer) -> None:
    db, settings = _open(tmp_path, smtp, digest_top_papers=3, digest_max_picks=5)
    store_papers(db)
    add_confirmed(
        db,
        [
            ("plain@example.org", "daily", []),
            (
                "fan@example.org",
                "daily",
                follows(
                    ("topic", "graph neural network"), ("author", "Emile Borel"), ("organization", "DeepLab")
                ),
            ),
        ],
    )
    report = send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    assert (report.sent, report.papers, report.retry, report.failed) == (2, 8, 0, 0)
    (plain,) = smtp.handler.to("plain@example.org")
    text = plain.get_body(("plain",)).get_content()
    assert [line.split(". ", 1)[1] for line in text.splitlines() if line[:3] in ("1. ", "2. ", "3. ")] == [
        "Plain paper number 1",
        "Plain paper number 2",
        "Plain paper number 3",
    ]
    assert "Why: Trending: 19 upvotes" in text and "PICKED FOR YOU" not in text
    (fan,) = smtp.handler.to("fan@example.org")
    text = fan.get_body(("plain",)).get_content()
    picks = text.split("PICKED FOR YOU", 1)[1]
    # Both graph papers match the topic (plural "networks" too); the LaTeX one is also by a followed
    # author: the first source's reason is shown, and no paper appears twice.
    assert "Why: Matches your topic “graph neural network”" in picks
    assert picks.count("2608.00007") == 1 and picks.count("2608.00008") == 1
    assert "Bounds of 𝒪(n^2) for sparse attention at 50% density" in picks, "LaTeX made readable"
    assert "α≤1/2" in picks.replace(" ", "") or "α ≤ 1/2" in picks
    html = fan.get_body(("html",)).get_content()
    assert "Bounds of 𝒪(n^2) for sparse attention at 50% density" in html
    assert "<script>" not in html and "&lt;script&gt;" in html, "HTML part escaped, no scripts"


def test_topic_search_is_pluggable(tmp_path: Path, smtp: SmtpServer) -> None:
    """The lead's hybrid search can replace the word matching: a pick source asks ``topic_search``."""
    db, settings = _open(tmp_path, smtp, digest_top_papers=3)
    store_papers(db)
    add_confirmed(db, [("reader@example.org", "daily", follows(("topic", "semantic thing")))])
    asked: list[str] = []

    def search(pp: object, terms: str) -> list[str]:
        asked.append(terms)
        return ["2608.00003", "not-in-this-period"]

    send_digests(db, settings, "daily", DAY_DATE, topic_search=search)  # type: ignore[arg-type]
    (message,) = smtp.handler.to("reader@example.org")
    top, picks = message.get_body(("plain",)).get_content().split("PICKED FOR YOU")
    assert asked == ["semantic thing"]
    assert "Plain paper number 3" in picks and "Why: Matches your topic “semantic thing”" in picks
    assert "Plain paper number 3" not in top and "Plain paper number 4" in top


def test_headers_one_click_message_id_and_dkim(tmp_path: Path, smtp: SmtpServer) -> None:
    key, record = dkim_key(tmp_path)
    db, settings = _open(
        tmp_path, smtp, dkim_selector="s1", dkim_domain="papers.example.org", dkim_key_path=str(key)
    )
    store_papers(db)
    add_confirmed(db, [("reader@example.org", "daily", [])])
    send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    (received,) = smtp.handler.messages
    message = received.parsed()
    sub = subscriber_store.subscriber_by_email(db, "reader@example.org")
    assert sub is not None
    token = tokens.sign(SECRET, "unsubscribe", sub.id, sub.email)
    assert message["List-Unsubscribe"] == (
        f"<https://papers.example.org/unsubscribe/{token}>, "
        f"<mailto:digest@papers.example.org?subject=unsubscribe-{token}>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == "paperfeed daily digest <daily.paperfeed.papers.example.org>"
    assert message["From"] == "Paper Feed <digest@papers.example.org>"
    assert message["To"] == "reader@example.org" and received.rcpt_tos == ["reader@example.org"]
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    # Injection attempt in a title: the subject is one line, and no Bcc header exists.
    assert message["Bcc"] is None and "\n" not in str(message["Subject"])
    assert all(b"\nBcc:" not in line for line in received.data.split(b"\r\n\r\n", 1)[:1])
    # DKIM: the signature verifies against the public key, and covers the unsubscribe headers.
    signature = message["DKIM-Signature"]
    assert "d=papers.example.org" in signature and "s=s1" in signature
    assert "list-unsubscribe-post" in signature.lower()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"s1._domainkey.papers.example.org."
        return record

    assert dkim.verify(received.data, dnsfunc=dns)
    assert not dkim.verify(
        received.data.replace(b"List-Unsubscribe-Post: List", b"List-Unsubscribe-Post: Xist"), dnsfunc=dns
    )
    # The Message-ID is stable per (subscriber, period): the same on a resend, another for another day.
    mailer_id = message["Message-ID"]
    mailer = Mailer.from_settings(settings)  # type: ignore[arg-type]
    assert mailer_id == mailer.message_id("daily:2026-08-19", sub.id)
    assert mailer.message_id("daily:2026-08-20", sub.id) != mailer_id
    assert email.utils.parseaddr(mailer_id)[1].endswith("@papers.example.org")


def test_never_the_same_paper_twice_and_a_rerun_sends_nothing(tmp_path: Path, smtp: SmtpServer) -> None:
    db, settings = _open(tmp_path, smtp, digest_top_papers=3, digest_max_picks=0)
    store_papers(db)
    add_confirmed(db, [("reader@example.org", "daily", [])])
    first = send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    again = send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    assert (first.sent, again.sent, again.skipped) == (1, 0, 1)
    # The weekly digest of the same week must not repeat what the daily one sent.
    subscriber_store.update_preferences(db, 1, "weekly", False, [])
    weekly = send_digests(db, settings, "weekly", DAY_DATE)  # type: ignore[arg-type]
    assert weekly.sent == 1
    daily_msg, weekly_msg = smtp.handler.to("reader@example.org")
    ids = [
        {
            line.rsplit("/", 1)[1]
            for line in m.get_body(("plain",)).get_content().splitlines()
            if "/papers/" in line
        }
        for m in (daily_msg, weekly_msg)
    ]
    assert len(ids[0]) == len(ids[1]) == 3 and not ids[0] & ids[1]
    sent = ledger.papers_sent(db, 1)
    assert set(sent) == ids[0] | ids[1]


def test_nothing_new_is_recorded_not_sent(tmp_path: Path, smtp: SmtpServer) -> None:
    db, settings = _open(tmp_path, smtp, digest_top_papers=8, digest_max_picks=0)
    store_papers(db)
    add_confirmed(db, [("reader@example.org", "daily", [])])
    send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    subscriber_store.update_preferences(db, 1, "weekly", False, [])
    weekly = send_digests(db, settings, "weekly", DAY_DATE)  # type: ignore[arg-type]
    assert (weekly.sent, weekly.empty) == (0, 1)
    assert len(smtp.handler.messages) == 1


def test_permanent_failure_suppresses_and_others_still_get_theirs(tmp_path: Path, smtp: SmtpServer) -> None:
    db, settings = _open(tmp_path, smtp)
    store_papers(db)
    add_confirmed(db, [("gone@example.org", "daily", []), ("here@example.org", "daily", [])])
    report = send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    assert (report.sent, report.failed) == (1, 1)
    gone = subscriber_store.subscriber_by_email(db, "gone@example.org")
    assert gone is not None and gone.status == "suppressed" and gone.suppressed_reason == "bounced"
    statuses = {d["email"]: d["status"] for d in ledger.deliveries(db, "daily:2026-08-19")}
    assert statuses == {"gone@example.org": "failed", "here@example.org": "sent"}
    assert ledger.papers_sent(db, gone.id) == {}, "what a bounced digest would have carried counts as unsent"


def test_a_transient_failure_is_sent_by_the_next_run(tmp_path: Path, smtp: SmtpServer) -> None:
    db, settings = _open(tmp_path, smtp)
    store_papers(db)
    add_confirmed(db, [("busy@example.org", "daily", []), ("here@example.org", "daily", [])])
    smtp.handler.defer.add("busy@example.org")
    first = send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    assert (first.sent, first.retry) == (1, 1)
    busy = subscriber_store.subscriber_by_email(db, "busy@example.org")
    assert busy is not None and busy.status == "active", "a 4xx suppresses nothing"
    assert ledger.papers_sent(db, busy.id) == {}
    smtp.handler.defer.clear()
    second = send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    assert (second.sent, second.skipped) == (1, 1)
    assert len(smtp.handler.to("busy@example.org")) == 1 and len(smtp.handler.to("here@example.org")) == 1
    (row,) = [d for d in ledger.deliveries(db, "daily:2026-08-19") if d["email"] == "busy@example.org"]
    assert (row["status"], row["attempts"]) == ("sent", 2)


def test_paused_pending_and_unsubscribed_get_nothing(tmp_path: Path, smtp: SmtpServer) -> None:
    db, settings = _open(tmp_path, smtp)
    store_papers(db)
    add_confirmed(db, [("paused@example.org", "daily", []), ("left@example.org", "daily", [])])
    subscriber_store.update_preferences(db, 1, "daily", True, [])
    subscriber_store.suppress(db, 2, "unsubscribed", DAY)
    subscriber_store.request_confirmation(db, "pending@example.org", "daily", DAY, timedelta(0))
    report = send_digests(db, settings, "daily", DAY_DATE)  # type: ignore[arg-type]
    assert report.sent == 0 and smtp.handler.messages == []


def test_no_smtp_server_claims_nothing(tmp_path: Path) -> None:
    settings = digest_settings(tmp_path, "smtp://127.0.0.1:9?starttls=off")
    db = open_database(settings.database_url)
    store_papers(db)
    add_confirmed(db, [("reader@example.org", "daily", [])])
    with pytest.raises(SendError, match=r"cannot send through the SMTP server 127\.0\.0\.1:9"):
        send_digests(db, settings, "daily", DAY_DATE)
    assert ledger.period_counts(db, "daily:2026-08-19") == {}


def test_readable_latex() -> None:
    assert readable(r"$\mathcal{O}(n^2)$ at 50% of \$15 and \emph{more}") == "𝒪(n^2) at 50% of $15 and more"
    assert readable("a lone $5 stays") == "a lone $5 stays"
    assert readable("plain\n  text") == "plain text"
    assert readable(r"broken {\frac{a}{") != ""


def test_a_missing_period_sends_nothing(tmp_path: Path, smtp: SmtpServer) -> None:
    db, settings = _open(tmp_path, smtp)
    store_papers(db)
    add_confirmed(db, [("reader@example.org", "daily", [])])
    report = send_digests(db, settings, "daily", date(2026, 8, 22))  # type: ignore[arg-type]
    assert (report.papers, report.sent) == (0, 0)


def test_starttls_and_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A submission server that insists on STARTTLS before AUTH and on AUTH before mail; the client trusts
    its certificate through SSL_CERT_FILE, as it would a private CA."""
    import ssl
    import subprocess

    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    logins: list[bytes] = []

    def authenticate(
        server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"digest", b"p@ss word")
        if ok:
            logins.append(data.login)  # type: ignore[union-attr]
        return AuthResult(success=ok, handled=False)

    options = {
        "tls_context": tls,
        "require_starttls": True,
        "authenticator": authenticate,
        "auth_required": True,
        "auth_require_tls": True,
    }
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with SmtpServer(controller=options) as server:
        url = f"smtp://digest:p%40ss%20word@127.0.0.1:{server.port}"
        settings = digest_settings(tmp_path, url, send_concurrency=1)
        db = open_database(settings.database_url)
        store_papers(db)
        add_confirmed(db, [("reader@example.org", "daily", [])])
        assert send_digests(db, settings, "daily", DAY_DATE).sent == 1
        assert logins == [b"digest"] and len(server.handler.to("reader@example.org")) == 1
        wrong = settings.model_copy(update={"smtp_url": SecretStr(url.replace("p%40ss", "guess"))})
        with pytest.raises(SendError, match="Authentication"):
            send_digests(db, wrong, "daily", DAY_DATE)
