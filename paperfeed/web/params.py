"""What the API and feed routes share: the query parameters they declare alike, the period and page size
they resolve alike, and ``documented``, the one way a handler attaches its OpenAPI details (summary, tag,
documented answers), which ``web.routes.register`` passes on to FastAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from starlette.requests import Request
from starlette.responses import Response

from paperfeed.feed import Period, parse_period
from paperfeed.storage import Database
from paperfeed.storage import papers as paper_store
from paperfeed.storage.papers import SORTS, Sort
from paperfeed.web.serialize import ErrorDoc

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
PaperId = Annotated[
    str,
    Path(
        description="arXiv id (2607.01234, hep-th/9901001; a version suffix is ignored) or card-<hex>.",
        examples=["2607.07386"],
    ),
]
FeedSort = Literal["upvotes", "published", "trending"]
SortParam = Annotated[
    FeedSort, Query(description="; ".join(f"{s.name}: {s.help}" for s in SORTS.values()) + ".")
]
ApiSort = Literal["publishedAt", "trending", "upvotes"]
API_SORTS: dict[str, Sort] = {s.api_name: s.name for s in SORTS.values()}
ApiSortParam = Annotated[
    ApiSort,
    Query(
        description="; ".join(f"{s.api_name}: {s.help}" for s in SORTS.values())
        + " (publishedAt is Hugging Face's default; upvotes is the order of paperfeed's pages)."
    ),
]


def resolve_period(db: Database, date: str | None, week: str | None, month: str | None) -> Period:
    """The requested period, or the latest day that has papers. Raises BadPeriod naming the parameter."""
    if date or week or month:
        return parse_period(date, week, month)
    return parse_period(default=paper_store.latest_day(db))


def page_size(request: Request, limit: int | None) -> int:
    return limit if limit is not None else min(int(request.app.state.settings.page_size), MAX_LIMIT)


Responses = dict[int | str, dict[str, Any]]  # OpenAPI "responses" of one route
ERROR_DOCS: Responses = {
    400: {"model": ErrorDoc, "description": "A parameter is invalid; the message names it."},
    404: {"model": ErrorDoc, "description": "No such object; the message names it."},
    # FastAPI would otherwise document a 422 that these routes never send.
    "4XX": {"model": ErrorDoc, "description": "Every client error has this body."},
}


def documented(
    summary: str,
    tag: str,
    *,
    model: Any = None,
    response_class: type[Response] | None = None,
    not_found: bool = False,
) -> Callable[[Any], Any]:
    """Attach the OpenAPI details that ``web.routes.register`` passes on to ``add_api_route``."""
    responses: Responses = {code: ERROR_DOCS[code] for code in (400, 404, "4XX") if code != 404 or not_found}
    if response_class is not None:
        # FastAPI files a documented model under the route's media type; errors are JSON whatever it is.
        json_error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorDoc"}}}
        responses = {
            code: {"description": doc["description"], "content": json_error}
            for code, doc in responses.items()
        }
    if model is not None:
        responses[200] = {"model": model}
    options: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if response_class is not None:
        options["response_class"] = response_class

    def mark(handler: Any) -> Any:
        handler.route_options = options
        return handler

    return mark
