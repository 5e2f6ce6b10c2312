"""The JSON API, shaped like Hugging Face's papers API so ``huggingface_hub`` works unchanged with
``HF_ENDPOINT`` pointing here: ``/api/daily_papers``, ``/api/papers`` (every paper, cursor-paged),
``/api/papers/{id}``, ``/api/arxiv/{id}/repos``, ``/api/papers/search`` and ``/papers/{id}.md`` (search is
in ``web/search.py``).

Handlers only read parameters and shape answers; the data comes from ``paperfeed.feed``, ``storage.papers``
and ``search``. Every error is ``{"error": "..."}`` naming the parameter, the shape
``huggingface_hub``'s ``hf_raise_for_status`` shows to the user. Handlers are plain ``def``: storage is
synchronous, so FastAPI runs them in its thread pool instead of blocking the event loop.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query, Request
from starlette.datastructures import URL
from starlette.responses import Response

from paperfeed.feed import BadPeriod, feed_page
from paperfeed.storage import fulltext as fulltext_store
from paperfeed.storage import papers as paper_store
from paperfeed.web.cache import cached
from paperfeed.web.citing import cited
from paperfeed.web.kit import DB, Config, Refused, extras, paper_or_404
from paperfeed.web.params import (
    API_SORTS,
    ApiSortParam,
    CategoryParam,
    DateParam,
    LimitParam,
    ListParam,
    MonthParam,
    PaperId,
    WeekParam,
    documented,
    page_size,
    resolve_period,
    resolve_selection,
)
from paperfeed.web.schemas import (
    ArxivReposDoc,
    DailyPaperDoc,
    PaperDetailDoc,
)
from paperfeed.web.serialize import (
    SafeJSONResponse,
    arxiv_repos_json,
    daily_item_json,
    paper_detail_json,
)
from paperfeed.web.serialize import paper_markdown as render_markdown


class MarkdownResponse(Response):
    media_type = "text/markdown"


@documented("List daily papers", "papers", model=list[DailyPaperDoc])
@cached
def daily_papers(
    request: Request,
    db: DB,
    p: Annotated[int, Query(ge=0, le=100_000, description="Page number, from 0.")] = 0,
    limit: LimitParam = None,
    date: DateParam = None,
    week: WeekParam = None,
    month: MonthParam = None,
    submitter: Annotated[str | None, Query(description="Only papers submitted by this member.")] = None,
    sort: ApiSortParam = "publishedAt",
    list_name: ListParam = None,
    category: CategoryParam = None,
) -> Response:
    """The daily list, as on HF's ``/api/daily_papers``: a JSON array of items, each with the paper nested
    under ``paper``. ``X-Total-Count`` gives the number of papers in the period and ``Link`` the next page."""
    try:
        selection = resolve_selection(request, list_name, category, submitter or None)
        period = resolve_period(db, date, week, month, selection)
    except BadPeriod as exc:
        raise Refused(400, str(exc)) from exc
    size = page_size(request, limit)
    page = feed_page(db, period, API_SORTS[sort], p, size, selection)
    headers = {"X-Total-Count": str(page.total)}
    if page.has_more:
        # From the configured address, never the Host header: the page cache replays this to everyone.
        here = URL(request.app.state.settings.base_url.rstrip("/") + request.url.path)
        following = here.replace(query=request.url.query).include_query_params(p=p + 1, limit=size)
        headers["Link"] = f'<{following}>; rel="next"'
    more = extras(request, page.papers)
    return SafeJSONResponse([daily_item_json(paper, more) for paper in page.papers], headers=headers)


@documented("List every paper", "papers", model=list[DailyPaperDoc])
def all_papers(
    request: Request,
    db: DB,
    cursor: Annotated[
        str, Query(max_length=64, description="Where the previous page ended (its Link header gives it).")
    ] = "",
    limit: LimitParam = None,
) -> Response:
    """Every paper, in id order, as daily items: ``cursor`` pages through them all (keyset paging), and
    ``Link: <…>; rel="next"`` gives the next page while there is one."""
    size = page_size(request, limit)
    found = paper_store.papers_after(db, cursor, size)
    headers = {}
    if len(found) == size:
        here = URL(request.app.state.settings.base_url.rstrip("/") + request.url.path)
        following = here.include_query_params(cursor=found[-1].id, limit=size)
        headers["Link"] = f'<{following}>; rel="next"'
    more = extras(request, found)
    return SafeJSONResponse([daily_item_json(p, more) for p in found], headers=headers)


@documented("Get a paper", "papers", model=PaperDetailDoc, not_found=True)
def paper(request: Request, db: DB, paper_id: PaperId) -> Response:
    """One paper, as on HF's ``/api/papers/{id}``: the paper object with its submission and counters
    (``upvoted`` when a reader is signed in)."""
    found = paper_or_404(db, paper_id)
    return SafeJSONResponse(paper_detail_json(found, extras(request, [found])))


@documented("Repositories linked to an arXiv paper", "papers", model=ArxivReposDoc, not_found=True)
def arxiv_repos(db: DB, paper_id: PaperId) -> Response:
    """The Hugging Face repositories (models, datasets, spaces) the paper links, as HF's
    ``/api/arxiv/{id}/repos`` lists them, and its code repository (``githubRepo``, paperfeed's addition)."""
    return SafeJSONResponse(arxiv_repos_json(paper_or_404(db, paper_id)))


@documented("Read a paper as Markdown", "papers", response_class=MarkdownResponse, not_found=True)
def paper_markdown(db: DB, settings: Config, paper_id: PaperId) -> Response:
    """Title, authors, links and abstract as Markdown, then the full text (sections, LaTeX, figure
    captions, references) when the worker has fetched it from arXiv, else a line saying it is abstract
    only: what ``huggingface_hub``'s ``read_paper`` returns."""
    found = paper_or_404(db, paper_id)
    return MarkdownResponse(render_markdown(found, settings.base_url, fulltext_store.markdown(db, found.id)))


# Like the pages (and the collection's and search's exports), not in /openapi.json: a suffix it does not
# know is the paper page's URL, not an error of this operation.
def paper_citation(
    request: Request,
    db: DB,
    paper_id: PaperId,
    fmt: Annotated[Literal["bib", "ris", "json"], Path(description="bib: BibTeX; ris: RIS; json: CSL-JSON.")],
) -> Response:
    """``.bib`` (BibTeX), ``.ris`` (RIS) or ``.json`` (CSL-JSON): the paper as a reference manager imports
    it, citing its journal reference and DOI where arXiv has them (``paperfeed/citations.py``)."""
    found = paper_or_404(db, paper_id)
    return cited(request, [found], fmt, found.id.replace("/", "-"))
