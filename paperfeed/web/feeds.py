"""RSS 2.0 (``/feed.xml``) and Atom (``/feed.atom``) feeds of the daily list, built with feedgen.

The same periods and sorts as the pages: the latest day by default, or ``?date=``, ``?week=``,
``?month=`` with ``&sort=``. Entries keep the list's order; each links to the paper's page on this site
(absolute, from ``settings.base_url``), which is also its stable guid/id. Titles and abstracts are plain
text, their LaTeX text-mode macros as Unicode and their math as written (``paperfeed/tex.py``): lxml escapes them as XML, characters XML 1.0 forbids are dropped, and the RSS title and description
(which readers render as HTML) are HTML-escaped once more so a '<b>' or '<script>' shows as text.
Responses carry an ETag over the body and Last-Modified from the newest entry, and answer a matching
If-None-Match with 304.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime, time
from email.utils import format_datetime
from typing import Literal
from urllib.parse import urlencode

from fastapi import Request
from feedgen.feed import FeedGenerator
from starlette.responses import Response

from paperfeed.feed import BadPeriod, FeedPage, feed_page
from paperfeed.models import Paper
from paperfeed.storage.lists import SORTS
from paperfeed.tex import text_mode
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


FeedKind = Literal["rss", "atom"]
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


def build_feed(
    request: Request, page: FeedPage, kind: FeedKind, default_latest: bool, list_name: str | None
) -> FeedGenerator:
    settings = request.app.state.settings
    base = settings.base_url.rstrip("/")
    self_path = "/feed.xml" if kind == "rss" else "/feed.atom"
    params = _query(page, default_latest, list_name)
    self_url = _url(base, self_path, params)
    fg = FeedGenerator()
    if kind == "rss":
        fg.load_extension("dc")
    # The id is the feed's own address: /feed.xml stays one feed (the latest day) as the days go by.
    fg.id(self_url)
    fg.title(xml_text(_title(settings.site_name, page)))
    shown = f"the first {len(page.papers)} of " if len(page.papers) < page.total else ""
    fg.subtitle(xml_text(f"{page.period.label}: {shown}{page.total} papers, {SORTS[page.sort].help}."))
    fg.link(href=self_url, rel="self")
    fg.link(href=_url(base, "/papers", params), rel="alternate")  # last: RSS <link> takes the alternate
    fg.language("en")
    fg.generator(settings.site_name)
    newest = datetime.combine(page.period.start, time(), UTC)
    for paper in page.papers:
        newest = max(newest, _add_entry(fg, paper, base, kind))
    fg.updated(newest)  # from the data, not the clock: an unchanged list gives the same bytes and ETag
    return fg


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
) -> Response:
    try:
        selection = resolve_selection(request, list_name, category)
        period = resolve_period(db, date, week, month, selection)
    except BadPeriod as exc:
        raise Refused(400, str(exc)) from exc
    page = feed_page(db, period, sort, 0, page_size(request, limit), selection)
    default_latest = not (date or week or month)
    fg = build_feed(request, page, kind, default_latest, list_name)
    if kind == "rss":
        return _respond(request, fg.rss_str(pretty=True), RSSResponse, fg.updated())
    return _respond(request, fg.atom_str(pretty=True), AtomResponse, fg.updated())


@documented("RSS 2.0 feed of the daily list", "feeds", response_class=RSSResponse)
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
) -> Response:
    """RSS 2.0: one item per paper of the period, in the list's order."""
    return _feed(request, db, "rss", date, week, month, sort, limit, list_name, category)


@documented("Atom feed of the daily list", "feeds", response_class=AtomResponse)
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
) -> Response:
    """Atom: one entry per paper of the period, in the list's order."""
    return _feed(request, db, "atom", date, week, month, sort, limit, list_name, category)
