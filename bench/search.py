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
  pages it has mapped, read from /proc);
- throughput under load: `wrk` (8 connections: 8 concurrent clients, each sending its next request as
  soon as the last is answered) against `paperfeed serve` with 1 and 2 workers, the search cache off and
  on, over a query mix drawn Zipf-wise (s = 1) from a pool of 2–4-word queries, papers' titles and
  SciFact's claims (long natural-language questions; when --scifact is there), so popular queries repeat
  as they do on a real site; and the same mix with every query different. req/s, p50 and p99: the
  capacity, where p99 is mostly the queue the 8 clients build themselves;
- latency at an offered load (issue 18's goal is a rate *and* a p99 bound: at 300 searches/s from 8
  concurrent clients, p99 < 50 ms): the same two mixes, requests due at ``--rate`` a second in all (Poisson
  arrivals by default, ``--arrivals constant`` for even spacing), sent over 8 keep-alive connections, the
  first free one taking the next due request; each latency counted from when the request was due, so a
  wait for a free connection counts and a stalled server delays every request due meanwhile (no
  coordinated omission: bench/paced.py). Each run on a server just started. req/s achieved, p50, p99,
  p99.9, the server's CPU per request, the driver's own CPU share and how many connections each worker
  accepted (the kernel's choice, which decides how evenly 2 workers share the load).

    .venv/bin/python bench/search.py [--n 1000000] [--dir .bench/search] [--load-only] [--seconds 30]
        [--loads saturation,paced] [--rate 300[,400,…]] [--arrivals poisson|constant]

The database and indexes stay under --dir: a rerun with the same N skips straight to the measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np
import paced
from pydantic import SecretStr
from report import cpu_seconds

from paperfeed.models import Paper
from paperfeed.search.embed import MODELS
from paperfeed.search.hybrid import ANSWERS_KEPT, Searcher
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from paperfeed.storage import embeddings as store
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
    parser.add_argument("--load-only", action="store_true", help="only the throughput under load")
    parser.add_argument("--seconds", type=float, default=30, help="of load per configuration")
    parser.add_argument("--connections", type=int, default=8, help="concurrent clients under load")
    parser.add_argument(
        "--warmup", type=float, default=10, help="seconds of load before each wrk measurement"
    )
    parser.add_argument(
        "--paced-warmup",
        type=float,
        default=20,
        help="seconds of paced load before each paced measurement: a server just started answers every "
        "query anew until its remembered answers fill, and the queue that builds meanwhile drains",
    )
    parser.add_argument(
        "--configs",
        type=lambda text: [(int(w), float(c)) for w, c in (pair.split(":") for pair in text.split(","))],
        default=[(1, 0.0), (1, 60.0), (2, 0.0), (2, 60.0)],
        help="web workers:search cache seconds, comma-separated (default 1:0,1:60,2:0,2:60)",
    )
    parser.add_argument(
        "--loads",
        type=lambda text: text.split(","),
        default=["saturation", "paced"],
        help="which load measurements: saturation (wrk), paced (an offered rate), or both (the default)",
    )
    parser.add_argument(
        "--rate",
        type=lambda text: [float(r) for r in text.split(",")],
        default=[300.0],
        help="offered searches a second in all, for the paced load; comma-separated for several (default 300)",
    )
    parser.add_argument(
        "--arrivals",
        choices=["poisson", "constant"],
        default="poisson",
        help="the paced requests' spacing: independent arrivals (the default) or evenly spaced",
    )
    parser.add_argument(
        "--scifact", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/scifact"
    )
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
    if args.load_only:
        under_load(settings, db, vocab, args)
        return

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
    under_load(settings, db, vocab, args)
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


# wrk's script: its two threads walk the list of request paths, each from its own half, after skipping
# what an earlier run (the warm-up) took: the server sees one stream, continued.
_WRK_SCRIPT = """
local paths, i, threads = {}, 0, 0
function setup(thread) thread:set("n", threads); threads = threads + 1 end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = (n * math.floor(#paths / 2) + tonumber(args[2])) % #paths
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def query_pool(db: Database, vocab: list[str], scifact: Path, rng: np.random.Generator) -> list[str]:
    """10,000 queries: 2–4 words (a fifth of common ones), titles of stored papers and, when the data is
    there, SciFact's claims — in a random order, which is the order of their popularity."""
    pool = []
    for i in range(6000):
        low, high = (5, 60) if i % 5 == 0 else (300, 4000)
        pool.append(" ".join(vocab[r] for r in rng.integers(low, high, size=rng.integers(2, 5))))
    count = paper_store.count_papers(db)
    numbers = rng.integers(0, count, size=3000)
    ids = [f"{20 + n // 1_000_000}{1 + n // 100_000 % 12:02d}.{n % 100_000:05d}" for n in numbers]
    pool += [p.title for p in paper_store.papers_by_ids(db, ids)]
    claims = scifact / "queries-train.jsonl"
    if claims.exists():
        pool += [json.loads(line)["text"] for line in claims.open()][:1000]
    rng.shuffle(pool)
    return pool[:10_000]


def zipf_mix(pool: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """n requests drawn from ``pool`` with probability ∝ 1/rank: popular queries repeat."""
    weights = 1.0 / np.arange(1, len(pool) + 1)
    return [pool[i] for i in rng.choice(len(pool), size=n, p=weights / weights.sum())]


def _wrk(
    url: str, paths: list[str], seconds: float, connections: int, folder: Path, skip: int = 0, pid: int = 0
) -> dict[str, float]:
    (folder / "paths.txt").write_text("".join(p + "\n" for p in paths))
    (folder / "mix.lua").write_text(_WRK_SCRIPT)
    script = str(folder / "mix.lua")
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", script, url]
    cpu, wrk_cpu = cpu_seconds(pid) if pid else 0.0, resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [*command, "--", str(folder / "paths.txt"), str(skip)], capture_output=True, text=True, check=True
    ).stdout
    cpu = (cpu_seconds(pid) - cpu) if pid else 0.0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latency = {p: float(v) * unit[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(\w+)", out, re.M)}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {
        "rps": done / seconds,
        "done": done,
        "p50": latency["50"],
        "p99": latency["99"],
        "errors": errors,
        "server_cpu_ms": 1000 * cpu / max(done, 1),
        "wrk_cpu": (after.ru_utime - wrk_cpu.ru_utime + after.ru_stime - wrk_cpu.ru_stime) / seconds,
    }


def _taken_by_wrk(mix: list[str], start: int, done: int) -> list[str]:
    """The queries of the first ``start + done`` requests, in the order wrk's two threads took them."""
    half = len(mix) // 2
    return [mix[(n * half + i) % len(mix)] for i in range(start // 2 + done // 2) for n in (0, 1)]


def _repeats(taken: list[str], start: int) -> tuple[float, float]:
    """Of the requests ``taken`` after ``start``: the share whose query was asked before (warm-up
    included), and the share one worker's remembered answers would hold (the last ``ANSWERS_KEPT``
    distinct queries; their age bound, a minute, is longer than these runs)."""
    seen = set(taken[:start])
    kept: OrderedDict[str, None] = OrderedDict((q, None) for q in taken[:start])
    while len(kept) > ANSWERS_KEPT:
        kept.popitem(last=False)
    repeated = held = 0
    for query in taken[start:]:
        repeated += query in seen
        held += query in kept
        seen.add(query)
        kept[query] = None
        kept.move_to_end(query)
        if len(kept) > ANSWERS_KEPT:
            kept.popitem(last=False)
    measured = max(len(taken) - start, 1)
    return repeated / measured, held / measured


def under_load(settings: Settings, db: Database, vocab: list[str], args: argparse.Namespace) -> None:
    """Requests/s and latency of /api/papers/search under ``args.connections`` concurrent clients: at
    saturation (wrk), then at the offered rates (``paced``)."""
    rng = np.random.default_rng(11)
    pool = query_pool(db, vocab, args.scifact, rng)
    mixes = {"Zipf mix": zipf_mix(pool, 200_000, rng), "every query new": pool}
    paths = {
        name: ["/api/papers/search?" + urlencode({"q": q, "limit": 10}) for q in queries]
        for name, queries in mixes.items()
    }
    nodes = [
        (
            workers,
            settings.model_copy(
                update={
                    "embed_in_web": False,
                    "secret_key": SecretStr("bench-search-not-a-secret"),
                    "rate_search": "100000000/1",
                    "search_cache_seconds": cache,
                    "access_log": False,
                }
            ),
        )
        for workers, cache in args.configs
    ]
    if "saturation" in args.loads:
        saturated(nodes, mixes, paths, len(pool), Path(settings.index_dir).parent, args)
    if "paced" in args.loads:
        offered(nodes, mixes, paths, args)


def saturated(
    nodes: list[tuple[int, Settings]],
    mixes: dict[str, list[str]],
    paths: dict[str, list[str]],
    pooled: int,
    folder: Path,
    args: argparse.Namespace,
) -> None:
    """The capacity: wrk's connections each send their next request as soon as the last is answered."""
    if shutil.which("wrk") is None:
        print("throughput under load: skipped (wrk is not installed: apt-get install wrk)")
        return
    print(f"\nthroughput under load: /api/papers/search?limit=10, {args.connections} concurrent clients (wrk, 2 "
          f"threads), {args.seconds:g} s each after a {args.warmup:g} s warm-up on the same stream; a pool of "
          f"{pooled:,} queries, drawn Zipf-wise (s = 1) or each once; 'repeats': the measured requests whose "
          f"query was asked before (warm-up included), 'kept': those one worker's last {ANSWERS_KEPT} answers "
          f"hold; CPU: the server's (all its workers') CPU time per request, and wrk's share of a core; "
          f"load: the 1-minute load average after the run")  # fmt: skip
    print(f"{'workers':>7} {'cache':>6} {'mix':<16} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
          f"{'repeats':>7} {'kept':>5} {'CPU ms':>7} {'wrk':>5} {'load':>5}")  # fmt: skip
    for workers, node in nodes:
        with serving(node, workers) as (url, pid):
            for name, mix in paths.items():
                warm = _wrk(url, mix, args.warmup, args.connections, folder)
                r = _wrk(url, mix, args.seconds, args.connections, folder, int(warm["done"]) // 2, pid)
                taken = _taken_by_wrk(mixes[name], int(warm["done"]), int(r["done"]))
                repeats, held = _repeats(taken, int(warm["done"]))
                cache = "on" if node.search_cache_seconds else "off"
                print(f"{workers:>7} {cache:>6} {name:<16} {r['rps']:>7.0f} {r['p50']:>7.1f} "
                      f"{r['p99']:>7.1f} {r['errors']:>6.0f} {repeats:>7.0%} {held:>5.0%} {r['server_cpu_ms']:>7.1f} "
                      f"{r['wrk_cpu']:>5.0%} {os.getloadavg()[0]:>5.1f}", flush=True)  # fmt: skip


def offered(
    nodes: list[tuple[int, Settings]],
    mixes: dict[str, list[str]],
    paths: dict[str, list[str]],
    args: argparse.Namespace,
) -> None:
    """Latency at a given load: requests due at ``args.rate`` a second in all, sent over
    ``args.connections`` connections, each timed from when it was due (bench/paced.py). Each run on a
    server just started, so that no other run's answers are remembered."""
    print(f"\nlatency at an offered load: the same requests, due at a fixed total rate ({args.arrivals} "
          f"arrivals) and sent over {args.connections} keep-alive connections, the first free one taking the "
          f"next due request; latency from when it was due, a wait for a free connection included; "
          f"{args.seconds:g} s measured after a {args.paced_warmup:g} s warm-up on the same stream, each run on a "
          f"server just started; 'late p99': due to sent; 'lag p99': the same for the requests a connection "
          f"was free for (the driver's own lateness); client: the driver's CPU share of a core; load: the "
          f"1-minute load average after the run; conns: the connections each worker held once they were "
          f"opened → at the end")  # fmt: skip
    print(f"{'workers':>7} {'cache':>6} {'mix':<16} {'rate':>5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'p99.9':>7} {'late p99':>8} {'lag p99':>7} {'errors':>6} {'repeats':>7} {'CPU ms':>7} {'client':>6} "
          f"{'load':>5} conns")  # fmt: skip
    for workers, node in nodes:
        for name, mix in paths.items():
            for rate in args.rate:
                seed = np.random.default_rng(int(rate))
                due = paced.due_times(
                    int(rate * (args.paced_warmup + args.seconds) * 1.2) + 10, rate, args.arrivals, seed
                )
                due = due[due < args.paced_warmup + args.seconds]
                measured = int(np.count_nonzero(due >= args.paced_warmup))
                with serving(node, workers) as (url, pid):
                    r = paced.run(url, mix, due, measured, args.connections, pid)
                repeats, _held = _repeats(mixes[name][: len(due)], len(due) - measured)
                # Never answered (the run ended first): infinitely late, so a percentile they reach says so.
                latency = np.nan_to_num(r.latency_ms, nan=np.inf)
                p50, p99, p999 = (float(np.percentile(latency, p, method="higher")) for p in (50, 99, 99.9))
                late = float(np.percentile(np.nan_to_num(r.late_ms, nan=np.inf), 99, method="higher"))
                lag = (
                    f"{np.percentile(r.lag_ms, 99):.1f}" if len(r.lag_ms) else "-"
                )  # no connection ever free
                cache = "on" if node.search_cache_seconds else "off"
                print(f"{workers:>7} {cache:>6} {name:<16} {rate:>5g} {r.achieved:>7.0f} {p50:>7.1f} {p99:>7.1f} "
                      f"{p999:>7.1f} {late:>8.1f} {lag:>7} {r.errors:>6} {repeats:>7.0%} {r.server_cpu_ms:>7.1f} "
                      f"{r.client_cpu:>6.0%} {os.getloadavg()[0]:>5.1f} {_split(r.split)} → {_split(r.split_after)}",
                      flush=True)  # fmt: skip


def _split(counts: list[int]) -> str:
    return "+".join(map(str, counts)) or "0"


@contextmanager
def serving(settings: Settings, workers: int) -> Iterator[tuple[str, int]]:
    """``paperfeed serve`` on these settings and a free port, until the block ends: its URL and pid."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | settings.environment()
    # Each configuration starts with no remembered answers: the node's workers share theirs in the index
    # folder (web/remembered.py), where the last server left them.
    shutil.rmtree(Path(settings.index_dir) / ".search-answers", ignore_errors=True)
    paperfeed = Path(sys.executable).with_name("paperfeed")
    command = [paperfeed, "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                httpx.get(
                    url + "/api/papers/search", params={"q": "warm", "limit": 1}, timeout=60
                ).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("paperfeed serve did not start") from None
                time.sleep(0.5)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    from report import recorded

    with recorded("search"):
        main()
