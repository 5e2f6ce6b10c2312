"""Digest subscription pages: subscribe (double opt-in), confirm, one-click unsubscribe, preferences.

Every form carries a CSRF token (``web.csrf``) except the one-click unsubscribe POST (RFC 8058: sent by
mail clients without cookies; the signed token in its URL is the authority). No GET changes anything:
the confirmation link and the unsubscribe link both open a page with a button that POSTs. A subscribe
answer is the same, in the same time, whether the address is new, pending, subscribed or suppressed and
whether or not mail works: the request only records that a confirmation is due, and the worker sends it.
"""

from __future__ import annotations

import logging

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response

from paperfeed.digest import tokens
from paperfeed.digest.compose import FREQUENCIES, BadFrequency, parse_frequency
from paperfeed.digest.mail import unavailable as mail_unavailable
from paperfeed.digest.subscriptions import (
    FOLLOW_KINDS,
    BadEmail,
    BadFollow,
    by_link,
    confirm,
    confirming,
    make_follow,
    normalize_email,
    unsubscribe,
)
from paperfeed.digest.subscriptions import request as request_confirmation
from paperfeed.models import Follow, Subscriber, User
from paperfeed.storage import subscribers as subscriber_store
from paperfeed.web import csrf, limits
from paperfeed.web.bodies import (
    read_form,
)
from paperfeed.web.kit import (
    Refused,
    check_csrf,
    database,
    render,
    viewer,
)

log = logging.getLogger(__name__)
_MAX_FOLLOWS = 50


def _form_checked(request: Request, fields: dict[str, str]) -> None:
    """The site's CSRF check, and the secret key without which no subscription link can be signed."""
    check_csrf(request, fields.get(csrf.FIELD))
    _require_secret(request)


def _require_secret(request: Request) -> None:
    if not request.app.state.settings.secret_key.get_secret_value():
        raise Refused(503, "Subscriptions are off: this site has no PAPERFEED_SECRET_KEY set.")


# -- subscribe and confirm ---------------------------------------------------------------------------


def subscribe_page(request: Request, email: str = "") -> Response:
    """The subscribe form, holding the address typed on the feed (``?email=``: the feed page is cached for
    every visitor, so its box sends the address here, where the form carries the CSRF token) or the
    member's own. When this site cannot send mail it says why, with the form disabled (issue #13 item 8)."""
    me = viewer(request)
    context = {
        "frequency": "daily",
        "frequencies": FREQUENCIES,
        "email": email[:254] or (me.email if me else ""),
        "mail_off": mail_unavailable(request.app.state.settings),
    }
    return render(request, "subscribe.html", context)


async def subscribe(request: Request) -> Response:
    """Record the request; the worker emails the confirmation link. The same answer for every address."""
    fields = await read_form(request)
    # Storage is synchronous: run it on the thread pool, as FastAPI does for plain ``def`` handlers.
    return await run_in_threadpool(_subscribe, request, fields)


def _subscribe(request: Request, fields: dict[str, str]) -> Response:
    _form_checked(request, fields)
    limits.limit(request, "subscribe", limits.client(request))
    raw_email = fields.get("email", "")
    try:
        email = normalize_email(raw_email)
        frequency = parse_frequency(fields.get("frequency") or "daily")
    except (BadEmail, BadFrequency) as exc:
        context = {
            "error": str(exc),
            "email": raw_email[:254],
            "frequency": "daily",
            "frequencies": FREQUENCIES,
        }
        return render(request, "subscribe.html", context, 400)
    outcome = request_confirmation(database(request), request.app.state.settings, email, frequency)
    log.info("subscribe request: %s", outcome)
    return render(request, "subscribe_sent.html", {"email": email})


def confirm_page(request: Request, token: str = "") -> Response:
    """What the emailed link opens: a button that confirms, naming the address (a GET changes nothing, so
    link scanners cannot confirm on the reader's behalf)."""
    _require_secret(request)
    found = confirming(database(request), token)
    if found is None:
        raise Refused(400, "This confirmation link was used already or has expired.")
    member = viewer(request)
    owner = _owner(member, found)
    context = {
        "token": token[:128],
        "subscriber": found,
        "linked": owner,
        "other_member": member if owner is None else None,
    }
    return render(request, "subscribe_confirm.html", context)


async def confirm_subscription(request: Request) -> Response:
    return await run_in_threadpool(_confirm, request, await read_form(request))


def _owner(member: User | None, sub: Subscriber) -> User | None:
    """The signed-in member who owns this address (their account has it), else None. Only then does a
    confirmation link the subscription to them: their upvotes and private collections shape its picks,
    and those must not reach an inbox that is not theirs."""
    if member is not None and member.email.strip().lower() == sub.email:
        return member
    return None


