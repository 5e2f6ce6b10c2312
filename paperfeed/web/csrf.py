"""Cross-site request forgery protection for every state-changing request.

A double-submit token: the ``__Host-csrf`` cookie (HttpOnly, Secure, SameSite=Lax, host-only, so no
subdomain can plant one) holds a random token, every form carries the same value in a hidden ``csrf``
field, and JSON requests authenticated by the session cookie send it in ``X-CSRF-Token``. A POST whose
token is missing or differs is refused with 403 (``web.kit.require_member``), as is one whose Origin or Sec-Fetch-Site says it came
from another site. Requests authenticated by ``Authorization: Bearer`` carry no ambient credentials and
need no token.
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "__Host-csrf"
FIELD = "csrf"
HEADER = "x-csrf-token"


def _cookie(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: S112 - a malformed cookie header means no token
                continue
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


class CSRFCookie:
    """Gives every visitor a token cookie with the first page, so the forms on any page work."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _cookie(scope)
        state = scope.setdefault("state", {})
        state["csrf_cookie"] = token  # what the browser sent: the only value a POST is checked against
        state["csrf"] = token or secrets.token_urlsafe(32)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and token is None:
                headers = MutableHeaders(scope=message)
                # Only pages carry forms: static files and API answers stay cookie-free (and cacheable).
                if headers.get("content-type", "").startswith("text/html"):
                    headers.append(
                        "set-cookie", f"{COOKIE}={state['csrf']}; Path=/; Secure; HttpOnly; SameSite=Lax"
                    )
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def token(request: Request) -> str:
    """The value forms put in their hidden ``csrf`` field."""
    return str(request.scope.get("state", {}).get("csrf", ""))


def problem(request: Request, sent: str | None) -> str | None:
    """Why this state-changing request must be refused (403), or None when ``sent`` equals the token in
    the request's own cookie and nothing says it came from another site."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return "cross-site request refused"
    origin = request.headers.get("origin")
    if origin == "null":
        return "cross-site request refused (opaque origin)"
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        return "cross-site request refused (Origin does not match this site)"
    expected = request.scope.get("state", {}).get("csrf_cookie")
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        return "missing or wrong CSRF token: reload the page and try again"
    return None
