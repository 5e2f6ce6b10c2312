"""Search on the web: the ``/search`` page (results as feed cards, with filters), the HF-shaped
``/api/papers/search`` and ``/api/papers/{id}/similar``. The ranking itself is ``search.hybrid``'s."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from paperfeed.search.hybrid import Searcher
from paperfeed.search.keyword import Filters
from paperfeed.web.citing import cited
from paperfeed.web.kit import DB, Refused, cards_math, extras, paper_or_404, render, voted
from paperfeed.web.params import PaperId, documented, page_size
from paperfeed.web.serialize import DailyPaperDoc, SafeJSONResponse, daily_item_json

QUERY_MAX = 500
SEARCH_MAX = 120  # Hugging Face's own bound
Text = Annotated[str | None, Query()]


def _searcher(request: Request) -> Searcher:
    searcher: Searcher = request.app.state.searcher
    return searcher


def _filters(since: str | None, until: str | None, category: str | None, organization: str | None) -> Filters:
    def day(name: str, value: str | None) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name}={value!r} is not a date (YYYY-MM-DD)") from None

    return Filters(day("since", since), day("until", until), category or None, organization or None)


def search_citation(
    request: Request,
    fmt: str,
    q: Text = None,
    since: Text = None,
    until: Text = None,
    category: Text = None,
    organization: Text = None,
) -> Response:
    """The results ``/search`` shows for these parameters, as one BibTeX, RIS or CSL-JSON file."""
    query = (q or "").strip()
    try:
        if len(query) > QUERY_MAX:
            raise ValueError(f"q is {len(query)} characters long (at most {QUERY_MAX})")
        filters = _filters(since, until, category, organization)
    except ValueError as exc:
        raise Refused(400, str(exc)) from exc
    size = int(request.app.state.settings.page_size)
    found = [r.paper for r in _searcher(request).search(query, size, filters)] if query else []
    return cited(request, found, fmt, "search")


def search_page(
    request: Request,
    q: Text = None,
    since: Text = None,
    until: Text = None,
    category: Text = None,
    organization: Text = None,
) -> Response:
    """Hybrid search with filters; an empty box shows the form only."""
    query = (q or "").strip()
    try:
        if len(query) > QUERY_MAX:
            raise ValueError(f"q is {len(query)} characters long (at most {QUERY_MAX})")
        filters = _filters(since, until, category, organization)
    except ValueError as exc:
        raise Refused(400, str(exc)) from exc
    size = int(request.app.state.settings.page_size)
    results = _searcher(request).search(query, size, filters) if query else []
    found = [r.paper for r in results]
    context = {
        "query": query,
        "filters": filters,
        "papers": found,
        "voted": voted(request, found),
        "back": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "math": cards_math(found),
    }
    return render(request, "search.html", context)


@documented("Search papers", "papers", model=list[DailyPaperDoc])
def api_search(
    request: Request,
    q: Annotated[
        str,
        Query(
            max_length=QUERY_MAX,
            description="Words or a description of what you look for (matched by words and by meaning), "
            "a title, or an arXiv id (which then comes first).",
            examples=["agents that discover skills without rewards"],
        ),
    ] = "",
    limit: Annotated[
        int | None,
        Query(ge=1, le=SEARCH_MAX, description=f"Results (default 50, at most {SEARCH_MAX}, as on HF)."),
    ] = None,
    since: Annotated[
        str | None, Query(description="Only papers on the feed from this day (YYYY-MM-DD).")
    ] = None,
    until: Annotated[str | None, Query(description="Only papers on the feed up to this day.")] = None,
    category: Annotated[str | None, Query(description="Only this arXiv category, e.g. cs.CL.")] = None,
    organization: Annotated[str | None, Query(description="Only this organization (short name).")] = None,
) -> Response:
    """Hybrid search: BM25 over title, abstract and authors fused with dense-embedding similarity, best
    match first, as items shaped like ``/api/daily_papers``'s. An empty query finds nothing."""
    if not q.strip():
        return SafeJSONResponse([])
    try:
        filters = _filters(since, until, category, organization)
    except ValueError as exc:
        raise Refused(400, str(exc)) from exc
    found = _searcher(request).search(q, page_size(request, limit), filters)
    more = extras(request, [r.paper for r in found])
    return SafeJSONResponse([daily_item_json(r.paper, more) for r in found])


@documented("Similar papers", "papers", model=list[DailyPaperDoc], not_found=True)
def api_similar(
    request: Request,
    db: DB,
    paper_id: PaperId,
    limit: Annotated[int, Query(ge=1, le=50, description="How many (default 6).")] = 6,
) -> Response:
    """Papers nearest in meaning to this one (by their embeddings), nearest first."""
    found = paper_or_404(db, paper_id)
    similar = _searcher(request).similar(found.id, limit)
    return SafeJSONResponse([daily_item_json(r.paper) for r in similar])
