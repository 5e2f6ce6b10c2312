"""Remembered search answers (``search_cache_seconds``) and query vectors: a repeat is answered from memory,
and a paper the indexes take in is found at once, however fresh the remembered answer."""

from __future__ import annotations

import json
import time

import pytest

from paperfeed.ingest.normalize import paper_from_snapshot
from paperfeed.search import indexer
from paperfeed.search.hybrid import Searcher
from paperfeed.search.recent import Recent
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import papers as paper_store
from paperfeed.web import limits
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


def test_recent_entries_are_bounded_by_weight_and_by_an_earlier_expiry() -> None:
    kept: Recent[bytes] = Recent(100, seconds=60, budget=10, weigh=len)
    for name in "abc":
        kept.put(name, b"1234")
    assert kept.get("a") is None and kept.get("b") == kept.get("c") == b"1234", "12 bytes > 10: a went"
    assert kept.weight == 8
    kept.put("c", b"12")  # replaced: weighed anew
    assert kept.weight == 6 and len(kept) == 2
    kept.put("d", b"1", until=time.monotonic() - 1)  # made from an answer that expired
    assert kept.get("d") is None
    assert (kept.expires("b") or 0) > time.monotonic() + 50


def test_a_repeat_is_answered_before_routing_compressed_for_clients_that_take_it(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """web/search.py's RememberedSearches: an anonymous repeat never reaches the handler (nor the search), a
    client that accepts gzip gets the kept bytes as they are, any other the same JSON inflated; a signed-in
    reader, an odd parameter or a query over the rate limit goes the handler's way, as before."""
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    papers = [paper_from_snapshot(json.loads(line)) for line in RECENT.read_text().splitlines()[:5]]
    paper_store.upsert_papers(db, papers)
    indexer.bring_up_to_date(db, settings, embedder=cached_embedder(settings))
    app = create_app(settings.model_copy(update={"search_cache_seconds": 60, "rate_search": "40/60"}))
    handled = []  # the handler's calls, which count the rate limit first
    counted = limits.limit
    monkeypatch.setattr(limits, "limit", lambda *args: handled.append(args) or counted(*args))
    query = {"q": papers[0].title, "limit": 3}
    with TestClient(app) as client:
        first = client.get("/api/papers/search", params=query)
        assert first.status_code == 200 and len(handled) == 1
        assert first.headers["content-encoding"] == "gzip" and first.headers["vary"] == "accept-encoding"
        zipped = client.get("/api/papers/search", params=query, headers={"accept-encoding": "gzip"})
        plain = client.get("/api/papers/search", params=query, headers={"accept-encoding": "identity"})
        assert len(handled) == 1, "both answered before routing"
        assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
        assert zipped.content == plain.content == first.content  # httpx inflates the gzip ones
        assert int(plain.headers["content-length"]) == len(plain.content)
        assert plain.json()[0]["paper"]["id"] == papers[0].id

        assert client.get("/api/papers/search", params={**query, "limit": "03"}).status_code == 200
        assert len(handled) == 1, "limit=03 is limit=3, as the handler reads it"
        twice = {"q": [query["q"]] * 2, "limit": 3}
        for odd in (twice, {**query, "since": "2026-01-01"}, {**query, "extra": "1"}):
            assert client.get("/api/papers/search", params=odd).status_code == 200
        assert len(handled) == 4, "another answer, or parameters the fast path leaves to the handler"
        assert client.get("/api/papers/search", params={**query, "limit": 0}).status_code == 400
        signed = client.get("/api/papers/search", params=query, headers={"authorization": "Bearer nope"})
        assert signed.status_code == 200 and len(handled) == 5  # the 400 did not get that far
        codes = [client.get("/api/papers/search", params=query).status_code for _ in range(40)]
        assert codes == [200] * (40 - 8) + [429] * 8, "from memory or not, every search counts"
        assert len(handled) < 5 + 32, "most repeats were answered before routing"


def test_a_nodes_workers_share_remembered_answers(settings: Settings, db: Database) -> None:
    """Two workers (two apps) on one index folder: an answer written by one is the other's too, keyed by
    the indexes' commits (the same in both), not by each process's own counters; it expires as it would."""
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    papers = [paper_from_snapshot(json.loads(line)) for line in RECENT.read_text().splitlines()[:5]]
    paper_store.upsert_papers(db, papers)
    indexer.bring_up_to_date(db, settings, embedder=cached_embedder(settings))
    node = settings.model_copy(update={"search_cache_seconds": 60})
    one, two = create_app(node), create_app(node)
    query = {"q": papers[1].title, "limit": 4}
    with TestClient(one) as first, TestClient(two) as second:
        answer = first.get("/api/papers/search", params=query)
        searched = two.state.searcher.answers.misses
        again = second.get("/api/papers/search", params=query)
        assert again.status_code == answer.status_code == 200 and again.content == answer.content
        assert two.state.searcher.answers.misses == searched, "the second worker did not search"
        assert two.state.searcher.query_vectors.misses == 0, "nor run the model"
        shared = two.state.search_bodies._shared
        assert shared is not None and len(list(shared.folder.iterdir())) == 1
        key = two.state.searcher.answer_key(query["q"], 4, None)
        assert shared.get(key) is not None
        shared.put(key, b"x", -1)  # expired
        assert shared.get(key) is None
