"""RSS 2.0 and Atom feeds of every list, built with feedgen: the daily list (``/feed.xml``, ``/feed.atom``),
a saved search (the same URLs with ``?q=`` and the search page's filters), an author
(``/authors/{name}/feed.xml``), an organization (``/orgs/{name}/feed.xml``), an arXiv category
(``/feed.xml?category=``) and a public collection (``/collections/{id}/feed.xml``); each ``.atom`` alike.

The daily list keeps the pages' periods and sorts: the latest day by default, or ``?date=``, ``?week=``,
``?month=`` with ``&sort=``. The other lists give their newest papers first (a collection: the latest
added). A saved search gives the papers over the search's relevance floor (the results ``/search`` shows,
the best ``SEARCH_POOL``), newest on the feed first, and is rate-limited as searches are. Entries keep the
list's order; each links to the paper's page on this site (absolute, from ``settings.base_url``), which is
also its stable guid/id. Titles and abstracts are plain text, their LaTeX text-mode macros as Unicode and
their math as written (``paperfeed/tex.py``): lxml escapes them as XML, characters XML 1.0 forbids are
dropped, and the RSS title and description (which readers render as HTML) are HTML-escaped once more so a
'<b>' or '<script>' shows as text. Responses carry an ETag over the body and Last-Modified from the newest
entry, and answer a matching If-None-Match with 304. A private collection is a 404, as for anyone not
signed in: a feed reader has no session.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from datetime import date as date_
from email.utils import format_datetime
from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from fastapi import Path, Query, Request
from feedgen.feed import FeedGenerator
from starlette.responses import Response

from paperfeed.feed import BadPeriod, FeedPage, feed_page, parse_categories
from paperfeed.models import Paper
from paperfeed.search.hybrid import Searcher
from paperfeed.search.keyword import Filters
from paperfeed.storage import authors as author_store
from paperfeed.storage import collections as collection_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage.lists import SORTS
from paperfeed.tex import text_mode
from paperfeed.web import limits
from paperfeed.web.kit import DB, Refused
from paperfeed.web.params import (
    CategoryParam,
    DateParam,
    FeedSort,
    LimitParam,
    ListParam,
    MonthParam,
    SortParam,
    WeekParam,
    documented,
    page_size,
    resolve_period,
    resolve_selection,
)
from paperfeed.web.serialize import paper_url


class RSSResponse(Response):
    media_type = "application/rss+xml; charset=utf-8"


class AtomResponse(Response):
    media_type = "application/atom+xml; charset=utf-8"


QUERY_MAX = 500  # as the search page's
FeedKind = Literal["rss", "atom"]
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # "updated" of a feed with no entries: fixed, so its ETag is too
SEARCH_POOL = 120  # a saved search's feed: the newest of its best matches over the relevance floor
# Everything XML 1.0 allows (tab, newline, CR and the printable planes); the rest would make lxml refuse
# the document or produce one readers reject.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _query(page: FeedPage, default_latest: bool, list_name: str | None) -> dict[str, str]:
    """The feed's own parameters, as given: the same feed keeps one address (and id) as days go by."""
    params = {} if default_latest else {page.period.param: page.period.key}
    if list_name:
        params["list"] = list_name
    if page.selection.categories:
        params["category"] = ",".join(page.selection.categories)
    if page.sort != next(iter(SORTS)):
        params["sort"] = page.sort
    return params


def _url(base: str, path: str, params: dict[str, str]) -> str:
    return f"{base}{path}" + (f"?{urlencode(params)}" if params else "")


def _title(site: str, page: FeedPage) -> str:
    kind = {"day": "Daily papers", "week": "Papers of the week", "month": "Papers of the month"}
    return f"{site}: {kind[page.period.kind]}, {page.period.label}"


@dataclass(frozen=True, slots=True)
class Listing:
    """What a feed says of its list: ``path`` is the feed's address without its suffix (``.xml`` for RSS,
    ``.atom``), ``params`` its own query (the same feed keeps one address, and id), ``page`` the list's
    page on this site."""

    title: str
    subtitle: str
    path: str
    params: dict[str, str]
    page: str


def build_feed(
    request: Request, page: FeedPage, kind: FeedKind, default_latest: bool, list_name: str | None
) -> FeedGenerator:
    settings = request.app.state.settings
    params = _query(page, default_latest, list_name)
    shown = f"the first {len(page.papers)} of " if len(page.papers) < page.total else ""
    listing = Listing(
        _title(settings.site_name, page),
        f"{page.period.label}: {shown}{page.total} papers, {SORTS[page.sort].help}.",
        "/feed",
        params,
        _url("", "/papers", params),
    )
    return generate(request, listing, page.papers, kind, datetime.combine(page.period.start, time(), UTC))


