"""The web kit: what every feature module of ``web/`` shares, so that none imports another.

- **Errors**: handlers raise ``Refused(status, message)``; ``install`` registers one renderer for it and for
  the framework's own errors (unknown URL, wrong method, malformed parameter): ``{"error": …}`` JSON for
  the API, the feeds and ``.md``, an HTML page for everything else. A database that cannot be reached (a
  PostgreSQL restart) or cannot write (a full disk) is a 503 with ``Retry-After``, at once, not a 500.
- **Request dependencies**: ``DB``, ``Config`` and ``Me`` (the signed-in member, or None) as FastAPI
  dependencies; ``viewer``, ``require_member`` (which also holds a bearer token to its scope) and
  ``require_session`` for code that already holds the request.
- **Rendering**: the one ``render``, which adds what every page's layout needs (the member, the CSRF
  token) to the context the handler built; the template filters.

Request bodies and the wrappers of state-changing handlers are the kit's ``bodies`` module. Handlers that
touch storage are plain ``def`` (storage is synchronous, so FastAPI runs them on its thread pool).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from sqlalchemy.exc import DataError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match

from paperfeed import accounts, follows
from paperfeed.feed import find_paper
from paperfeed.links import may_set_links
from paperfeed.models import Paper, User
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import claims as claim_store
from paperfeed.storage import follows as follow_store
from paperfeed.storage import notifications as notification_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import votes as vote_store
from paperfeed.storage.db import unavailable
from paperfeed.web import cards, csrf
from paperfeed.web.serialize import Extras, SafeJSONResponse

SESSION_COOKIE = "__Host-session"
RETRY_SECONDS = 5  # Retry-After when the database is unavailable: a PostgreSQL restart takes about this long


MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL


class RowId(Convertor[int]):
    """``{name:rowid}`` in a route: a database row id. A longer run of digits is an unknown URL (404);
    a number past ``MAX_ROW_ID`` converts to 0, which no row has, so it is the same 404 as any missing
    row and never an overflow in the driver."""

    regex = "[0-9]{1,10}"

    def convert(self, value: str) -> int:
        number = int(value)
        return number if number <= MAX_ROW_ID else 0

    def to_string(self, value: int) -> str:
        return str(value)


# Starlette's convertors are a process-wide table that routes read when they are compiled: registered on
# import, before web.routes builds any route.
register_url_convertor("rowid", RowId())


class Refused(Exception):
    """A request paperfeed will not serve: a status, a message for people (naming the parameter or
    object at fault), and extra headers (``Retry-After`` on a 429)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


# -- errors ------------------------------------------------------------------------------------------------

_TITLES = {
    400: "Bad request",
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    408: "Too slow",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported form",
    429: "Too many requests",
    503: "Unavailable",
}


def wants_json(request: Request) -> bool:
    """The API, the feeds (the site's, and a member's private ones, ``…/feed.xml``) and the Markdown view
    answer errors as JSON; pages answer with a page."""
    path = request.url.path
    return path.startswith(("/api/", "/feed.")) or path.endswith((".md", "/feed.xml", "/feed.atom"))


def error_json(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return SafeJSONResponse({"error": message}, status_code=status, headers=headers)


def error_page(
    request: Request,
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    title: str | None = None,
) -> Response:
    title = title or _TITLES.get(status, "Error")
    response = render(request, "error.html", {"status": status, "title": title, "message": message}, status)
    response.headers.update(headers or {})
    return response


def refusal(request: Request, exc: Refused) -> Response:
    """How a refusal reads: JSON for the API, a page otherwise; a page that needs a member sends a
    visitor who is not signed in to the login form and back."""
    if wants_json(request):
        return error_json(exc.status, exc.message, exc.headers)
    if exc.status == 401:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return error_page(request, exc.status, exc.message, exc.headers)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)  # registered for that type only
    return refusal(request, exc)


