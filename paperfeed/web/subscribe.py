"""Digest subscription pages: subscribe (double opt-in), confirm, one-click unsubscribe, preferences.

Every form carries a CSRF token (``web.csrf``) except the one-click unsubscribe POST (RFC 8058: sent by
mail clients without cookies; the signed token in its URL is the authority). No GET changes anything:
the confirmation link and the unsubscribe link both open a page with a button that POSTs. A subscribe
answer is the same whether the address is new, pending, subscribed or suppressed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response

from paperfeed.digest import tokens
from paperfeed.digest.compose import FREQUENCIES, BadFrequency, parse_frequency
from paperfeed.digest.mail import MailConfigError
from paperfeed.digest.subscriptions import (
    FOLLOW_KINDS,
    BadEmail,
    BadFollow,
    MailError,
    by_link,
    confirm,
    make_follow,
    normalize_email,
    request,
    unsubscribe,
)
from paperfeed.models import Follow, Subscriber
from paperfeed.storage import Database
from paperfeed.storage import subscribers as subscriber_store
from paperfeed.web import csrf
from paperfeed.web.auth import viewer

log = logging.getLogger(__name__)
_MAX_BODY = 64 * 1024
_MAX_FOLLOWS = 50


class _RateLimit:
    """At most ``limit`` requests per ``window`` seconds from one client address (this process)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.seen: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self.lock:
            if len(self.seen) > 10_000:  # forget idle clients rather than grow without bound
                self.seen = {k: v for k, v in self.seen.items() if v and now - v[-1] < self.window}
            hits = self.seen.setdefault(key, deque())
            while hits and now - hits[0] > self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True


def _subscribe_limit(request: Request) -> _RateLimit:
    """Ten subscribe requests per client address per ten minutes, per app."""
    state = request.app.state
    if not hasattr(state, "subscribe_limit"):
        state.subscribe_limit = _RateLimit(limit=10, window=600.0)
    limit: _RateLimit = state.subscribe_limit
    return limit


def _csrf_ok(request: Request, sent: str | None) -> bool:
    """The site's CSRF check (web/csrf.py: double-submit cookie and Origin), as a yes/no for these forms."""
    try:
        csrf.check(request, sent)
    except csrf.Refused:
        return False
    return True


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    templates = request.app.state.templates
    context = {"frequencies": FREQUENCIES, **context}
    response: Response = templates.TemplateResponse(request, name, context, status_code=status)
    return response


def _error(request: Request, status: int, title: str, message: str) -> Response:
    return _render(request, "error.html", {"status": status, "title": title, "message": message}, status)


async def _form(request: Request) -> dict[str, list[str]]:
    """An urlencoded or multipart/form-data body (RFC 8058 allows both) as field → values."""
    body = await request.body()
    if len(body) > _MAX_BODY:
        return {}
    kind = request.headers.get("content-type", "")
    pairs: list[tuple[str, str]] = []
    if kind.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {kind}\r\n\r\n".encode() + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                pairs.append((name, str(part.get_content()).strip()))
    else:
        pairs = parse_qsl(body.decode(errors="replace"), keep_blank_values=True)
    fields: dict[str, list[str]] = {}
    for key, value in pairs:
        fields.setdefault(key, []).append(value)
    return fields


def _first(fields: dict[str, list[str]], key: str) -> str:
    return fields.get(key, [""])[0]


def _secret_missing(request: Request) -> Response | None:
    if not request.app.state.settings.secret_key.get_secret_value():
        return _error(request, 503, "Subscriptions are off", "This site has no PAPERFEED_SECRET_KEY set.")
    return None


# -- subscribe and confirm ---------------------------------------------------------------------------


def subscribe_page(request: Request) -> Response:
    """The subscribe form."""
    return _secret_missing(request) or _render(request, "subscribe.html", {"frequency": "daily"})


async def subscribe(request: Request) -> Response:
    """Record the request and email a confirmation link; the same answer for every address."""
    fields = await _form(request)
    # Storage and SMTP block: run them on the thread pool, as FastAPI does for plain ``def`` handlers.
    return await run_in_threadpool(_subscribe, request, fields)


def _subscribe(request: Request, fields: dict[str, list[str]]) -> Response:
    if not _csrf_ok(request, _first(fields, csrf.FIELD)):
        return _error(request, 403, "Form expired", "Reload the page and send the form again.")
    if missing := _secret_missing(request):
        return missing
    client = request.client.host if request.client else "unknown"
    if not _subscribe_limit(request).allow(client):
        return _error(request, 429, "Too many requests", "Wait a few minutes, then try again.")
    raw_email = _first(fields, "email")
    try:
        email = normalize_email(raw_email)
        frequency = parse_frequency(_first(fields, "frequency") or "daily")
    except (BadEmail, BadFrequency) as exc:
        context = {"error": str(exc), "email": raw_email[:254], "frequency": "daily"}
        return _render(request, "subscribe.html", context, 400)
    db: Database = request.app.state.db
    try:
        request_outcome = request_subscription(db, request, email, frequency)
    except MailConfigError as exc:
        log.error("subscribe: mail is not configured: %s", exc)
        return _error(request, 503, "Email is not set up", "This site cannot send email yet.")
    log.info("subscribe request: %s", request_outcome)
    return _render(request, "subscribe_sent.html", {"email": email})


def request_subscription(db: Database, http: Request, email: str, frequency: Any) -> str:
    try:
        return request(db, http.app.state.settings, email, frequency)
    except (MailError, OSError) as exc:  # the answer stays the same; the operator sees the log
        log.error("subscribe: the confirmation email was not sent: %s", exc)
        return "mail_failed"


