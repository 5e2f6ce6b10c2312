"""For-you at scale: the signed-in page's latency with a million papers and ten thousand readers who each
gave 50 signals, served by `paperfeed serve` (one worker) on SQLite.

The database is synthetic and built once into --dir (kept for the next run with the same sizes):
  - --papers papers over four years of feed days (a week holds about 5,000, as arXiv's does), titles and
    abstracts drawn from the words of the bundled real abstracts, 1–8 authors of 50,000, 1–3 of 20
    categories;
  - 384-d vectors (64 topics plus noise, stored as paperfeed stores embeddings) for the latest seven feed
    days and for 20,000 older papers the readers like;
  - --readers members, each with 50 signals around one or two topics: 30 upvotes, 5 collected papers, 5
    "more like this", 5 "less like this", 5 follows (two authors, a category, a saved search, an author
    of their topic).
Then, against the server (which, as with a worker beside it, does not embed papers itself): one request builds the period's candidates (timed); each of --sample readers
opens /for-you twice (the first visit reads their liked papers' words, the next finds them remembered)
and GET /api/for-you once, one request at a time; then four clients at once. Goal (issue #14): p99 < 50 ms.

    .venv/bin/python bench/foryou.py [--papers 1000000] [--readers 10000] [--sample 200] [--dir .bench/foryou]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import cpu_seconds  # noqa: E402

from paperfeed import accounts  # noqa: E402
from paperfeed.models import Paper, Version  # noqa: E402
from paperfeed.search.keyword import KeywordIndex  # noqa: E402
from paperfeed.settings import Settings  # noqa: E402
from paperfeed.storage import (  # noqa: E402
    Database,
    lists,
    open_database,
    schema,
)
from paperfeed.storage import embeddings as embedding_store  # noqa: E402
from paperfeed.storage import users as user_store  # noqa: E402
from paperfeed.storage.papers import upsert_papers  # noqa: E402

CATEGORIES = [f"cs.{c}" for c in "CL LG AI CV CR RO IR SE DC HC NE MA GT DS PL LO SI SD CY ET".split()]
DAYS = 1400  # four years of feed days
TOPICS = 64
START = datetime(2022, 12, 1, 9, tzinfo=UTC)
PAPERFEED = ROOT / ".venv" / "bin" / "paperfeed"


def vocabulary() -> list[str]:
    words: list[str] = []
    with (ROOT / "data" / "arxiv-recent.jsonl").open() as f:
        for line in f:
            words += [w.strip(".,;:()") for w in json.loads(line)["abstract"].split()]
    return [w for w in words if w.isalpha()]


def topic_of(i: int) -> int:
    return (i * 2654435761) % TOPICS


def build(db: Database, settings: Settings, n: int, readers: int) -> None:
    rng = random.Random(1)
    words = vocabulary()
    names = [f"{rng.choice(words).capitalize()} {rng.choice(words).capitalize()}son" for _ in range(50_000)]
    t0 = time.perf_counter()
    batch: list[Paper] = []
    with db.bulk():
        for i in range(n):
            at = START + timedelta(seconds=i * DAYS * 86400 / n)
            # Each topic has its own words first, so a reader's liked papers share terms.
            own = words[topic_of(i) * 40 : topic_of(i) * 40 + 40]
            text = rng.choices(own, k=30) + rng.choices(words, k=120)
            rng.shuffle(text)
            batch.append(
                Paper(
                    id=f"{2 + i // 100_000:04d}.{i % 100_000:05d}",
                    title=" ".join(rng.choices(own, k=4) + rng.choices(words, k=5)).capitalize(),
                    abstract=" ".join(text) + ".",
                    authors=rng.sample(names[topic_of(i) * 700 : topic_of(i) * 700 + 700], rng.randint(1, 8)),
                    categories=rng.sample([*CATEGORIES[:4], CATEGORIES[topic_of(i) % 20]], rng.randint(1, 3)),
                    versions=[Version(1, at)],
                    published_at=at,
                    upvotes=int(rng.paretovariate(1.5)) - 1,
                )
            )
            if len(batch) == 5000:
                upsert_papers(db, batch)
                batch = []
                if (i + 1) % 100_000 == 0:
                    print(f"  {i + 1:,} papers, {time.perf_counter() - t0:.0f} s", flush=True)
        if batch:
            upsert_papers(db, batch)
    print(f"papers: {n:,} in {time.perf_counter() - t0:.0f} s")

    # Vectors: the latest seven feed days, and the older papers readers like.
    days = lists.recent_days(db, 7)
    week = [p.id for p in lists.feed_papers(db, days[-1], days[0], limit=100_000)]
    pool = [
        f"{2 + i // 100_000:04d}.{i % 100_000:05d}"
        for i in rng.sample(range(n * 9 // 10), min(20_000, n // 2))
    ]
    nprng = np.random.default_rng(2)
    centres = nprng.standard_normal((TOPICS, 384)).astype(np.float32)
    ids = week + pool
    index = {pid: int(pid[:4]) * 100_000 - 200_000 + int(pid[5:]) for pid in ids}
    for s in range(0, len(ids), 2000):
        chunk = ids[s : s + 2000]
        done = []
        for pid in chunk:
            v = centres[topic_of(index[pid])] + 0.9 * nprng.standard_normal(384).astype(np.float32)
            done.append(embedding_store.Embedded(pid, "bench", v / np.linalg.norm(v), None))
        embedding_store.store_embedded(db, "bench-vectors", settings.embedding_model, done, (0, chunk[-1]))
    print(f"vectors: {len(ids):,} (the period's {len(week):,} and {len(pool):,} older)")

    # Readers: 50 signals each, around their topics.
    by_topic: dict[int, list[str]] = {}
    for pid in pool:
        by_topic.setdefault(topic_of(index[pid]), []).append(pid)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with db.write() as conn:
        conn.execute(
            schema.users.insert(),
            [
                {
                    "name": f"reader{r}",
                    "email": f"reader{r}@example.org",
                    "password_hash": "-",
                    "created_at": now,
                }
                for r in range(readers)
            ],
        )
        user_ids = dict(conn.execute(sa.select(schema.users.c.name, schema.users.c.id)).all())
        votes, feedback, follows, collections, items = [], [], [], [], []
        for r in range(readers):
            uid = user_ids[f"reader{r}"]
            topics = rng.sample(range(TOPICS), rng.randint(1, 2))
            mine = [p for t in topics for p in by_topic.get(t, [])]
            liked = rng.sample(mine, min(45, len(mine)))
            less = rng.sample(pool, 5)
            at = now - timedelta(days=rng.randint(0, 300))
            votes += [{"user_id": uid, "paper_id": p, "created_at": at} for p in liked[:30]]
            feedback += [
                {"user_id": uid, "paper_id": p, "signal": "more", "created_at": at} for p in liked[30:35]
            ]
            feedback += [{"user_id": uid, "paper_id": p, "signal": "less", "created_at": at} for p in less]
            collections.append(
                {"id": r + 1, "user_id": uid, "name": "reading", "is_public": False, "created_at": at}
            )
            items += [{"collection_id": r + 1, "paper_id": p, "added_at": at} for p in liked[35:40]]
            t = topics[0]
            author_pool = names[t * 700 : t * 700 + 700]
            for kind, value in [
                ("author", rng.choice(author_pool)),
                ("author", rng.choice(names)),
                ("category", CATEGORIES[t % 20]),
                ("search", f"q={words[t * 40]}+{words[t * 40 + 1]}"),
                ("author", rng.choice(author_pool)),
            ]:
                follows.append(
                    {
                        "user_id": uid,
                        "kind": kind,
                        "value": value,
                        "key": f"{value.casefold()}",
                        "created_at": at,
                    }
                )
        conn.execute(schema.votes.insert(), votes)
        conn.execute(schema.paper_feedback.insert().prefix_with("OR IGNORE"), feedback)
        conn.execute(schema.collections.insert(), collections)
        conn.execute(schema.collection_items.insert(), items)
        conn.execute(schema.follows.insert().prefix_with("OR IGNORE"), follows)
    print(f"readers: {readers:,} with 50 signals each in {time.perf_counter() - t0:.0f} s")


def percentiles(values: list[float]) -> str:
    a = np.array(values) * 1000
    return f"p50 {np.percentile(a, 50):.1f} ms, p95 {np.percentile(a, 95):.1f} ms, p99 {np.percentile(a, 99):.1f} ms"


def measure(db: Database, settings: Settings, sample: int, port: int) -> None:
    rng = random.Random(3)
    with db.read() as conn:
        total_readers = conn.execute(sa.select(sa.func.count()).select_from(schema.users)).scalar_one()
    chosen = rng.sample(range(total_readers), min(sample + 20, total_readers))
    cookies = []
    for r in chosen:
        with db.read() as conn:
            row = conn.execute(sa.select(schema.users).where(schema.users.c.name == f"reader{r}")).one()
        user = user_store.user_by_id(db, row.id)
        assert user is not None
        cookies.append(accounts.open_session(db, user))
    # The web node does not embed: a worker does (PAPERFEED_EMBED_IN_WEB=false), else the server would
    # spend the run embedding the 975,000 papers this synthetic database has no vector for.
    env = {
        **os.environ,
        **settings.environment(),
        "PAPERFEED_ACCESS_LOG": "false",
        "PAPERFEED_EMBED_IN_WEB": "false",
    }
    server = subprocess.Popen(
        [str(PAPERFEED), "serve", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                httpx.get(base + "/robots.txt", timeout=5)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        client = httpx.Client(base_url=base, timeout=120)

        def get(path: str, cookie: str) -> float:
            t = time.perf_counter()
            r = client.get(path, cookies={"__Host-session": cookie})
            elapsed = time.perf_counter() - t
            assert r.status_code == 200, (path, r.status_code, r.text[:200])
            return elapsed

        build = get("/api/for-you?limit=1", cookies[-1])
        print(f"\nfirst request of the period (builds its candidates): {build:.1f} s")
        first, nxt, api = [], [], []
        before = cpu_seconds(server.pid)
        for cookie in cookies[:sample]:
            first.append(get("/for-you", cookie))
            nxt.append(get("/for-you", cookie))
            api.append(get("/api/for-you", cookie))
        spent = (cpu_seconds(server.pid) - before) / (3 * sample)
        load = os.getloadavg()[0]
        print(f"one client, {sample} readers (load average {load:.1f} on {os.cpu_count()} cores):")
        print(f"  /for-you, first visit: {percentiles(first)}")
        print(f"  /for-you, next visit:  {percentiles(nxt)}")
        print(f"  /api/for-you:          {percentiles(api)}")
        print(f"  the server's CPU time per request (what it costs a free core): {spent * 1000:.1f} ms")

        lock = threading.Lock()
        times: list[float] = []

        def worker(k: int) -> None:
            own = httpx.Client(base_url=base, timeout=120)
            for cookie in cookies[k::4][: sample // 4]:
                t = time.perf_counter()
                r = own.get("/for-you", cookies={"__Host-session": cookie})
                with lock:
                    times.append(time.perf_counter() - t)
                assert r.status_code == 200

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        print(
            f"four clients at once, /for-you: {percentiles(times)}; {len(times) / wall:.0f} pages/s "
            f"(load average {os.getloadavg()[0]:.1f})"
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--dir", default=".bench/foryou")
    args = parser.parse_args()
    folder = Path(args.dir) / f"{args.papers}-{args.readers}"
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        database_url=f"sqlite:///{folder / 'foryou.db'}",
        index_dir=str(folder / "index"),
        base_url=f"http://127.0.0.1:{args.port}",
    )
    db = open_database(settings.database_url)
    done = folder / "built"
    if not done.exists():
        build(db, settings, args.papers, args.readers)
        done.touch()
    days = lists.recent_days(db, 7)
    print(
        f"{args.papers:,} papers, {args.readers:,} readers with 50 signals each; the period: {days[-1]} – "
        f"{days[0]}, {lists.count_feed_papers(db, days[-1], days[0]):,} papers"
    )
    # What `paperfeed serve` does on start, once, timed here rather than in the server's start-up.
    t0 = time.perf_counter()
    indexed = KeywordIndex(settings.resolved_index_dir()).sync(db)
    if indexed:
        print(
            f"keyword index (serve brings it up to date on start): {indexed:,} papers in {time.perf_counter() - t0:.0f} s"
        )
    measure(db, settings, args.sample, args.port)
    db.close()


if __name__ == "__main__":
    from report import recorded

    with recorded("foryou"):
        main()
