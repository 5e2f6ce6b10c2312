"""Collections: named lists of papers with notes, public or private; their page, forms and API.

A private collection is visible to its owner only: anyone else gets the same 404 as for a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from paperfeed.feed import find_paper
from paperfeed.models import Collection, CollectionItem, User
from paperfeed.storage import Database
from paperfeed.storage import collections as store
from paperfeed.web import limits
from paperfeed.web.bodies import (
    api_action,
    form_action,
)
from paperfeed.web.citing import cited
from paperfeed.web.kit import (
    DB,
    Me,
    Refused,
    cards_math,
    database,
    redirect,
    render,
    text,
    voted,
)
from paperfeed.web.params import documented
from paperfeed.web.schemas import (
    CollectionBody,
    CollectionDoc,
    CollectionItemBody,
)
from paperfeed.web.serialize import (
    SafeJSONResponse,
    daily_item_json,
    timestamp,
)

MAX_NOTE = 2000


def _visible(db: Database, me: User | None, collection_id: int) -> Collection:
    """The collection, if this reader may see it: the same 404 for a private one as for a missing one."""
    found = store.collection(db, collection_id)
    if found is None or not (found.is_public or (me is not None and me.name == found.owner)):
        raise Refused(404, f"collection {collection_id} not found")
    return found


def _mine(request: Request, user: User) -> Collection:
    collection_id = int(request.path_params["collection_id"])
    if store.owner_id(database(request), collection_id) != user.id:
        raise Refused(404, f"collection {collection_id} not found")
    found = store.collection(database(request), collection_id)
    assert found is not None
    return found


def collection_json(c: Collection, items: list[CollectionItem]) -> dict[str, Any]:
    return {
        "id": c.id,
        "owner": c.owner,
        "name": c.name,
        "description": c.description,
        "public": c.is_public,
        "createdAt": timestamp(c.created_at),
        "items": [
            {"note": i.note, "addedAt": timestamp(i.added_at), **daily_item_json(i.paper)} for i in items
        ],
    }


def collection_page(request: Request, db: DB, me: Me, collection_id: int) -> Response:
    found = _visible(db, me, collection_id)
    items = store.items(db, found.id)
    context = {
        "collection": found,
        "items": items,
        "mine": me is not None and me.name == found.owner,
        "voted": voted(request, (i.paper for i in items)),
        "math": cards_math(i.paper for i in items) or any("$" in i.note for i in items),
    }
    return render(request, "collection.html", context)


def collection_citation(request: Request, db: DB, me: Me, collection_id: int, fmt: str) -> Response:
    """A collection's papers as one BibTeX, RIS or CSL-JSON file (who may see it may cite it)."""
    found = _visible(db, me, collection_id)
    return cited(request, [i.paper for i in store.items(db, found.id)], fmt, f"collection-{found.id}")


@documented("Get a collection and its papers", "community", model=CollectionDoc, not_found=True)
def collection_api(db: DB, me: Me, collection_id: int) -> Response:
    found = _visible(db, me, collection_id)
    return SafeJSONResponse(collection_json(found, store.items(db, found.id)))


def _create(request: Request, user: User, data: dict[str, Any]) -> Collection:
    name = text(data, "name", 128)
    if not name:
        raise Refused(400, "name: 1 to 128 characters")
    description = text(data, "description", MAX_NOTE)
    public = data.get("public", False)
    if public in ("on", "true", "1"):  # a form's checkbox
        public = True
    if not isinstance(public, bool):
        raise Refused(400, "public: expected true or false")
    limits.limit(request, "collection", str(user.id))
    try:
        return store.create(database(request), user.id, name, description, public, datetime.now(UTC))
    except store.CollectionError as exc:
        raise Refused(409, str(exc)) from exc


def _put(request: Request, user: User, data: dict[str, Any]) -> Collection:
    mine = _mine(request, user)
    paper_id = text(data, "paperId", 200) or text(data, "paper_id", 200)
    paper = find_paper(database(request), paper_id) if paper_id else None
    if paper is None:
        raise Refused(400, "paperId: no such paper")
    if data.get("action") == "remove":
        store.remove_item(database(request), mine.id, paper.id)
    else:
        note = text(data, "note", MAX_NOTE)
        store.put_item(database(request), mine.id, paper.id, note, datetime.now(UTC))
    return mine


@documented(
    "Create a collection", "community", model=CollectionDoc, member=True, body=CollectionBody, status=201
)
@api_action
def create_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Create a collection: {"name", "description", "public": true|false}."""
    made = _create(request, user, body)
    return SafeJSONResponse(collection_json(made, []), status_code=201)


@form_action
def create_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    return redirect(f"/collections/{_create(request, user, form).id}")


@documented(
    "Add a paper to a collection, or remove it",
    "community",
    model=CollectionDoc,
    member=True,
    not_found=True,
    body=CollectionItemBody,
)
@api_action
def items_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Add a paper with a note ({"paperId", "note"}), or remove it ({"paperId", "action": "remove"})."""
    mine = _put(request, user, body)
    return SafeJSONResponse(collection_json(mine, store.items(database(request), mine.id)))


@form_action
def items_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    return redirect(f"/collections/{_put(request, user, form).id}")
