"""Subscribing and leaving: double opt-in, one-click unsubscribe, preferences; for the web and the CLI.

A subscribe request never says whether the address was known: the caller shows the same answer for a
new, pending, active or suppressed address, and a confirmation email goes out at most once per
``confirm_resend_seconds`` to one address. A request only records that a confirmation is due; the
worker's ``confirmations`` job sends it (``send_confirmations``), so the answer takes the same time
whatever the address and whether or not mail works.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from paperfeed.digest import tokens
from paperfeed.digest.compose import Frequency
from paperfeed.digest.mail import Mailer, SmtpTarget, deliver
from paperfeed.digest.render import Renderer
from paperfeed.models import Follow, Subscriber
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import subscribers as store

FOLLOW_KINDS = ("topic", "author", "organization")
_MAX_FOLLOW = 200
# Deliberately plain: ASCII addresses with a dotted domain (what SMTP without SMTPUTF8 can carry).
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


class BadEmail(ValueError):
    pass


class BadFollow(ValueError):
    pass


def normalize_email(raw: str) -> str:
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email) or ".." in email:
        raise BadEmail(f"{raw.strip()[:80]!r} is not an email address")
    return email


def make_follow(kind: str, value: str) -> Follow:
    text = " ".join(value.split())
    if kind not in FOLLOW_KINDS:
        raise BadFollow(f"{kind!r} is not something to follow (expected one of: {', '.join(FOLLOW_KINDS)})")
    if not text or len(text) > _MAX_FOLLOW:
        raise BadFollow(f"a {kind} must be 1 to {_MAX_FOLLOW} characters")
    return Follow(kind, text)


def request(
    db: Database, settings: Settings, email: str, frequency: Frequency, now: datetime | None = None
) -> store.Requested:
    """Record a subscribe request for a normalised address: a confirmation email is now due, unless one
    is due already, went out less than ``confirm_resend_seconds`` ago, or the address is subscribed."""
    now = now or datetime.now(UTC)
    resend = timedelta(seconds=settings.confirm_resend_seconds)
    return store.request_confirmation(db, email, frequency, now, resend)


@dataclass(slots=True)
class ConfirmationReport:
    sent: int = 0
    retry: int = 0  # the server said "later": due again for the next run
    refused: int = 0  # the server refused the address for good: dropped
    expired: int = 0  # asked for longer ago than a link lives: dropped unsent
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.sent} sent, {self.retry} to retry, {self.refused} refused, {self.expired} expired"
        return f"{text} ({self.problems[0]})" if self.problems else text


def send_confirmations(
    db: Database, settings: Settings, only: str | None = None, now: datetime | None = None, limit: int = 500
) -> ConfirmationReport:
    """Send the confirmation emails that are due (only ``only``'s when given) over one SMTP connection.

    Each is claimed first with a fresh token (only its hash is stored; an earlier link stops working),
    valid ``confirm_token_hours``, then handed to the server: at most once, so a kill mid-send loses a
    confirmation rather than sending two (the reader can ask again). A 4xx makes it due again; a 5xx drops
    it; a request older than a link's lifetime is dropped unsent. Raises MailConfigError when mail is not
    set up and OSError or SMTPException when the server cannot be reached, having claimed nothing."""
    now = now or datetime.now(UTC)
    report = ConfirmationReport()
    due = store.due_confirmations(db, limit, only)
    if not due:
        return report
    mailer = Mailer.from_settings(settings)
    target = SmtpTarget.parse(settings.smtp_url.get_secret_value())
    renderer = Renderer(settings.site_name, settings.base_url)
    hours = settings.confirm_token_hours
    smtp = target.connect()
    try:
        for item in due:
            if now - item.due_at > timedelta(hours=hours):
                store.drop_confirmation(db, item)
                report.expired += 1
                continue
            token, token_hash = tokens.new_confirm_token()
            if not store.claim_confirmation(db, item, token_hash, now + timedelta(hours=hours), now):
                continue  # another sender has it, or the address was confirmed meanwhile
            url = f"{settings.base_url.rstrip('/')}/subscribe/confirm?token={token}"
            content = renderer.confirmation(item.email, item.frequency, url, hours)
            outcome, reply = deliver(smtp, mailer.from_addr, item.email, mailer.build(item.email, content))
            if outcome in ("sent", "unknown"):  # unknown: it may have arrived, so it is never sent again
                report.sent += 1
            elif outcome == "retry":
                store.requeue_confirmation(db, item)
                report.retry += 1
                report.problems.append(f"{item.email}: {reply}")
            else:
                report.refused += 1
                report.problems.append(f"{item.email}: {reply}")
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
    return report


def confirming(db: Database, token: str, now: datetime | None = None) -> Subscriber | None:
    """The subscription this confirmation token would confirm (None: unknown or expired); changes nothing."""
    if not token or len(token) > 128:
        return None
    return store.by_confirm_token(db, tokens.hash_token(token), now or datetime.now(UTC))


def confirm(db: Database, token: str, now: datetime | None = None) -> Subscriber | None:
    """Spend a confirmation token; the subscription it belongs to, now active (None: unknown or expired)."""
    if not token or len(token) > 128:
        return None
    return store.confirm(db, tokens.hash_token(token), now or datetime.now(UTC))


def by_link(db: Database, settings: Settings, purpose: str, token: str) -> Subscriber | None:
    """The subscriber a signed link names, if its signature holds."""
    subscriber_id = tokens.subscriber_id_of(token)
    if subscriber_id is None:
        return None
    found = store.subscriber(db, subscriber_id)
    secret = settings.secret_key.get_secret_value()
    if found is None or not tokens.verify(secret, purpose, token, found.email):
        return None
    return found


def unsubscribe(db: Database, settings: Settings, token: str, now: datetime | None = None) -> bool:
    """One-click unsubscribe: suppress the address the link was signed for. True when the link is valid
    (also when the address was suppressed already: repeating is harmless)."""
    found = by_link(db, settings, "unsubscribe", token)
    if found is None:
        return False
    return store.suppress(db, found.id, "unsubscribed", now or datetime.now(UTC))


def add_confirmed(
    db: Database, entries: Sequence[tuple[str, Frequency, Sequence[Follow]]], now: datetime | None = None
) -> store.ImportCounts:
    """Add already-confirmed subscriptions (normalised addresses), e.g. moved from another list."""
    return store.add_confirmed(db, entries, now or datetime.now(UTC))
