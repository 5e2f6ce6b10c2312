"""Upvotes, comments and submissions: the forms on the pages and the JSON API, one handler each (the
comment forms belong to the paper page, ``web/pages.py``, which shows their errors beside them).

Every handler here changes state, so each is a POST (or DELETE) that passes ``auth.require_user``
(CSRF-checked for cookie sessions) and a rate limit before it touches storage. Forms answer with a 303
back to the page; the API answers JSON, and every refusal is ``{"error": ...}`` with its status.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from paperfeed import markdown
from paperfeed.ingest.arxiv_api import ArxivApi
from paperfeed.ingest.http import PoliteClient
from paperfeed.ingest.submit import SubmitError, submit_paper
from paperfeed.models import Comment, Paper, User
from paperfeed.storage import comments as comment_store
from paperfeed.storage import votes as vote_store
from paperfeed.trending import why_trending
from paperfeed.web import limits
from paperfeed.web.kit import (
    DB,
    Refused,
    api_action,
    database,
    form_action,
    paper_or_404,
    redirect,
    render,
    row_id,
    safe_next,
    viewer,
)
from paperfeed.web.params import PaperId, documented
from paperfeed.web.serialize import (
    CommentBody,
    CommentDoc,
    DailyPaperDoc,
    SafeJSONResponse,
    SubmitBody,
    UpvoteDoc,
    daily_item_json,
    timestamp,
    user_json,
)


def _back(paper: Paper, anchor: str = "") -> Response:
    return redirect(f"/papers/{paper.id}{anchor}")


# -- upvotes -------------------------------------------------------------------------------------------------


def _vote(request: Request, user: User, add: bool) -> tuple[Paper, int, bool]:
    db = database(request)
    paper = paper_or_404(db, request.path_params["paper_id"])
    limits.limit(request, "upvote", str(user.id))
    if add:
        _, count = vote_store.upvote(db, user.id, paper.id, datetime.now(UTC))
    else:
        _, count = vote_store.remove_upvote(db, user.id, paper.id)
    return paper, count, add


@documented(
    "Upvote a paper (POST) or take the upvote back (DELETE)",
    "community",
    model=UpvoteDoc,
    member=True,
    not_found=True,
)
@api_action
def upvote_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Upvote a paper (idempotent: a second upvote changes nothing)."""
    paper, count, voted = _vote(request, user, request.method == "POST")
    return SafeJSONResponse({"id": paper.id, "upvotes": count, "upvoted": voted})


@form_action
def upvote_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """The ▲ button: upvote, or take the vote back when the form says remove."""
    paper, _, _ = _vote(request, user, form.get("action") != "remove")
    back = safe_next(form.get("back"))
    return redirect(back) if back != "/" or form.get("back") == "/" else _back(paper)


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
        "html": "" if gone else c.html,
    }


@documented("List a paper's comments", "community", model=list[CommentDoc], not_found=True)
def list_comments(db: DB, paper_id: PaperId) -> Response:
    """The paper's comments, oldest first, replies carrying ``parentId``; hidden ones without text."""
    found = paper_or_404(db, paper_id)
    return SafeJSONResponse([comment_json(c) for c in comment_store.paper_comments(db, found.id)])


def _body(text: Any) -> str:
    try:
        return markdown.check_body(text)
    except markdown.BadBody as exc:
        raise Refused(400, f"body: {exc}") from exc


def _parent(value: Any) -> int | None:
    return None if value in (None, "") else row_id(value, "parentId")


def _comment(request: Request, user: User, text: Any, parent: Any) -> Comment:
    db = database(request)
    paper = paper_or_404(db, request.path_params["paper_id"])
    body, parent_id = _body(text), _parent(parent)
    limits.limit(request, "comment", str(user.id))
    try:
        return comment_store.add_comment(
            db, paper.id, user.id, body, markdown.render(body), datetime.now(UTC), parent_id
        )
    except comment_store.CommentError as exc:
        raise Refused(400, str(exc)) from exc


@documented(
    "Comment on a paper",
    "community",
    model=CommentDoc,
    member=True,
    not_found=True,
    body=CommentBody,
    status=201,
)
@api_action
def post_comment_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Comment on a paper: {"body": Markdown, "parentId": optional id of a top-level comment}."""
    made = _comment(request, user, body.get("body"), body.get("parentId"))
    return SafeJSONResponse(comment_json(made), status_code=201)


# -- submissions ---------------------------------------------------------------------------------------------


def _submit(request: Request, user: User, arxiv_id: Any) -> Paper:
    if not isinstance(arxiv_id, str) or not arxiv_id.strip():
        raise Refused(400, "arxivId: give an arXiv id such as 2607.07386")
    limits.limit(request, "submit", str(user.id))
    settings = request.app.state.settings
    try:
        with PoliteClient.from_settings(settings) as client:
            done = submit_paper(
                database(request), ArxivApi(client, settings.arxiv_api_endpoint), arxiv_id, user.name
            )
    except SubmitError as exc:
        status = {"already_submitted": 409, "not_found": 404, "unavailable": 502}.get(exc.reason, 400)
        raise Refused(status, str(exc)) from exc
    return done.paper


@documented(
    "Submit an arXiv paper to today's feed",
    "community",
    model=DailyPaperDoc,
    member=True,
    not_found=True,
    body=SubmitBody,
    status=201,
)
@api_action
def submit_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Submit an arXiv paper to today's feed: {"arxivId": "2607.07386"}; 409 if it was submitted."""
    paper = _submit(request, user, body.get("arxivId"))
    return SafeJSONResponse(daily_item_json(paper), status_code=201)


@form_action
def submit_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    try:
        paper = _submit(request, user, form.get("arxiv_id"))
    except Refused as exc:
        if exc.status == 429:
            raise
        context = {"error": exc.message, "value": form.get("arxiv_id", "")}
        return render(request, "submit.html", context, exc.status)
    return _back(paper)


def submit_page(request: Request) -> Response:
    if viewer(request) is None:
        return redirect("/login?next=/submit")
    return render(request, "submit.html", {"error": None, "value": ""})


# -- trending ------------------------------------------------------------------------------------------------


@documented("Why a paper is trending", "community", not_found=True)
def trending_api(db: DB, paper_id: PaperId) -> Response:
    """Why a paper is trending: the numbers behind its ``sort=trending`` score (docs/trending.md)."""
    found = paper_or_404(db, paper_id)
    why = why_trending(db, found.id)
    if why is None:
        raise Refused(404, f"paper {paper_id!r} not found")
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
