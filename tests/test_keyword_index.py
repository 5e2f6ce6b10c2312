"""The tantivy keyword index: derived from the database, incremental, rebuildable, safe to repeat."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from paperfeed.ingest.snapshot import ingest_snapshot
from paperfeed.models import Paper
from paperfeed.search import indexer
from paperfeed.search.hybrid import Searcher
from paperfeed.search.keyword import KeywordIndex
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import papers as store
from tests.conftest import RECENT

T0 = datetime(2026, 8, 3, 12, 0, tzinfo=UTC)


def fresh(settings: Settings) -> KeywordIndex:
    index = KeywordIndex(settings.resolved_index_dir())
    index._reloaded = -1e9  # tests read right after writing; skip the once-a-second reload throttle
    return index


def ids(index: KeywordIndex, query: str, limit: int = 5) -> list[str]:
    index._reloaded = -1e9
    return [h.id for h in index.search(query, limit)]


def test_sync_indexes_only_what_changed(settings: Settings, db: Database) -> None:
    ingest_snapshot(db, RECENT)
    index = fresh(settings)
    assert index.sync(db) == 304 and len(index) == 304
    assert index.sync(db) == 0, "nothing changed, nothing read"
    assert ids(index, "Sparse Delta Memory linear RNN")[0] == "2607.07386"
    assert ids(index, "Cabannes")[0] == "2607.07386", "authors are searchable"
    store.upsert_papers(
        db,
        [
            Paper(
                id="2608.99999",
                title="Quokka cardinality sketches",
                abstract="Quokkas.",
                authors=["Q. Uokka"],
                published_at=T0,
            )
        ],
    )
    assert index.sync(db) == 1 and ids(index, "quokka") == ["2608.99999"]


def test_new_version_replaces_the_document(settings: Settings, db: Database) -> None:
    p = Paper(
        id="2608.99999", title="Wombat burrows", abstract="Digging.", authors=["W. Ombat"], published_at=T0
    )
    store.upsert_papers(db, [p])
    index = fresh(settings)
    index.sync(db)
    p2 = Paper(
        id=p.id, title="Platypus venom", abstract="Spurs.", authors=["P. Latypus"], published_at=T0, version=2
    )
    store.upsert_papers(db, [p2])
    assert index.sync(db) == 1
    assert ids(index, "wombat") == [] and ids(index, "platypus") == ["2608.99999"] and len(index) == 1


def test_repeating_a_sync_after_a_lost_state_file_changes_nothing(settings: Settings, db: Database) -> None:
    ingest_snapshot(db, RECENT)
    index = fresh(settings)
    index.sync(db)
    (Path(settings.resolved_index_dir()) / "paperfeed-state").unlink()  # as if killed before writing it
    reopened = fresh(settings)
    assert reopened.sync(db) == 304
    assert len(reopened) == 304, "documents were replaced, not duplicated"


def test_rebuild_from_the_database(settings: Settings, db: Database) -> None:
    ingest_snapshot(db, RECENT)
    index = fresh(settings)
    index.sync(db)
    assert index.rebuild(db) == 304 and len(index) == 304


def test_indexing_alongside_an_import(settings: Settings, db: Database) -> None:
    index = fresh(settings)
    with index.alongside(db):
        ingest_snapshot(db, RECENT)
    assert len(index) == 304 and index.sync(db) == 0
    assert ids(index, "Sparse Delta Memory")[0] == "2607.07386"


def test_any_text_is_a_query(settings: Settings, db: Database) -> None:
    ingest_snapshot(db, RECENT)
    index = fresh(settings)
    index.sync(db)
    for query in ['"unbalanced', "a AND", "OR", "title:(", "$\\alpha$ ^ ~2 *", "", "   ", "<script>"]:
        index.search(query, 5)  # must not raise


def test_exact_arxiv_id_comes_first(loaded_db: Database, loaded_settings: Settings) -> None:
    keywords, vectors = indexer.open_indexes(loaded_settings)
    searcher = Searcher(loaded_db, keywords, vectors, loaded_settings.embedding_model)
    results = searcher.search("2607.07386", 5, mode="keyword")
    assert results[0].paper.id == "2607.07386"
    results = searcher.search("arXiv:0704.0001v2", 5, mode="keyword")
    assert results[0].paper.id == "0704.0001"
