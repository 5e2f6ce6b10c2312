"""CSRF protection for forms: a signed double-submit token.

A page with a form gives the browser a cookie holding ``<nonce>.<HMAC of the nonce>`` (signed with the
site's secret key) and puts the same value in a hidden ``csrf_token`` field. A POST is accepted when the
field equals the cookie and the signature holds. Another site can make a browser send the cookie, but
cannot read it to fill in the field; the signature stops a value planted from a sibling domain.

Minimal on purpose (issue #5 needed it before the accounts work, issue #4, lands; the lead will unify
the two). The one-click unsubscribe POST does not use it by design: RFC 8058 says that request carries no
cookies, and the signed token in its URL is the authority.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.responses import Response

COOKIE = "paperfeed_csrf"
FIELD = "csrf_token"


def _sign(secret: str, nonce: str) -> str:
    mac = hmac.new(secret.encode(), f"csrf\0{nonce}".encode(), hashlib.sha256).digest()[:18]
    return f"{nonce}.{base64.urlsafe_b64encode(mac).decode()}"


def _valid(secret: str, value: str) -> bool:
    nonce, dot, _ = value.partition(".")
    return bool(secret and dot and nonce) and hmac.compare_digest(value, _sign(secret, nonce))


def _secret(request: Request) -> str:
    return str(request.app.state.settings.secret_key.get_secret_value())


def token(request: Request) -> str:
    """The token for this browser's forms: its cookie's, or a new one that ``attach`` will set."""
    current = request.cookies.get(COOKIE, "")
    if _valid(_secret(request), current):
        return current
    fresh = _sign(_secret(request), secrets.token_urlsafe(18))
    request.state.csrf_new = fresh
    return fresh


def attach(request: Request, response: Response) -> Response:
    """Set the cookie when ``token`` made a new one."""
    fresh = getattr(request.state, "csrf_new", None)
    if fresh:
        secure = str(request.app.state.settings.base_url).startswith("https://")
        response.set_cookie(COOKIE, fresh, httponly=True, samesite="strict", secure=secure, path="/")
    return response


def check(request: Request, submitted: str | None) -> bool:
    """True when the form's token matches this browser's cookie and carries our signature."""
    cookie = request.cookies.get(COOKIE, "")
    return (
        bool(submitted) and hmac.compare_digest(submitted or "", cookie) and _valid(_secret(request), cookie)
    )
