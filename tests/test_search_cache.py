"""Remembered search answers (``search_cache_seconds``) and query vectors: a repeat is answered from memory,
and a paper the indexes take in is found at once, however fresh the remembered answer."""

from __future__ import annotations

import json
import time

from paperfeed.ingest.normalize import paper_from_snapshot
from paperfeed.search import indexer
from paperfeed.search.hybrid import Searcher
from paperfeed.search.recent import Recent
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import papers as paper_store
from tests.conftest import RECENT, cached_embedder


def test_recent_answers_expire_and_the_oldest_go_first() -> None:
    kept: Recent[str] = Recent(2, seconds=0.2)
    kept.put("a", "A")
    kept.put("b", "B")
    assert kept.get("a") == "A"  # now the newest
    kept.put("c", "C")
    assert kept.get("b") is None and kept.get("a") == "A" and kept.get("c") == "C"
    time.sleep(0.25)
    assert kept.get("a") is None
    off: Recent[str] = Recent(10, seconds=0)
    off.put("a", "A")
    assert off.get("a") is None and not off.enabled


def test_a_repeat_is_remembered_until_the_indexes_change(settings: Settings, db: Database) -> None:
    papers = [paper_from_snapshot(json.loads(line)) for line in RECENT.read_text().splitlines()[:6]]
    paper_store.upsert_papers(db, papers[:5])
    indexer.bring_up_to_date(db, settings, embedder=cached_embedder(settings))
    searcher = Searcher.open(db, settings.model_copy(update={"search_cache_seconds": 60}), refresh_seconds=0)
    newcomer = papers[5]
    first = searcher.find(newcomer.title, 10)
    assert newcomer.id not in [r.paper.id for r in first.results]
    assert searcher.find(f"  {newcomer.title} ", 10) is first, "the same words: the same answer"
    assert searcher.find(newcomer.title, 11) is not first, "another page size is another answer"
    assert searcher.query_vectors.hits >= 1, "the model ran once for the query's text"

    paper_store.upsert_papers(db, [newcomer])
    searcher.keywords.sync(db)  # what the node's follower does; readers reload within a second
    time.sleep(1.1)
    again = searcher.find(newcomer.title, 10)
    assert again.results[0].paper.id == newcomer.id, "a new commit of the index is a new answer"


def test_an_anonymous_repeat_gets_the_json_written_for_the_first(settings: Settings, db: Database) -> None:
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    papers = [paper_from_snapshot(json.loads(line)) for line in RECENT.read_text().splitlines()[:5]]
    paper_store.upsert_papers(db, papers)
    indexer.bring_up_to_date(db, settings, embedder=cached_embedder(settings))
    app = create_app(settings.model_copy(update={"search_cache_seconds": 60}))
    with TestClient(app) as client:
        query = {"q": papers[0].title, "limit": 3}
        first, again = (client.get("/api/papers/search", params=query) for _ in range(2))
        assert first.status_code == again.status_code == 200
        assert again.content == first.content and again.headers["content-type"] == "application/json"
        assert app.state.search_bodies.hits == 1
        assert first.json()[0]["paper"]["id"] == papers[0].id
