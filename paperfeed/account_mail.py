"""Sign-up by email and password reset: the requests the web stores, the mail the worker sends for them,
and what their links do.

Why the worker: the web stores a request and answers at once, with the same words in the same time for
any address, so neither the sign-up form nor /password/forgot tells anyone whether an address has an
account. The worker decides, request by request, what to mail:

- a sign-up whose address is free: a random link (only its SHA-256 is stored) to /signup/confirm, valid
  ``signup_link_hours``. The account is made when the link is used together with the password chosen at
  sign-up, so a link mailed for somebody else's request cannot hand its reader an account whose password
  that somebody knows;
- a sign-up whose address has an account: a notice (no link) pointing to /password/forgot;
- a reset for an account's address: a random link to /password/reset, valid ``reset_link_minutes``,
  single-use; using it revokes every session and API token of the account;
- a reset for any other address: nothing.

Mails of one kind to one address are at least ``account_resend_seconds`` apart, whatever the web is
asked; a newer request replaces an older one (and kills its link).
"""

from __future__ import annotations

import contextlib
import secrets
import smtplib
from collections import Counter
from datetime import UTC, datetime, timedelta

from paperfeed import accounts
from paperfeed.digest.mail import Mailer, SmtpTarget, deliver
from paperfeed.digest.render import Renderer
from paperfeed.models import AccountRequest, User
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import users as store

_MAX_TOKEN = 128


class DeadLink(accounts.AccountError):
    """The link is unknown, already used, replaced by a newer request, or expired."""


# -- what the web stores ---------------------------------------------------------------------------------


def request_sign_up(
    db: Database, name: str, email: str, password: str, next_path: str = "/", now: datetime | None = None
) -> None:
    """Queue a sign-up for the worker to mail. AccountError names a field that breaks the rules, or a
    handle in use (handles are public, on /users/{name}); whether the address has an account is not
    looked at here. The password is hashed either way, so every accepted request costs the same."""
    name, email = accounts.check_sign_up(name, email, password)
    if store.name_taken(db, name):
        raise accounts.AccountError(f"name: {name!r} is taken, choose another")
    password_hash = accounts.hash_password(password)
    store.put_request(
        db,
        "signup",
        email,
        now or datetime.now(UTC),
        name=name,
        password_hash=password_hash,
        next_path=next_path,
    )


def request_reset(db: Database, email: str, now: datetime | None = None) -> None:
    """Queue a password reset for the worker; the same for an address with or without an account."""
    store.put_request(db, "reset", accounts.normalize_email(email), now or datetime.now(UTC))


# -- what the worker sends -------------------------------------------------------------------------------


def send_due(db: Database, settings: Settings, now: datetime | None = None) -> str:
    """Mail every request that is due, over one SMTP connection; drop expired links and requests that
    could not be mailed in time. One line saying what happened."""
    now = now or datetime.now(UTC)
    longest = max(timedelta(hours=settings.signup_link_hours), timedelta(minutes=settings.reset_link_minutes))
    forgotten = store.forget_requests(db, now, now - longest)
    url = settings.smtp_url.get_secret_value()
    if not url:
        return f"skipped: PAPERFEED_SMTP_URL is not set ({forgotten} expired requests dropped)"
    due = store.due_requests(db, now, timedelta(seconds=settings.account_resend_seconds))
    if not due:
        return f"nothing to send ({forgotten} expired requests dropped)"
    mailer = Mailer.from_settings(settings)
    renderer = Renderer(settings.site_name, settings.base_url)
    counts: Counter[str] = Counter()
    smtp = SmtpTarget.parse(url).connect()
    try:
        for request in due:
            counts[_send(db, settings, mailer, renderer, smtp, request, now)] += 1
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
    done = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    return f"{done} ({forgotten} expired requests dropped)"


