"""Request bodies and state-changing handlers, part of the web kit: forms and JSON bodies read under a size
cap and a time limit, and the ``form_action`` / ``api_action`` wrappers every state-changing handler goes
through (body, signed-in member, CSRF, errors), which hop to a thread of their own since storage is
synchronous.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
import orjson
from anyio.lowlevel import RunVar
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from paperfeed.models import User
from paperfeed.web import csrf
from paperfeed.web.kit import Refused, require_member

MAX_BODY = 64 * 1024  # every form and JSON body paperfeed accepts fits in this
BODY_SECONDS = 10.0  # 64 KiB arrive well within this on any link a person uses


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` (nothing larger is ever held) and
    (408) when it takes longer than ``BODY_SECONDS`` to arrive, so a slow sender cannot hold a worker."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and len(declared) < 20 and int(declared) > limit:
        raise Refused(413, f"body too large (at most {limit} bytes)")
    body = bytearray()
    try:
        with anyio.fail_after(BODY_SECONDS):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise Refused(413, f"body too large (at most {limit} bytes)")
    except TimeoutError:
        raise Refused(408, f"the body took longer than {BODY_SECONDS:g} s to arrive") from None
    except ClientDisconnect:
        # Nobody is left to read an answer; a short one, and no traceback in the log.
        raise Refused(400, "the client closed the connection before sending the whole body") from None
    return bytes(body)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form, or multipart/form-data (RFC 8058 one-click posts may be either), first value
    of each field."""
    body = await read_body(request)
    kind = request.headers.get("content-type", "")
    pairs: list[tuple[str, str]] = []
    if kind.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {kind}\r\n\r\n".encode() + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                pairs.append((name, str(part.get_content()).strip()))
    elif body and kind.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise Refused(415, "forms must be sent as application/x-www-form-urlencoded")
    else:
        pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


async def read_json(request: Request) -> dict[str, Any]:
    """A JSON object body (an empty body is ``{}``)."""
    body = await read_body(request)
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
Handler = Callable[[Request], Awaitable[Response]]

# State-changing actions (the member's lookup included) run on threads of their own, at most WRITERS at
# once: a burst of writes, which queue on the database's write lock anyway, then waits here as coroutines
# instead of taking every thread of the shared pool that pages and API reads need.
WRITERS = 8
_writers: RunVar[anyio.CapacityLimiter] = RunVar("paperfeed_writers")


async def _act(action: Action, request: Request, csrf_sent: str | None, data: dict[str, Any]) -> Response:
    try:
        limiter = _writers.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(WRITERS)
        _writers.set(limiter)

    def run() -> Response:
        return action(request, require_member(request, csrf_sent), data)

    return await anyio.to_thread.run_sync(run, limiter=limiter)


def api_action(action: Action) -> Handler:
    """An API handler that changes state: JSON body, signed-in member (token, or cookie + X-CSRF-Token)."""

    async def handler(request: Request) -> Response:
        # A DELETE may say what it removes in a JSON body too (DELETE /api/follows).
        sends_json = request.headers.get("content-type", "").startswith("application/json")
        reads = request.method in ("POST", "PATCH", "PUT") or (request.method == "DELETE" and sends_json)
        body = await read_json(request) if reads else {}
        return await _act(action, request, request.headers.get(csrf.HEADER), body)

    handler.__name__ = action.__name__.lstrip("_")
    handler.__doc__ = action.__doc__
    return handler


def form_action(action: Action) -> Handler:
    """A form handler: urlencoded form with the CSRF field and a signed-in member."""

    async def handler(request: Request) -> Response:
        form: dict[str, Any] = await read_form(request)
        return await _act(action, request, form.get(csrf.FIELD), form)

    handler.__name__ = action.__name__.lstrip("_")
    handler.__doc__ = action.__doc__
    return handler