def _without_slash(request: Request) -> str | None:
    """'/login/' → '/login' (query kept) when that is a route: the redirect the framework would make, as a
    path (the framework's is an absolute URL built from the Host header, which a client chooses)."""
    path = request.url.path
    target = path.rstrip("/")
    if request.method not in ("GET", "HEAD") or target == path or not target or target.startswith("//"):
        return None
    scope = {**request.scope, "path": target}
    if not any(route.matches(scope)[0] != Match.NONE for route in request.app.router.routes):
        return None
    return target + (f"?{request.url.query}" if request.url.query else "")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and (target := _without_slash(request)):
        return RedirectResponse(target, status_code=307)
    messages = {
        404: f"There is nothing at {request.url.path}.",
        405: f"{request.method} is not allowed here.",
    }
    message = messages.get(exc.status_code, str(exc.detail))
    return refusal(request, Refused(exc.status_code, message, dict(exc.headers or {})))


async def _invalid(request: Request, exc: Exception) -> Response:
    """A malformed parameter: 400 naming it, as Hugging Face answers (never FastAPI's 422)."""
    assert isinstance(exc, RequestValidationError)
    messages = []
    for err in exc.errors():
        name = err.get("loc", ("", "?"))[-1]
        shown = repr(err.get("input"))[:80]
        messages.append(f"invalid value for '{name}' ({shown}): {err.get('msg', 'invalid')}")
    return refusal(request, Refused(400, "; ".join(messages) or "invalid request"))


async def _database_error(request: Request, exc: Exception) -> Response:
    """503 at once while the database cannot be reached or cannot write; 400 for a value the database
    refuses as data (a NUL character in a text, a number out of its column's range: DBAPI's DataError);
    any other database error is a bug, left to the framework's 500."""
    if isinstance(exc, DataError):
        return refusal(
            request,
            Refused(
                400,
                "a value in this request cannot be stored or looked up (a NUL "
                "character in a text, or a number out of range)",
            ),
        )
    if not unavailable(exc):
        raise exc
    # Who is signed in cannot be asked now: the error page renders as it does for a visitor.
    request.scope.setdefault("state", {}).setdefault("viewer", None)
    message = "the database is unavailable right now; try again in a few seconds"
    return refusal(request, Refused(503, message, {"Retry-After": str(RETRY_SECONDS)}))


class _TemplateFiles(FileSystemLoader):
    """The templates folder, whose files Jinja2 checks for changes (a stat) at every use of a template: a
    feed page uses four. Here a template checked less than ``TEMPLATE_CHECK_SECONDS`` ago counts as
    unchanged, so an edited template still shows without a restart, within that time."""

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        checked = [time.monotonic()]

        def recently_checked() -> bool:
            now = time.monotonic()
            if now - checked[0] < TEMPLATE_CHECK_SECONDS:
                return True
            checked[0] = now
            return bool(uptodate())

        return source, filename, recently_checked


TEMPLATE_CHECK_SECONDS = 1.0


def install(app: FastAPI, templates_dir: Path, site_name: str) -> None:
    """Give the app its templates and its error renderers."""
    templates = Jinja2Templates(directory=templates_dir)
    templates.env.loader = _TemplateFiles(templates_dir)
    templates.env.globals["site_name"] = site_name
    templates.env.filters.update(FILTERS)
    rendered = cards.CardBodies(templates.env)
    templates.env.filters["card_html"] = rendered
    templates.env.filters["card"] = rendered.card
    app.state.templates = templates
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(SQLAlchemyError, _database_error)


