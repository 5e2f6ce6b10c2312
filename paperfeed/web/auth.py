"""The account pages: sign up, log in, log out, change password (who is asking is ``web.kit.viewer``).

Sessions live in the ``__Host-session`` cookie (Secure, HttpOnly, SameSite=Lax, host-only). A login
always issues a new session id (no fixation) and a logout deletes the session row, so the old cookie is
dead even if it was copied. ``next=`` only ever leads to a path on this site.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from paperfeed import accounts
from paperfeed.web import csrf, limits
from paperfeed.web.kit import (
    SESSION_COOKIE,
    check_csrf,
    database,
    read_form,
    render,
    require_member,
    safe_next,
    viewer,
)


def set_session(response: Response, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=accounts.SESSION_DAYS * 86400,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )


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
    form = await read_form(request)
    check_csrf(request, form.get(csrf.FIELD))
    await run_in_threadpool(limits.limit, request, "login", limits.client(request))
    db = database(request)
    user = await run_in_threadpool(accounts.authenticate, db, form.get("name", ""), form.get("password", ""))
    target = safe_next(form.get("next"))
    if user is None:
        context = {"next": target, "error": "Wrong name or password."}
        return render(request, "login.html", context, 400)
    old = request.cookies.get(SESSION_COOKIE)
    if old:  # rotate: whatever session the browser had is over
        await run_in_threadpool(accounts.close_session, db, old)
    secret = await run_in_threadpool(accounts.open_session, db, user)
    response = RedirectResponse(target, status_code=303)
    set_session(response, secret)
    return response


async def signup(request: Request) -> Response:
    form = await read_form(request)
    check_csrf(request, form.get(csrf.FIELD))
    await run_in_threadpool(limits.limit, request, "signup", limits.client(request))
    db = database(request)
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
    form = await read_form(request)
    check_csrf(request, form.get(csrf.FIELD))
    if secret := request.cookies.get(SESSION_COOKIE):
        await run_in_threadpool(accounts.close_session, database(request), secret)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


async def change_password(request: Request) -> Response:
    form = await read_form(request)
    user = await run_in_threadpool(require_member, request, form.get(csrf.FIELD))
    db = database(request)
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
