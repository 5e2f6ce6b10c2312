"""Subscribing and leaving: double opt-in, one-click unsubscribe, preferences; for the web and the CLI.

A subscribe request never says whether the address was known: the caller shows the same answer for a
new, pending, active or suppressed address, and a confirmation email goes out at most once per
``confirm_resend_seconds`` to one address.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from paperfeed.digest import tokens
from paperfeed.digest.compose import Frequency
from paperfeed.digest.mail import Mailer, SmtpTarget, deliver
from paperfeed.digest.render import Rendered, Renderer
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


class MailError(RuntimeError):
    """The SMTP server did not accept a confirmation email."""


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
    """Record a subscribe request for a normalised address and email the confirmation link when due."""
    now = now or datetime.now(UTC)
    token, token_hash = tokens.new_confirm_token()
    hours = settings.confirm_token_hours
    outcome = store.request_confirmation(
        db,
        email,
        frequency,
        token_hash,
        now + timedelta(hours=hours),
        now,
        timedelta(seconds=settings.confirm_resend_seconds),
    )
    if outcome == "send":
        url = f"{settings.base_url.rstrip('/')}/subscribe/confirm?token={token}"
        content = Renderer(settings.site_name, settings.base_url).confirmation(email, frequency, url, hours)
        send_one(settings, email, content)
    return outcome


def send_one(settings: Settings, to: str, content: Rendered) -> None:
    """One message outside any digest run (a confirmation), over its own connection."""
    mailer = Mailer.from_settings(settings)
    smtp = SmtpTarget.parse(settings.smtp_url.get_secret_value()).connect()
    try:
        outcome, reply = deliver(smtp, mailer.from_addr, to, mailer.build(to, content))
    finally:
        smtp.quit()
    if outcome != "sent":
        raise MailError(f"the confirmation to {to} was not accepted: {reply}")


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
