"""A member's follows from the web and the API: ``/follows`` (the page listing them, each with its feed and
an unfollow button; ``POST /follows``, the form every follow button on an author, organization, category
or search page sends) and ``GET``/``POST``/``DELETE /api/follows``.

What may be followed and its normal form are ``paperfeed/follows.py``'s; an organization must exist (its
short name is what is kept). Followed things feed For-you, the digest and ``paper.followed`` webhooks;
nothing here ranks or sends.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from paperfeed import follows
from paperfeed.models import Followed, User
from paperfeed.storage import Database
from paperfeed.storage import authors as author_store
from paperfeed.storage import follows as store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.web.bodies import (
    api_action,
    form_action,
)
from paperfeed.web.kit import (
    DB,
    Me,
    Refused,
    database,
    redirect,
    render,
    safe_next,
    text,
)
from paperfeed.web.params import documented
from paperfeed.web.serialize import SafeJSONResponse, timestamp

STORED_MAX = 512  # the follows table's value and key columns


class FollowBody(BaseModel):
    kind: Literal["author", "organization", "category", "search"] = Field(
        description="author (a name), organization (its short name), category (one arXiv category) or "
        "search (a query string: q and the search page's filters category, organization, since, until)."
    )
    value: str = Field(
        min_length=1,
        max_length=follows.MAX_VALUE,
        examples=["Yoshua Bengio", "q=sparse+attention&category=cs.CL"],
    )


class FollowDoc(BaseModel):
    id: int
    kind: str
    value: str = Field(description="As given (a saved search in its canonical form).")
    createdAt: str
    url: str = Field(description="The page of what is followed, on this site.")
    feed: str = Field(description="Its RSS feed (Atom: the same URL ending in .atom).")


class UnfollowDoc(BaseModel):
    kind: str
    value: str
    following: bool = Field(description="Always false: no longer followed.")


def links(kind: str, value: str) -> tuple[str, str]:
    """(page, RSS feed) of a followed thing, as paths on this site."""
    if kind == "author":
        page = f"/authors/{quote(value, safe='')}"
        return page, f"{page}/feed.xml"
    if kind == "organization":
        page = f"/orgs/{quote(value, safe='')}"
        return page, f"{page}/feed.xml"
    if kind == "category":
        return f"/papers?category={quote(value)}", f"/feed.xml?category={quote(value)}"
    return f"/search?{value}", f"/feed.xml?{value}"


def label(kind: str, value: str) -> str:
    """How a follow reads on the page: a saved search as its words, then its filters."""
    if kind != "search":
        return value
    params = follows.search_params(value)
    return " · ".join([f"“{params.pop('q', '')}”", *(f"{k} {v}" for k, v in params.items())])


def follow_json(request: Request, found: Followed) -> dict[str, Any]:
    base = request.app.state.settings.base_url.rstrip("/")
    page, feed = links(found.kind, found.value)
    return {
        "id": found.id,
        "kind": found.kind,
        "value": found.value,
        "createdAt": timestamp(found.created_at),
        "url": base + page,
        "feed": base + feed,
    }


def _checked(db: Database, data: dict[str, Any]) -> tuple[follows.FollowKind, str, str]:
    """(kind, value, key) of a form or JSON body, or 400 naming the field."""
    kind, value = text(data, "kind", 40), text(data, "value", follows.MAX_VALUE * 2)
    if not kind:
        raise Refused(400, f"kind: required (one of: {', '.join(follows.FOLLOW_KINDS)})")
    try:
        kind, value, key = follows.normalise(kind, value)
    except follows.BadFollow as exc:
        raise Refused(400, str(exc)) from exc
    if kind == "author":  # shown as its newest paper writes it, when there is one
        wanted = author_store.author_key(value)
        newest = paper_store.author_papers(db, value, 1)
        written = newest[0].authors if newest else []
        spelled = next((a for a in written if author_store.author_key(a) == wanted), "")
        if 0 < len(spelled) <= follows.MAX_VALUE:
            kind, value, key = follows.normalise(kind, spelled)
    if kind == "organization":
        found = org_store.org_by_name(db, value)
        if found is None:
            raise Refused(400, f"value: no organization named {value[:60]!r}")
        kind, value, key = follows.normalise(kind, found[1].name)
    if max(len(value), len(key)) > STORED_MAX:  # a search's query string, once encoded
        raise Refused(400, f"value: too long once encoded (at most {STORED_MAX} characters)")
    return kind, value, key


def _follow(db: Database, user: User, data: dict[str, Any]) -> tuple[bool, Followed]:
    kind, value, key = _checked(db, data)
    if not store.is_following(db, user.id, kind, key) and store.count_of(db, user.id) >= follows.MAX_FOLLOWS:
        raise Refused(409, f"at most {follows.MAX_FOLLOWS} follows per member: unfollow something first")
    return store.follow(db, user.id, kind, value, key, datetime.now(UTC))


# -- pages -------------------------------------------------------------------------------------------------


def follows_page(request: Request, db: DB, me: Me) -> Response:
    """What the signed-in member follows, grouped by kind, each with its page, its feed and an unfollow
    button; and a form to follow anything by name."""
    if me is None:
        raise Refused(401, "sign in to see what you follow")
    mine = store.follows_of(db, me.id)
    groups = [
        (kind, [(f, label(f.kind, f.value), *links(f.kind, f.value)) for f in mine if f.kind == kind])
        for kind in follows.FOLLOW_KINDS
    ]
    context = {
        "groups": groups,
        "count": len(mine),
        "max": follows.MAX_FOLLOWS,
        "kinds": follows.FOLLOW_KINDS,
    }
    return render(request, "follows.html", context)


@form_action
def follow_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """Follow (or, with ``action=unfollow``, stop following) and go back where the button was."""
    db = database(request)
    if form.get("action") == "unfollow":
        kind, _, key = _checked(db, form)
        store.unfollow(db, user.id, kind, key)
    else:
        _follow(db, user, form)
    return redirect(safe_next(str(form.get("next") or "/follows")))


# -- API ---------------------------------------------------------------------------------------------------


@documented("What you follow", "follows", model=list[FollowDoc], member=True)
def list_api(request: Request, db: DB, me: Me) -> Response:
    """The signed-in member's follows (token or session), oldest first, each with its page and feed."""
    if me is None:
        raise Refused(401, "sign in first (or send Authorization: Bearer <token>)")
    return SafeJSONResponse([follow_json(request, f) for f in store.follows_of(db, me.id)])


@documented(
    "Follow an author, organization, category or search",
    "follows",
    model=FollowDoc,
    member=True,
    body=FollowBody,
    status=201,
    also={200: FollowDoc},
)
@api_action
def follow_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Follow {"kind", "value"}: 201 when new, 200 when already followed (the same follow, unchanged)."""
    added, found = _follow(database(request), user, body)
    return SafeJSONResponse(follow_json(request, found), status_code=201 if added else 200)


@documented("Stop following", "follows", model=UnfollowDoc, member=True, not_found=True)
@api_action
def unfollow_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Stop following {"kind", "value"}, sent as a JSON body or as the query parameters ``kind`` and
    ``value``; 404 when it was not followed."""
    data = body or dict(request.query_params)
    db = database(request)
    kind, value, key = _checked(db, data)
    if not store.unfollow(db, user.id, kind, key):
        raise Refused(404, f"you do not follow {kind} {value[:80]!r}")
    return SafeJSONResponse({"kind": kind, "value": value, "following": False})
