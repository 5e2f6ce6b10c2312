"""Accounts: sign-up rules, argon2id password hashing, and the secrets behind sessions and API tokens.

The storage layer keeps only digests of session ids and tokens; this module makes the secrets, hashes
them and checks passwords. Free of the web on purpose: the CLI creates users and tokens through it too.

API tokens carry a scope: ``read`` tokens may only read (what a GET shows a signed-in member: private
collections, own votes), ``write`` tokens may also change things (``web.kit.require_member`` enforces
it). A token may expire; a new password revokes every token of the member.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paperfeed.models import ApiToken, User
from paperfeed.storage import Database
from paperfeed.storage import users as store

# argon2-cffi's defaults are RFC 9106's second recommended profile (argon2id, 64 MiB, t=3).
_hasher = PasswordHasher()
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,38}$")
EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 takes any length; this bounds the work one request can ask for
SESSION_DAYS = 30
TOKEN_PREFIX = "pf_"  # noqa: S105 - a public marker, not a secret
Scope = Literal["read", "write"]
SCOPES: tuple[Scope, ...] = ("read", "write")
MAX_TOKENS = 50  # per member: enough for every script one runs, and the list stays readable
MAX_TOKEN_DAYS = 3650
MAX_LABEL = 96


class AccountError(ValueError):
    """A refused sign-up, login or password change; the message names the field."""


@cache
def _dummy_hash() -> str:
    """What a login for an unknown name is checked against, so that it costs as much as one for a known
    name. Made on the first login rather than at import, where every process, each command of the CLI
    among them, paid for it (half a second of CPU: #18)."""
    return _hasher.hash("paperfeed: no such user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password: at most {MAX_PASSWORD} characters")


def sign_up(
    db: Database,
    name: str,
    email: str,
    password: str,
    is_admin: bool = False,
    now: datetime | None = None,
    is_moderator: bool = False,
    is_curator: bool = False,
) -> User:
    """A new member, at once (the CLI's way; the web's goes through ``account_mail``); admins are
    moderators too."""
    name, email = check_sign_up(name, email, password)
    try:
        return store.create_user(
            db,
            name,
            email,
            hash_password(password),
            now or datetime.now(UTC),
            is_admin,
            is_moderator or is_admin,
            is_curator=is_curator,
        )
    except store.NameTaken as exc:
        raise AccountError(str(exc)) from exc


def check_sign_up(name: str, email: str, password: str) -> tuple[str, str]:
    """The handle and the normalised address, if all three fields follow the rules; AccountError naming
    the first that does not."""
    name = name.strip()
    if not NAME.match(name):
        raise AccountError("name: 2 to 39 letters, digits, '_', '.' or '-', starting with a letter or digit")
    email = normalize_email(email)
    check_password_rules(password)
    return name, email


def normalize_email(raw: str) -> str:
    email = raw.strip().lower()
    if len(email) > 256 or not EMAIL.match(email):
        raise AccountError(f"email: {email[:80]!r} is not an email address")
    return email


def authenticate(db: Database, name: str, password: str) -> User | None:
    """The user whose handle (or email) and password these are, else None; the same cost either way."""
    dummy = _dummy_hash()  # before the lookup: the first login costs the same, known name or not
    found = store.password_hash_of(db, name.strip()) if len(password) <= MAX_PASSWORD else None
    try:
        _hasher.verify(found[1] if found else dummy, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    return found[0] if found else None


def change_password(db: Database, user: User, old: str, new: str) -> None:
    if authenticate(db, user.name, old) is None:
        raise AccountError("current password: does not match")
    check_password_rules(new)
    store.set_password_hash(db, user.id, hash_password(new))


def digest(secret: str) -> str:
    """What the database keeps of a session id or token: fast to look up, useless to a thief."""
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(db: Database, user: User, now: datetime | None = None) -> str:
    """A fresh session id (the cookie value); a new one at every login, so a planted id is worthless."""
    now = now or datetime.now(UTC)
    secret = secrets.token_urlsafe(32)
    store.create_session(db, digest(secret), user.id, now, now + timedelta(days=SESSION_DAYS))
    return secret


def session_user(db: Database, secret: str) -> User | None:
    return store.session_user(db, digest(secret), datetime.now(UTC)) if secret else None


def close_session(db: Database, secret: str) -> None:
    store.delete_session(db, digest(secret))


def create_token(
    db: Database,
    user: User,
    label: str = "",
    *,
    scope: str,
    expires_days: int | None = None,
    now: datetime | None = None,
) -> str:
    """A new API token for ``Authorization: Bearer``; shown once, only its digest is stored."""
    label = " ".join(label.split())
    if len(label) > MAX_LABEL:
        raise AccountError(f"label: at most {MAX_LABEL} characters")
    if scope not in SCOPES:
        raise AccountError(f"scope: {scope[:20]!r} is not one of {', '.join(SCOPES)}")
    if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise AccountError(f"expiry: 1 to {MAX_TOKEN_DAYS} days, or none")
    now = now or datetime.now(UTC)
    expires_at = now + timedelta(days=expires_days) if expires_days is not None else None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        store.create_token(db, user.id, digest(token), label, scope, now, expires_at, MAX_TOKENS)
    except store.TooManyTokens as exc:
        raise AccountError(str(exc)) from exc
    return token


def token_grant(db: Database, token: str) -> tuple[User, str] | None:
    """The member a live token stands for, and its scope (None: unknown, revoked or expired)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    return store.token_grant(db, digest(token), datetime.now(UTC))


def token_user(db: Database, token: str) -> User | None:
    grant = token_grant(db, token)
    return grant[0] if grant else None


def tokens(db: Database, user: User) -> list[ApiToken]:
    return store.tokens_of(db, user.id)


def revoke_tokens(db: Database, user: User, token_ids: list[int] | None = None) -> int:
    """Revoke these tokens of the member (None: all); how many were revoked."""
    return store.revoke_tokens(db, user.id, token_ids)
