"""Member profiles (papers submitted, authorship claimed, organizations, collections) and authorship
claims: a member claims an author entry on a paper, an admin approves or rejects it at /admin/claims."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from paperfeed.models import User
from paperfeed.storage import Database
from paperfeed.storage import claims as claim_store
from paperfeed.storage import collections as collection_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import users as user_store
from paperfeed.web.auth import render, viewer
from paperfeed.web.community import form_action, paper_or_404
from paperfeed.web.csrf import Refused


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def profile(request: Request, name: str) -> Response:
    db = _db(request)
    user = user_store.user_by_name(db, name)
    if user is None:
        context = {"status": 404, "title": "Not found", "message": f"There is no member {name!r}."}
        return render(request, "error.html", context, 404)
    me = viewer(request)
    claimed = claim_store.user_claims(db, user.id)
    context = {
        "user": user,
        "is_me": me is not None and me.id == user.id,
        "submitted": paper_store.feed_papers(db, date.min, date.max, "published", 100, 0, user.name),
        "claimed": paper_store.papers_by_ids(db, list(dict.fromkeys(c.paper_id for c in claimed))),
        "orgs": org_store.user_orgs(db, user.id),
        "collections": collection_store.user_collections(db, user.id, me is not None and me.id == user.id),
    }
    return render(request, "user.html", context)


def _claim(request: Request, user: User, form: dict[str, Any]) -> Response:
    db = _db(request)
    paper = paper_or_404(db, request.path_params["paper_id"])
    author = str(form.get("author", ""))
    if author not in paper.authors:
        raise Refused(400, f"author: {author[:80]!r} is not an author of {paper.id}")
    try:
        claim_store.add_claim(db, paper.id, user.id, author, datetime.now(UTC))
    except claim_store.ClaimError as exc:
        raise Refused(409, str(exc)) from exc
    return RedirectResponse(f"/papers/{paper.id}#claim", status_code=303)


def claims_page(request: Request) -> Response:
    me = viewer(request)
    if me is None:
        return RedirectResponse("/login?next=/admin/claims", status_code=303)
    if not me.is_admin:
        context = {"status": 403, "title": "Not allowed", "message": "Only admins review claims."}
        return render(request, "error.html", context, 403)
    return render(request, "claims.html", {"claims": claim_store.pending(_db(request))})


def _decide(request: Request, user: User, form: dict[str, Any]) -> Response:
    if not user.is_admin:
        raise Refused(403, "only admins review claims")
    decision = form.get("decision")
    if decision not in ("approve", "reject"):
        raise Refused(400, "decision: expected approve or reject")
    try:
        claim_store.decide(
            _db(request),
            int(request.path_params["claim_id"]),
            user.id,
            decision == "approve",
            datetime.now(UTC),
        )
    except claim_store.ClaimError as exc:
        raise Refused(409, str(exc)) from exc
    return RedirectResponse("/admin/claims", status_code=303)


claim_form = form_action(_claim)
decide_form = form_action(_decide)
