"""A member's notifications: the ``/notifications`` page (newest first, unread marked, mark one or all
read, which kinds to get) and the API, ``GET /api/notifications``, ``POST /api/notifications/read``,
``GET``/``PUT /api/notifications/settings``. One list feeds both (``storage/notifications.py``); the
header's unread badge is the kit's (``kit.render``).

Nothing here makes notifications: comments make theirs as they are written, the worker's
``notifications`` job those of new papers (``paperfeed/notifications.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response

from paperfeed import notifications as notify
from paperfeed.models import Notification, User
from paperfeed.storage import notifications as store
from paperfeed.web.bodies import (
    api_action,
    form_action,
)
from paperfeed.web.kit import (
    DB,
    MAX_ROW_ID,
    Me,
    Refused,
    database,
    redirect,
    render,
    row_id,
    viewer,
)
from paperfeed.web.params import documented
from paperfeed.web.serialize import SafeJSONResponse, timestamp

PAGE = 50
MAX_IDS = 500  # ids one mark-read request may name


class NotificationDoc(BaseModel):
    id: int
    kind: str = Field(description="reply, mention, claimed (a comment on a paper you claimed) or author.")
    text: str = Field(description="The sentence the page shows, e.g. 'ada replied to your comment on …'.")
    excerpt: str = Field(description="The comment's start, or the followed author's name as on the paper.")
    paperId: str | None
    paperTitle: str | None
    commentId: int | None
    actor: str | None = Field(description="The handle of the member who caused it (null for a new paper).")
    url: str = Field(description="Where it leads: the comment on its paper's page, or the paper.")
    createdAt: str
    readAt: str | None


class ReadBody(BaseModel):
    ids: list[int] = Field([], description="Notifications to mark read.", max_length=MAX_IDS)
    all: bool = Field(False, description="true: mark every notification read.")


class ReadDoc(BaseModel):
    marked: int = Field(description="How many were unread.")
    unread: int = Field(description="Unread notifications left.")


class SettingsDoc(BaseModel):
    reply: bool = True
    mention: bool = True
    claimed: bool = True
    author: bool = True


def notification_json(x: Notification, base_url: str) -> dict[str, Any]:
    return {
        "id": x.id,
        "kind": x.kind,
        "text": notify.sentence(x),
        "excerpt": x.text,
        "paperId": x.paper_id,
        "paperTitle": x.paper_title,
        "commentId": x.comment_id,
        "actor": x.actor,
        "url": base_url.rstrip("/") + notify.path(x),
        "createdAt": timestamp(x.created_at),
        "readAt": timestamp(x.read_at) if x.read_at else None,
    }


def _member(me: User | None) -> User:
    if me is None:
        raise Refused(401, "sign in first (or send Authorization: Bearer <token>)")
    return me


# -- API ---------------------------------------------------------------------------------------------------


@documented("Your notifications", "notifications", model=list[NotificationDoc], member=True)
def list_api(
    request: Request,
    db: DB,
    me: Me,
    unread: Annotated[bool, Query(description="Only the unread ones.")] = False,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many (default 50).")] = PAGE,
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_ROW_ID, description="Where the previous page ended (its Link header).")
    ] = None,
) -> Response:
    """The signed-in member's notifications, newest first; ``Link: <…>; rel="next"`` while there are
    more, ``X-Unread-Count`` the unread ones in all."""
    user = _member(me)
    found = store.notifications_of(db, user.id, limit, unread, cursor)
    base_url = request.app.state.settings.base_url
    headers = {"X-Unread-Count": str(store.unread_count(db, user.id)), "Cache-Control": "private, no-store"}
    if len(found) == limit:
        here = URL(base_url.rstrip("/") + request.url.path)
        following = here.include_query_params(cursor=found[-1].id, limit=limit, unread=str(unread).lower())
        headers["Link"] = f'<{following}>; rel="next"'
    return SafeJSONResponse([notification_json(x, base_url) for x in found], headers=headers)


def _ids(value: Any) -> list[int]:
    if not isinstance(value, list) or len(value) > MAX_IDS:
        raise Refused(400, f"ids: a list of at most {MAX_IDS} notification ids")
    return [row_id(v, "ids") for v in value]


@documented("Mark notifications read", "notifications", model=ReadDoc, member=True, body=ReadBody)
@api_action
def read_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """{"ids": [1, 2]} marks those read, {"all": true} every one; ids that are not yours change nothing."""
    db = database(request)
    every = body.get("all", False)
    if not isinstance(every, bool):
        raise Refused(400, "all: true or false")
    ids = _ids(body["ids"]) if "ids" in body else None
    if not every and ids is None:
        raise Refused(400, 'give {"ids": [...]} or {"all": true}')
    marked = store.mark_read(db, user.id, None if every else ids, datetime.now(UTC))
    return SafeJSONResponse({"marked": marked, "unread": store.unread_count(db, user.id)})


def _settings_json(muted: set[str]) -> dict[str, bool]:
    return {kind: kind not in muted for kind in notify.KINDS}


@documented("Which kinds of notification you get", "notifications", model=SettingsDoc, member=True)
def settings_api(db: DB, me: Me) -> Response:
    """Each kind, true when on. A kind switched off is neither made, listed, counted nor emailed."""
    return SafeJSONResponse(_settings_json(store.muted_kinds(db, _member(me).id)))


@documented(
    "Switch kinds of notification on or off",
    "notifications",
    model=SettingsDoc,
    member=True,
    body=SettingsDoc,
)
@api_action
def put_settings_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """{"mention": false, …}: the kinds named are set, the others stay as they were."""
    db = database(request)
    unknown = [k for k in body if k not in notify.KINDS]
    if not body or unknown or not all(isinstance(v, bool) for v in body.values()):
        raise Refused(400, f"give kinds ({', '.join(notify.KINDS)}) with true or false")
    muted = store.muted_kinds(db, user.id)
    muted = (muted - {k for k, on in body.items() if on}) | {k for k, on in body.items() if not on}
    store.set_muted(db, user.id, muted)
    return SafeJSONResponse(_settings_json(muted))


# -- the page ----------------------------------------------------------------------------------------------


def notifications_page(request: Request) -> Response:
    user = viewer(request)
    if user is None:
        return redirect("/login?next=/notifications")
    db = database(request)
    unread = request.query_params.get("unread") == "1"
    before = request.query_params.get("before")
    before_id = row_id(before, "before") if before else None
    found = store.notifications_of(db, user.id, PAGE, unread, before_id)
    context = {
        "items": [(x, notify.sentence(x), notify.path(x)) for x in found],
        "unread_only": unread,
        "older": found[-1].id if len(found) == PAGE else None,
        "kinds": notify.KINDS,
        "muted": store.muted_kinds(db, user.id),
    }
    return render(request, "notifications.html", context)


@form_action
def read_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """ "Mark read" beside one (``id``), or "Mark all read" (``all``)."""
    db = database(request)
    if form.get("all"):
        store.mark_read(db, user.id, None, datetime.now(UTC))
    else:
        store.mark_read(db, user.id, [row_id(form.get("id"), "id")], datetime.now(UTC))
    return redirect("/notifications")


@form_action
def settings_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """The switches: a checkbox per kind (``on_<kind>``); a kind left unchecked is off."""
    store.set_muted(database(request), user.id, {k for k in notify.KINDS if not form.get(f"on_{k}")})
    return redirect("/notifications#settings")
