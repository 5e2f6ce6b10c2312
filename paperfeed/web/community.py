"""Upvotes, comments and submissions: the forms on the pages and the JSON API, one handler each.

Every handler here changes state, so each is a POST (or DELETE) that passes ``auth.require_user``
(CSRF-checked for cookie sessions) and a rate limit before it touches storage. Forms answer with a 303
back to the page; the API answers JSON, and every refusal is ``{"error": ...}`` with its status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from paperfeed import markdown
from paperfeed.feed import find_paper
from paperfeed.ingest.arxiv_api import ArxivApi
from paperfeed.ingest.http import PoliteClient
from paperfeed.ingest.submit import SubmitError, submit_paper
from paperfeed.models import Comment, Paper, User
from paperfeed.storage import Database
from paperfeed.storage import comments as comment_store
from paperfeed.storage import votes as vote_store
from paperfeed.trending import why_trending
from paperfeed.web import csrf, limits
from paperfeed.web.api import route
from paperfeed.web.auth import refused_page, require_user, safe_next, viewer
from paperfeed.web.csrf import Refused
from paperfeed.web.serialize import SafeJSONResponse, daily_item_json, timestamp, user_json

MAX_JSON = 64 * 1024


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def paper_or_404(db: Database, paper_id: str) -> Paper:
    found = find_paper(db, paper_id)
    if found is None:
        raise Refused(404, f"paper {paper_id!r} not found")
    return found


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_JSON:
        raise Refused(413, f"body too large (at most {MAX_JSON} bytes)")
    if not body:
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refused(400, f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise Refused(400, "body must be a JSON object")
    return data


Action = Callable[[Request, User, dict[str, Any]], Response]


def api_action(action: Action) -> Callable[[Request], Awaitable[Response]]:
    """An API handler: JSON body, signed-in user (token, or cookie + X-CSRF-Token), errors as JSON."""

    async def handler(request: Request) -> Response:
        try:
            body = await _json_body(request) if request.method in ("POST", "PATCH") else {}
            user = await run_in_threadpool(require_user, request, request.headers.get(csrf.HEADER))
            response: Response = await run_in_threadpool(action, request, user, body)
            return response
        except Refused as exc:
            return SafeJSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    handler.__name__ = action.__name__
    handler.__doc__ = action.__doc__
    return handler


def form_action(action: Action) -> Callable[[Request], Awaitable[Response]]:
    """A form handler: urlencoded form with the CSRF field, signed-in user, errors as an HTML page."""

    async def handler(request: Request) -> Response:
        try:
            form: dict[str, Any] = await csrf.read_form(request)
            user = await run_in_threadpool(require_user, request, form.get(csrf.FIELD))
            response: Response = await run_in_threadpool(action, request, user, form)
            return response
        except Refused as exc:
            if exc.status == 401:
                return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
            return refused_page(request, exc)

    handler.__name__ = action.__name__
    handler.__doc__ = action.__doc__
    return handler


def _back(paper: Paper, anchor: str = "") -> Response:
    return RedirectResponse(f"/papers/{paper.id}{anchor}", status_code=303)


# -- upvotes -------------------------------------------------------------------------------------------------


def _vote(request: Request, user: User, add: bool) -> tuple[Paper, int, bool]:
    db = _db(request)
    paper = paper_or_404(db, request.path_params["paper_id"])
    limits.limit(request, "upvote", str(user.id))
    if add:
        _, count = vote_store.upvote(db, user.id, paper.id, datetime.now(UTC))
    else:
        _, count = vote_store.remove_upvote(db, user.id, paper.id)
    return paper, count, add


def _upvote_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Upvote a paper (idempotent: a second upvote changes nothing)."""
    paper, count, voted = _vote(request, user, request.method == "POST")
    return SafeJSONResponse({"id": paper.id, "upvotes": count, "upvoted": voted})


def _upvote_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """The ▲ button: upvote, or take the vote back when the form says remove."""
    paper, _, _ = _vote(request, user, form.get("action") != "remove")
    back = safe_next(form.get("back"))
    return RedirectResponse(back, status_code=303) if back != "/" or form.get("back") == "/" else _back(paper)


upvote_api = api_action(_upvote_api)
upvote_form = form_action(_upvote_form)


# -- comments ------------------------------------------------------------------------------------------------


def comment_json(c: Comment) -> dict[str, Any]:
    gone = c.hidden or c.deleted
    return {
        "id": c.id,
        "parentId": c.parent_id,
        "author": user_json(c.author),
        "createdAt": timestamp(c.created_at),
        "editedAt": timestamp(c.edited_at) if c.edited_at else None,
        "hidden": c.hidden,
        "deleted": c.deleted,
        "raw": "" if gone else c.body,
        "html": "" if gone else markdown.render(c.body),
    }


@route("List a paper's comments", "community", not_found=True)
def list_comments(request: Request, paper_id: str) -> Response:
    """The paper's comments, oldest first, replies carrying ``parentId``; hidden ones without text."""
    db = _db(request)
    found = find_paper(db, paper_id)
    if found is None:
        return SafeJSONResponse({"error": f"paper {paper_id!r} not found"}, status_code=404)
    return SafeJSONResponse([comment_json(c) for c in comment_store.paper_comments(db, found.id)])


def _body(text: Any) -> str:
    body = text.strip() if isinstance(text, str) else ""
    if not body:
        raise Refused(400, "body: a comment needs some text")
    if len(body) > markdown.MAX_BODY:
        raise Refused(400, f"body: at most {markdown.MAX_BODY} characters")
    return body