# -- request dependencies --------------------------------------------------------------------------------


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def _db(request: Request) -> Database:
    return database(request)


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def viewer(request: Request) -> User | None:
    """The signed-in member of this request (session cookie or bearer token), looked up once.

    Not cached across requests: the session lookup is one primary-key query (inside the page's snapshot
    on the feed), a few percent of a signed-in feed page, and asking the database each time is what makes
    a logout, a password change or a revoked token take effect at once on every worker and machine."""
    state = request.scope.setdefault("state", {})
    if "viewer" not in state:
        user = None
        db = database(request)
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            grant = accounts.token_grant(db, auth[7:].strip())
            user = grant[0] if grant else None
            state["via_token"] = grant is not None
            state["token_scope"] = grant[1] if grant else None
        elif secret := request.cookies.get(SESSION_COOKIE):
            user = accounts.session_user(db, secret)
        state["viewer"] = user
    found: User | None = state["viewer"]
    return found


async def _me(request: Request) -> User | None:
    # Anonymous readers (most requests) cost no hop to the thread pool.
    if "authorization" not in request.headers and SESSION_COOKIE not in request.cookies:
        return None
    return await run_in_threadpool(viewer, request)


DB = Annotated[Database, Depends(_db)]
Config = Annotated[Settings, Depends(_settings)]
Me = Annotated[User | None, Depends(_me)]


def require_member(request: Request, csrf_sent: str | None) -> User:
    """The member behind a state-changing request, after the CSRF check that cookie sessions need; a
    bearer token must have the write scope (a read token may only GET)."""
    user = viewer(request)
    if user is None:
        raise Refused(401, "sign in first (or send Authorization: Bearer <token>)")
    state = request.scope["state"]
    if not state.get("via_token"):
        check_csrf(request, csrf_sent)
    elif state.get("token_scope") != "write" and request.method not in ("GET", "HEAD", "OPTIONS"):
        raise Refused(403, "this API token may only read (scope read): use a token with scope write")
    return user


def require_session(request: Request, csrf_sent: str | None) -> User:
    """The member of a signed-in browser session (CSRF-checked): what manages credentials refuses bearer
    tokens, so that a stolen token cannot mint itself successors."""
    user = require_member(request, csrf_sent)
    if request.scope["state"].get("via_token"):
        raise Refused(403, "API tokens are managed from a signed-in browser session, not with a token")
    return user


def check_csrf(request: Request, sent: str | None) -> None:
    """Refuse (403) a cookie-authenticated or anonymous form whose CSRF token or origin is wrong."""
    if reason := csrf.problem(request, sent):
        raise Refused(403, reason)


def safe_next(value: str | None) -> str:
    """A redirect target on this site: a path starting with one '/' (no '//host', no scheme, no '\\')."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in value):
        return "/"
    return value


def paper_or_404(db: Database, paper_id: str) -> Paper:
    found = find_paper(db, paper_id)
    if found is None:
        raise Refused(404, f"paper {paper_id!r} not found")
    return found


def voted(request: Request, papers: Iterable[Paper]) -> set[str]:
    """Which of these papers the signed-in member upvoted (none for a visitor)."""
    me = viewer(request)
    return vote_store.has_upvoted(database(request), me.id, [p.id for p in papers]) if me else set()


def extras(request: Request, papers: Iterable[Paper]) -> Extras:
    """What the API shows of these papers beyond themselves: approved authorship claims, and (for a
    signed-in reader only) which of them the reader upvoted."""
    listed = list(papers)
    db = database(request)
    claimed = claim_store.approved_authors(db, [p.id for p in listed if p.authors])
    return Extras(claimed, voted(request, listed) if viewer(request) is not None else None)


def following(request: Request, kind: str, value: str) -> bool:
    """Whether the signed-in reader follows this author, organization, category or search (False for a
    visitor, or for a value that is no follow): the state a page's follow button shows."""
    me = viewer(request)
    if me is None:
        return False
    try:
        kind, _, key = follows.normalise(kind, value)
    except follows.BadFollow:
        return False
    return follow_store.is_following(database(request), me.id, kind, key)


def unread(request: Request) -> int:
    """The signed-in reader's count of unread notifications (0 for a visitor), asked once a request: a
    handler that reads in a ``Database.snapshot()`` asks it there, and the layout's badge reuses it."""
    state = request.scope.setdefault("state", {})
    if "unread" not in state:
        me = viewer(request)
        state["unread"] = notification_store.unread_count(database(request), me.id) if me else 0
    count: int = state["unread"]
    return count