def _send(
    db: Database,
    settings: Settings,
    mailer: Mailer,
    renderer: Renderer,
    smtp: smtplib.SMTP,
    request: AccountRequest,
    now: datetime,
) -> str:
    """Mail one request; what became of it, in a word or two."""
    base = settings.base_url.rstrip("/")
    owner = store.user_by_email(db, request.email)
    token: str | None = None
    if request.kind == "reset" and owner is None:
        store.drop_request(db, request.id)
        return "resets for no account"
    if request.kind == "signup" and owner is not None:
        # No link: this row only remembers the notice went out, so that resends stay spaced.
        kind, url, valid = (
            "exists",
            f"{base}/password/forgot",
            timedelta(seconds=settings.account_resend_seconds),
        )
    elif request.kind == "signup":
        token = secrets.token_urlsafe(32)
        kind, url, valid = (
            "activate",
            f"{base}/signup/confirm?token={token}",
            timedelta(hours=settings.signup_link_hours),
        )
    else:
        token = secrets.token_urlsafe(32)
        kind, url, valid = (
            "reset",
            f"{base}/password/reset?token={token}",
            timedelta(minutes=settings.reset_link_minutes),
        )
    token_hash = accounts.digest(token) if token else None
    if not store.mark_sent(db, request, token_hash, now, now + valid):
        return "replaced meanwhile"
    content = renderer.account(kind, request.email, url, name=request.name or "", expires=_duration(valid))
    outcome, _ = deliver(smtp, mailer.from_addr, request.email, mailer.build(request.email, content))
    if outcome == "retry":
        store.unsend(db, request, token_hash)
        return "to retry"
    if outcome == "failed":  # the address does not exist: nobody can use a link sent there
        store.drop_request(db, request.id)
        return "refused by the server"
    return {"activate": "activation links sent", "exists": "notices sent", "reset": "reset links sent"}[kind]


def _duration(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    if minutes % 60 == 0 and minutes >= 120:
        return f"{minutes // 60} hours"
    return f"{minutes} minutes" if minutes != 1 else "1 minute"


# -- what the links do -----------------------------------------------------------------------------------


def _live(db: Database, kind: str, token: str, now: datetime | None) -> AccountRequest | None:
    if not token or len(token) > _MAX_TOKEN:
        return None
    return store.request_by_token(db, kind, accounts.digest(token), now or datetime.now(UTC))


def sign_up_request(db: Database, token: str, now: datetime | None = None) -> AccountRequest | None:
    """The sign-up an activation link stands for, while the link is live."""
    return _live(db, "signup", token, now)


def activate(db: Database, token: str, password: str, now: datetime | None = None) -> tuple[User, str]:
    """Make the account a live activation link asked for, if ``password`` is the one chosen at sign-up;
    the new member and where they were going. DeadLink, or AccountError (wrong password, a handle taken
    since) and nothing changes."""
    now = now or datetime.now(UTC)
    request = sign_up_request(db, token, now)
    if request is None or request.password_hash is None:
        raise DeadLink("this activation link is unknown, used or expired: sign up again")
    if not accounts.verify_password(request.password_hash, password):
        raise accounts.AccountError("password: this is not the password you chose when signing up")
    try:
        user = store.activate(db, accounts.digest(token), now)
    except store.NameTaken as exc:
        raise accounts.AccountError(str(exc)) from exc
    if user is None:  # used by a concurrent request a moment ago
        raise DeadLink("this activation link is unknown, used or expired: sign up again")
    return user, request.next_path or "/"


def reset_request(db: Database, token: str, now: datetime | None = None) -> AccountRequest | None:
    """The reset a link stands for, while the link is live."""
    return _live(db, "reset", token, now)


def reset_password(db: Database, token: str, new_password: str, now: datetime | None = None) -> User:
    """Set a new password through a live reset link and spend the link; every session and API token of
    the account ends. DeadLink, or AccountError for a password that breaks the rules."""
    now = now or datetime.now(UTC)
    if reset_request(db, token, now) is None:  # checked first: a dead link costs no argon2 hash
        raise DeadLink("this reset link is unknown, used or expired: ask for a new one")
    accounts.check_password_rules(new_password)
    user = store.reset_password(db, accounts.digest(token), accounts.hash_password(new_password), now)
    if user is None:
        raise DeadLink("this reset link is unknown, used or expired: ask for a new one")
    return user
