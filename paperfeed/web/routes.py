"""Every URL paperfeed answers, in one table. Anything that changes state is a POST (none yet)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from paperfeed.web import api, feeds, pages, search

# (method, path, handler, name). Order matters where paths overlap: '/papers/{id}.md' before
# '/papers/{id}', and '/api/papers/search' and '…/similar' before '/api/papers/{id}' (old-style ids contain a slash).
ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    # HTML pages
    ("GET", "/", pages.home, "home"),
    ("GET", "/papers", pages.feed, "feed"),
    ("GET", "/papers/{paper_id:path}.md", api.paper_markdown, "paper_markdown"),
    ("GET", "/papers/{paper_id:path}", pages.paper, "paper"),
    ("GET", "/search", search.search_page, "search"),
    # JSON API, shaped like Hugging Face's so huggingface_hub works with HF_ENDPOINT pointing here
    ("GET", "/api/daily_papers", api.daily_papers, "api_daily_papers"),
    ("GET", "/api/papers/search", search.api_search, "api_search_papers"),
    ("GET", "/api/papers/{paper_id:path}/similar", search.api_similar, "api_similar_papers"),
    ("GET", "/api/papers/{paper_id:path}", api.paper, "api_paper"),
    # Feeds for readers: ?date=, ?week=, ?month= as on the pages
    ("GET", "/feed.xml", feeds.rss, "rss"),
    ("GET", "/feed.atom", feeds.atom, "atom"),
]


def register(app: FastAPI) -> None:
    for method, path, handler, name in ROUTES:
        # API and feed handlers carry OpenAPI details (summary, tags, documented responses) as
        # ``route_options``; HTML pages have none and stay out of /openapi.json.
        options = getattr(handler, "route_options", None)
        app.add_api_route(
            path,
            handler,
            methods=[method],
            name=name,
            include_in_schema=options is not None,
            **(options or {}),
        )
    # The API and feeds answer a malformed parameter with 400 {"error": ...} as HF does; pages keep 422.
    app.add_exception_handler(RequestValidationError, api.request_validation_error)