def _confirm(request: Request, fields: dict[str, str]) -> Response:
    _form_checked(request, fields)
    found = confirm(database(request), fields.get("token", ""))
    if found is None:
        raise Refused(400, "This confirmation link was used already or has expired.")
    member = viewer(request)
    if (owner := _owner(member, found)) is not None:
        subscriber_store.link_user(database(request), found.id, owner.id)
    context = {
        "subscriber": found,
        "preferences": _prefs(request, found),
        "linked": owner,
        "other_member": member if owner is None else None,
    }
    return render(request, "subscribe_confirmed.html", context)


def _prefs(request: Request, sub: Subscriber) -> str:
    secret = request.app.state.settings.secret_key.get_secret_value()
    return f"/subscription/{tokens.sign(secret, 'preferences', sub.id, sub.email)}"


# -- unsubscribe -------------------------------------------------------------------------------------


def unsubscribe_page(request: Request, token: str) -> Response:
    """The List-Unsubscribe link opened in a browser: a confirmation button, nothing changed yet."""
    _require_secret(request)
    found = by_link(database(request), request.app.state.settings, "unsubscribe", token)
    if found is None:
        raise Refused(400, "This unsubscribe link is not valid.")
    done = found.status == "suppressed"
    return render(request, "unsubscribe.html", {"token": token, "email": found.email, "done": done})


async def unsubscribe_one_click(request: Request, token: str) -> Response:
    """RFC 8058 one-click: ``List-Unsubscribe=One-Click`` POSTed without cookies. No CSRF token by
    design (the signed token in the URL is the authority); 200 without redirect; repeatable."""
    return await run_in_threadpool(_unsubscribe, request, token, await read_form(request))


def _unsubscribe(request: Request, token: str, fields: dict[str, str]) -> Response:
    if not request.app.state.settings.secret_key.get_secret_value():
        return PlainTextResponse("Unsubscribing is not available.\n", status_code=503)
    if fields.get("List-Unsubscribe") != "One-Click":
        return PlainTextResponse("Expected List-Unsubscribe=One-Click.\n", status_code=400)
    if not unsubscribe(database(request), request.app.state.settings, token):
        return PlainTextResponse("This unsubscribe link is not valid.\n", status_code=400)
    return PlainTextResponse("You are unsubscribed. No more digests will be sent to this address.\n")


# -- preferences -------------------------------------------------------------------------------------


def _subscriber(request: Request, token: str) -> Subscriber:
    _require_secret(request)
    found = by_link(database(request), request.app.state.settings, "preferences", token)
    if found is None or found.status == "pending":
        raise Refused(404, "This preferences link is not valid.")
    return found


def _follow_text(sub: Subscriber) -> dict[str, str]:
    return {kind: "\n".join(f.value for f in sub.follows if f.kind == kind) for kind in FOLLOW_KINDS}


def preferences_page(request: Request, token: str) -> Response:
    found = _subscriber(request, token)
    context = {
        "subscriber": found,
        "follows": _follow_text(found),
        "token": token,
        "saved": False,
        "frequencies": FREQUENCIES,
    }
    return render(request, "preferences.html", context)


async def save_preferences(request: Request, token: str) -> Response:
    return await run_in_threadpool(_save_preferences, request, token, await read_form(request))


def _save_preferences(request: Request, token: str, fields: dict[str, str]) -> Response:
    check_csrf(request, fields.get(csrf.FIELD))
    found = _subscriber(request, token)
    try:
        frequency = parse_frequency(fields.get("frequency", ""))
        follows: list[Follow] = [
            make_follow(kind, line)
            for kind in FOLLOW_KINDS
            for line in fields.get(kind + "s", "").splitlines()
            if line.strip()
        ]
        if len(follows) > _MAX_FOLLOWS:
            raise BadFollow(f"at most {_MAX_FOLLOWS} topics, authors and organizations in all")
    except (BadFrequency, BadFollow) as exc:
        context = {
            "subscriber": found,
            "follows": {k: fields.get(k + "s", "") for k in FOLLOW_KINDS},
            "token": token,
            "error": str(exc),
            "saved": False,
            "frequencies": FREQUENCIES,
        }
        return render(request, "preferences.html", context, 400)
    db = database(request)
    subscriber_store.update_preferences(db, found.id, frequency, fields.get("paused") == "on", follows)
    updated = subscriber_store.subscriber(db, found.id)
    assert updated is not None
    context = {
        "subscriber": updated,
        "follows": _follow_text(updated),
        "token": token,
        "saved": True,
        "frequencies": FREQUENCIES,
    }
    return render(request, "preferences.html", context)
