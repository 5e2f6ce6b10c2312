"""Brings every search index up to date with the database: ``paperfeed index``, ingest and the worker.

Three steps, each resumable on its own after a kill:
1. embed new and changed papers (a database job: its position is stored with each batch, so a rerun
   starts after the last batch that committed, on whichever machine runs it next) and extract the
   keyphrases of every paper it walks; a paper whose title and abstract did not change keeps its vector;
2. catch the node's keyword index up with ``papers.rev``;
3. catch the node's vector index base file up with the stored vectors.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from paperfeed.search import keyphrases
from paperfeed.search.embed import MODELS, RECIPE, Embedder, paper_text
from paperfeed.search.keyword import KeywordIndex
from paperfeed.search.vector import VectorIndex
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import embeddings as store


@dataclass(frozen=True, slots=True)
class IndexReport:
    embedded: int  # papers whose vector was (re)computed
    kept: int  # papers seen again whose text had not changed
    keyword: int  # papers (re)indexed by the keyword index
    vectors: int  # vectors added to this node's vector index


def job_name(model: str) -> str:
    # The recipe is part of the name: a new recipe is a new job, which walks every paper from the
    # start and re-embeds each one (its text hash, which covers the recipe, no longer matches). So is the
    # keyphrase extractor's version: a new extractor walks every paper again too, extracting keyphrases
    # anew while each unchanged paper keeps its vector.
    return f"embed:{model}:{RECIPE}:kp{keyphrases.VERSION}"


def open_indexes(settings: Settings) -> tuple[KeywordIndex, VectorIndex]:
    folder = settings.resolved_index_dir()
    spec = MODELS[settings.embedding_model]
    return (
        KeywordIndex(folder, settings.search_fulltext),
        VectorIndex(Path(folder) / "vectors", spec.name, spec.dim),
    )


def pending(db: Database, model: str, after: tuple[int, str], size: int) -> Iterator[list[store.ToEmbed]]:
    while batch := store.papers_to_embed(db, model, after, size):
        yield batch
        after = (batch[-1].rev, batch[-1].id)


def embed_new(
    db: Database,
    embedder: Embedder,
    keywords: KeywordIndex,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 256,
) -> tuple[int, int]:
    """Embed every paper written since this job's stored position; returns (embedded, kept).

    A thread reads the next batch from the database and prepares it (text hashes, the model's windows,
    keyphrases) while the model works on this one (onnxruntime releases the GIL): the model is never
    idle waiting for rows, and the preparation (5% of the model's time here) is off its path.
    """
    job = job_name(embedder.name)
    idf = keyphrases.idf_from(keywords.document_frequencies, max(len(keywords), 1))
    batches: queue.Queue[_Prepared | None] = queue.Queue(maxsize=2)
    failed: list[Exception] = []

    def read() -> None:
        try:
            for batch in pending(db, embedder.name, store.position(db, job), batch_size):
                hashes = [store.text_hash(f"{RECIPE}\n{paper_text(p.title, p.abstract)}") for p in batch]
                todo = [i for i, p in enumerate(batch) if p.stored_hash != hashes[i]]
                windows = [embedder.windows(batch[i].title, batch[i].abstract) for i in todo]
                # Every paper walked, changed or not: well under a millisecond each, and a new
                # extractor (a new job name) then reaches every paper without re-embedding any.
                phrases = [keyphrases.extract(p.title, p.abstract, idf) for p in batch]
                batches.put(_Prepared(batch, hashes, todo, windows, phrases))
        except Exception as exc:  # raised by the caller below (the database gone, say), not lost here
            failed.append(exc)
        finally:
            batches.put(None)

    reader = threading.Thread(target=read, name="embed-reader", daemon=True)
    reader.start()
    embedded = kept = 0
    while (ready := batches.get()) is not None:
        batch = ready.batch
        vectors = embedder.embed_windows(ready.windows)
        done = [
            store.Embedded(batch[i].id, ready.hashes[i], vectors[n], ready.keyphrases[i])
            for n, i in enumerate(ready.todo)
        ]
        changed = set(ready.todo)
        kept_phrases = [(p.id, ready.keyphrases[i]) for i, p in enumerate(batch) if i not in changed]
        store.store_embedded(db, job, embedder.name, done, (batch[-1].rev, batch[-1].id), kept_phrases)
        embedded += len(done)
        kept += len(batch) - len(done)
        if progress:
            progress(embedded + kept)
    reader.join()
    if failed:
        raise failed[0]
    return embedded, kept


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A batch read and made ready for the model; ``windows`` follows ``todo``."""

    batch: list[store.ToEmbed]
    hashes: list[str]
    todo: list[int]  # the papers whose text changed: their positions in ``batch``
    windows: list[list[str]]
    keyphrases: list[list[str]]  # of every paper in ``batch``


def bring_up_to_date(
    db: Database,
    settings: Settings,
    embedder: Embedder | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> IndexReport:
    """All three steps. The keyword index goes first: keyphrase scoring reads its word statistics."""
    keywords, vectors = open_indexes(settings)

    def step(name: str) -> Callable[[int], None] | None:
        return (lambda n: progress(name, n)) if progress else None

    keyword_count = keywords.sync(db, step("keyword index"))
    embedder = embedder or Embedder(settings.embedding_model)
    embedded, kept = embed_new(db, embedder, keywords, step("embeddings"), settings.embed_batch)
    vector_count = vectors.sync(db, step("vector index"))
    return IndexReport(embedded, kept, keyword_count, vector_count)
