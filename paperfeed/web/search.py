"""Search on the web: the ``/search`` page (results as feed cards, with filters, matched words marked),
the HF-shaped ``/api/papers/search`` and ``/api/papers/{id}/similar``. The ranking, the relevance floor
and the count are ``search.hybrid``'s; the marks ``search.highlight``'s. Both searches are rate-limited
per client (``rate_search``): a search costs the model's time, a feed page almost nothing. Similar papers
are not: they read a stored vector and walk the graph, with no model to run."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request
from starlette.responses import RedirectResponse, Response

from paperfeed import follows
from paperfeed.models import Paper
from paperfeed.search import highlight
from paperfeed.search.hybrid import Found, Searcher
from paperfeed.search.keyword import Filters
from paperfeed.search.recent import Recent
from paperfeed.tex import text_mode
from paperfeed.web import limits
from paperfeed.web.citing import cited
from paperfeed.web.kit import DB, Refused, cards_math, extras, following, paper_or_404, render, viewer, voted
from paperfeed.web.params import PaperId, documented, page_size
from paperfeed.web.serialize import (
    DailyPaperDoc,
    SafeJSONResponse,
    SearchItemDoc,
    daily_item_json,
    paper_url,
)

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


def _asked(
    q: str | None, since: str | None, until: str | None, category: str | None, organization: str | None
) -> tuple[str, Filters]:
    """The query and filters of the page's form, checked: 400 naming a bad one."""
    query = (q or "").strip()
    try:
        if len(query) > QUERY_MAX:
            raise ValueError(f"q is {len(query)} characters long (at most {QUERY_MAX})")
        return query, _filters(since, until, category, organization)
    except ValueError as exc:
        raise Refused(400, str(exc)) from exc


def search_citation(
    request: Request,
    fmt: str,
    q: Text = None,
    since: Text = None,
    until: Text = None,
    category: Text = None,
    organization: Text = None,
) -> Response:
    """The results ``/search`` shows for these parameters (the relevance floor and the rate limit alike), as
    one BibTeX, RIS or CSL-JSON file."""
    query, filters = _asked(q, since, until, category, organization)
    papers: list[Paper] = []
    if query:
        limits.limit(request, "search", limits.client(request))
        size = int(request.app.state.settings.page_size)
        papers = [r.paper for r in _searcher(request).find(query, size, filters).results]
    return cited(request, papers, fmt, "search")


def _marks(query: str, papers: list[Paper]) -> dict[str, tuple[list[highlight.Segment], ...]]:
    """Each paper's title and abstract as (text, matched) pieces, as the cards show them."""
    stems = highlight.terms(query)
    return {
        p.id: (
            highlight.segments(text_mode(p.title), stems),
            highlight.segments(text_mode(p.abstract), stems),
        )
        for p in papers
    }


def _saved_search(query: str, filters: Filters) -> str | None:
    """This search as a follow keeps it (``paperfeed/follows.py``): q and its filters, canonical."""
    if not query:
        return None
    given = {"q": query, "category": filters.category, "organization": filters.organization}
    given |= {"since": filters.since.isoformat() if filters.since else None}
    given |= {"until": filters.until.isoformat() if filters.until else None}
    try:
        return follows.normalise("search", urlencode({k: v for k, v in given.items() if v}))[1]
    except follows.BadFollow:  # longer than a follow keeps: the page offers no button
        return None


def search_page(
    request: Request,
    q: Text = None,
    since: Text = None,
    until: Text = None,
    category: Text = None,
    organization: Text = None,
) -> Response:
    """Hybrid search with filters; an empty box shows the form only, an arXiv id of a stored paper opens
    that paper, a query nothing is close to says so."""
    query, filters = _asked(q, since, until, category, organization)
    if query:
        limits.limit(request, "search", limits.client(request))
    size = int(request.app.state.settings.page_size)
    found = _searcher(request).find(query, size, filters) if query else None
    if found and found.exact:
        return RedirectResponse(paper_url("", found.results[0].paper.id), 303)
    papers = [r.paper for r in found.results] if found else []
    saved = _saved_search(query, filters)
    context = {
        "saved_search": saved,
        "following_search": following(request, "search", saved) if saved else False,
        "query": query,
        "filters": filters,
        "papers": papers,
        "total": found.total if found else 0,
        "counted": found.counted if found else True,
        "marks": _marks(query, papers),
        "voted": voted(request, papers),
        "back": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "math": cards_math(papers),
    }
    return render(request, "search.html", context)


@documented("Search papers", "papers", model=list[SearchItemDoc], limited=True)
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
    match first, as items shaped like ``/api/daily_papers``'s, with the query's words marked in
    ``highlightedTitle`` and ``highlightedSummary`` (HTML: the text escaped, matches in ``<mark>``). Only
    papers over the relevance floor: a query nothing is close to finds nothing, and an arXiv id of a stored
    paper finds that paper alone. An empty query finds nothing."""
    if not q.strip():
        return SafeJSONResponse([])
    try:
        filters = _filters(since, until, category, organization)
    except ValueError as exc:
        raise Refused(400, str(exc)) from exc
    limits.limit(request, "search", limits.client(request))
    found = _searcher(request).find(q, page_size(request, limit), filters)
    # An answer the searcher remembered (the same object) is written the same way for every reader who
    # is not signed in: its JSON is kept beside it (rendering 10 papers, their marks and summaries, costs
    # about as much as the search itself at a million papers).
    written: Recent[tuple[Found, bytes]] = request.app.state.search_bodies
    key = (q, id(found))
    anonymous = viewer(request) is None
    if anonymous and (kept := written.get(key)) is not None and kept[0] is found:
        return Response(kept[1], media_type="application/json")
    papers = [r.paper for r in found.results]
    marks = _marks(q, papers)
    more = extras(request, papers)
    response = SafeJSONResponse(
        [
            {
                **daily_item_json(p, more),
                "highlightedTitle": highlight.marked(marks[p.id][0]),
                "highlightedSummary": highlight.marked(marks[p.id][1]),
            }
            for p in papers
        ]
    )
    if anonymous:
        written.put(key, (found, bytes(response.body)))
    return response


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
