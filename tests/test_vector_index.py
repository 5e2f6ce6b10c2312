"""The vector index's full-precision records: what searches score candidates with, kept beside the base."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from paperfeed.ingest.normalize import paper_from_snapshot
from paperfeed.search import indexer, rescore
from paperfeed.search.vector import VectorIndex
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import embeddings as store
from paperfeed.storage import papers as paper_store
from tests.conftest import RECENT

DIM = 384


def store_vectors(db: Database, model: str, vectors: dict[str, np.ndarray]) -> None:
    """Vectors written as the embedding job writes them (any vector will do: no model needed)."""
    done = [store.Embedded(i, f"hash-{i}", v, None) for i, v in vectors.items()]
    store.store_embedded(db, model, done)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def ids(db: Database) -> list[str]:
    papers = [paper_from_snapshot(json.loads(line)) for line in RECENT.read_text().splitlines()[:30]]
    paper_store.upsert_papers(db, papers)
    return [p.id for p in papers]


def index_of(settings: Settings) -> VectorIndex:
    return indexer.open_indexes(settings)[1]


def with_base(
    settings: Settings, db: Database, ids: list[str], seed: int
) -> tuple[np.random.Generator, dict[str, np.ndarray], VectorIndex]:
    """Random vectors stored for these papers and folded into a base by a writer."""
    rng = np.random.default_rng(seed)
    vectors = dict(zip(ids, unit(rng, len(ids)), strict=True))
    store_vectors(db, settings.embedding_model, vectors)
    writer = index_of(settings)
    assert writer.sync(db) == len(ids)
    return rng, vectors, writer


def as_dict(found: tuple[list[str], np.ndarray]) -> dict[str, np.ndarray]:
    ids, matrix = found
    assert len(ids) == len(set(ids)) == len(matrix)
    return dict(zip(ids, matrix, strict=True))


def test_stored_vectors_come_from_the_base_and_the_delta_newest_first(
    settings: Settings, db: Database, ids: list[str]
) -> None:
    rng, first, writer = with_base(settings, db, ids[:20], seed=1)
    reader = index_of(settings)
    reader.refresh(db)
    # a paper re-embedded and two new ones, written after the base: the reader's delta has them
    later = dict(zip([ids[3], *ids[20:22]], unit(rng, 3), strict=True))
    store_vectors(db, settings.embedding_model, later)
    reader.refresh(db)
    assert reader.delta_size() == 3
    keys = {store.vector_key(i) for i in ids}  # eight papers have no vector: they are left out
    newest = first | later
    got = as_dict(reader.stored(keys))
    assert set(got) == set(newest)
    for paper_id, vector in newest.items():  # float16 precision
        np.testing.assert_allclose(got[paper_id], vector, atol=1e-3)
    # folded into the base, the re-embedded paper's newer record wins over its first one
    assert writer.sync(db) == 3
    reader.refresh(db)
    assert reader.delta_size() == 0
    got = as_dict(reader.stored(keys))
    assert set(got) == set(newest)
    np.testing.assert_allclose(got[ids[3]], later[ids[3]], atol=1e-3)
    assert not np.allclose(got[ids[3]], first[ids[3]], atol=1e-2)


def test_records_a_killed_writer_appended_past_its_base_are_cut_off(
    settings: Settings, db: Database, ids: list[str]
) -> None:
    rng, vectors, writer = with_base(settings, db, ids[:10], seed=2)
    folder = writer.folder
    # A writer killed after appending records, before it saved the graph and its state: the records
    # are not the base's (wrong vectors for real papers, under their real keys).
    stray = rescore.Appender(folder, "vectors", DIM, rows=10)
    stray.add(np.array([store.vector_key(i) for i in ids[:2]], dtype=np.uint64), ids[:2], unit(rng, 2))
    reader = index_of(settings)
    reader.refresh(db)  # reads only the rows its state names
    got = as_dict(reader.stored({store.vector_key(i) for i in ids[:2]}))
    for paper_id in ids[:2]:
        np.testing.assert_allclose(got[paper_id], vectors[paper_id], atol=1e-3)
    more = dict(zip(ids[10:12], unit(rng, 2), strict=True))
    store_vectors(db, settings.embedding_model, more)
    assert writer.sync(db) == 2  # cuts the stray records off, then appends after the base's rows
    size = rescore.record_type(DIM).itemsize
    assert (folder / "vectors.records").stat().st_size == 12 * size
    assert (folder / "vectors.keys").stat().st_size == 12 * 8
    fresh = index_of(settings)
    fresh.refresh(db)
    got = as_dict(fresh.stored({store.vector_key(i) for i in ids[:12]}))
    for paper_id, vector in (vectors | more).items():
        np.testing.assert_allclose(got[paper_id], vector, atol=1e-3)


def test_a_base_of_the_older_layout_is_rebuilt_with_its_records(
    settings: Settings, db: Database, ids: list[str]
) -> None:
    _, vectors, writer = with_base(settings, db, ids[:5], seed=3)
    state = writer.folder / "vectors.state"
    model, rev, scale, _rows, last_id = state.read_text().split("\n", 4)
    state.write_text(f"{model}\n{rev}\n{scale}\n{last_id}")  # the layout before records existed
    assert writer.sync(db) == 5
    reader = index_of(settings)
    reader.refresh(db)
    assert set(as_dict(reader.stored({store.vector_key(i) for i in ids}))) == set(vectors)


def test_a_missing_records_file_is_named_with_the_fix_and_the_writer_rebuilds(
    settings: Settings, db: Database, ids: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    _, _, writer = with_base(settings, db, ids[:5], seed=4)
    (writer.folder / "vectors.records").unlink()
    reader = index_of(settings)
    reader.refresh(db)  # no base it can map: it answers from the database's vectors meanwhile
    assert re.search(r"vectors\.records is missing; .*paperfeed index --rebuild", caplog.text)
    assert len(as_dict(reader.stored({store.vector_key(i) for i in ids}))) == 5
    assert reader.needs_build(), "the node's writer is told to build a base now"
    assert writer.sync(db) == 5, "the writer sees the damage and starts over"
    reader.refresh(db)
    assert not reader.needs_build() and reader.delta_size() == 0
    assert len(as_dict(reader.stored({store.vector_key(i) for i in ids}))) == 5


def test_a_folder_deleted_while_the_base_is_saved_is_built_again_by_the_next_sync(
    settings: Settings,
    db: Database,
    ids: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The folder deleted (``rm -rf``) between the sync's start and its records' write: logged, not raised
    (the web worker's follower would log a traceback), and the next sync builds the whole base again."""
    store_vectors(
        db, settings.embedding_model, dict(zip(ids, unit(np.random.default_rng(5), len(ids)), strict=True))
    )
    writer = index_of(settings)
    add = rescore.Appender.add

    def deleted_first(self: rescore.Appender, *args: object, **kwargs: object) -> None:
        shutil.rmtree(writer.folder)
        add(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rescore.Appender, "add", deleted_first)
    assert writer.sync(db) == 0
    assert "deleted while it was saved" in caplog.text
    monkeypatch.setattr(rescore.Appender, "add", add)
    assert writer.sync(db) == len(ids)
    reader = index_of(settings)
    reader.refresh(db)
    assert reader.delta_size() == 0 and not reader.needs_build()
