"""What the API and feed routes share: the query parameters they declare alike, the period and page size
they resolve alike, and ``documented``, the one way a handler attaches its OpenAPI details (summary, tag,
documented answers), which ``web.routes.register`` passes on to FastAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from paperfeed.feed import ListName, Period, parse_categories, parse_list, parse_period, selection_of
from paperfeed.storage import Database, lists
from paperfeed.storage.lists import EVERYTHING, SORTS, Selection, Sort
from paperfeed.web.schemas import (
    ErrorDoc,
)

MAX_LIMIT = 100

DateParam = Annotated[
    str | None,
    Query(
        description="Day in ISO format (YYYY-MM-DD): the papers that entered the daily list that day. "
        "Without date, week or month: the latest day that has papers.",
        examples=["2026-08-20"],
    ),
]
WeekParam = Annotated[
    str | None, Query(description="ISO week (YYYY-Www), e.g. 2026-W34.", examples=["2026-W34"])
]
MonthParam = Annotated[str | None, Query(description="Month (YYYY-MM), e.g. 2026-08.", examples=["2026-08"])]
LimitParam = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_LIMIT,
        description=f"Papers per page (default: the site's page size, 50; at most {MAX_LIMIT}).",
    ),
]
ListParam = Annotated[
    Literal["curated", "all"] | None,
    Query(
        alias="list",
        description="curated: papers members submitted or curators picked (Hugging Face's list); all: "
        "everything harvested. Default: the site's PAPERFEED_DEFAULT_LIST.",
    ),
]
CategoryParam = Annotated[
    str | None,
    Query(
        max_length=500,
        description="arXiv categories, comma-separated: the papers of any of them (cs.CL,cs.LG).",
        examples=["cs.CL,cs.LG"],
    ),
]
PaperId = Annotated[
    str,
    Path(
        description="arXiv id (2607.01234, hep-th/9901001; a version suffix is ignored) or card-<hex>.",
        examples=["2607.07386"],
    ),
]
FeedSort = Literal["upvotes", "published", "trending", "stars"]
SortParam = Annotated[
    FeedSort, Query(description="; ".join(f"{s.name}: {s.help}" for s in SORTS.values()) + ".")
]
ApiSort = Literal["publishedAt", "trending", "upvotes", "githubStars"]
API_SORTS: dict[str, Sort] = {s.api_name: s.name for s in SORTS.values()}
ApiSortParam = Annotated[
    ApiSort,
    Query(
        description="; ".join(f"{s.api_name}: {s.help}" for s in SORTS.values())
        + " (publishedAt is Hugging Face's default; upvotes is the order of paperfeed's pages)."
    ),
]


def resolve_period(
    db: Database, date: str | None, week: str | None, month: str | None, selection: Selection = EVERYTHING
) -> Period:
    """The requested period, or the latest day on which the selection has papers. Raises BadPeriod naming
    the parameter."""
    if date or week or month:
        return parse_period(date, week, month)
    return parse_period(default=lists.latest_day(db, selection))


def resolve_selection(
    request: Request, list_name: str | None, category: str | None, submitter: str | None = None
) -> Selection:
    """The list (``list=``, else the site's ``default_list``) in the categories asked for. Raises
    BadPeriod naming the parameter."""
    default: ListName = request.app.state.settings.default_list
    return selection_of(parse_list(list_name, default), parse_categories(category), submitter)


def page_size(request: Request, limit: int | None) -> int:
    return limit if limit is not None else min(int(request.app.state.settings.page_size), MAX_LIMIT)


Responses = dict[int | str, dict[str, Any]]  # OpenAPI "responses" of one route


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorDoc, "description": description}


ERROR_DOCS: Responses = {
    400: _error("A parameter or a field of the body is invalid; the message names it."),
    401: _error("Sign in first: send Authorization: Bearer <token> (or a session cookie and X-CSRF-Token)."),
    403: _error("Not allowed for this member, or a cookie request without its CSRF token."),
    404: _error("No such object; the message names it."),
    408: _error("The body took too long to arrive."),
    409: _error("Conflicts with what is stored (already submitted, a name taken); the message says which."),
    413: _error("The body is larger than 64 KiB."),
    415: _error("The body is not in a type this operation reads."),
    429: _error("Rate limit reached; Retry-After says when to try again."),
    # FastAPI would otherwise document a 422 that these routes never send.
    "4XX": _error("Every client error has this body."),
}


def documented(
    summary: str,
    tag: str,
    *,
    model: Any = None,
    response_class: type[Response] | None = None,
    not_found: bool = False,
    member: bool = False,
    limited: bool = False,
    body: type[BaseModel] | None = None,
    status: int = 200,
    also: dict[int, Any] | None = None,
) -> Callable[[Any], Any]:
    """Attach the OpenAPI details that ``web.routes.register`` passes on to ``add_api_route``: the answer
    (``model`` with ``status``; ``also``: other successful answers by status), the errors the operation can give (``not_found``; ``member`` for an
    operation that needs a signed-in member and is rate-limited; ``limited``, rate-limited per client; a
    ``body`` can be too large or malformed)
    and the JSON body it reads (``body``: the kit reads it under its cap, so FastAPI only documents it)."""
    codes: list[int | str] = [400, "4XX"]
    codes += [404] if not_found else []
    codes += [401, 403, 429] if member else []
    codes += [429] if limited and not member else []
    codes += [408, 409, 413, 415] if body is not None else []
    responses: Responses = {code: ERROR_DOCS[code] for code in sorted(codes, key=str)}
    if response_class is not None:
        # FastAPI files a documented model under the route's media type; errors are JSON whatever it is.
        json_error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorDoc"}}}
        responses = {
            code: {"description": doc["description"], "content": json_error}
            for code, doc in responses.items()
        }
    if model is not None:
        responses[status] = {"model": model, "description": "Done." if status != 200 else "Found."}
    for code, other in (also or {}).items():
        responses[code] = {"model": other, "description": "Accepted." if code == 202 else "Done."}
    options: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if status != 200:
        options["status_code"] = status
    if response_class is not None:
        options["response_class"] = response_class
    if body is not None:
        options["openapi_extra"] = {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body.model_json_schema()}},
            }
        }

    def mark(handler: Any) -> Any:
        handler.route_options = options
        return handler

    return mark
