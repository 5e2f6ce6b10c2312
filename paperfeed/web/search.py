"""Search on the web: the ``/search`` page (results as feed cards, with filters, matched words marked),
the HF-shaped ``/api/papers/search`` and ``/api/papers/{id}/similar``. The ranking, the relevance floor
and the count are ``search.hybrid``'s; the marks ``search.highlight``'s. Both searches are rate-limited
per client (``rate_search``): a search costs the model's time, a feed page almost nothing. Similar papers
are not: they read a stored vector and walk the graph, with no model to run."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import Query, Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from paperfeed import follows
from paperfeed.models import Paper
from paperfeed.search import highlight
from paperfeed.search.hybrid import Searcher
from paperfeed.search.keyword import Filters
from paperfeed.tex import text_mode
from paperfeed.web import limits, remembered
from paperfeed.web.citing import cited
from paperfeed.web.kit import DB, Refused, cards_math, extras, following, paper_or_404, render, viewer, voted
from paperfeed.web.params import PaperId, documented, page_size
from paperfeed.web.remembered import Bodies
from paperfeed.web.schemas import (
    DailyPaperDoc,
    SearchItemDoc,
)
from paperfeed.web.serialize import (
    SafeJSONResponse,
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
    searcher, size = _searcher(request), page_size(request, limit)
    # A reader who is not signed in gets the JSON written for the first who asked (web/remembered.py):
    # usually answered before routing (RememberedSearches), here when that could not (a rate-limit
    # reservation to write, an index to catch up first).
    bodies: Bodies = request.app.state.search_bodies
    key = searcher.answer_key(q, size, filters) if bodies.enabled and viewer(request) is None else None
    accept = request.headers.get("accept-encoding", "")
    if key is not None and (kept := bodies.get(key)) is not None:
        return remembered.response(kept, accept)
    found = searcher.find(q, size, filters)
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
    if key is not None:  # kept no longer than the answer it was written from
        kept = bodies.put(key, bytes(response.body), searcher.answers.expires(key))
        return remembered.response(kept, accept)
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


# -- repeats answered before routing ----------------------------------------------------------------------

_API_PATH = "/api/papers/search"
_PARAMETERS = frozenset({"q", "limit", "since", "until", "category", "organization"})
_SESSION = b"__Host-session="  # web/auth.py's cookie, as CachedPages looks for it


class RememberedSearches:
    """ASGI middleware: answers ``/api/papers/search`` from the kept JSON (web/remembered.py) on the event
    loop, without routing, parameter models or a hop to the thread pool, when the reader is not signed in,
    the parameters are plainly valid, the rate limit can be counted from this worker's memory and the
    indexes need no catch-up first. Anything else, and any answer not kept, goes on to ``api_search``,
    which answers it as before. A repeat then costs little more than the HTTP round, and waits for no
    search another request is running."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == _API_PATH:
            answer = _from_memory(scope)
            if answer is not None:
                body, headers = answer
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _from_memory(scope: Scope) -> tuple[bytes, list[tuple[bytes, bytes]]] | None:
    """The kept answer to this request and its headers, or None when ``api_search`` must answer."""
    accept = b""
    for name, value in scope["headers"]:
        if name == b"authorization" or (name == b"cookie" and _SESSION in value):
            return None  # maybe signed in: the answer may say what they upvoted
        if name == b"accept-encoding":
            accept = value
    request = Request(scope)
    bodies: Bodies = request.app.state.search_bodies
    if not bodies.enabled:
        return None
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)  # as Starlette
    given = dict(pairs)
    if len(given) != len(pairs) or not given.keys() <= _PARAMETERS:
        return None  # a parameter twice, or one the handler ignores: its rules, not a copy of them
    q, size = given.get("q", ""), given.get("limit")
    if not q.strip() or len(q) > QUERY_MAX:
        return None
    if size is not None and not (size.isascii() and size.isdigit() and 1 <= int(size) <= SEARCH_MAX):
        return None
    try:
        filters = _filters(*(given.get(name) for name in ("since", "until", "category", "organization")))
    except ValueError:
        return None
    key = _searcher(request).current_key(q, page_size(request, int(size) if size else None), filters)
    kept = bodies.get(key) if key is not None else None
    if kept is None or not limits.limit_from_memory(request, "search", limits.client(request)):
        return None
    return remembered.written(kept, accept.decode("latin-1"))
