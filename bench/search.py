"""Search speed at scale: N synthetic papers (default 1,000,000) with structured vectors, through paperfeed.

Papers get Zipf-distributed words from a 40,000-word vocabulary (so a query matches hundreds to tens of
thousands of papers, as on arXiv) and a vector drawn around one of 200,000 subtopics, which lie around 2,000
topics — the way a field's papers cluster in embedding space: a few close relatives (the same subtopic,
cosine ≈ 0.7), then many papers of the same topic (≈ 0.4), then the rest (≈ 0). Nearest neighbours are
meaningful, and approximate search can still miss the tail of the top ten among the topic's papers. They are stored with paperfeed's storage layer, then the
node's indexes are built by paperfeed's own code (keyword index sync, vector index sync), timed.

Then, in one run:
- dense recall@10 of the HNSW index against an exact scan, on 500 held-out query vectors;
- latency of `Searcher.search` — query embedding by the real model, BM25, HNSW, fusion, reading the shown
  papers from the database — p50/p99 over 400 queries of 2–4 words (a fifth made of common words);
- the searching process's resident memory;
- the same searches over HTTP (`/api/papers/search`) against `paperfeed serve` started on the same
  database and indexes, and that server's resident memory after them (its own memory and the index
  pages it has mapped, read from /proc).

    .venv/bin/python bench/search.py [--n 1000000] [--dir .bench/search]

The database and indexes stay under --dir: a rerun with the same N skips straight to the measurements.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
from pydantic import SecretStr

from paperfeed.models import Paper
from paperfeed.search.embed import MODELS
from paperfeed.search.hybrid import Searcher
from paperfeed.settings import Settings
from paperfeed.storage import embeddings as store
from paperfeed.storage import open_database
from paperfeed.storage import papers as paper_store

VOCABULARY = 40_000
TOPICS = 2_000
SUBTOPICS = 100  # per topic
SUB_SPREAD = 0.8  # a subtopic's distance from its topic, relative to the topic vector's length
BATCH = 5_000
NOISE = 0.6  # a paper's distance from its subtopic, relative
START = datetime(2020, 1, 1, tzinfo=UTC)


def words(rng: np.random.Generator) -> list[str]:
    syllables = [
        "ka",
        "lo",
        "mi",
        "ne",
        "ru",
        "ta",
        "vi",
        "so",
        "pe",
        "du",
        "ga",
        "zo",
        "ri",
        "fe",
        "bu",
        "xi",
    ]
    out: set[str] = set()
    while len(out) < VOCABULARY:
        out.add("".join(rng.choice(syllables, size=rng.integers(2, 5))))
    return sorted(out)


def zipf_ranks(rng: np.random.Generator, size: int) -> np.ndarray:
    ranks = rng.zipf(1.15, size=size) - 1
    return np.where(ranks < VOCABULARY, ranks, rng.integers(0, VOCABULARY, size=size))


def vectors_for(
    rng: np.random.Generator, centroids: np.ndarray, topics: np.ndarray, noise: float
) -> np.ndarray:
    """Unit vectors around the topics' centroids; ``noise`` is the noise's length relative to the centroid's."""
    dim = centroids.shape[1]
    spread = noise / np.sqrt(dim)
    v = centroids[topics] + spread * rng.standard_normal((len(topics), dim)).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def build(db_url: str, settings: Settings, n: int, vocab: list[str], rng: np.random.Generator) -> np.ndarray:
    """Store n papers and their vectors; returns the subtopic centroids the vectors were drawn around."""
    db = open_database(db_url)
    dim = MODELS[settings.embedding_model].dim
    topics = rng.standard_normal((TOPICS, dim)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    centroids = vectors_for(rng, topics, np.repeat(np.arange(TOPICS), SUBTOPICS), SUB_SPREAD)
    model = settings.embedding_model
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        count = min(BATCH, n - start)
        lengths = rng.integers(120, 200, size=count)
        ranks = zipf_ranks(rng, int(lengths.sum()) + 10 * count)
        papers, offset = [], 0
        for i in range(count):
            title = " ".join(vocab[r] for r in ranks[offset : offset + 10])
            offset += 10
            abstract = " ".join(vocab[r] for r in ranks[offset : offset + lengths[i]])
            offset += int(lengths[i])
            number = start + i
            papers.append(
                Paper(
                    id=f"{20 + number // 1_000_000}{1 + number // 100_000 % 12:02d}.{number % 100_000:05d}",
                    title=title,
                    abstract=abstract,
                    authors=["A. Author", "B. Author"],
                    categories=["cs.LG"],
                    published_at=START + timedelta(minutes=number),
                )
            )
        paper_store.upsert_papers(db, papers)
        vectors = vectors_for(rng, centroids, rng.integers(0, len(centroids), size=count), NOISE)
        done = [store.Embedded(p.id, "synthetic", vectors[i], None) for i, p in enumerate(papers)]
        store.store_embedded(db, model, done)
        if (start + count) % 100_000 == 0 or start + count == n:
            print(f"  stored {start + count:,} papers ({time.perf_counter() - started:.0f} s)", flush=True)
    db.close()
    return centroids


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.array(values), p))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path(".bench/search"))
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args()
    folder = args.dir / f"nested-n{args.n}"
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(database_url=f"sqlite:///{folder / 'papers.db'}", index_dir=str(folder / "index"))
    rng = np.random.default_rng(7)
    vocab = words(rng)
    centroids_file = folder / "centroids.npy"
    if not centroids_file.exists():
        print(f"storing {args.n:,} synthetic papers with vectors …", flush=True)
        np.save(centroids_file, build(settings.database_url, settings, args.n, vocab, rng))
    centroids = np.load(centroids_file)
    db = open_database(settings.database_url)
    searcher = Searcher.open(db, settings, refresh_seconds=3600)
    keywords, vectors = searcher.keywords, searcher.vectors
    started = time.perf_counter()
    keyword_count = keywords.sync(db)
    keyword_took = time.perf_counter() - started
    started = time.perf_counter()
    vector_count = vectors.sync(db)
    vector_took = time.perf_counter() - started
    if keyword_count or vector_count:
        print(f"index build: keyword {keyword_count:,} papers in {keyword_took:.0f} s; "
              f"vector (HNSW, int8) {vector_count:,} in {vector_took:.0f} s")  # fmt: skip
    vectors.refresh(db)
    print(f"\n{len(keywords):,} papers in the keyword index, {len(vectors):,} vectors")

    # Dense recall@10 against an exact scan of every stored vector.
    qrng = np.random.default_rng(99)
    queries = vectors_for(qrng, centroids, qrng.integers(0, len(centroids), size=500), NOISE)
    keys, matrix = [], []
    after = (0, "")
    while rows := store.vectors_since(db, settings.embedding_model, after, 50_000):
        keys.extend(r.key for r in rows)
        matrix.append(np.stack([r.vector for r in rows]))
        after = (rows[-1].rev, rows[-1].paper_id)
    all_keys, every = np.array(keys, dtype=np.uint64), np.concatenate(matrix)
    recall, raw_recall, exact_ms, ann_ms = [], [], [], []
    for q in queries:
        t = time.perf_counter()
        exact = set(all_keys[np.argpartition(-(every @ q), 10)[:10]].tolist())
        exact_ms.append((time.perf_counter() - t) * 1000)
        raw_recall.append(len({h.key for h in vectors.search(q, 10)} & exact) / 10)
        t = time.perf_counter()
        found = {store.vector_key(s.id) for s in searcher.dense_ranking(q, 100)[:10]}
        ann_ms.append((time.perf_counter() - t) * 1000)
        recall.append(len(found & exact) / 10)
    del every, matrix
    print(f"dense recall@10 vs exact: {np.mean(recall):.3f} (int8 HNSW top-100 rescored with the stored "
          f"float16 vectors: {percentile(ann_ms, 50):.2f} ms p50; int8 HNSW top-10 alone: "
          f"{np.mean(raw_recall):.3f}; exact numpy scan {percentile(exact_ms, 50):.1f} ms p50)")  # fmt: skip

    # End-to-end hybrid search, the way the web and the API call it.
    texts = []
    for i in range(args.queries):
        low, high = (5, 60) if i % 5 == 0 else (300, 4000)
        texts.append(" ".join(vocab[r] for r in qrng.integers(low, high, size=qrng.integers(2, 5))))
    searcher.search(texts[0], 10)  # loads the model
    took = []
    for text in texts:
        t = time.perf_counter()
        searcher.search(text, 10)
        took.append((time.perf_counter() - t) * 1000)
    embed_ms = []
    for text in texts[:100]:
        t = time.perf_counter()
        searcher.embedder.embed_query(text)
        embed_ms.append((time.perf_counter() - t) * 1000)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"hybrid top-10 ({len(texts)} queries, query embedding included): p50 {percentile(took, 50):.1f} ms, "
          f"p99 {percentile(took, 99):.1f} ms; of which query embedding p50 {percentile(embed_ms, 50):.1f} ms")  # fmt: skip
    print(f"peak resident memory of this process: {rss_mb:,.0f} MB (including the exact-scan copy above)")
    statm = Path(f"/proc/{os.getpid()}/statm").read_text()
    current = int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    print(f"resident memory now (the searcher alone): {current:,.0f} MB")
    over_http(settings, texts)
    print(f"on disk: database {(folder / 'papers.db').stat().st_size / 2**20:,.0f} MB, "
          f"index folder {sum(f.stat().st_size for f in Path(settings.index_dir).rglob('*') if f.is_file()) / 2**20:,.0f} MB")  # fmt: skip