def may_edit_links(db: Database, user: User | None, paper: Paper) -> bool:
    """Whether ``user`` may set the paper's code links: the paper page shows the form, the handler
    enforces it (``web/code.py``)."""
    if user is None:
        return False
    if user.is_admin:
        return True
    org_id = org_store.paper_org_id(db, paper.id) if paper.organization else None
    org_admin = org_id is not None and org_store.role_of(db, org_id, user.id) == "admin"
    return may_set_links(False, org_store.has_approved_claim(db, user.id, paper.id), org_admin)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(data: dict[str, Any], field: str, limit: int) -> str:
    """A string field of a form or JSON body, stripped ('' when absent); 400 naming the field when it is
    something else (a number, a list, an object) or longer than ``limit``."""
    if field not in data:
        return ""
    value = data[field]
    if not isinstance(value, str):
        raise Refused(400, f"{field}: expected a string")
    value = value.strip()
    if _CONTROL.search(value):  # no text keeps them, and PostgreSQL refuses NUL outright
        raise Refused(400, f"{field}: control characters are not allowed")
    if len(value) > limit:
        raise Refused(400, f"{field}: at most {limit} characters")
    return value


def row_id(value: Any, field: str) -> int:
    """A row id sent in a form or JSON body (``parentId``, ``comment``…): a positive integer that fits an
    id column, or 400 naming the field."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        number = int(value)
    else:
        raise Refused(400, f"{field}: {str(value)[:40]!r} is not an id")
    if not 0 < number <= MAX_ROW_ID:
        raise Refused(400, f"{field}: {number if number < 10**20 else 'that number'} is out of range")
    return number


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


# -- rendering --------------------------------------------------------------------------------------------


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A template with the handler's context, plus what every page's layout and cards need: ``me``, the
    ``csrf`` token of the forms, and ``vote_intent``, the paper a visitor asked to upvote before logging
    in (``?vote=<id>``, added by ``cards.vote_login``): its card offers a one-click confirm button, and
    for a member the header's count of unread notifications (one indexed count)."""
    me = viewer(request)
    full = {
        "me": me,
        "unread": unread(request),
        "csrf": csrf.token(request),
        "vote_intent": request.query_params.get("vote"),
        **context,
    }
    response: Response = request.app.state.templates.TemplateResponse(request, name, full, status_code=status)
    return response


# What auto-render looks for (a pair of dollars, \( or \[); a page without any skips loading KaTeX
# (~270 kB of script). A lone "$15" is no math.
_TEX = re.compile(r"\$[^$]+\$|\\\(|\\\[")


def needs_math(texts: Iterable[str]) -> bool:
    """Whether a page showing these texts loads KaTeX (``math`` in its context)."""
    return any(_has_math(t) for t in texts)


def _has_math(text: str) -> bool:
    """``_TEX.search(text)``, by jumps between the backslashes and dollars the text holds: the pattern
    scans every character (20 µs an abstract, 1 ms a feed page), ``str.find`` only the few it looks for."""
    at = text.find("\\")
    while at != -1:
        if text[at + 1 : at + 2] in ("(", "["):
            return True
        at = text.find("\\", at + 1)
    at = text.find("$")
    while at != -1:
        after = text.find("$", at + 1)
        if after > at + 1:  # a pair of dollars with something between them
            return True
        at = after
    return False


def cards_math(papers: Iterable[Paper]) -> bool:
    """Whether a list of cards needs KaTeX: a card shows its title and the start of its abstract."""
    return needs_math(t for p in papers for t in (p.title, p.abstract))


# Formatting only: a filter never reads storage (the handler hands the template everything it shows).
FILTERS: dict[str, Callable[..., Any]] = cards.FILTERS