def _parent(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Refused(400, f"parentId: {str(value)[:40]!r} is not a comment id") from None


def _comment(request: Request, user: User, text: Any, parent: Any) -> Comment:
    db = _db(request)
    paper = paper_or_404(db, request.path_params["paper_id"])
    body, parent_id = _body(text), _parent(parent)
    limits.limit(request, "comment", str(user.id))
    try:
        return comment_store.add_comment(db, paper.id, user.id, body, datetime.now(UTC), parent_id)
    except comment_store.CommentError as exc:
        raise Refused(400, str(exc)) from exc


def _post_comment_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Comment on a paper: {"body": Markdown, "parentId": optional id of a top-level comment}."""
    made = _comment(request, user, body.get("body"), body.get("parentId"))
    return SafeJSONResponse(comment_json(made), status_code=201)


def _post_comment_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    made = _comment(request, user, form.get("body"), form.get("parent_id"))
    return RedirectResponse(f"/papers/{made.paper_id}#comment-{made.id}", status_code=303)


def _change_comment(request: Request, user: User, form: dict[str, Any]) -> Response:
    """Edit or delete one's own comment; a moderator hides or shows any comment."""
    db = _db(request)
    comment_id = int(request.path_params["comment_id"])
    found = comment_store.comment(db, comment_id)
    if found is None:
        raise Refused(404, f"comment {comment_id} not found")
    what = form.get("action")
    try:
        if what == "edit":
            comment_store.edit_comment(db, comment_id, user.id, _body(form.get("body")), datetime.now(UTC))
        elif what == "delete":
            comment_store.delete_comment(db, comment_id, user.id)
        elif what in ("hide", "show"):
            if not (user.is_moderator or user.is_admin):
                raise Refused(403, "only moderators hide comments")
            comment_store.set_hidden(db, comment_id, what == "hide")
        else:
            raise Refused(400, "action: expected edit, delete, hide or show")
    except comment_store.CommentError as exc:
        raise Refused(403, str(exc)) from exc
    return RedirectResponse(f"/papers/{found.paper_id}#comment-{comment_id}", status_code=303)


post_comment_api = api_action(_post_comment_api)
post_comment_form = form_action(_post_comment_form)
change_comment_form = form_action(_change_comment)


# -- submissions ---------------------------------------------------------------------------------------------


def _submit(request: Request, user: User, arxiv_id: Any) -> Paper:
    if not isinstance(arxiv_id, str) or not arxiv_id.strip():
        raise Refused(400, "arxivId: give an arXiv id such as 2607.07386")
    limits.limit(request, "submit", str(user.id))
    settings = request.app.state.settings
    try:
        with PoliteClient.from_settings(settings) as client:
            done = submit_paper(
                _db(request), ArxivApi(client, settings.arxiv_api_endpoint), arxiv_id, user.name
            )
    except SubmitError as exc:
        status = {"already_submitted": 409, "not_found": 404, "unavailable": 502}.get(exc.reason, 400)
        raise Refused(status, str(exc)) from exc
    return done.paper


def _submit_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Submit an arXiv paper to today's feed: {"arxivId": "2607.07386"}; 409 if it was submitted."""
    paper = _submit(request, user, body.get("arxivId"))
    return SafeJSONResponse(daily_item_json(paper), status_code=201)


def _submit_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    try:
        paper = _submit(request, user, form.get("arxiv_id"))
    except Refused as exc:
        if exc.status == 429:
            raise
        page = request.app.state.templates.TemplateResponse(
            request, "submit.html", {"error": exc.message, "value": form.get("arxiv_id", "")}, exc.status
        )
        response: Response = page
        return response
    return _back(paper)


def submit_page(request: Request) -> Response:
    if viewer(request) is None:
        return RedirectResponse("/login?next=/submit", status_code=303)
    response: Response = request.app.state.templates.TemplateResponse(
        request, "submit.html", {"error": None, "value": ""}
    )
    return response


submit_api = api_action(_submit_api)
submit_form = form_action(_submit_form)


# -- trending ------------------------------------------------------------------------------------------------


@route("Why a paper is trending", "community", not_found=True)
def trending_api(request: Request, paper_id: str) -> Response:
    """Why a paper is trending: the numbers behind its ``sort=trending`` score (docs/trending.md)."""
    db = _db(request)
    found = find_paper(db, paper_id)
    why = why_trending(db, found.id) if found else None
    if found is None or why is None:
        return SafeJSONResponse({"error": f"paper {paper_id!r} not found"}, status_code=404)
    return SafeJSONResponse(
        {
            "id": found.id,
            "score": why.score,
            "upvotes": why.upvotes,
            "recentUpvotes": why.recent_upvotes,
            "windowHours": why.window_hours,
            "numComments": why.comments,
            "ageHours": why.age_hours,
            "gravityHours": why.gravity_hours,
            "formula": "(upvotes + recentUpvotes + 2*numComments + 1) / (ageHours + gravityHours)",
        }
    )


def _document(handler: Callable[..., Any], summary: str) -> None:
    """OpenAPI details for ``web.routes.register`` (as ``api.route`` gives the read-only routes)."""
    handler.route_options = {"summary": summary, "tags": ["community"]}  # type: ignore[attr-defined]


for _handler, _summary in (
    (upvote_api, "Upvote a paper (POST) or take the upvote back (DELETE)"),
    (post_comment_api, "Comment on a paper"),
    (submit_api, "Submit an arXiv paper to today's feed"),
):
    _document(_handler, _summary)