def over_http(settings: Settings, texts: list[str]) -> None:
    """The searches through `paperfeed serve` (one worker, not embedding: a query node), timed end to end."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    secret = SecretStr("bench-search-not-a-secret")
    query_node = settings.model_copy(update={"embed_in_web": False, "secret_key": secret})
    env = os.environ | query_node.environment()
    paperfeed = Path(sys.executable).with_name("paperfeed")
    server = subprocess.Popen([paperfeed, "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    client.get("/api/papers/search", params={"q": texts[0], "limit": 10}).raise_for_status()
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("paperfeed serve did not start") from None
                    time.sleep(0.5)
            took = []
            for text in texts:
                t = time.perf_counter()
                client.get("/api/papers/search", params={"q": text, "limit": 10}).raise_for_status()
                took.append((time.perf_counter() - t) * 1000)
        memory = {}
        for line in Path(f"/proc/{server.pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value, _unit = line.split()
            memory[name.rstrip(":")] = int(value) / 1024
        print(f"over HTTP (/api/papers/search, paperfeed serve, {len(texts)} queries): "
              f"p50 {percentile(took, 50):.1f} ms, p99 {percentile(took, 99):.1f} ms")  # fmt: skip
        print(f"server resident memory after them: {memory['Rss']:,.0f} MB "
              f"({memory['Anonymous']:,.0f} MB its own, {memory['Rss'] - memory['Anonymous']:,.0f} MB mapped "
              f"files: index pages and libraries)")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    from report import recorded

    with recorded("search"):
        main()
