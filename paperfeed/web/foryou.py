"""For-you on the web: the page (``/for-you``) and its API (``GET /api/for-you``), the feedback that changes
the list ("more / less like this", ``/api/papers/{id}/feedback``), the seen-once marks (``/api/papers/{id}/seen``,
"mark all as seen"), the "start from" form of a new reader, and the member's private RSS/Atom feed at a
revocable secret URL (``/settings/for-you-feed`` makes and revokes it).

The ranking itself is ``paperfeed/foryou.py`` (the same one the digest and the MCP tool use); handlers
here read parameters, call it and render. Every state change is a POST (or DELETE) through the kit's
wrappers: CSRF-checked for cookie sessions, a write token for the API. "Opened" is recorded by a POST that
``static/js/foryou.js`` sends from a paper's page (a GET never changes anything); forms work without
script, and the script sends them through the API instead, taking a "less" card off the page at once.
"""

from __future__ import annotations

import hashlib
import html
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Query
from feedgen.feed import FeedGenerator
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response

from paperfeed import foryou
from paperfeed.feed import BadPeriod, parse_categories
from paperfeed.models import User
from paperfeed.storage import Database
from paperfeed.storage import feed_tokens as token_store
from paperfeed.storage import feedback as feedback_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage.lists import Selection
from paperfeed.tex import text_mode
from paperfeed.web import csrf, limits
from paperfeed.web.bodies import (
    api_action,
    form_action,
    read_form,
)
from paperfeed.web.kit import (
    DB,
    Me,
    Refused,
    cards_math,
    database,
    extras,
    paper_or_404,
    redirect,
    render,
    require_session,
    safe_next,
    viewer,
    voted,
)
from paperfeed.web.params import CategoryParam, LimitParam, documented, page_size
from paperfeed.web.schemas import (
    DailyPaperDoc,
)
from paperfeed.web.serialize import (
    SafeJSONResponse,
    daily_item_json,
    paper_url,
)

MAX_MARKED = 100  # papers one "mark all as seen" may name: two pages of the list

DayParam = Annotated[str | None, Query(max_length=10, description="A feed day, YYYY-MM-DD.")]
SeenParam = Annotated[
    Literal["exclude", "include"],
    Query(description="include: also papers you were sent, opened, marked seen or liked already."),
]
PageParam = Annotated[int, Query(ge=0, le=1000, description="Page number, from 0.")]


class ForYouItemDoc(DailyPaperDoc):
    reason: str = Field(description="Why the paper is here, in words (“by Y, whom you follow”).")


class FeedbackBody(BaseModel):
    signal: Literal["more", "less"] = Field(description="more: more like this; less: less like this.")


class FeedbackDoc(BaseModel):
    id: str
    signal: Literal["more", "less"] | None = Field(description="The signal now recorded; null when none.")


class SeenBody(BaseModel):
    via: Literal["opened", "marked"] = Field("marked", description="How the paper was seen.")


class SeenDoc(BaseModel):
    id: str
    seen: bool


class SeenAllBody(BaseModel):
    ids: list[str] = Field(max_length=MAX_MARKED, description="The papers to mark seen (arXiv ids).")


class SeenAllDoc(BaseModel):
    marked: int = Field(description="How many of them were not seen before.")


# -- the list ------------------------------------------------------------------------------------------


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Refused(400, f"{name}={value[:20]!r} is not a day (expected YYYY-MM-DD)") from None


def _list(
    request: Request,
    db: Database,
    me: User,
    since: str | None,
    until: str | None,
    category: str | None,
    p: int,
    limit: int | None,
    seen: str,
) -> foryou.ForYou | None:
    try:
        selection = Selection(categories=parse_categories(category))
        win = foryou.window(db, _day(since, "since"), _day(until, "until"), selection)
    except (BadPeriod, foryou.BadWindow) as exc:
        raise Refused(400, str(exc)) from exc
    if win is None:
        return None
    model = request.app.state.settings.embedding_model
    size = page_size(request, limit)
    return foryou.for_you(
        db, model, me.id, win, selection, size, p * size, seen == "include", datetime.now(UTC)
    )