def generate(
    request: Request, listing: Listing, entries: list[Paper], kind: FeedKind, floor: datetime = EPOCH
) -> FeedGenerator:
    """A feed of these papers, in this order; ``updated`` is the newest entry's (``floor`` when there is
    none), so an unchanged list gives the same bytes and ETag."""
    settings = request.app.state.settings
    base = settings.base_url.rstrip("/")
    self_url = _url(base, listing.path + (".xml" if kind == "rss" else ".atom"), listing.params)
    fg = FeedGenerator()
    if kind == "rss":
        fg.load_extension("dc")
    # The id is the feed's own address: /feed.xml stays one feed (the latest day) as the days go by.
    fg.id(self_url)
    # The title and subtitle carry data now (an author's, an organization's, a collection's name, a
    # query): in RSS, which readers render as HTML, escaped once more, as the entries are.
    title, subtitle = xml_text(listing.title), xml_text(listing.subtitle)
    if kind == "rss":
        title, subtitle = html.escape(title, quote=False), html.escape(subtitle, quote=False)
    fg.title(title)
    fg.subtitle(subtitle)
    fg.link(href=self_url, rel="self")
    fg.link(href=base + listing.page, rel="alternate")  # last: RSS <link> takes the alternate
    fg.language("en")
    fg.generator(settings.site_name)
    newest = floor
    for paper in entries:
        newest = max(newest, _add_entry(fg, paper, base, kind))
    fg.updated(newest)  # from the data, not the clock
    return fg


def serve(request: Request, fg: FeedGenerator, kind: FeedKind) -> Response:
    if kind == "rss":
        return _respond(request, fg.rss_str(pretty=True), RSSResponse, fg.updated())
    return _respond(request, fg.atom_str(pretty=True), AtomResponse, fg.updated())


def _add_entry(fg: FeedGenerator, paper: Paper, base: str, kind: FeedKind) -> datetime:
    link = paper_url(base, paper.id)
    entered = paper.entered_feed_at
    updated = max(entered, paper.updated_at or entered)
    fe = fg.add_entry(order="append")  # feedgen prepends by default; the list's order is the point
    fe.id(link)
    fe.guid(link, permalink=True)
    fe.link(href=link, rel="alternate")
    title, abstract = xml_text(text_mode(paper.title)), xml_text(text_mode(paper.abstract))
    if kind == "atom":  # Atom says what its text is: plain text, unambiguous
        fe.title(title)
        fe.summary(abstract, type="text")
    else:  # readers render an RSS title and description as HTML: escape once more so they show as written
        fe.title(html.escape(title, quote=False))
        fe.description(html.escape(abstract, quote=False), isSummary=True)
    names = [xml_text(text_mode(name)) for name in paper.authors]
    if names and kind == "atom":
        fe.author([{"name": name} for name in names])
    elif names:  # RSS <author> must be an e-mail address; Dublin Core's creator carries plain names
        fe.dc.dc_creator(names)
    for category in paper.categories:
        fe.category(term=xml_text(category))
    fe.published(entered)
    fe.updated(updated)
    return updated


def _respond(request: Request, body: bytes, kind: type[Response], modified: datetime) -> Response:
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified.astimezone(UTC), usegmt=True),
        "Cache-Control": "public, max-age=300",
    }
    wanted = request.headers.get("if-none-match", "")
    if etag in {tag.strip().removeprefix("W/") for tag in wanted.split(",")} or wanted.strip() == "*":
        return Response(status_code=304, headers=headers)
    return kind(body, headers=headers)


@dataclass(frozen=True, slots=True)
class Searched:
    """A saved search's part of ``/feed.xml``: its query and the search page's filters."""

    q: str | None = None
    organization: str | None = None
    since: str | None = None
    until: str | None = None


