"""The JSON API, shaped like Hugging Face's papers API so ``huggingface_hub`` works unchanged with
``HF_ENDPOINT`` pointing here: ``/api/daily_papers``, ``/api/papers/{id}``, ``/api/papers/search`` and
``/papers/{id}.md`` (search is in ``web/search.py``).

Handlers only read parameters and shape answers; the data comes from ``paperfeed.feed``, ``storage.papers``
and ``search``. Every error is ``{"error": "..."}`` naming the parameter, the shape
``huggingface_hub``'s ``hf_raise_for_status`` shows to the user. Handlers are plain ``def``: storage is
synchronous, so FastAPI runs them in its thread pool instead of blocking the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Path, Query, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from paperfeed.feed import BadPeriod, Period, feed_page, find_paper, parse_period
from paperfeed.storage import Database
from paperfeed.storage import papers as paper_store
from paperfeed.storage.papers import Sort
from paperfeed.web.cache import cached
from paperfeed.web.serialize import (
    DailyPaperDoc,
    ErrorDoc,
    PaperDetailDoc,
    SafeJSONResponse,
    daily_item_json,
    paper_detail_json,
)
from paperfeed.web.serialize import paper_markdown as render_markdown

MAX_LIMIT = 100
# HF's two sort orders, plus the pages' default order (by votes) as a paperfeed extension.
API_SORTS: dict[str, Sort] = {"publishedAt": "published", "trending": "trending", "upvotes": "upvotes"}
ApiSort = Literal["publishedAt", "trending", "upvotes"]

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

Responses = dict[int | str, dict[str, Any]]  # OpenAPI "responses" of one route
ERROR_DOCS: Responses = {
    400: {"model": ErrorDoc, "description": "A parameter is invalid; the message names it."},
    404: {"model": ErrorDoc, "description": "No paper with this id."},
    # FastAPI would otherwise document a 422 that these routes never send.
    "4XX": {"model": ErrorDoc, "description": "Every client error has this body."},
}


class MarkdownResponse(Response):
    media_type = "text/markdown"


def route(
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


def error(status: int, message: str) -> SafeJSONResponse:
    return SafeJSONResponse({"error": message}, status_code=status)


async def request_validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI answers a malformed parameter with 422 ``{"detail": [...]}``; the API and the feeds answer
    400 ``{"error": "..."}`` like HF. Other paths keep FastAPI's default."""
    if not isinstance(exc, RequestValidationError):  # registered for that type only
        raise exc
    path = request.url.path
    if not (path.startswith("/api/") or path.endswith(".md") or path.startswith("/feed.")):
        return await request_validation_exception_handler(request, exc)
    messages = []
    for err in exc.errors():
        name = err.get("loc", ("", "?"))[-1]
        shown = repr(err.get("input"))[:80]
        messages.append(f"invalid value for '{name}' ({shown}): {err.get('msg', 'invalid')}")
    return error(400, "; ".join(messages) or "invalid request")


def resolve_period(db: Database, date: str | None, week: str | None, month: str | None) -> Period:
    """The requested period, or the latest day that has papers. Raises BadPeriod naming the parameter."""
    if date or week or month:
        return parse_period(date, week, month)
    return parse_period(default=paper_store.latest_day(db))


def page_size(request: Request, limit: int | None) -> int:
    return limit if limit is not None else min(int(request.app.state.settings.page_size), MAX_LIMIT)


@route("List daily papers", "papers", model=list[DailyPaperDoc])
@cached
def daily_papers(
    request: Request,
    p: Annotated[int, Query(ge=0, le=100_000, description="Page number, from 0.")] = 0,
    limit: LimitParam = None,
    date: DateParam = None,
    week: WeekParam = None,
    month: MonthParam = None,
    submitter: Annotated[str | None, Query(description="Only papers submitted by this member.")] = None,
    sort: Annotated[
        ApiSort,
        Query(
            description="publishedAt: newest arXiv publication first (HF's default); trending: votes and "
            "comments against age; upvotes: most votes first (paperfeed's page order)."
        ),
    ] = "publishedAt",
) -> Response:
    """The daily list, as on HF's ``/api/daily_papers``: a JSON array of items, each with the paper nested
    under ``paper``. ``X-Total-Count`` gives the number of papers in the period and ``Link`` the next page."""
    db: Database = request.app.state.db
    try:
        period = resolve_period(db, date, week, month)
    except BadPeriod as exc:
        return error(400, str(exc))
    size = page_size(request, limit)
    page = feed_page(db, period, API_SORTS[sort], p, size, submitter or None)
    headers = {"X-Total-Count": str(page.total)}
    if page.has_more:
        headers["Link"] = f'<{request.url.include_query_params(p=p + 1, limit=size)}>; rel="next"'
    return SafeJSONResponse([daily_item_json(paper) for paper in page.papers], headers=headers)


PaperId = Annotated[
    str,
    Path(
        description="arXiv id (2607.01234, hep-th/9901001; a version suffix is ignored) or card-<hex>.",
        examples=["2607.07386"],
    ),
]


@route("Get a paper", "papers", model=PaperDetailDoc, not_found=True)
def paper(request: Request, paper_id: PaperId) -> Response:
    """One paper, as on HF's ``/api/papers/{id}``: the paper object with its submission and counters."""
    found = find_paper(request.app.state.db, paper_id)
    if found is None:
        return error(404, f"paper {paper_id!r} not found")
    return SafeJSONResponse(paper_detail_json(found))


@route("Read a paper as Markdown", "papers", response_class=MarkdownResponse, not_found=True)
def paper_markdown(request: Request, paper_id: PaperId) -> Response:
    """Title, authors, links and abstract as Markdown, what ``huggingface_hub``'s ``read_paper`` returns."""
    found = find_paper(request.app.state.db, paper_id)
    if found is None:
        return error(404, f"paper {paper_id!r} not found")
    body = render_markdown(found, request.app.state.settings.base_url)
    return MarkdownResponse(body)
