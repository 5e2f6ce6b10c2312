"""An author's papers: the ``/authors/{name}`` page (cards, newest first, the members whose claim to be
this author was approved linked to their profiles, a follow button and the author's feeds) and its JSON,
``GET /api/authors/{name}/papers``.

Names match as claims and follows match them (no case, accents or extra spaces), through the
``paper_authors`` index (``storage/authors.py``), so a page costs the same at a million papers. The
feeds themselves are ``web/feeds.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Path, Query
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from paperfeed.models import Paper
from paperfeed.storage import Database
from paperfeed.storage import authors as author_store
from paperfeed.storage import papers as paper_store
from paperfeed.web.kit import DB, Refused, cards_math, extras, following, render, voted
from paperfeed.web.params import LimitParam, documented, page_size
from paperfeed.web.schemas import (
    DailyPaperDoc,
)
from paperfeed.web.serialize import (
    SafeJSONResponse,
    daily_item_json,
)

MAX_PAGE = 10_000  # far past any author's papers at 100 a page; keeps OFFSET small

AuthorName = Annotated[
    str, Path(min_length=1, max_length=300, description="An author's name, as on a paper.")
]
PageParam = Annotated[int, Query(ge=0, le=MAX_PAGE, description="Page, from 0.")]


@dataclass(frozen=True, slots=True)
class AuthorPage:
    name: str  # as written on their newest paper
    papers: list[Paper]
    total: int
    claimed_by: list[str]  # members' handles


class AuthorDoc(BaseModel):
    name: str = Field(description="The name as written on the author's newest paper.")
    claimedBy: list[str] = Field(description="Members whose claim to be this author an admin approved.")
    total: int = Field(description="Papers by this author on this site.")
    papers: list[DailyPaperDoc] = Field(description="This page of them, newest on the feed first.")


def author_page(db: Database, name: str, size: int, page: int) -> AuthorPage:
    """One page of an author's papers; 404 when no paper has an author of that name."""
    name = " ".join(name.split())
    total = author_store.count_author_papers(db, name) if name else 0
    if not total:
        raise Refused(404, f"no paper on this site has an author named {name[:80]!r}")
    papers = paper_store.author_papers(db, name, size, page * size)
    key = author_store.author_key(name)
    newest = papers or paper_store.author_papers(db, name, 1)
    shown = next((" ".join(a.split()) for a in newest[0].authors if author_store.author_key(a) == key), name)
    return AuthorPage(shown, papers, total, [h for h, _ in author_store.claimants(db, name)])


def author(request: Request, db: DB, name: str, p: Annotated[str | None, Query()] = None) -> Response:
    """An author's page: their papers, who claimed them, a follow button and the feeds."""
    if p is not None and not (p.isascii() and p.isdigit() and int(p) <= MAX_PAGE):
        raise Refused(400, f"p={p[:20]!r} is not a page number (0 to {MAX_PAGE})")
    page = int(p or 0)
    size = int(request.app.state.settings.page_size)
    found = author_page(db, name, size, page)
    path = f"/authors/{quote(found.name, safe='')}"
    context = {
        "author": found,
        "page": page,
        "pages": max(1, -(-found.total // size)),
        "first_rank": page * size + 1,
        "path": path,
        "following": following(request, "author", found.name),
        "voted": voted(request, found.papers),
        "back": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "math": cards_math(found.papers),
    }
    return render(request, "author.html", context)


@documented("An author's papers", "papers", model=AuthorDoc, not_found=True)
def author_api(
    request: Request, db: DB, name: AuthorName, limit: LimitParam = None, p: PageParam = 0
) -> Response:
    """The papers with an author of this name (no case, accents or extra spaces), newest on the feed first,
    a page at a time, with the members who claimed to be this author."""
    found = author_page(db, name, page_size(request, limit), p)
    more = extras(request, found.papers)
    return SafeJSONResponse(
        {
            "name": found.name,
            "claimedBy": found.claimed_by,
            "total": found.total,
            "papers": [daily_item_json(paper, more) for paper in found.papers],
        }
    )
