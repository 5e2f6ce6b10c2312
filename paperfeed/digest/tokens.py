"""The two kinds of token in digest emails.

Confirmation tokens are random, single-use and expiring; only their SHA-256 is stored. Links in every
digest (one-click unsubscribe, preferences) carry ``<subscriber id>.<HMAC>`` signed with the site's
secret key over purpose, id and address: nothing to store, nothing to expire (an old digest's unsubscribe
link must keep working, RFC 8058), and a tampered token matches no subscriber.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


class MissingSecret(RuntimeError):
    """PAPERFEED_SECRET_KEY is not set, so no link can be signed or checked."""


def new_confirm_token() -> tuple[str, str]:
    """(token for the email, hash for the database)."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mac(secret: str, purpose: str, subscriber_id: int, email: str) -> str:
    if not secret:
        raise MissingSecret("set PAPERFEED_SECRET_KEY: digest links are signed with it")
    digest = hmac.new(secret.encode(), f"{purpose}\0{subscriber_id}\0{email}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


def sign(secret: str, purpose: str, subscriber_id: int, email: str) -> str:
    return f"{subscriber_id}.{_mac(secret, purpose, subscriber_id, email)}"


def subscriber_id_of(token: str) -> int | None:
    """The id a signed token claims (not yet checked: look the subscriber up, then ``verify``)."""
    head, dot, _ = token.partition(".")
    if not dot or not head.isascii() or not head.isdigit() or len(head) > 18:
        return None
    return int(head)


def verify(secret: str, purpose: str, token: str, email: str) -> bool:
    subscriber_id = subscriber_id_of(token)
    if subscriber_id is None:
        return False
    return hmac.compare_digest(token, sign(secret, purpose, subscriber_id, email))