def _feed(
    request: Request,
    db: DB,
    kind: FeedKind,
    date: str | None,
    week: str | None,
    month: str | None,
    sort: FeedSort,
    limit: int | None,
    list_name: str | None,
    category: str | None,
    searched: Searched,
) -> Response:
    if searched.q and searched.q.strip():
        if date or week or month:
            raise Refused(400, "q: a saved search's feed takes since and until, not date, week or month")
        return _search_feed(request, kind, searched, category, page_size(request, limit))
    if searched.organization or searched.since or searched.until:
        raise Refused(400, "organization, since and until filter a search: give q too")
    try:
        selection = resolve_selection(request, list_name, category)
        period = resolve_period(db, date, week, month, selection)
    except BadPeriod as exc:
        raise Refused(400, str(exc)) from exc
    page = feed_page(db, period, sort, 0, page_size(request, limit), selection)
    default_latest = not (date or week or month)
    return serve(request, build_feed(request, page, kind, default_latest, list_name), kind)


def _search_feed(
    request: Request, kind: FeedKind, searched: Searched, category: str | None, size: int
) -> Response:
    """The feed of a saved search: its best matches over the relevance floor, newest on the feed first."""
    q = " ".join((searched.q or "").split())
    if len(q) > QUERY_MAX:
        raise Refused(400, f"q is {len(q)} characters long (at most {QUERY_MAX})")
    try:
        categories = parse_categories(category)
        if len(categories) > 1:
            raise BadPeriod("category: a search filters by one category")
        since, until = _day("since", searched.since), _day("until", searched.until)
    except BadPeriod as exc:
        raise Refused(400, str(exc)) from exc
    filters = Filters(since, until, categories[0] if categories else None, searched.organization or None)
    limits.limit(request, "search", limits.client(request))
    searcher: Searcher = request.app.state.searcher
    found = [r.paper for r in searcher.find(q, SEARCH_POOL, filters).results]
    found.sort(key=lambda p: (p.entered_feed_at, p.id), reverse=True)
    # The saved search's own form (paperfeed/follows.py): q, then the filters in a fixed order.
    given = {"q": q, "category": filters.category, "organization": filters.organization}
    given |= {"since": searched.since, "until": searched.until}
    params = {k: v for k, v in given.items() if v}
    described = ", ".join(f"{k} {v}" for k, v in params.items() if k != "q")
    site = request.app.state.settings.site_name
    listing = Listing(
        f"{site}: search “{q}”" + (f" ({described})" if described else ""),
        f"Papers matching “{q}”, newest first.",
        "/feed",
        params,
        _url("", "/search", params),
    )
    return serve(request, generate(request, listing, found[:size], kind), kind)


def _day(name: str, value: str | None) -> date_ | None:
    if not value:
        return None
    try:
        return date_.fromisoformat(value)
    except ValueError:
        raise BadPeriod(f"{name}={value[:20]!r} is not a date (YYYY-MM-DD)") from None


QParam = Annotated[
    str | None,
    Query(
        max_length=QUERY_MAX,
        description="A saved search: the papers over the search's relevance floor (as /search shows them), "
        "newest on the feed first; with category (one), organization, since and until as filters.",
        examples=["sparse attention"],
    ),
]
OrganizationParam = Annotated[
    str | None, Query(max_length=96, description="With q: only this organization (short name).")
]
SinceParam = Annotated[str | None, Query(description="With q: only papers on the feed from this day.")]
UntilParam = Annotated[str | None, Query(description="With q: only papers on the feed up to this day.")]


@documented(
    "RSS 2.0 feed of the daily list, a category or a saved search", "feeds", response_class=RSSResponse
)
def rss(
    request: Request,
    db: DB,
    date: DateParam = None,
    week: WeekParam = None,
    month: MonthParam = None,
    sort: SortParam = "upvotes",
    limit: LimitParam = None,
    list_name: ListParam = None,
    category: CategoryParam = None,
    q: QParam = None,
    organization: OrganizationParam = None,
    since: SinceParam = None,
    until: UntilParam = None,
) -> Response:
    """RSS 2.0: one item per paper of the period, in the list's order; with ``q``, a saved search's
    papers."""
    searched = Searched(q, organization, since, until)
    return _feed(request, db, "rss", date, week, month, sort, limit, list_name, category, searched)


@documented("Atom feed of the daily list, a category or a saved search", "feeds", response_class=AtomResponse)
def atom(
    request: Request,
    db: DB,
    date: DateParam = None,
    week: WeekParam = None,
    month: MonthParam = None,
    sort: SortParam = "upvotes",
    limit: LimitParam = None,
    list_name: ListParam = None,
    category: CategoryParam = None,
    q: QParam = None,
    organization: OrganizationParam = None,
    since: SinceParam = None,
    until: UntilParam = None,
) -> Response:
    """Atom: one entry per paper of the period, in the list's order; with ``q``, a saved search's
    papers."""
    searched = Searched(q, organization, since, until)
    return _feed(request, db, "atom", date, week, month, sort, limit, list_name, category, searched)


