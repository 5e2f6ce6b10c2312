"""The account pages: sign up (and activate by the emailed link), log in, log out, change the password,
reset a forgotten one by email (who is asking is ``web.kit.viewer``).

Sessions live in the ``__Host-session`` cookie (Secure, HttpOnly, SameSite=Lax, host-only). A login
always issues a new session id (no fixation) and a logout deletes the session row, so the old cookie is
dead even if it was copied. ``next=`` only ever leads to a path on this site.

Sign-up and /password/forgot store a request and answer the same, in the same time, whether or not the
address has an account; the worker mails the link or notice (``paperfeed.account_mail``). Only a handle
in use is said to be taken: handles are public anyway (/users/{name}).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from paperfeed import account_mail, accounts
from paperfeed.web import csrf, limits
from paperfeed.web.bodies import (
    read_form,
)
from paperfeed.web.kit import (
    SESSION_COOKIE,
    Refused,
    check_csrf,
    database,
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


def _sends_mail(request: Request) -> bool:
    return bool(request.app.state.settings.smtp_url.get_secret_value())


def _no_mail(what: str) -> Refused:
    # The same for every address, so it says nothing about accounts.
    return Refused(503, f"This site sends no mail, so it cannot {what}: ask its admin.")


def signup_form(request: Request, next: str | None = None) -> Response:
    context: dict[str, object] = {"next": safe_next(next), "error": None, "values": {}}
    return render(request, "signup.html", {**context, "mail": _sends_mail(request)})


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
    name, email = form.get("name", ""), form.get("email", "")
    target = safe_next(form.get("next"))
    if not _sends_mail(request):
        return await _sign_up_at_once(request, form, target)
    try:
        await run_in_threadpool(
            account_mail.request_sign_up, database(request), name, email, form.get("password", ""), target
        )
    except accounts.AccountError as exc:
        context = {"next": target, "error": str(exc), "values": {"name": name, "email": email}, "mail": True}
        return render(request, "signup.html", context, 400)
    # The same page whether the address is new or has an account: the mail says which.
    return render(request, "signup_sent.html", {"name": name.strip(), "email": email.strip().lower()})


async def _sign_up_at_once(request: Request, form: dict[str, str], target: str) -> Response:
    """A site that sends no mail cannot confirm an address, so it cannot hide one either: the account
    opens at once, and a taken name or address is said (docs/accounts.md). Configuring SMTP ends both."""
    name, email = form.get("name", ""), form.get("email", "")
    db = database(request)
    try:
        user = await run_in_threadpool(accounts.sign_up, db, name, email, form.get("password", ""))
    except accounts.AccountError as exc:
        context = {"next": target, "error": str(exc), "values": {"name": name, "email": email}, "mail": False}
        return render(request, "signup.html", context, 400)
    secret = await run_in_threadpool(accounts.open_session, db, user)
    response = RedirectResponse(target, status_code=303)
    set_session(response, secret)
    return response


def activate_page(request: Request, token: str = "") -> Response:
    """What the emailed link opens: the password field that activates (a GET changes nothing)."""
    found = account_mail.sign_up_request(database(request), token)
    if found is None:
        raise Refused(400, "This activation link is unknown, used or expired: sign up again.")
    return render(request, "signup_confirm.html", {"token": token, "name": found.name, "error": None})


async def activate(request: Request) -> Response:
    form = await read_form(request)
    check_csrf(request, form.get(csrf.FIELD))
    # The password is checked against its argon2 hash: as costly as a login, and limited like one.
    await run_in_threadpool(limits.limit, request, "login", limits.client(request))
    db, token = database(request), form.get("token", "")
    try:
        user, target = await run_in_threadpool(account_mail.activate, db, token, form.get("password", ""))
    except account_mail.DeadLink as exc:
        raise Refused(400, str(exc)) from exc
    except accounts.AccountError as exc:
        found = await run_in_threadpool(account_mail.sign_up_request, db, token)
        context = {"token": token, "name": found.name if found else "", "error": str(exc)}
        return render(request, "signup_confirm.html", context, 400)
    if old := request.cookies.get(SESSION_COOKIE):
        await run_in_threadpool(accounts.close_session, db, old)
    secret = await run_in_threadpool(accounts.open_session, db, user)
    response = RedirectResponse(safe_next(target), status_code=303)
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
    # Counted before the argon2 check it guards: each try costs 64 MiB and a few hundred milliseconds.
    await run_in_threadpool(limits.limit, request, "password", str(user.id))
    db = database(request)
    try:
        await run_in_threadpool(
            accounts.change_password, db, user, form.get("current", ""), form.get("new", "")
        )
    except accounts.AccountError as exc:
        return render(request, "password.html", {"error": str(exc), "done": False}, 400)
    # Every session and API token of the user ended with the change; this browser gets a fresh session.
    secret = await run_in_threadpool(accounts.open_session, db, user)
    response = render(request, "password.html", {"error": None, "done": True})
    set_session(response, secret)
    return response


# -- forgotten passwords -----------------------------------------------------------------------------------


def forgot_form(request: Request) -> Response:
    context = {"error": None, "sent": None, "mail": _sends_mail(request)}
    return render(request, "password_forgot.html", context)


async def forgot(request: Request) -> Response:
    form = await read_form(request)
    check_csrf(request, form.get(csrf.FIELD))
    if not _sends_mail(request):
        raise _no_mail("send a reset link")
    await run_in_threadpool(limits.limit, request, "password_reset", limits.client(request))
    email = form.get("email", "")
    try:
        await run_in_threadpool(account_mail.request_reset, database(request), email)
    except accounts.AccountError as exc:
        context = {"error": str(exc), "sent": None, "mail": True}
        return render(request, "password_forgot.html", context, 400)
    return render(
        request, "password_forgot.html", {"error": None, "sent": email.strip().lower(), "mail": True}
    )


def reset_page(request: Request, token: str = "") -> Response:
    """What the emailed link opens: the new-password form (a GET changes nothing)."""
    if account_mail.reset_request(database(request), token) is None:
        raise Refused(400, "This reset link is unknown, used or expired: ask for a new one.")
    return render(request, "password_reset.html", {"token": token, "error": None, "done": False})


async def reset(request: Request) -> Response:
    form = await read_form(request)
    check_csrf(request, form.get(csrf.FIELD))
    token = form.get("token", "")
    try:
        await run_in_threadpool(account_mail.reset_password, database(request), token, form.get("new", ""))
    except account_mail.DeadLink as exc:
        raise Refused(400, str(exc)) from exc
    except accounts.AccountError as exc:
        return render(request, "password_reset.html", {"token": token, "error": str(exc), "done": False}, 400)
    return render(request, "password_reset.html", {"token": "", "error": None, "done": True})
