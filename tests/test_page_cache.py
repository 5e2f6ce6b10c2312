"""The short-lived cache of rendered pages for anonymous readers (``web/cache.py``), on a real database."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from paperfeed.models import Paper
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import papers as store
from paperfeed.web.app import create_app

T0 = datetime(2026, 8, 3, 12, 0, tzinfo=UTC)


def add(db: Database, pid: str) -> None:
    store.upsert_papers(
        db, [Paper(id=pid, title=f"Title {pid}", abstract="A.", authors=["A"], published_at=T0)]
    )


def test_anonymous_pages_are_reused_for_a_short_time_then_rendered_again(
    db: Database, settings: Settings
) -> None:
    add(db, "2608.00001")
    client = TestClient(create_app(settings.model_copy(update={"page_cache_seconds": 0.5})))
    first = client.get("/api/daily_papers")
    assert [i["paper"]["id"] for i in first.json()] == ["2608.00001"]
    page = client.get("/")
    assert "2608.00001" in page.text
    add(db, "2608.00002")

    again = client.get("/api/daily_papers")
    assert again.content == first.content  # served from the cache
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["x-total-count"] == "1" and again.headers["x-content-type-options"] == "nosniff"
    cached_page = client.get("/")
    assert "2608.00002" not in cached_page.text
    assert cached_page.headers["content-security-policy"] == page.headers["content-security-policy"]
    # A fresh page is answered before routing: without touching the handler or the database at all.
    state = client.app.state  # type: ignore[attr-defined]
    state.db, database = None, state.db
    assert client.get("/").content == cached_page.content
    state.db = database
    # A signed-in reader always gets a fresh page; other cookies (the CSRF one) do not prevent caching;
    # other URLs have their own entries.
    assert len(client.get("/api/daily_papers", headers={"cookie": "__Host-session=x"}).json()) == 2
    assert len(client.get("/api/daily_papers", headers={"cookie": "__Host-csrf=y"}).json()) == 1
    assert len(client.get("/api/daily_papers?limit=10").json()) == 2

    time.sleep(0.6)
    assert len(client.get("/api/daily_papers").json()) == 2
    assert "2608.00002" in client.get("/").text


def test_errors_are_not_cached_and_zero_turns_the_cache_off(db: Database, settings: Settings) -> None:
    add(db, "2608.00001")
    cached = TestClient(create_app(settings.model_copy(update={"page_cache_seconds": 60})))
    assert cached.get("/papers?date=2026-13-01").status_code == 400
    assert cached.get("/papers?date=2026-08-03").status_code == 200
    app = cached.app.state  # type: ignore[attr-defined]
    assert list(app.page_cache._entries) == ["/papers?date=2026-08-03"]

    uncached = TestClient(create_app(settings.model_copy(update={"page_cache_seconds": 0})))
    assert len(uncached.get("/api/daily_papers").json()) == 1
    add(db, "2608.00002")
    assert len(uncached.get("/api/daily_papers").json()) == 2
