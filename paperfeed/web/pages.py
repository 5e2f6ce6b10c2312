"""The server-rendered HTML pages: the feed (``/`` and ``/papers``) and one paper (``/papers/{id}``).

Handlers read parameters, fetch everything the page shows (``paperfeed.feed.feed_page``, the paper, its
comments, votes, similar papers) and hand plain values to the Jinja2 templates in ``web/templates``
(autoescaped; only comment HTML, sanitised when it was written, is marked safe). A bad parameter gets a
400 page naming it, an unknown paper a 404 page. Math in titles and abstracts stays as LaTeX text here: the vendored KaTeX renders it in the
browser (``static/js/math.js``), so the HTML never carries markup built from data.

Handlers are plain ``def``: storage is synchronous, so FastAPI runs them in its thread pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Query, Request
from starlette.responses import RedirectResponse, Response

from paperfeed.citations import highwire
from paperfeed.feed import (
    LISTS,
    BadPeriod,
    FeedPage,
    Kind,
    ListName,
    Period,
    feed_page,
    find_paper,
    latest_period,
    parse_categories,
    parse_list,
    parse_period,
    parse_sort,
    selection_of,
)
from paperfeed.feed import period_of as period_of_kind
from paperfeed.search.hybrid import Searcher
from paperfeed.storage import Database, lists
from paperfeed.storage import collections as collection_store
from paperfeed.storage import comments as comment_store
from paperfeed.storage.lists import SORTS, Selection, Sort
from paperfeed.summary import extractive_summary
from paperfeed.trending import why_stars, why_trending
from paperfeed.web.cache import cached
from paperfeed.web.kit import DB, Me, Refused, error_page, may_edit_links, needs_math, render, voted
from paperfeed.web.serialize import paper_markdown

KIND_LABELS: dict[Kind, str] = {"day": "Day", "week": "Week", "month": "Month"}
SIMILAR = 6  # papers listed under "Similar papers" on a paper's page
# The pager links the first and last page and this many on either side of the current one.
_PAGER_WINDOW = 3
# Far past any real feed, and small enough that page × size stays a valid SQL OFFSET.
_MAX_PAGE = 100_000

Param = Annotated[str | None, Query()]


@dataclass(frozen=True, slots=True)
class Links:
    """The URLs of a feed page's neighbours: another period, sort, page, list or set of categories, each
    keeping the rest of what the reader chose; defaults stay out of the URL, so each page has one address."""

    list_name: ListName
    default_list: ListName
    categories: tuple[str, ...] = ()

    def __call__(
        self,
        period: Period,
        sort: Sort,
        page: int = 0,
        list_name: ListName | None = None,
        categories: tuple[str, ...] | None = None,
    ) -> str:
        params: dict[str, str | int] = {period.param: period.key}
        shown = list_name or self.list_name
        if shown != self.default_list:
            params["list"] = shown
        chosen = self.categories if categories is None else categories
        if chosen:
            params["category"] = ",".join(chosen)
        if sort != next(iter(SORTS)):
            params["sort"] = sort
        if page:
            params["p"] = page
        return "/papers?" + urlencode(params, safe=",")

    def without(self, category: str) -> tuple[str, ...]:
        return tuple(c for c in self.categories if c != category)


def _pager(current: int, pages: int) -> list[int | None]:
    """Page indexes to link (None stands for a gap): first, last and a window around the current one."""
    shown = {0, pages - 1, *range(current - _PAGER_WINDOW, current + _PAGER_WINDOW + 1)}
    out: list[int | None] = []
    for i in sorted(i for i in shown if 0 <= i < pages):
        if out and out[-1] is not None and i != out[-1] + 1:
            out.append(None)
        out.append(i)
    return out


def _parse_page(value: str | None) -> int:
    if not value:
        return 0
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"p={value!r} is not a page number (expected 0, 1, 2 …)")
    if int(value) > _MAX_PAGE:
        raise ValueError(f"p={value!r} is too large (at most {_MAX_PAGE})")
    return int(value)


# -- handlers ---------------------------------------------------------------------------------------


@cached
def home(request: Request, db: DB, sort: Param = None, p: Param = None, category: Param = None) -> Response:
    """The latest day on which the site's first list has papers."""
    return _feed(request, db, None, None, None, sort, p, None, category)


