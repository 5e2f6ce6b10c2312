"""The server-rendered HTML pages: the feed (``/`` and ``/papers``) and one paper (``/papers/{id}``), with
the paper page's own forms (comment, reply, edit, hide), whose errors show beside the form they concern
rather than on a page of their own.

Handlers read parameters, fetch everything the page shows (``paperfeed.feed.feed_page``, the paper, its
comments, votes, similar papers) and hand plain values to the Jinja2 templates in ``web/templates``
(autoescaped; only comment HTML, sanitised when it was written, is marked safe). A bad parameter gets a
400 page naming it, an unknown paper a 404 page. Math in titles and abstracts stays as LaTeX text here: the vendored KaTeX renders it in the
browser (``static/js/math.js``), so the HTML never carries markup built from data.

Handlers are plain ``def``: storage is synchronous, so FastAPI runs them in its thread pool.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Query, Request
from starlette.responses import RedirectResponse, Response

from paperfeed import markdown
from paperfeed.arxiv_ids import BadArxivId, parse_arxiv_id
from paperfeed.citations import highwire
from paperfeed.digest.mail import unavailable as mail_unavailable
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
from paperfeed.models import Paper, User
from paperfeed.search.hybrid import Searcher
from paperfeed.storage import Database, lists
from paperfeed.storage import collections as collection_store
from paperfeed.storage import comments as comment_store
from paperfeed.storage import fulltext as fulltext_store
from paperfeed.storage.lists import SORTS, Selection, Sort
from paperfeed.summary import extractive_summary
from paperfeed.trending import why_stars, why_trending
from paperfeed.web import limits
from paperfeed.web.bodies import (
    form_action,
)
from paperfeed.web.cache import cached
from paperfeed.web.kit import (
    DB,
    Me,
    Refused,
    cards_math,
    database,
    error_page,
    following,
    may_edit_links,
    needs_math,
    paper_or_404,
    redirect,
    render,
    row_id,
    unread,
    viewer,
    voted,
)
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
        return _feed_url(self, period, sort, page, list_name, categories)

    def without(self, category: str) -> tuple[str, ...]:
        return tuple(c for c in self.categories if c != category)


# A feed page links some twenty neighbours, the same for every reader of that page: remembered.
@functools.lru_cache(maxsize=1024)
def _feed_url(
    links: Links,
    period: Period,
    sort: Sort,
    page: int,
    list_name: ListName | None,
    categories: tuple[str, ...] | None,
) -> str:
    params: dict[str, str | int] = {period.param: period.key}
    shown = list_name or links.list_name
    if shown != links.default_list:
        params["list"] = shown
    chosen = links.categories if categories is None else categories
    if chosen:
        params["category"] = ",".join(chosen)
    if sort != next(iter(SORTS)):
        params["sort"] = sort
    if page:
        params["p"] = page
    return "/papers?" + urlencode(params, safe=",")


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
    size = int(request.app.state.settings.page_size)
    with db.snapshot():  # the page's reads (and the member's session and votes) share one connection
        try:
            list_name = parse_list(list_param, default)
            categories = parse_categories(category)
            selection = selection_of(list_name, categories)
            period = (
                parse_period(day, week, month)
                if day or week or month
                else latest_period(db, selection=selection)
            )
            sort = parse_sort(sort_param)
            page = _parse_page(p)
        except (BadPeriod, ValueError) as exc:
            raise Refused(400, str(exc)) from exc
        result: FeedPage = feed_page(db, period, sort, page, size, selection)
        anchor = _anchor(db, period, selection)
        pressed = voted(request, result.papers)
        unread(request)  # the layout's badge, asked here with the page's other questions
    pages = max(1, -(-result.total // size))
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
        "default_sort": next(iter(SORTS)),
        "voted": pressed,
        "back": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "mail_off": mail_unavailable(request.app.state.settings),
        "followed_categories": {c for c in categories if following(request, "category", c)},
        "math": cards_math(result.papers),
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


def arxiv_abs(request: Request, db: DB, paper_id: str) -> Response:
    """arXiv's ``/abs/{id}`` path on this site (swap the host of an arXiv link): the paper's page, or, for
    a paper not here yet, a page that offers to submit it."""
    found = find_paper(db, paper_id)
    if found is None:
        try:
            arxiv_id, _ = parse_arxiv_id(paper_id)
        except BadArxivId:
            return error_page(request, 404, f"{paper_id[:80]!r} is not an arXiv id.", title="Paper not found")
        message = f"arXiv:{arxiv_id} is not on this site yet: submit it at /submit?arxiv_id={arxiv_id}."
        return error_page(request, 404, message, title="Not here yet")
    return RedirectResponse(f"/papers/{quote(found.id, safe='/')}", status_code=301)


def arxiv_pdf(paper_id: str) -> Response:
    """arXiv's ``/pdf/{id}`` path: to arXiv's PDF (of the version asked for), for any arXiv id."""
    try:
        arxiv_id, version = parse_arxiv_id(paper_id.removesuffix(".pdf"))
    except BadArxivId as exc:
        raise Refused(404, str(exc)) from exc
    suffix = f"v{version}" if version else ""
    return RedirectResponse(f"https://arxiv.org/pdf/{arxiv_id}{suffix}", status_code=302)


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
        text = paper_markdown(
            found, request.app.state.settings.base_url, fulltext_store.markdown(db, found.id)
        )
        return Response(text, media_type="text/markdown; charset=utf-8", headers={"Vary": "Accept"})
    response = render(request, "paper.html", _paper_context(request, db, me, found))
    response.headers.append("Vary", "Accept")  # the same URL answers Markdown to who asks for it
    return response


def _paper_context(request: Request, db: Database, me: User | None, found: Paper) -> dict[str, Any]:
    searcher: Searcher = request.app.state.searcher
    comments = comment_store.paper_comments(db, found.id)
    similar = [r.paper for r in searcher.similar(found.id, SIMILAR)]
    return {
        "paper": found,
        "similar": similar,
        "day_url": Links("all", request.app.state.settings.default_list)(
            Period("day", found.feed_day, found.feed_day), next(iter(SORTS))
        )
        if found.feed_day
        else None,
        "voted": voted(request, [found, *similar]),
        "why": why_trending(db, found.id),
        "stars": why_stars(db, found.id),
        "summary": extractive_summary(found.title, found.abstract),
        "citation_tags": highwire(found),
        "full_text": fulltext_store.has_text(db, found.id),
        "may_edit_links": may_edit_links(db, me, found),
        "comments": comments,
        "my_collections": collection_store.user_collections(db, me.id, True) if me else [],
        "form_error": None,
        "math": cards_math([found, *similar])
        or needs_math([found.comments or "", *(c.body for c in comments if not (c.hidden or c.deleted))]),
    }


# -- the paper page's forms ----------------------------------------------------------------------------


def _form_error(request: Request, paper: Paper, form: str, message: str, draft: str) -> Response:
    """The paper page again (400), with ``message`` beside the form named ``form`` ('comment',
    'reply-<id>' or 'edit-<id>') and what was typed still in it."""
    context = _paper_context(request, database(request), viewer(request), paper)
    context["form_error"] = {"form": form, "message": message, "draft": draft}
    return render(request, "paper.html", context, 400)


@form_action
def comment_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """A comment or, with ``parent_id``, a reply; back to it on the page."""
    db = database(request)
    paper = paper_or_404(db, request.path_params["paper_id"])
    parent = row_id(form["parent_id"], "parent_id") if form.get("parent_id") else None
    draft = str(form.get("body", ""))
    where = f"reply-{parent}" if parent else "comment"
    try:
        body = markdown.check_body(draft)
    except markdown.BadBody as exc:
        return _form_error(request, paper, where, f"Not posted: {exc}.", draft)
    limits.limit(request, "comment", str(user.id))
    try:
        made = comment_store.add_comment(
            db,
            paper.id,
            user.id,
            body,
            markdown.render(body),
            datetime.now(UTC),
            parent,
            markdown.mentions(body),
        )
    except comment_store.CommentError as exc:
        return _form_error(request, paper, where, f"Not posted: {exc}.", draft)
    return redirect(f"/papers/{made.paper_id}#comment-{made.id}")


@form_action
def change_comment_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """Edit or delete one's own comment; a moderator hides or shows any comment."""
    db = database(request)
    comment_id = int(request.path_params["comment_id"])
    found = comment_store.comment(db, comment_id)
    if found is None:
        raise Refused(404, f"comment {comment_id} not found")
    what = form.get("action")
    try:
        if what == "edit":
            draft = str(form.get("body", ""))
            try:
                body = markdown.check_body(draft)
            except markdown.BadBody as exc:
                paper = paper_or_404(db, found.paper_id)
                return _form_error(request, paper, f"edit-{comment_id}", f"Not saved: {exc}.", draft)
            # An edit costs what a new comment does (Markdown, storage): both draw on one budget.
            limits.limit(request, "comment", str(user.id))
            comment_store.edit_comment(
                db,
                comment_id,
                user.id,
                body,
                markdown.render(body),
                datetime.now(UTC),
                markdown.mentions(body),
            )
        elif what == "delete":
            comment_store.delete_comment(db, comment_id, user.id)
        elif what in ("hide", "show"):
            if not (user.is_moderator or user.is_admin):
                raise Refused(403, "only moderators hide comments")
            comment_store.set_hidden(db, comment_id, what == "hide")
        else:
            raise Refused(400, "action: expected edit, delete, hide or show")
    except comment_store.CommentError as exc:
        raise Refused(403, str(exc)) from exc
    return redirect(f"/papers/{found.paper_id}#comment-{comment_id}")