@documented("Your For-you list", "for you", model=list[ForYouItemDoc], member=True)
def foryou_api(
    request: Request,
    db: DB,
    me: Me,
    since: DayParam = None,
    until: DayParam = None,
    category: CategoryParam = None,
    p: PageParam = 0,
    limit: LimitParam = None,
    seen: SeenParam = "exclude",
) -> Response:
    """The period's papers ranked for you, best first, as ``/api/daily_papers`` items each with a ``reason``.
    Default period: the latest seven feed days that have papers; ``since``/``until`` are feed days (at most
    31). Papers you were sent in a digest, opened, marked seen or already liked are left out unless
    ``seen=include``; "less like this" papers never show. ``X-Total-Count`` and ``Link`` page it."""
    if me is None:
        raise Refused(401, "sign in first (or send Authorization: Bearer <token>)")
    found = _list(request, db, me, since, until, category, p, limit, seen)
    if found is None:
        return SafeJSONResponse([], headers={"X-Total-Count": "0"})
    headers = {"X-Total-Count": str(found.total)}
    size = page_size(request, limit)
    if found.offset + len(found.picks) < found.total and len(found.picks) == size:
        here = URL(request.app.state.settings.base_url.rstrip("/") + request.url.path)
        following = here.replace(query=request.url.query).include_query_params(p=p + 1, limit=size)
        headers["Link"] = f'<{following}>; rel="next"'
    more = extras(request, [pick.paper for pick in found.picks])
    items = [{**daily_item_json(pick.paper, more), "reason": pick.reason} for pick in found.picks]
    return SafeJSONResponse(items, headers=headers)


def foryou_page(
    request: Request,
    db: DB,
    me: Me,
    since: Annotated[str | None, Query()] = None,
    until: Annotated[str | None, Query()] = None,
    category: Annotated[str | None, Query()] = None,
    p: Annotated[str | None, Query()] = None,
    seen: Annotated[str | None, Query()] = None,
) -> Response:
    """The signed-in reader's For-you list; a visitor gets a page inviting them to sign in."""
    if me is None:
        return render(request, "foryou.html", {"found": None, "invite": True})
    if p and not (p.isascii() and p.isdigit() and int(p) <= 1000):
        raise Refused(400, f"p={p[:20]!r} is not a page number (expected 0, 1, 2 …)")
    page = int(p or 0)
    include = seen == "include"
    found = _list(request, db, me, since, until, category, page, None, "include" if include else "exclude")
    papers = [pick.paper for pick in found.picks] if found else []
    query = {k: v for k, v in (("since", since), ("until", until), ("category", category)) if v}
    if include:
        query["seen"] = "include"
    back = "/for-you" + (f"?{urlencode({**query, 'p': page} if page else query)}" if query or page else "")
    size = int(request.app.state.settings.page_size)
    context = {
        "found": found,
        "invite": False,
        "voted": voted(request, papers),
        "feedback": feedback_store.feedback_on(db, me.id, [p.id for p in papers]),
        "back": back,
        "query": query,
        "include_seen": include,
        "previous": _page_url(query, page - 1) if page > 0 else None,
        "next": _page_url(query, page + 1)
        if found and found.offset + len(papers) < found.total and len(papers) == size
        else None,
        "first_rank": page * size + 1,
        "math": cards_math(papers),
    }
    return render(request, "foryou.html", context)


def _page_url(query: dict[str, str], page: int) -> str:
    params = {**query, **({"p": str(page)} if page else {})}
    return "/for-you" + (f"?{urlencode(params)}" if params else "")


# -- more / less like this -----------------------------------------------------------------------------


def _feedback(request: Request, user: User, signal: str | None) -> tuple[str, str | None]:
    db = database(request)
    paper = paper_or_404(db, request.path_params["paper_id"])
    limits.limit(request, "upvote", str(user.id))  # a click like ▲, on the same budget
    if signal is None:
        feedback_store.remove_feedback(db, user.id, paper.id)
    else:
        feedback_store.set_feedback(db, user.id, paper.id, signal, datetime.now(UTC))
    return paper.id, signal


def _signal(value: Any) -> str:
    if value not in feedback_store.SIGNALS:
        raise Refused(400, f"signal: expected more or less, not {str(value)[:20]!r}")
    return str(value)