@cached
def feed(
    request: Request,
    db: DB,
    day: Annotated[str | None, Query(alias="date")] = None,
    week: Param = None,
    month: Param = None,
    sort: Param = None,
    p: Param = None,
    list_param: Annotated[str | None, Query(alias="list")] = None,
    category: Param = None,
) -> Response:
    """One day, ISO week or month (``?date=YYYY-MM-DD``, ``?week=YYYY-Www``, ``?month=YYYY-MM``) of the
    curated list or of everything (``?list=``), in some categories (``?category=cs.CL,cs.LG``)."""
    return _feed(request, db, day, week, month, sort, p, list_param, category)


def _feed(
    request: Request,
    db: Database,
    day: str | None,
    week: str | None,
    month: str | None,
    sort_param: str | None,
    p: str | None,
    list_param: str | None,
    category: str | None,
) -> Response:
    default: ListName = request.app.state.settings.default_list
    try:
        list_name = parse_list(list_param, default)
        categories = parse_categories(category)
        selection = selection_of(list_name, categories)
        period = (
            parse_period(day, week, month) if day or week or month else latest_period(db, selection=selection)
        )
        sort = parse_sort(sort_param)
        page = _parse_page(p)
    except (BadPeriod, ValueError) as exc:
        raise Refused(400, str(exc)) from exc
    size = int(request.app.state.settings.page_size)
    result: FeedPage = feed_page(db, period, sort, page, size, selection)
    pages = max(1, -(-result.total // size))
    anchor = _anchor(db, period, selection)
    links = Links(list_name, default, categories)
    context = {
        "feed": result,
        "period": period,
        "sort": sort,
        "list_name": list_name,
        "lists": list(LISTS.items()),
        "categories": categories,
        "first_rank": page * size + 1,
        "pages": pages,
        "pager": _pager(page, pages) if pages > 1 else [],
        "feed_url": links,
        "kinds": [(kind, label, period_of_kind(kind, anchor)) for kind, label in KIND_LABELS.items()],
        "sorts": [(s.name, s.label) for s in SORTS.values()],
        "voted": voted(request, result.papers),
        "back": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "math": needs_math(t for p in result.papers for t in (p.title, p.abstract)),
    }
    return render(request, "feed.html", context)


def _anchor(db: Database, period: Period, selection: Selection) -> date:
    """The day the Day/Week/Month switch keeps: the day shown, or the latest day with papers in the week
    or month shown (its first day when it has none), so switching from a month lands on papers."""
    if period.kind == "day":
        return period.start
    if period.end == date.max:
        return period.start
    latest = lists.previous_day(db, period.end + timedelta(days=1), selection)
    return latest if latest is not None and latest >= period.start else period.start


def _wants_markdown(request: Request) -> bool:
    """Whether the Accept header puts text/markdown before text/html (a browser asks for HTML first)."""
    kinds = [part.split(";")[0].strip().lower() for part in request.headers.get("accept", "").split(",")]
    return "text/markdown" in kinds and (
        "text/html" not in kinds or kinds.index("text/markdown") < kinds.index("text/html")
    )


def paper(request: Request, db: DB, me: Me, paper_id: str) -> Response:
    """One paper: everything we know of it, with links to arXiv and to its day in the feed."""
    found = find_paper(db, paper_id)
    if found is None:
        return error_page(request, 404, f"There is no paper with id {paper_id!r}.", title="Paper not found")
    if found.id != paper_id:  # 2607.07386v2, arXiv:2607.07386 → the one canonical address
        # A path, not an absolute URL: one built from the request would carry whatever Host it was sent.
        return RedirectResponse(f"/papers/{quote(found.id, safe='/')}", status_code=301)
    if _wants_markdown(request):  # huggingface_hub's read_paper, and any client asking for Markdown
        text = paper_markdown(found, request.app.state.settings.base_url)
        return Response(text, media_type="text/markdown; charset=utf-8", headers={"Vary": "Accept"})
    searcher: Searcher = request.app.state.searcher
    comments = comment_store.paper_comments(db, found.id)
    context = {
        "paper": found,
        "similar": searcher.similar(found.id, SIMILAR),
        "day_url": Links("all", request.app.state.settings.default_list)(
            Period("day", found.feed_day, found.feed_day), next(iter(SORTS))
        )
        if found.feed_day
        else None,
        "voted": voted(request, [found]),
        "why": why_trending(db, found.id),
        "stars": why_stars(db, found.id),
        "summary": extractive_summary(found.title, found.abstract),
        "citation_tags": highwire(found),
        "may_edit_links": may_edit_links(db, me, found),
        "comments": comments,
        "my_collections": collection_store.user_collections(db, me.id, True) if me else [],
        "math": needs_math((found.title, found.abstract)),
    }
    response = render(request, "paper.html", context)
    response.headers.append("Vary", "Accept")  # the same URL answers Markdown to who asks for it
    return response
