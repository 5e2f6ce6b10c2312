"""The API-token page of a member: list, create (the secret is shown once, in the answer to the form that
made it), revoke. Tokens are managed from a signed-in browser session only (``kit.require_session``): a
token cannot mint or revoke tokens. The same operations for admins: ``paperfeed tokens …``."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from paperfeed import accounts
from paperfeed.models import User
from paperfeed.web import csrf
from paperfeed.web.bodies import (
    read_form,
)
from paperfeed.web.kit import (
    Refused,
    database,
    redirect,
    render,
    require_session,
    viewer,
)


def _page(request: Request, user: User, status: int = 200, **extra: object) -> Response:
    found = accounts.tokens(database(request), user)
    now = datetime.now(UTC)
    context = {
        "tokens": found,
        "expired": {t.id for t in found if t.expired(now)},
        "created": None,
        "error": None,
    }
    return render(request, "tokens.html", {**context, **extra}, status)


def tokens_page(request: Request) -> Response:
    user = viewer(request)
    if user is None:
        return redirect("/login?next=/settings/tokens")
    return _page(request, user)


def _days(value: str) -> int | None:
    if not value.strip():
        return None
    if not value.strip().isdigit() or len(value.strip()) > 5:
        raise accounts.AccountError(f"expiry: {value[:20]!r} is not a number of days")
    return int(value)


def _create(request: Request, form: dict[str, str]) -> Response:
    user = require_session(request, form.get(csrf.FIELD))
    try:
        secret = accounts.create_token(
            database(request),
            user,
            form.get("label", ""),
            scope=form.get("scope", "read"),
            expires_days=_days(form.get("expires_days", "")),
        )
    except accounts.AccountError as exc:
        return _page(request, user, 400, error=str(exc))
    return _page(request, user, created=secret)


async def create_form(request: Request) -> Response:
    return await run_in_threadpool(_create, request, await read_form(request))


def _revoke(request: Request, form: dict[str, str]) -> Response:
    user = require_session(request, form.get(csrf.FIELD))
    token_id = int(request.path_params["token_id"])
    if token_id >= 2**63 or not accounts.revoke_tokens(database(request), user, [token_id]):
        raise Refused(404, f"token {token_id} not found")
    return redirect("/settings/tokens")


async def revoke_form(request: Request) -> Response:
    return await run_in_threadpool(_revoke, request, await read_form(request))
