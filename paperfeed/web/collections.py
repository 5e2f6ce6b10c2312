"""Collections: named lists of papers with notes, public or private; their page, forms and API.

A private collection is visible to its owner only: anyone else gets the same 404 as for a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from paperfeed.feed import find_paper
from paperfeed.models import Collection, User
from paperfeed.storage import Database
from paperfeed.storage import collections as store
from paperfeed.web.api import route
from paperfeed.web.auth import render, viewer
from paperfeed.web.community import api_action, form_action
from paperfeed.web.csrf import Refused
from paperfeed.web.serialize import SafeJSONResponse, daily_item_json, timestamp

MAX_NOTE = 2000


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _visible(request: Request, collection_id: int) -> Collection | None:
    found = store.collection(_db(request), collection_id)
    if found is None:
        return None
    me = viewer(request)
    return found if found.is_public or (me is not None and me.name == found.owner) else None


def _mine(request: Request, user: User) -> Collection:
    collection_id = int(request.path_params["collection_id"])
    if store.owner_id(_db(request), collection_id) != user.id:
        raise Refused(404, f"collection {collection_id} not found")
    found = store.collection(_db(request), collection_id)
    assert found is not None
    return found


def collection_json(request: Request, c: Collection) -> dict[str, Any]:
    return {
        "id": c.id,
        "owner": c.owner,
        "name": c.name,
        "description": c.description,
        "public": c.is_public,
        "createdAt": timestamp(c.created_at),
        "items": [
            {"note": i.note, "addedAt": timestamp(i.added_at), **daily_item_json(i.paper)}
            for i in store.items(_db(request), c.id)
        ],
    }


def collection_page(request: Request, collection_id: int) -> Response:
    found = _visible(request, collection_id)
    if found is None:
        context = {"status": 404, "title": "Not found", "message": f"There is no collection {collection_id}."}
        return render(request, "error.html", context, 404)
    me = viewer(request)
    context = {
        "collection": found,
        "items": store.items(_db(request), found.id),
        "mine": me and me.name == found.owner,
    }
    return render(request, "collection.html", context)


@route("Get a collection and its papers", "community", not_found=True)
def collection_api(request: Request, collection_id: int) -> Response:
    found = _visible(request, collection_id)
    if found is None:
        return SafeJSONResponse({"error": f"collection {collection_id} not found"}, status_code=404)
    return SafeJSONResponse(collection_json(request, found))


def _create(request: Request, user: User, data: dict[str, Any]) -> Collection:
    name = str(data.get("name", "")).strip()
    if not name or len(name) > 128:
        raise Refused(400, "name: 1 to 128 characters")
    description = str(data.get("description", "")).strip()[:MAX_NOTE]
    public = data.get("public") in (True, "on", "true", "1")
    try:
        return store.create(_db(request), user.id, name, description, public, datetime.now(UTC))
    except store.CollectionError as exc:
        raise Refused(409, str(exc)) from exc


def _put(request: Request, user: User, data: dict[str, Any]) -> Collection:
    mine = _mine(request, user)
    paper = find_paper(_db(request), str(data.get("paperId") or data.get("paper_id") or ""))
    if paper is None:
        raise Refused(400, "paperId: no such paper")
    if data.get("action") == "remove":
        store.remove_item(_db(request), mine.id, paper.id)
    else:
        note = str(data.get("note", "")).strip()
        if len(note) > MAX_NOTE:
            raise Refused(400, f"note: at most {MAX_NOTE} characters")
        store.put_item(_db(request), mine.id, paper.id, note, datetime.now(UTC))
    return mine


def _create_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Create a collection: {"name", "description", "public": true|false}."""
    return SafeJSONResponse(collection_json(request, _create(request, user, body)), status_code=201)


def _create_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    return RedirectResponse(f"/collections/{_create(request, user, form).id}", status_code=303)


def _items_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Add a paper with a note ({"paperId", "note"}), or remove it ({"paperId", "action": "remove"})."""
    return SafeJSONResponse(collection_json(request, _put(request, user, body)))


def _items_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    return RedirectResponse(f"/collections/{_put(request, user, form).id}", status_code=303)


create_api = api_action(_create_api)
create_form = form_action(_create_form)
items_api = api_action(_items_api)
items_form = form_action(_items_form)
create_api.route_options = {"summary": "Create a collection", "tags": ["community"]}  # type: ignore[attr-defined]
items_api.route_options = {"summary": "Add a paper to a collection, or remove it", "tags": ["community"]}  # type: ignore[attr-defined]
