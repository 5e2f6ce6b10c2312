"""Who is asking: the session cookie for pages, ``Authorization: Bearer`` tokens for the JSON API, and
the account pages (sign up, log in, log out, change password).

Sessions live in the ``__Host-session`` cookie (Secure, HttpOnly, SameSite=Lax, host-only). A login
always issues a new session id (no fixation) and a logout deletes the session row, so the old cookie is
dead even if it was copied. ``next=`` only ever leads to a path on this site.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from paperfeed import accounts
from paperfeed.models import User
from paperfeed.storage import Database
from paperfeed.web import csrf, limits
from paperfeed.web.csrf import Refused

COOKIE = "__Host-session"


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def viewer(request: Request) -> User | None:
    """The signed-in user of this request (session cookie or bearer token), looked up once."""
    state = request.scope.setdefault("state", {})
    if "viewer" not in state:
        user = None
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            user = accounts.token_user(_db(request), auth[7:].strip())
            state["via_token"] = user is not None
        elif secret := request.cookies.get(COOKIE):
            user = accounts.session_user(_db(request), secret)
        state["viewer"] = user
    found: User | None = state["viewer"]
    return found


def require_user(request: Request, csrf_sent: str | None) -> User:
    """The user behind a state-changing request, after the CSRF check that cookie sessions need."""
    user = viewer(request)
    if user is None:
        raise Refused(401, "sign in first (or send Authorization: Bearer <token>)")
    if not request.scope["state"].get("via_token"):
        csrf.check(request, csrf_sent)
    return user


def safe_next(value: str | None) -> str:
    """A redirect target on this site: a path starting with one '/' (no '//host', no scheme, no '\\')."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in value):
        return "/"
    return value


def set_session(response: Response, secret: str) -> None:
    response.set_cookie(
        COOKIE,
        secret,
        max_age=accounts.SESSION_DAYS * 86400,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response: Response = request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status
    )
    return response


def refused_page(request: Request, exc: Refused) -> Response:
    page = render(
        request,
        "error.html",
        {"status": exc.status, "title": "Not allowed", "message": exc.message},
        exc.status,
    )
    page.headers.update(exc.headers)
    return page


# -- pages ----------------------------------------------------------------------------------------------------


def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": safe_next(next), "error": None})


def signup_form(request: Request, next: str | None = None) -> Response:
    return render(request, "signup.html", {"next": safe_next(next), "error": None, "values": {}})


def password_form(request: Request) -> Response:
    if viewer(request) is None:
        return RedirectResponse("/login?next=/settings/password", status_code=303)
    return render(request, "password.html", {"error": None, "done": False})


async def login(request: Request) -> Response:
    try:
        form = await csrf.read_form(request)
        csrf.check(request, form.get(csrf.FIELD))
        await run_in_threadpool(limits.limit, request, "login", limits.client(request))
    except Refused as exc:
        return refused_page(request, exc)
    db = _db(request)
    user = await run_in_threadpool(accounts.authenticate, db, form.get("name", ""), form.get("password", ""))
    target = safe_next(form.get("next"))
    if user is None:
        context = {"next": target, "error": "Wrong name or password."}
        return render(request, "login.html", context, 400)
    old = request.cookies.get(COOKIE)
    if old:  # rotate: whatever session the browser had is over
        await run_in_threadpool(accounts.close_session, db, old)
    secret = await run_in_threadpool(accounts.open_session, db, user)
    response = RedirectResponse(target, status_code=303)
    set_session(response, secret)
    return response


async def signup(request: Request) -> Response:
    try:
        form = await csrf.read_form(request)
        csrf.check(request, form.get(csrf.FIELD))
        await run_in_threadpool(limits.limit, request, "signup", limits.client(request))
    except Refused as exc:
        return refused_page(request, exc)
    db = _db(request)
    target = safe_next(form.get("next"))
    try:
        user = await run_in_threadpool(
            accounts.sign_up, db, form.get("name", ""), form.get("email", ""), form.get("password", "")
        )
    except accounts.AccountError as exc:
        values = {"name": form.get("name", ""), "email": form.get("email", "")}
        return render(request, "signup.html", {"next": target, "error": str(exc), "values": values}, 400)
    secret = await run_in_threadpool(accounts.open_session, db, user)
    response = RedirectResponse(target, status_code=303)
    set_session(response, secret)
    return response


async def logout(request: Request) -> Response:
    try:
        form = await csrf.read_form(request)
        csrf.check(request, form.get(csrf.FIELD))
    except Refused as exc:
        return refused_page(request, exc)
    if secret := request.cookies.get(COOKIE):
        await run_in_threadpool(accounts.close_session, _db(request), secret)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


async def change_password(request: Request) -> Response:
    try:
        form = await csrf.read_form(request)
        user = await run_in_threadpool(require_user, request, form.get(csrf.FIELD))
    except Refused as exc:
        return refused_page(request, exc)
    db = _db(request)
    try:
        await run_in_threadpool(
            accounts.change_password, db, user, form.get("current", ""), form.get("new", "")
        )
    except accounts.AccountError as exc:
        return render(request, "password.html", {"error": str(exc), "done": False}, 400)
    # Every session of the user ended with the change; this browser gets a fresh one.
    secret = await run_in_threadpool(accounts.open_session, db, user)
    response = render(request, "password.html", {"error": None, "done": True})
    set_session(response, secret)
    return response