@documented(
    "Ask for more or less like a paper (POST), or take it back (DELETE)",
    "for you",
    model=FeedbackDoc,
    member=True,
    not_found=True,
    body=FeedbackBody,
)
@api_action
def feedback_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """{"signal": "more"|"less"}: a "less" paper leaves your For-you list at once and papers close to it
    move down; "more" counts as liking it. DELETE takes the signal back."""
    signal = _signal(body.get("signal")) if request.method == "POST" else None
    paper_id, now = _feedback(request, user, signal)
    return SafeJSONResponse({"id": paper_id, "signal": now})


@form_action
def feedback_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """The buttons on For-you's cards: signal more, less, or remove; back to the list."""
    action = form.get("signal")
    _feedback(request, user, None if action == "remove" else _signal(action))
    back = safe_next(form.get("back"))
    return redirect(back if back != "/" else "/for-you")


# -- seen once, across channels ------------------------------------------------------------------------


@documented(
    "Mark a paper seen (POST) or not seen (DELETE)",
    "for you",
    model=SeenDoc,
    member=True,
    not_found=True,
    body=SeenBody,
)
@api_action
def seen_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """A seen paper does not come back in For-you or your next digest (unless asked: ``seen=include``).
    {"via": "opened"} is what a paper's page sends when you open it; the default is "marked"."""
    db = database(request)
    paper = paper_or_404(db, request.path_params["paper_id"])
    if request.method == "DELETE":
        feedback_store.unsee(db, user.id, paper.id)
        return SafeJSONResponse({"id": paper.id, "seen": False})
    via = body.get("via", "marked")
    if via not in ("opened", "marked"):
        raise Refused(400, f"via: expected opened or marked, not {str(via)[:20]!r}")
    feedback_store.mark_seen(db, user.id, [paper.id], via, datetime.now(UTC))
    return SafeJSONResponse({"id": paper.id, "seen": True})


def _mark_all(db: Database, user: User, ids: list[str]) -> int:
    if len(ids) > MAX_MARKED:
        raise Refused(400, f"ids: at most {MAX_MARKED} papers")
    known = [p.id for p in paper_store.papers_by_ids(db, [i for i in ids if i])]
    return feedback_store.mark_seen(db, user.id, known, "marked", datetime.now(UTC))


@documented("Mark several papers seen", "for you", model=SeenAllDoc, member=True, body=SeenAllBody)
@api_action
def seen_all_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """ "Mark all as seen": {"ids": [...]} (at most 100), say the page of For-you you just read."""
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) and len(i) <= 64 for i in ids):
        raise Refused(400, "ids: expected a list of paper ids")
    return SafeJSONResponse({"marked": _mark_all(database(request), user, ids)})


@form_action
def seen_all_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """The "Mark all as seen" button under the list: the papers it showed, space-separated."""
    _mark_all(database(request), user, str(form.get("ids", "")).split())
    back = safe_next(form.get("back"))
    return redirect(back if back != "/" else "/for-you")


@form_action
def start_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """A new reader's seeds: arXiv ids (more like this), an author and categories (follows)."""
    ids = str(form.get("arxiv_ids", "")).replace(",", " ").split()
    authors = [str(form.get("author", ""))[:300]]
    categories = str(form.get("categories", "")).replace(",", " ").split()
    done = foryou.seed(database(request), user.id, ids, authors, categories, datetime.now(UTC))
    if done.problems and not (done.papers or done.follows):
        raise Refused(400, "Nothing to start from: " + "; ".join(done.problems))
    return redirect("/for-you")


# -- the private feed ------------------------------------------------------------------------------------


def feed_settings_page(request: Request) -> Response:
    user = viewer(request)
    if user is None:
        return redirect("/login?next=/settings/for-you-feed")
    return _feed_settings(request, user, None)


def _feed_settings(request: Request, user: User, secret: str | None) -> Response:
    base = request.app.state.settings.base_url.rstrip("/")
    context = {
        "live": token_store.live_token(database(request), user.id),
        "urls": [f"{base}/for-you/{secret}/feed.xml", f"{base}/for-you/{secret}/feed.atom"]
        if secret
        else None,
    }
    return render(request, "foryou_feed.html", context)


