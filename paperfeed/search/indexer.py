"""Brings every search index up to date with the database: ``paperfeed index``, ingest and the worker.

Three steps, each resumable on its own after a kill:
1. embed new and changed papers and extract the keyphrases of every paper it walks (a database job: any
   number of processes, on any machines, claim disjoint batches of it and store each with its claim
   marked done, so a kill loses only the batches in flight, which another process redoes); a paper whose
   title and abstract did not change keeps its vector;
2. catch the node's keyword index up with ``papers.rev``;
3. catch the node's vector index base file up with the stored vectors.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from paperfeed.search import keyphrases
from paperfeed.search.embed import MODELS, RECIPE, Embedder, paper_text
from paperfeed.search.keyword import KeywordIndex
from paperfeed.search.vector import VectorIndex
from paperfeed.settings import Settings
from paperfeed.storage import Database, leases
from paperfeed.storage import embed_claims as claims
from paperfeed.storage import embeddings as store


@dataclass(frozen=True, slots=True)
class IndexReport:
    embedded: int  # papers whose vector was (re)computed
    kept: int  # papers seen again whose text had not changed
    keyword: int  # papers (re)indexed by the keyword index
    vectors: int  # vectors added to this node's vector index
    device: str  # where the model ran (``Embedder.device``)


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


def embed_new(
    db: Database,
    embedder: Embedder,
    keywords: KeywordIndex,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 256,
    holder: str | None = None,
    lease_seconds: float = 30.0,
) -> tuple[int, int]:
    """Embed every paper written since the job's position, a claimed batch at a time, alongside any other
    worker doing the same (``storage/embed_claims.py``); returns (embedded, kept) of this process.

    A thread claims the next batch, reads it and prepares it (text hashes, the model's windows,
    keyphrases) while the model works on this one (onnxruntime releases the GIL): the model is never
    idle waiting for rows, and the preparation (5% of the model's time here) is off its path. A heartbeat
    renews this process's claims every third of ``lease_seconds``; when it stops, they are let go.
    """
    job = job_name(embedder.name)
    holder = holder or leases.holder_name()
    idf = keyphrases.idf_from(keywords.document_frequencies, max(len(keywords), 1))
    # One batch waits ready while one is embedded: a worker holds at most three claims, so the last
    # batches are shared out between workers rather than hoarded by one.
    batches: queue.Queue[_Prepared | None] = queue.Queue(maxsize=1)
    failed: list[Exception] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                claim = claims.claim(
                    db, job, holder, batch_size, lease_seconds, lambda other: leases.dead_here(other, holder)
                )
                if claim is None:
                    break
                batch = store.papers_to_embed(db, embedder.name, claim.after, claim.upto)
                hashes = [store.text_hash(f"{RECIPE}\n{paper_text(p.title, p.abstract)}") for p in batch]
                todo = [i for i, p in enumerate(batch) if p.stored_hash != hashes[i]]
                windows = [embedder.windows(batch[i].title, batch[i].abstract) for i in todo]
                # Every paper walked, changed or not: well under a millisecond each, and a new
                # extractor (a new job name) then reaches every paper without re-embedding any.
                phrases = [keyphrases.extract(p.title, p.abstract, idf) for p in batch]
                batches.put(_Prepared(claim, batch, hashes, todo, windows, phrases))
        except Exception as exc:  # raised by the caller below (the database gone, say), not lost here
            failed.append(exc)
        finally:
            batches.put(None)

    def heartbeat() -> None:
        while not stop.wait(lease_seconds / 3):
            try:
                claims.renew(db, job, holder, lease_seconds)
            except Exception:  # noqa: S112  a database hiccup: the next beat tries again; expiry is the net
                continue

    reader = threading.Thread(target=read, name="embed-reader", daemon=True)
    beat = threading.Thread(target=heartbeat, name="embed-claims", daemon=True)
    reader.start()
    beat.start()
    embedded = kept = 0
    finished = False
    try:
        while (ready := batches.get()) is not None:
            batch = ready.batch
            vectors = embedder.embed_windows(ready.windows)
            done = [
                store.Embedded(batch[i].id, ready.hashes[i], vectors[n], ready.keyphrases[i])
                for n, i in enumerate(ready.todo)
            ]
            changed = set(ready.todo)
            kept_phrases = [(p.id, ready.keyphrases[i]) for i, p in enumerate(batch) if i not in changed]
            mine = ready.claim

            def finish(conn: sa.Connection, mine: claims.Claim = mine) -> None:
                claims.finish(conn, mine, holder)

            try:
                store.store_embedded(db, embedder.name, done, kept_phrases, also=finish)
            except claims.ClaimLost:
                continue  # ours expired and another worker has this batch now: it stores it, not us
            embedded += len(done)
            kept += len(batch) - len(done)
            if progress:
                progress(embedded + kept)
        finished = True
    finally:
        stop.set()
        if not finished:  # unblock the reader, which may wait to hand over a batch
            while batches.get() is not None:
                pass
        reader.join()
        beat.join()
        # What this process claimed and did not store goes to others at once; with the database gone,
        # the claims expire instead.
        with contextlib.suppress(Exception):
            claims.release(db, job, holder)
    if failed:
        raise failed[0]
    return embedded, kept


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A claimed batch read and made ready for the model; ``windows`` follows ``todo``."""

    claim: claims.Claim
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
    embedder = embedder or Embedder(settings.embedding_model, settings.embed_threads or None)
    embedded, kept = embed_new(
        db,
        embedder,
        keywords,
        step("embeddings"),
        settings.embed_batch,
        leases.holder_name(settings.node()),
        settings.lease_seconds,
    )
    vector_count = vectors.sync(db, step("vector index"))
    return IndexReport(embedded, kept, keyword_count, vector_count, embedder.device)
