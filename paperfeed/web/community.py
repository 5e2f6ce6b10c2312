"""Upvotes, comments and submissions: the forms on the pages and the JSON API, one handler each (the
comment forms belong to the paper page, ``web/pages.py``, which shows their errors beside them).

Every handler here that changes state is a POST (or DELETE) that passes ``auth.require_user``
(CSRF-checked for cookie sessions) and a rate limit before it touches storage. Forms answer with a 303
back to the page; the API answers JSON, and every refusal is ``{"error": ...}`` with its status.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from paperfeed import markdown
from paperfeed.ingest.submission import Submission, SubmitError, request_submission
from paperfeed.models import Comment, Paper, QueuedSubmission, User
from paperfeed.storage import comments as comment_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import submissions as submission_store
from paperfeed.storage import votes as vote_store
from paperfeed.trending import why_stars, why_trending
from paperfeed.web import limits
from paperfeed.web.bodies import (
    api_action,
    form_action,
)
from paperfeed.web.kit import (
    DB,
    Me,
    Refused,
    database,
    paper_or_404,
    redirect,
    render,
    row_id,
    safe_next,
    viewer,
)
from paperfeed.web.params import PaperId, documented
from paperfeed.web.schemas import (
    CommentBody,
    CommentDoc,
    DailyPaperDoc,
    SubmissionDoc,
    SubmitBody,
    TrendingDoc,
    UpvoteDoc,
)
from paperfeed.web.serialize import (
    SafeJSONResponse,
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
            db,
            paper.id,
            user.id,
            body,
            markdown.render(body),
            datetime.now(UTC),
            parent_id,
            markdown.mentions(body),
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
# Nothing here asks arXiv: a stored paper goes on the feed at once, any other waits in the queue for the
# worker's 'submissions' job (ingest/submission.py), and the member sees it pending meanwhile.


def _submit(request: Request, user: User, arxiv_id: Any) -> Submission | QueuedSubmission:
    if not isinstance(arxiv_id, str) or not arxiv_id.strip():
        raise Refused(400, "arxivId: give an arXiv id such as 2607.07386")
    limits.limit(request, "submit", str(user.id))
    try:
        return request_submission(database(request), arxiv_id, user.id, user.name)
    except SubmitError as exc:
        raise Refused(409 if exc.reason == "already_submitted" else 400, str(exc)) from exc


def submission_json(entry: QueuedSubmission) -> dict[str, Any]:
    return {
        "arxivId": entry.paper_id,
        "status": entry.status,
        "message": entry.message,
        "submittedBy": entry.submitted_by,
        "submittedAt": timestamp(entry.created_at),
        "updatedAt": timestamp(entry.updated_at),
    }


@documented(
    "Submit an arXiv paper to today's feed",
    "community",
    model=DailyPaperDoc,
    member=True,
    not_found=True,
    body=SubmitBody,
    status=201,
    also={202: SubmissionDoc},
)
@api_action
def submit_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Submit an arXiv paper to today's feed: {"arxivId": "2607.07386"}. 201 with the feed item when the
    paper is stored already; else 202 with {"arxivId", "status": "pending"} while the worker fetches it
    from arXiv (follow it at GET /api/submissions); 409 if it was submitted."""
    done = _submit(request, user, body.get("arxivId"))
    if isinstance(done, Submission):
        return SafeJSONResponse(daily_item_json(done.paper), status_code=201)
    return SafeJSONResponse(submission_json(done), status_code=202)


@documented("Your latest submissions and their state", "community", model=list[SubmissionDoc], member=True)
def submissions_api(request: Request, db: DB, me: Me) -> Response:
    """The signed-in member's latest submissions that had to be fetched from arXiv, newest first:
    ``status`` pending, done or failed (``message`` says why)."""
    if me is None:
        raise Refused(401, "sign in first (or send Authorization: Bearer <token>)")
    return SafeJSONResponse([submission_json(e) for e in submission_store.member_submissions(db, me.id)])


@form_action
def submit_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """A stored paper: to its page, on the feed; any other: back to the submit page, which shows it pending."""
    try:
        done = _submit(request, user, form.get("arxiv_id"))
    except Refused as exc:
        if exc.status == 429:
            raise
        return _submit_page(request, user, exc.message, form.get("arxiv_id", ""), exc.status)
    if isinstance(done, Submission):
        return _back(done.paper)
    return redirect(f"/submit#submission-{done.id}")


def _submit_page(request: Request, user: User, error: str | None, value: str, status: int = 200) -> Response:
    context = {
        "error": error,
        "value": value,
        "submissions": submission_store.member_submissions(database(request), user.id),
    }
    return render(request, "submit.html", context, status)


def submit_page(request: Request) -> Response:
    """The submit form, and the member's submissions waiting for arXiv (or done, or failed)."""
    user = viewer(request)
    if user is None:
        return redirect("/login?next=/submit")
    return _submit_page(request, user, None, "")


# -- curators' picks ----------------------------------------------------------------------------------------


def _pick(request: Request, user: User, add: bool) -> Paper:
    if not user.may_curate:
        raise Refused(403, "only curators and admins pick papers for the curated list")
    db = database(request)
    paper = paper_or_404(db, request.path_params["paper_id"])
    if add:  # already on the list (submitted or picked): nothing to do
        paper_store.mark_submitted(db, paper.id, user.name, datetime.now(UTC))
    else:
        paper_store.unmark_submitted(db, paper.id)
    return paper_or_404(db, paper.id)


@documented(
    "Pick a paper for the curated list (POST) or take it off (DELETE)",
    "community",
    model=DailyPaperDoc,
    member=True,
    not_found=True,
)
@api_action
def pick_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """A curator (or admin) puts a harvested paper on today's curated list, or takes it off again."""
    return SafeJSONResponse(daily_item_json(_pick(request, user, request.method == "POST")))


@form_action
def pick_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    paper = _pick(request, user, form.get("action") != "remove")
    return redirect(f"/papers/{paper.id}#curated")


# -- trending ------------------------------------------------------------------------------------------------


@documented("Why a paper is trending", "community", model=TrendingDoc, not_found=True)
def trending_api(db: DB, paper_id: PaperId) -> Response:
    """Why a paper is trending: the numbers behind its ``sort=trending`` score (docs/trending.md)."""
    found = paper_or_404(db, paper_id)
    why = why_trending(db, found.id)
    if why is None:
        raise Refused(404, f"paper {paper_id!r} not found")
    stars = why_stars(db, found.id)
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
            "stars": {
                "repo": stars.repo,
                "stars": stars.stars,
                "starsBefore": stars.stars_before,
                "since": timestamp(stars.since) if stars.since else None,
                "gain": stars.gain,
                "windowDays": stars.window_days,
            }
            if stars
            else None,
        }
    )
