"""The cost of full-text search (PAPERFEED_SEARCH_FULLTEXT): N synthetic papers (default 10,000), each with
a title, an abstract and a full text of about 30,000 characters (a typical arXiv paper's Markdown),
stored through paperfeed's storage layer; then the keyword index built by paperfeed's own code without
and with the full texts, timed, its size on disk, and BM25 query latency (p50/p99 over 400 queries of 2–4
Zipf-drawn words, a fifth of common ones) on each. The database's growth (the stored Markdown) is
reported too. Figures at 1,000,000 papers are extrapolated linearly from N (build time and size grow with
the text indexed; query latency grows with posting-list lengths, so the extrapolated latency is an upper
estimate of the same shape, not a measurement).

    .venv/bin/python bench/fulltext.py [--n 10000] [--dir .bench/fulltext]

Kept small by default: the machine is shared, and 10,000 full texts are already 300 MB of text.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from paperfeed.models import Paper
from paperfeed.search.keyword import KeywordIndex
from paperfeed.storage import fulltext as fulltext_store
from paperfeed.storage import open_database
from paperfeed.storage import papers as paper_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import words, zipf_ranks

BATCH = 1_000
BODY_WORDS = 3_700  # about 30,000 characters of Markdown
START = datetime(2026, 1, 1, tzinfo=UTC)
SCALE = 1_000_000


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(db_url: str, n: int, vocab: np.ndarray, rng: np.random.Generator) -> float:
    """Store n papers and their full texts; returns the seconds it took."""
    db = open_database(db_url)
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        count = min(BATCH, n - start)
        papers, bodies = [], []
        for i in range(count):
            number = start + i
            title, abstract, body = (
                " ".join(vocab[zipf_ranks(rng, k)]) for k in (10, int(rng.integers(120, 200)), BODY_WORDS)
            )
            paper_id = f"26{1 + number // 100_000 % 12:02d}.{number % 100_000:05d}"
            papers.append(Paper(id=paper_id, title=title, abstract=abstract, authors=["A. Author"],
                                categories=["cs.LG"], published_at=START + timedelta(minutes=number)))  # fmt: skip
            # Sections every ~600 words, as a paper's Markdown has them.
            parts = body.split(" ")
            sections = [" ".join(parts[k : k + 600]) for k in range(0, len(parts), 600)]
            bodies.append((paper_id, "\n\n".join(f"## {s[:40]}\n\n{s}" for s in sections)))
        paper_store.upsert_papers(db, papers)
        for paper_id, text in bodies:
            fulltext_store.store_text(db, paper_id, 1, fulltext_store.OK, text, [], None, None, START,
                                      START + timedelta(days=30))  # fmt: skip
        if (start + count) % 5_000 == 0 or start + count == n:
            print(f"  stored {start + count:,} papers ({time.perf_counter() - started:.0f} s)", flush=True)
    db.close()
    return time.perf_counter() - started


def latencies(index: KeywordIndex, queries: list[str]) -> tuple[float, float]:
    for q in queries[:20]:  # warm the searcher
        index.search(q)
    took = []
    for q in queries:
        started = time.perf_counter()
        index.search(q, limit=10)
        took.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(took, 50)), float(np.percentile(took, 99))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=Path(".bench/fulltext"))
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args()
    folder = args.dir / f"n{args.n}"
    folder.mkdir(parents=True, exist_ok=True)
    db_file = folder / "papers.db"
    url = f"sqlite:///{db_file}"
    rng = np.random.default_rng(11)
    vocab = np.array(words(rng))
    if not (folder / "stored").exists():
        print(f"storing {args.n:,} synthetic papers with full texts …", flush=True)
        shutil.rmtree(folder / "index-plain", ignore_errors=True)
        shutil.rmtree(folder / "index-full", ignore_errors=True)
        build(url, args.n, vocab, rng)
        (folder / "stored").touch()
    db = open_database(url)
    with db.read() as conn:
        chars = conn.exec_driver_sql("SELECT sum(length(markdown)) FROM paper_fulltext").scalar_one()
    qrng = np.random.default_rng(5)
    queries = [" ".join(vocab[zipf_ranks(qrng, int(qrng.integers(2, 5)))]) for _ in range(args.queries)]
    queries += [" ".join(vocab[qrng.integers(0, 30, size=3)]) for _ in range(args.queries // 5)]

    rows = []
    for name, fulltext in (("title + abstract + authors", False), ("… + full text (body, boost 0.25)", True)):
        path = folder / ("index-full" if fulltext else "index-plain")
        shutil.rmtree(path, ignore_errors=True)
        index = KeywordIndex(path, fulltext)
        started = time.perf_counter()
        index.sync(db)
        took = time.perf_counter() - started
        size = folder_size(path)
        p50, p99 = latencies(index, queries)
        rows.append((name, took, size, p50, p99))

    factor = SCALE / args.n
    print(f"{args.n:,} papers, full texts of {chars / args.n:,.0f} characters on average "
          f"({chars / 1e6:,.0f} MB of Markdown; the database file {db_file.stat().st_size / 1e6:,.0f} MB)")  # fmt: skip
    print(f"BM25 top-10 over {len(queries)} queries (2–4 Zipf words, a fifth of common ones), one thread\n")
    print(f"| keyword index | build | size | p50 | p99 | at 1M papers (×{factor:,.0f}): build, size |")
    print("|---|---|---|---|---|---|")
    for name, took, size, p50, p99 in rows:
        print(f"| {name} | {took:.1f} s | {size / 1e6:,.0f} MB | {p50:.2f} ms | {p99:.2f} ms | "
              f"{took * factor / 60:,.0f} min, {size * factor / 1e9:,.1f} GB |")  # fmt: skip
    print(
        f"\nStored Markdown at 1M papers: about {chars * factor / 1e9:,.0f} GB in the database (paper_fulltext)."
    )
    db.close()


if __name__ == "__main__":
    from report import recorded

    with recorded("fulltext"):
        main()
