"""Every URL paperfeed answers, in one table. Anything that changes state is a POST."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from paperfeed.web import api, feeds, pages, subscribe

# (method, path, handler, name). Order matters where paths overlap: '/papers/{id}.md' before
# '/papers/{id}', and '/api/papers/search' before '/api/papers/{id}' (old-style ids contain a slash).
ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    # HTML pages
    ("GET", "/", pages.home, "home"),
    ("GET", "/papers", pages.feed, "feed"),
    ("GET", "/papers/{paper_id:path}.md", api.paper_markdown, "paper_markdown"),
    ("GET", "/papers/{paper_id:path}", pages.paper, "paper"),
    # JSON API, shaped like Hugging Face's so huggingface_hub works with HF_ENDPOINT pointing here
    ("GET", "/api/daily_papers", api.daily_papers, "api_daily_papers"),
    ("GET", "/api/papers/search", api.search_papers, "api_search_papers"),
    ("GET", "/api/papers/{paper_id:path}", api.paper, "api_paper"),
    # Email digests: double opt-in, RFC 8058 one-click unsubscribe, preferences by signed link
    ("GET", "/subscribe", subscribe.subscribe_page, "subscribe_page"),
    ("POST", "/subscribe", subscribe.subscribe, "subscribe"),
    ("GET", "/subscribe/confirm", subscribe.confirm_page, "subscribe_confirm_page"),
    ("POST", "/subscribe/confirm", subscribe.confirm_subscription, "subscribe_confirm"),
    ("GET", "/unsubscribe/{token}", subscribe.unsubscribe_page, "unsubscribe_page"),
    ("POST", "/unsubscribe/{token}", subscribe.unsubscribe_one_click, "unsubscribe"),
    ("GET", "/subscription/{token}", subscribe.preferences_page, "preferences_page"),
    ("POST", "/subscription/{token}", subscribe.save_preferences, "preferences"),
    # Feeds for readers: ?date=, ?week=, ?month= as on the pages
    ("GET", "/feed.xml", feeds.rss, "rss"),
    ("GET", "/feed.atom", feeds.atom, "atom"),
]


def register(app: FastAPI) -> None:
    for method, path, handler, name in ROUTES:
        html = handler.__module__.endswith((".pages", ".subscribe"))
        # A handler may carry OpenAPI details (summary, tags, documented responses) as ``route_options``.
        options = getattr(handler, "route_options", {})
        app.add_api_route(path, handler, methods=[method], name=name, include_in_schema=not html, **options)
    # The API and feeds answer a malformed parameter with 400 {"error": ...} as HF does; pages keep 422.
    app.add_exception_handler(RequestValidationError, api.request_validation_error)
