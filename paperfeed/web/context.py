"""What templates may ask about the visitor and the community: registered as Jinja globals by web/app.py,
so the existing page handlers need not change to show vote buttons, comments and the signed-in user."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

from paperfeed import markdown
from paperfeed.models import Collection, Comment, Paper
from paperfeed.storage import collections as collection_store
from paperfeed.storage import comments as comment_store
from paperfeed.storage import votes as vote_store
from paperfeed.trending import WhyTrending, why_trending
from paperfeed.web import csrf
from paperfeed.web.auth import viewer


def my_votes(request: Request, papers: Iterable[Paper]) -> set[str]:
    user = viewer(request)
    return vote_store.has_upvoted(request.app.state.db, user.id, [p.id for p in papers]) if user else set()


def paper_comments(request: Request, paper: Paper) -> list[Comment]:
    return comment_store.paper_comments(request.app.state.db, paper.id)


def my_collections(request: Request) -> list[Collection]:
    user = viewer(request)
    return collection_store.user_collections(request.app.state.db, user.id, True) if user else []


def paper_trending(request: Request, paper: Paper) -> WhyTrending | None:
    return why_trending(request.app.state.db, paper.id)


GLOBALS: dict[str, Any] = {
    "csrf_token": csrf.token,
    "viewer": viewer,
    "my_votes": my_votes,
    "paper_comments": paper_comments,
    "my_collections": my_collections,
    "why_trending": paper_trending,
    "render_markdown": markdown.render,
}
