"""Member profiles (papers submitted, authorship claimed, organizations, collections) and authorship
claims: a member claims an author entry on a paper, an admin approves or rejects it at /admin/claims."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from paperfeed.models import User
from paperfeed.storage import claims as claim_store
from paperfeed.storage import collections as collection_store
from paperfeed.storage import lists
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import users as user_store
from paperfeed.storage.lists import Selection
from paperfeed.web.bodies import (
    api_action,
    form_action,
)
from paperfeed.web.kit import (
    DB,
    Me,
    Refused,
    cards_math,
    database,
    paper_or_404,
    redirect,
    render,
    voted,
)
from paperfeed.web.params import documented
from paperfeed.web.schemas import (
    ClaimBody,
    ClaimDoc,
)
from paperfeed.web.serialize import (
    SafeJSONResponse,
    object_id,
)


def profile(request: Request, db: DB, me: Me, name: str) -> Response:
    user = user_store.user_by_name(db, name)
    if user is None:
        raise Refused(404, f"There is no member {name!r}.")
    is_me = me is not None and me.id == user.id
    claims = claim_store.user_claims(db, user.id)
    claimed = paper_store.papers_by_ids(db, list(dict.fromkeys(c.paper_id for c in claims)))
    submitted = lists.feed_papers(db, date.min, date.max, "published", 100, 0, Selection(submitter=user.name))
    context = {
        "user": user,
        "is_me": is_me,
        "submitted": submitted,
        "claimed": claimed,
        "voted": voted(request, claimed + submitted),
        "orgs": org_store.user_orgs(db, user.id),
        "collections": collection_store.user_collections(db, user.id, is_me),
        "math": cards_math(claimed + submitted),
    }
    return render(request, "user.html", context)


@form_action
def claim_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    db = database(request)
    paper = paper_or_404(db, request.path_params["paper_id"])
    author = str(form.get("author", ""))
    if author not in paper.authors:
        raise Refused(400, f"author: {author[:80]!r} is not an author of {paper.id}")
    try:
        claim_store.add_claim(db, paper.id, user.id, author, datetime.now(UTC))
    except claim_store.ClaimError as exc:
        raise Refused(409, str(exc)) from exc
    return redirect(f"/papers/{paper.id}#claim")


@documented(
    "Claim authorship of a paper", "community", model=ClaimDoc, member=True, not_found=True, body=ClaimBody,
    status=201,
)  # fmt: skip
@api_action
def claim_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """HF's ``/api/settings/papers/claim``: {"paperId", "claimAuthorId"} (an author entry's ``_id``) asks
    to be that author; an admin approves or rejects it at /admin/claims (then ``authors[].user`` shows it)."""
    db = database(request)
    paper_id, author_id = body.get("paperId"), body.get("claimAuthorId")
    if not isinstance(paper_id, str) or not paper_id.strip():
        raise Refused(400, "paperId: give the paper's arXiv id")
    paper = paper_or_404(db, paper_id)
    named = [a for i, a in enumerate(paper.authors) if object_id("author", paper.id, str(i)) == author_id]
    if not named:
        raise Refused(400, f"claimAuthorId: no author entry {str(author_id)[:64]!r} on {paper.id}")
    try:
        made = claim_store.add_claim(db, paper.id, user.id, named[0], datetime.now(UTC))
    except claim_store.ClaimError as exc:
        raise Refused(409, str(exc)) from exc
    return SafeJSONResponse(
        {"paperId": made.paper_id, "author": made.author, "status": made.status}, status_code=201
    )


def claims_page(request: Request, db: DB, me: Me) -> Response:
    if me is None:
        return redirect("/login?next=/admin/claims")
    if not me.is_admin:
        raise Refused(403, "Only admins review claims.")
    return render(request, "claims.html", {"claims": claim_store.pending(db)})


@form_action
def decide_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    if not user.is_admin:
        raise Refused(403, "only admins review claims")
    decision = form.get("decision")
    if decision not in ("approve", "reject"):
        raise Refused(400, "decision: expected approve or reject")
    try:
        claim_store.decide(
            database(request),
            int(request.path_params["claim_id"]),
            user.id,
            decision == "approve",
            datetime.now(UTC),
        )
    except claim_store.ClaimError as exc:
        raise Refused(409, str(exc)) from exc
    return redirect("/admin/claims")