def confirm_page(request: Request, token: str = "") -> Response:
    """What the emailed link opens: a button that confirms (a GET changes nothing, so link scanners
    cannot confirm on the reader's behalf)."""
    return _secret_missing(request) or _render(request, "subscribe_confirm.html", {"token": token[:128]})


async def confirm_subscription(request: Request) -> Response:
    return await run_in_threadpool(_confirm, request, await _form(request))


def _confirm(request: Request, fields: dict[str, list[str]]) -> Response:
    if not _csrf_ok(request, _first(fields, csrf.FIELD)):
        return _error(request, 403, "Form expired", "Reload the page and send the form again.")
    if missing := _secret_missing(request):
        return missing
    found = confirm(request.app.state.db, _first(fields, "token"))
    if found is not None and (member := viewer(request)) is not None:
        # Confirmed by a signed-in member: the address is theirs, so their upvotes and collections
        # may choose "similar to what you liked" picks.
        subscriber_store.link_user(request.app.state.db, found.id, member.id)
    if found is None:
        return _error(request, 400, "Link expired", "This confirmation link was used already or has expired.")
    return _render(
        request, "subscribe_confirmed.html", {"subscriber": found, "preferences": _prefs(request, found)}
    )


def _prefs(request: Request, sub: Subscriber) -> str:
    secret = request.app.state.settings.secret_key.get_secret_value()
    return f"/subscription/{tokens.sign(secret, 'preferences', sub.id, sub.email)}"


# -- unsubscribe -------------------------------------------------------------------------------------


def unsubscribe_page(request: Request, token: str) -> Response:
    """The List-Unsubscribe link opened in a browser: a confirmation button, nothing changed yet."""
    if missing := _secret_missing(request):
        return missing
    found = by_link(request.app.state.db, request.app.state.settings, "unsubscribe", token)
    if found is None:
        return _error(request, 400, "Link not valid", "This unsubscribe link is not valid.")
    done = found.status == "suppressed"
    return _render(request, "unsubscribe.html", {"token": token, "email": found.email, "done": done})


async def unsubscribe_one_click(request: Request, token: str) -> Response:
    """RFC 8058 one-click: ``List-Unsubscribe=One-Click`` POSTed without cookies. No CSRF token by
    design (the signed token in the URL is the authority); 200 without redirect; repeatable."""
    return await run_in_threadpool(_unsubscribe, request, token, await _form(request))


def _unsubscribe(request: Request, token: str, fields: dict[str, list[str]]) -> Response:
    if _secret_missing(request):
        return PlainTextResponse("Unsubscribing is not available.\n", status_code=503)
    if _first(fields, "List-Unsubscribe") != "One-Click":
        return PlainTextResponse("Expected List-Unsubscribe=One-Click.\n", status_code=400)
    if not unsubscribe(request.app.state.db, request.app.state.settings, token):
        return PlainTextResponse("This unsubscribe link is not valid.\n", status_code=400)
    return PlainTextResponse("You are unsubscribed. No more digests will be sent to this address.\n")


# -- preferences -------------------------------------------------------------------------------------


def _subscriber_or_error(request: Request, token: str) -> Subscriber | Response:
    if missing := _secret_missing(request):
        return missing
    found = by_link(request.app.state.db, request.app.state.settings, "preferences", token)
    if found is None or found.status == "pending":
        return _error(request, 404, "Link not valid", "This preferences link is not valid.")
    return found


def _follow_text(sub: Subscriber) -> dict[str, str]:
    return {kind: "\n".join(f.value for f in sub.follows if f.kind == kind) for kind in FOLLOW_KINDS}


def preferences_page(request: Request, token: str) -> Response:
    found = _subscriber_or_error(request, token)
    if isinstance(found, Response):
        return found
    context = {"subscriber": found, "follows": _follow_text(found), "token": token, "saved": False}
    return _render(request, "preferences.html", context)


async def save_preferences(request: Request, token: str) -> Response:
    return await run_in_threadpool(_save_preferences, request, token, await _form(request))


def _save_preferences(request: Request, token: str, fields: dict[str, list[str]]) -> Response:
    if not _csrf_ok(request, _first(fields, csrf.FIELD)):
        return _error(request, 403, "Form expired", "Reload the page and send the form again.")
    found = _subscriber_or_error(request, token)
    if isinstance(found, Response):
        return found
    try:
        frequency = parse_frequency(_first(fields, "frequency"))
        follows: list[Follow] = [
            make_follow(kind, line)
            for kind in FOLLOW_KINDS
            for line in _first(fields, kind + "s").splitlines()
            if line.strip()
        ]
        if len(follows) > _MAX_FOLLOWS:
            raise BadFollow(f"at most {_MAX_FOLLOWS} topics, authors and organizations in all")
    except (BadFrequency, BadFollow) as exc:
        context = {
            "subscriber": found,
            "follows": {k: _first(fields, k + "s") for k in FOLLOW_KINDS},
            "token": token,
            "error": str(exc),
            "saved": False,
        }
        return _render(request, "preferences.html", context, 400)
    db: Database = request.app.state.db
    subscriber_store.update_preferences(db, found.id, frequency, _first(fields, "paused") == "on", follows)
    updated = subscriber_store.subscriber(db, found.id)
    assert updated is not None
    context = {"subscriber": updated, "follows": _follow_text(updated), "token": token, "saved": True}
    return _render(request, "preferences.html", context)