# -- an author's, an organization's, a collection's papers ---------------------------------------------


def _author(request: Request, db: DB, name: str, limit: int | None, kind: FeedKind) -> Response:
    name = " ".join(name.split())
    if not name or not author_store.count_author_papers(db, name):
        raise Refused(404, f"no paper on this site has an author named {name[:80]!r}")
    papers = paper_store.author_papers(db, name, page_size(request, limit))
    key = author_store.author_key(name)
    shown = next((" ".join(a.split()) for a in papers[0].authors if author_store.author_key(a) == key), name)
    path = f"/authors/{quote(shown, safe='')}"
    site = request.app.state.settings.site_name
    listing = Listing(f"{site}: {shown}", f"Papers by {shown}, newest first.", f"{path}/feed", {}, path)
    return serve(request, generate(request, listing, papers, kind), kind)


def _organization(request: Request, db: DB, name: str, limit: int | None, kind: FeedKind) -> Response:
    found = org_store.org_by_name(db, name)
    if found is None:
        raise Refused(404, f"organization {name!r} not found")
    org_id, org = found
    papers = paper_store.organization_papers(db, org_id, page_size(request, limit))
    path = f"/orgs/{quote(org.name, safe='')}"
    site = request.app.state.settings.site_name
    listing = Listing(
        f"{site}: {org.fullname}",
        f"Papers published by {org.fullname}, newest first.",
        f"{path}/feed",
        {},
        path,
    )
    return serve(request, generate(request, listing, papers, kind), kind)


def _collection(request: Request, db: DB, collection_id: int, limit: int | None, kind: FeedKind) -> Response:
    found = collection_store.collection(db, collection_id)
    if found is None or not found.is_public:  # a feed reader has no session: private is missing
        raise Refused(404, f"collection {collection_id} not found")
    added = sorted(collection_store.items(db, collection_id), key=lambda i: i.added_at, reverse=True)
    papers = [item.paper for item in added[: page_size(request, limit)]]
    path = f"/collections/{collection_id}"
    site = request.app.state.settings.site_name
    about = found.description or f"A collection by {found.owner}, the latest added first."
    listing = Listing(f"{site}: {found.name}", about, f"{path}/feed", {}, path)
    return serve(request, generate(request, listing, papers, kind), kind)


AuthorName = Annotated[
    str, Path(min_length=1, max_length=300, description="An author's name, as on a paper.")
]
OrgName = Annotated[str, Path(min_length=1, max_length=96, description="The organization's short name.")]


@documented("RSS 2.0 feed of an author's papers", "feeds", response_class=RSSResponse, not_found=True)
def author_rss(request: Request, db: DB, name: AuthorName, limit: LimitParam = None) -> Response:
    """An author's papers (names compared without case, accents or extra spaces), newest first."""
    return _author(request, db, name, limit, "rss")


@documented("Atom feed of an author's papers", "feeds", response_class=AtomResponse, not_found=True)
def author_atom(request: Request, db: DB, name: AuthorName, limit: LimitParam = None) -> Response:
    """An author's papers (names compared without case, accents or extra spaces), newest first."""
    return _author(request, db, name, limit, "atom")


@documented("RSS 2.0 feed of an organization's papers", "feeds", response_class=RSSResponse, not_found=True)
def org_rss(request: Request, db: DB, name: OrgName, limit: LimitParam = None) -> Response:
    """The papers an organization publishes, newest first."""
    return _organization(request, db, name, limit, "rss")


@documented("Atom feed of an organization's papers", "feeds", response_class=AtomResponse, not_found=True)
def org_atom(request: Request, db: DB, name: OrgName, limit: LimitParam = None) -> Response:
    """The papers an organization publishes, newest first."""
    return _organization(request, db, name, limit, "atom")


@documented("RSS 2.0 feed of a public collection", "feeds", response_class=RSSResponse, not_found=True)
def collection_rss(request: Request, db: DB, collection_id: int, limit: LimitParam = None) -> Response:
    """A public collection's papers, the latest added first (a private one is a 404)."""
    return _collection(request, db, collection_id, limit, "rss")


@documented("Atom feed of a public collection", "feeds", response_class=AtomResponse, not_found=True)
def collection_atom(request: Request, db: DB, collection_id: int, limit: LimitParam = None) -> Response:
    """A public collection's papers, the latest added first (a private one is a 404)."""
    return _collection(request, db, collection_id, limit, "atom")