def _change_feed(request: Request, form: dict[str, str]) -> Response:
    # Like API tokens, the feed's secret is managed from a browser session only.
    user = require_session(request, form.get(csrf.FIELD))
    db = database(request)
    if form.get("action") == "revoke":
        token_store.revoke(db, user.id, datetime.now(UTC))
        return redirect("/settings/for-you-feed")
    return _feed_settings(request, user, foryou.new_feed_token(db, user.id, datetime.now(UTC)))


async def feed_settings_form(request: Request) -> Response:
    """Make a new secret URL (shown once; the old one stops working), or revoke it (action=revoke)."""
    return await run_in_threadpool(_change_feed, request, await read_form(request))


class RSSResponse(Response):
    media_type = "application/rss+xml; charset=utf-8"


class AtomResponse(Response):
    media_type = "application/atom+xml; charset=utf-8"


def _private_feed(request: Request, db: Database, token: str, kind: str) -> Response:
    status, user_id = foryou.feed_token_owner(db, token)
    if status == "revoked":
        raise Refused(410, "this feed's address was revoked; make a new one at /settings/for-you-feed")
    if user_id is None:
        raise Refused(404, "no feed at this address")
    settings = request.app.state.settings
    win = foryou.window(db)
    picks = (
        foryou.for_you(db, settings.embedding_model, user_id, win, limit=page_size(request, None)).picks
        if win
        else []
    )
    base = settings.base_url.rstrip("/")
    fg = FeedGenerator()
    own = f"{base}/for-you/{token}/feed.{'xml' if kind == 'rss' else 'atom'}"
    fg.id(own)
    fg.title(f"{settings.site_name}: for you" + (f", {win.label}" if win else ""))
    fg.subtitle("Papers ranked for one reader; this address is private.")
    fg.link(href=own, rel="self")
    fg.link(href=f"{base}/for-you", rel="alternate")
    fg.language("en")
    fg.generator(settings.site_name)
    newest = datetime(1970, 1, 1, tzinfo=UTC)
    for pick in picks:
        paper = pick.paper
        link = paper_url(base, paper.id)
        fe = fg.add_entry(order="append")
        fe.id(link)
        fe.guid(link, permalink=True)
        fe.link(href=link, rel="alternate")
        title, summary = (
            _xml(text_mode(paper.title)),
            _xml(f"Why: {pick.reason}. {text_mode(paper.abstract)}"),
        )
        if kind == "atom":
            fe.title(title)
            fe.summary(summary, type="text")
            if paper.authors:
                fe.author([{"name": _xml(text_mode(a))} for a in paper.authors])
        else:  # readers render RSS text as HTML: escaped once more, so it shows as written
            fe.title(html.escape(title, quote=False))
            fe.description(html.escape(summary, quote=False), isSummary=True)
        for category in paper.categories:
            fe.category(term=_xml(category))
        fe.published(paper.entered_feed_at)
        fe.updated(paper.entered_feed_at)
        newest = max(newest, paper.entered_feed_at)
    fg.updated(newest)
    body = fg.rss_str(pretty=True) if kind == "rss" else fg.atom_str(pretty=True)
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(newest, usegmt=True),
        "Cache-Control": "private, max-age=300",
        "Referrer-Policy": "no-referrer",  # the secret is in the URL
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return (RSSResponse if kind == "rss" else AtomResponse)(body, headers=headers)


def _xml(text: str) -> str:
    """Only what XML 1.0 allows (feeds with a control character are refused by readers)."""
    return "".join(
        c
        for c in text
        if c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd") or c >= "\U00010000"
    )


@documented(
    "Your For-you list as RSS 2.0, at a private URL", "feeds", response_class=RSSResponse, not_found=True
)
def private_rss(request: Request, db: DB, token: str) -> Response:
    """The reader's For-you (the default period, one page) for feed readers; the address is the secret
    made at /settings/for-you-feed (410 once revoked)."""
    return _private_feed(request, db, token, "rss")


@documented(
    "Your For-you list as Atom, at a private URL", "feeds", response_class=AtomResponse, not_found=True
)
def private_atom(request: Request, db: DB, token: str) -> Response:
    """As the RSS feed, in Atom."""
    return _private_feed(request, db, token, "atom")
