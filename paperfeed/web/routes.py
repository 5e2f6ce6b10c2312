"""Every URL paperfeed answers, in one table. Anything that changes state is a POST (or DELETE), and
every such handler checks the CSRF token (cookie sessions) and a rate limit where the issue asks for one.
Every GET also answers HEAD."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from paperfeed.web import (
    api,
    auth,
    authors,
    avatars,
    code,
    collections,
    community,
    feeds,
    follows,
    foryou,
    media,
    notifications,
    orgs,
    pages,
    profiles,
    search,
    sitefiles,
    subscribe,
    tokens,
    webhooks,
)

# (method, path, handler, name). Order matters where paths overlap: '/papers/{id}.md' and '.bib|.ris|.json'
# before '/papers/{id}', and '/api/papers/search' and '…/similar' before '/api/papers/{id}' (old-style ids contain a slash).
ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    # HTML pages
    ("GET", "/", pages.home, "home"),
    ("GET", "/papers", pages.feed, "feed"),
    ("GET", "/papers/{paper_id:path}/thumbnail.webp", media.thumbnail, "thumbnail"),
    ("GET", "/papers/{paper_id:path}/card.webp", media.card, "title_card"),
    ("GET", "/papers/{paper_id:path}.md", api.paper_markdown, "paper_markdown"),
    # Citations: .bib, .ris, .json (CSL); before '/papers/{id}', which would take the suffix for the id
    ("GET", "/papers/{paper_id:path}.{fmt:cite}", api.paper_citation, "paper_citation"),
    # Community forms (POST only: '/papers/{id}/upvote' never shadows the GET paper page)
    ("POST", "/papers/{paper_id:path}/upvote", community.upvote_form, "upvote_form"),
    ("POST", "/papers/{paper_id:path}/comments", pages.comment_form, "comment_form"),
    ("POST", "/papers/{paper_id:path}/claim", profiles.claim_form, "claim_form"),
    ("POST", "/papers/{paper_id:path}/pick", community.pick_form, "pick_form"),
    ("POST", "/papers/{paper_id:path}/links", code.links_form, "links_form"),
    ("POST", "/papers/{paper_id:path}/feedback", foryou.feedback_form, "feedback_form"),
    ("POST", "/comments/{comment_id:rowid}", pages.change_comment_form, "change_comment_form"),
    ("GET", "/papers/{paper_id:path}", pages.paper, "paper"),
    # arXiv's own paths, so swapping the host of an arXiv link lands here
    ("GET", "/abs/{paper_id:path}", pages.arxiv_abs, "arxiv_abs"),
    ("GET", "/pdf/{paper_id:path}", pages.arxiv_pdf, "arxiv_pdf"),
    ("GET", "/search.{fmt:cite}", search.search_citation, "search_citation"),
    ("GET", "/search", search.search_page, "search"),
    ("GET", "/avatars/{seed}.svg", avatars.avatar, "avatar"),
    # JSON API, shaped like Hugging Face's so huggingface_hub works with HF_ENDPOINT pointing here
    ("GET", "/api/daily_papers", api.daily_papers, "api_daily_papers"),
    ("GET", "/api/papers", api.all_papers, "api_all_papers"),
    ("GET", "/api/papers/search", search.api_search, "api_search_papers"),
    ("GET", "/api/papers/{paper_id:path}/similar", search.api_similar, "api_similar_papers"),
    ("POST", "/api/papers/index", community.submit_api, "api_submit"),
    ("POST", "/api/papers/{paper_id:path}/pick", community.pick_api, "api_pick"),
    ("DELETE", "/api/papers/{paper_id:path}/pick", community.pick_api, "api_unpick"),
    ("GET", "/api/submissions", community.submissions_api, "api_submissions"),
    ("GET", "/api/notifications", notifications.list_api, "api_notifications"),
    ("POST", "/api/notifications/read", notifications.read_api, "api_read_notifications"),
    ("GET", "/api/notifications/settings", notifications.settings_api, "api_notification_settings"),
    ("PUT", "/api/notifications/settings", notifications.put_settings_api, "api_put_notification_settings"),
    ("GET", "/api/webhooks", webhooks.list_api, "api_webhooks"),
    ("POST", "/api/webhooks", webhooks.create_api, "api_create_webhook"),
    ("DELETE", "/api/webhooks/{webhook_id:rowid}", webhooks.delete_api, "api_delete_webhook"),
    ("POST", "/api/papers/{paper_id:path}/upvote", community.upvote_api, "api_upvote"),
    ("DELETE", "/api/papers/{paper_id:path}/upvote", community.upvote_api, "api_unvote"),
    ("GET", "/api/papers/{paper_id:path}/comments", community.list_comments, "api_comments"),
    ("POST", "/api/papers/{paper_id:path}/comments", community.post_comment_api, "api_post_comment"),
    ("GET", "/api/papers/{paper_id:path}/trending", community.trending_api, "api_trending"),
    ("POST", "/api/papers/{paper_id:path}/links", code.links_api, "api_links"),
    ("POST", "/api/papers/{paper_id:path}/feedback", foryou.feedback_api, "api_feedback"),
    ("DELETE", "/api/papers/{paper_id:path}/feedback", foryou.feedback_api, "api_unfeedback"),
    ("POST", "/api/papers/{paper_id:path}/seen", foryou.seen_api, "api_seen"),
    ("DELETE", "/api/papers/{paper_id:path}/seen", foryou.seen_api, "api_unseen"),
    ("GET", "/api/papers/{paper_id:path}", api.paper, "api_paper"),
    ("GET", "/api/arxiv/{paper_id:path}/repos", api.arxiv_repos, "api_arxiv_repos"),
    ("GET", "/api/for-you", foryou.foryou_api, "api_for_you"),
    ("POST", "/api/for-you/seen", foryou.seen_all_api, "api_for_you_seen"),
    ("POST", "/api/settings/papers/claim", profiles.claim_api, "api_claim"),
    ("GET", "/api/organizations/{name}", orgs.org_api, "api_org"),
    ("GET", "/api/authors/{name}/papers", authors.author_api, "api_author_papers"),
    ("GET", "/api/follows", follows.list_api, "api_follows"),
    ("POST", "/api/follows", follows.follow_api, "api_follow"),
    ("DELETE", "/api/follows", follows.unfollow_api, "api_unfollow"),
    ("POST", "/api/collections", collections.create_api, "api_create_collection"),
    ("GET", "/api/collections/{collection_id:rowid}", collections.collection_api, "api_collection"),
    ("POST", "/api/collections/{collection_id:rowid}/items", collections.items_api, "api_collection_items"),
    # Accounts
    ("GET", "/signup", auth.signup_form, "signup_form"),
    ("POST", "/signup", auth.signup, "signup"),
    ("GET", "/login", auth.login_form, "login_form"),
    ("POST", "/login", auth.login, "login"),
    ("POST", "/logout", auth.logout, "logout"),
    ("GET", "/signup/confirm", auth.activate_page, "activate_page"),
    ("POST", "/signup/confirm", auth.activate, "activate"),
    ("GET", "/settings/password", auth.password_form, "password_form"),
    ("POST", "/settings/password", auth.change_password, "change_password"),
    ("GET", "/password/forgot", auth.forgot_form, "forgot_form"),
    ("POST", "/password/forgot", auth.forgot, "forgot"),
    ("GET", "/password/reset", auth.reset_page, "reset_page"),
    ("POST", "/password/reset", auth.reset, "reset"),
    ("GET", "/settings/tokens", tokens.tokens_page, "tokens_page"),
    ("POST", "/settings/tokens", tokens.create_form, "create_token"),
    ("POST", "/settings/tokens/{token_id:int}/revoke", tokens.revoke_form, "revoke_token"),
    ("GET", "/settings/webhooks", webhooks.webhooks_page, "webhooks_page"),
    ("POST", "/settings/webhooks", webhooks.create_form, "create_webhook"),
    ("POST", "/settings/webhooks/{hook_id:rowid}", webhooks.change_form, "change_webhook"),
    ("GET", "/settings/for-you-feed", foryou.feed_settings_page, "for_you_feed_settings"),
    ("POST", "/settings/for-you-feed", foryou.feed_settings_form, "change_for_you_feed"),
    ("GET", "/notifications", notifications.notifications_page, "notifications_page"),
    ("POST", "/notifications/read", notifications.read_form, "read_notifications"),
    ("POST", "/notifications/settings", notifications.settings_form, "notification_settings"),
    ("GET", "/submit", community.submit_page, "submit_page"),
    ("POST", "/submit", community.submit_form, "submit"),
    # Members, organizations, collections, authorship claims
    ("GET", "/users/{name}", profiles.profile, "profile"),
    ("POST", "/orgs", orgs.create_form, "create_org"),
    ("GET", "/orgs/{name}", orgs.org_page, "org"),
    ("GET", "/authors/{name}", authors.author, "author"),
    ("GET", "/follows", follows.follows_page, "follows_page"),
    ("POST", "/follows", follows.follow_form, "follow"),
    ("POST", "/orgs/{name}/members", orgs.members_form, "org_members"),
    ("POST", "/orgs/{name}/papers", orgs.papers_form, "org_papers"),
    ("POST", "/collections", collections.create_form, "create_collection"),
    (
        "GET",
        "/collections/{collection_id:rowid}.{fmt:cite}",
        collections.collection_citation,
        "collection_citation",
    ),
    ("GET", "/collections/{collection_id:rowid}", collections.collection_page, "collection"),
    ("POST", "/collections/{collection_id:rowid}/items", collections.items_form, "collection_items"),
    ("GET", "/admin/claims", profiles.claims_page, "claims"),
    ("POST", "/admin/claims/{claim_id:rowid}", profiles.decide_form, "decide_claim"),
    # For you: the reader's own ranking, its feedback and seen-once forms, its private feeds
    ("GET", "/for-you", foryou.foryou_page, "for_you"),
    ("POST", "/for-you/seen", foryou.seen_all_form, "for_you_seen"),
    ("POST", "/for-you/start", foryou.start_form, "for_you_start"),
    ("GET", "/for-you/{token}/feed.xml", foryou.private_rss, "for_you_rss"),
    ("GET", "/for-you/{token}/feed.atom", foryou.private_atom, "for_you_atom"),
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
    ("GET", "/authors/{name}/feed.xml", feeds.author_rss, "author_rss"),
    ("GET", "/authors/{name}/feed.atom", feeds.author_atom, "author_atom"),
    ("GET", "/orgs/{name}/feed.xml", feeds.org_rss, "org_rss"),
    ("GET", "/orgs/{name}/feed.atom", feeds.org_atom, "org_atom"),
    ("GET", "/collections/{collection_id:rowid}/feed.xml", feeds.collection_rss, "collection_rss"),
    ("GET", "/collections/{collection_id:rowid}/feed.atom", feeds.collection_atom, "collection_atom"),
    # What crawlers and browsers ask every site for
    ("GET", "/robots.txt", sitefiles.robots, "robots"),
    ("GET", "/favicon.ico", sitefiles.favicon, "favicon"),
]


_PATH_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")
_PARAM_SCHEMAS = {
    "rowid": {"type": "integer", "minimum": 0, "maximum": 9_999_999_999},
    "path": {"type": "string", "minLength": 1},
    "": {"type": "string", "minLength": 1},
}


def _path_parameters(path: str, handler: Callable[..., Any]) -> list[dict[str, Any]]:
    """OpenAPI entries for the path parameters a handler reads from ``request.path_params`` rather than
    from its signature (the kit's action wrappers take only the request), so the schema names them all."""
    declared = inspect.signature(handler).parameters
    return [
        {"name": name, "in": "path", "required": True, "schema": _PARAM_SCHEMAS[kind]}
        for name, kind in _PATH_PARAM.findall(path)
        if name not in declared
    ]


def register(app: FastAPI) -> None:
    for method, path, handler, name in ROUTES:
        # API and feed handlers carry OpenAPI details (summary, tags, documented responses) as
        # ``route_options`` (``web.params.documented``). HTML pages and forms stay out of /openapi.json.
        options = dict(getattr(handler, "route_options", None) or {})
        documented = bool(options) or path.startswith("/api/")
        if documented and (parameters := _path_parameters(path, handler)):
            options["openapi_extra"] = {**options.get("openapi_extra", {}), "parameters": parameters}
        app.add_api_route(path, handler, methods=[method], name=name, include_in_schema=documented, **options)
        if method == "GET":
            # HEAD wherever GET is (FastAPI does not add it): the same handler and headers; the server
            # (uvicorn) sends no body. Kept out of /openapi.json, where it would only repeat the GET.
            app.add_api_route(path, handler, methods=["HEAD"], name=f"{name}_head", include_in_schema=False)
