"""A member's webhook endpoints: the ``/settings/webhooks`` page (register, delete, re-enable, each
endpoint's last status and latest deliveries) and ``GET/POST /api/webhooks``, ``DELETE
/api/webhooks/{id}``. The secret that signs deliveries is shown once, in the answer that created it.

Nothing here sends anything: the worker's 'webhooks' job finds events and delivers them
(paperfeed/webhooks/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from paperfeed.models import User, Webhook
from paperfeed.storage import webhooks as store
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
    viewer,
)
from paperfeed.web.params import documented
from paperfeed.web.schemas import (
    WebhookBody,
    WebhookDoc,
)
from paperfeed.web.serialize import (
    SafeJSONResponse,
    timestamp,
)
from paperfeed.webhooks import events


def webhook_json(hook: Webhook, secret: str | None = None) -> dict[str, Any]:
    found = {
        "id": hook.id,
        "url": hook.url,
        "events": list(hook.events),
        "categories": list(hook.categories),
        "format": hook.format,
        "createdAt": timestamp(hook.created_at),
        "enabled": hook.disabled_at is None,
        "failures": hook.failures,
        "lastStatus": hook.last_status,
        "lastAt": timestamp(hook.last_at) if hook.last_at else None,
    }
    return {**found, "secret": secret} if secret else found


def _create(request: Request, user: User, data: dict[str, Any]) -> tuple[Webhook, str]:
    settings = request.app.state.settings
    db = database(request)
    try:
        url = events.check_url(str(data.get("url") or ""), settings.webhooks_allow_private)
        chosen, categories, fmt = events.check_events(
            _list(data.get("events")),
            _list(data.get("categories")),
            data.get("format") or "json",
            user.is_admin,
        )
    except events.BadWebhook as exc:
        raise Refused(400, str(exc)) from exc
    if store.count_user_webhooks(db, user.id) >= events.MAX_PER_MEMBER:
        raise Refused(409, f"at most {events.MAX_PER_MEMBER} webhooks per member: delete one first")
    secret = events.new_secret()
    return store.create(db, user.id, url, secret, chosen, categories, fmt, datetime.now(UTC)), secret


def _list(value: Any) -> list[Any]:
    """A list from JSON, or a form's comma- or space-separated text."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if value is None:
        return []
    raise Refused(400, "expected a list")


# -- API ---------------------------------------------------------------------------------------------------


@documented("Your webhook endpoints", "webhooks", model=list[WebhookDoc], member=True)
def list_api(request: Request, db: DB, me: Me) -> Response:
    """The signed-in member's endpoints, with their last delivery's status (secrets are never shown again)."""
    if me is None:
        raise Refused(401, "sign in first (or send Authorization: Bearer <token>)")
    return SafeJSONResponse([webhook_json(h) for h in store.user_webhooks(db, me.id)])


@documented(
    "Register a webhook endpoint", "webhooks", model=WebhookDoc, member=True, body=WebhookBody, status=201
)
@api_action
def create_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Register an endpoint: {"url", "events", "categories", "format"}. 201 with the endpoint and its
    signing secret, shown only here."""
    hook, secret = _create(request, user, body)
    return SafeJSONResponse(webhook_json(hook, secret), status_code=201)


@documented("Delete a webhook endpoint", "webhooks", model=WebhookDoc, member=True, not_found=True)
@api_action
def delete_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Delete one of your endpoints (and its pending deliveries)."""
    hook_id = int(request.path_params["webhook_id"])
    found = store.webhook(database(request), hook_id)
    if found is None or found.user_id != user.id or not store.delete(database(request), hook_id, user.id):
        raise Refused(404, f"you have no webhook {hook_id}")
    return SafeJSONResponse(webhook_json(found))


# -- the page ----------------------------------------------------------------------------------------------


def _page(request: Request, user: User, status: int = 200, **extra: object) -> Response:
    db = database(request)
    hooks = store.user_webhooks(db, user.id)
    context = {
        "hooks": hooks,
        "deliveries": {h.id: store.deliveries(db, h.id, 5) for h in hooks},
        "event_names": {
            k: v for k, v in events.EVENTS.items() if user.is_admin or k not in events.ADMIN_EVENTS
        },
        "formats": events.FORMATS,
        "created": None,
        "error": None,
    }
    return render(request, "webhooks.html", {**context, **extra}, status)


def webhooks_page(request: Request) -> Response:
    user = viewer(request)
    if user is None:
        return redirect("/login?next=/settings/webhooks")
    return _page(request, user)


@form_action
def create_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """The form: the events are checkboxes (one field each, ``event_<type>``)."""
    data = {**form, "events": [e for e in events.EVENTS if form.get(f"event_{e}")]}
    try:
        hook, secret = _create(request, user, data)
    except Refused as exc:
        if exc.status != 400 and exc.status != 409:
            raise
        return _page(request, user, exc.status, error=exc.message)
    return _page(request, user, 201, created=(hook, secret))


@form_action
def change_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """Delete an endpoint, or re-enable a disabled one (``action`` = delete | enable)."""
    hook_id = int(request.path_params["hook_id"])
    db = database(request)
    done = (
        store.enable(db, hook_id, user.id)
        if form.get("action") == "enable"
        else store.delete(db, hook_id, user.id)
    )
    if not done:
        raise Refused(404, f"you have no webhook {hook_id}")
    return redirect("/settings/webhooks")
