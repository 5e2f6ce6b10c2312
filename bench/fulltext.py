"""The cost of full-text search (PAPERFEED_SEARCH_FULLTEXT): N synthetic papers (default 10,000), each with
a title, an abstract and a full text of about 30,000 characters (a typical arXiv paper's Markdown),
stored through paperfeed's storage layer; then the keyword index built by paperfeed's own code without
and with the full texts, timed, its size on disk, and BM25 query latency (p50/p99 over 400 queries of 2–4
Zipf-drawn words, a fifth of common ones) on each. The database's growth (the stored Markdown) is
reported too, and the columns "at 1M papers (×…)" extrapolate N's figures linearly.

With ``--papers DB`` the same two indexes are built at full scale instead, from an existing database of
papers (bench/search.py's 1,000,000-paper fixture: its titles and abstracts are drawn from the same kind of
vocabulary, with seed ``--vocab-seed``): the keyword index is built by paperfeed's own code, but each
paper's full text comes from a generator standing in for the database's ``paper_fulltext`` table, because
a million stored texts (about 31 GB) do not fit on the machine. Each generated text is six sections drawn
from a pool of 20,000 Zipf-drawn 600-word sections (about 30,000 characters: what a section-by-section
draw per paper gives, without spending the build's time in the generator). What the database read of the
texts adds is what the default run measures (it stores and reads them).

    .venv/bin/python bench/fulltext.py [--n 10000] [--dir .bench/fulltext]
    .venv/bin/python bench/fulltext.py --papers .bench/search/nested-n1000000/papers.db

The default run is kept small: the machine is shared, and 10,000 full texts are already 300 MB of text.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from paperfeed.models import Paper
from paperfeed.search import keyword
from paperfeed.search.keyword import KeywordIndex
from paperfeed.storage import fulltext as fulltext_store
from paperfeed.storage import open_database
from paperfeed.storage import papers as paper_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import words, zipf_ranks

BATCH = 1_000
BODY_WORDS = 3_700  # about 30,000 characters of Markdown
SECTION_WORDS = 600
SECTIONS = 6  # a generated text's sections (BODY_WORDS // SECTION_WORDS, rounded)
POOL = 20_000  # distinct generated sections
START = datetime(2026, 1, 1, tzinfo=UTC)
SCALE = 1_000_000


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def store(db_url: str, n: int, vocab: np.ndarray, rng: np.random.Generator) -> float:
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
            took = time.perf_counter() - started
            print(f"  stored {start + count:,} papers ({took:.0f} s)", file=sys.stderr, flush=True)
    db.close()
    return time.perf_counter() - started


class GeneratedTexts:
    """Stands in for ``paperfeed.storage.fulltext`` in the keyword index (its ``full_texts``) when the
    texts are not stored: each paper's text is SECTIONS sections drawn from a pool, headed as Markdown."""

    def __init__(self, vocab: np.ndarray, rng: np.random.Generator) -> None:
        self.rng = rng
        self.pool = [" ".join(vocab[zipf_ranks(rng, SECTION_WORDS)]) for _ in range(POOL)]
        self.chars = 0

    def full_texts(self, db: object, ids: list[str]) -> dict[str, str]:
        drawn = self.rng.integers(0, POOL, size=(len(ids), SECTIONS)).tolist()
        texts = {
            paper_id: "\n\n".join(f"## {self.pool[k][:40]}\n\n{self.pool[k]}" for k in picks)
            for paper_id, picks in zip(ids, drawn, strict=True)
        }
        self.chars += sum(map(len, texts.values()))
        return texts


def process_cpu() -> float:
    """CPU seconds of this process, every thread (tantivy's indexing threads) included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def latencies(index: KeywordIndex, queries: list[str]) -> tuple[float, float]:
    for q in queries[:20]:  # warm the searcher
        index.search(q)
    took = []
    for q in queries:
        started = time.perf_counter()
        index.search(q, limit=10)
        took.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(took, 50)), float(np.percentile(took, 99))


def measure(
    db: object, folder: Path, queries: list[str], papers: int, reuse: bool
) -> list[tuple[str, dict[str, float | str], int, float, float]]:
    """Both keyword indexes built from ``db`` into ``folder``: (name, how the build went, bytes, p50, p99).
    With ``reuse``, an index a finished earlier run built is measured again without being rebuilt."""
    rows = []
    for name, fulltext in (("title + abstract + authors", False), ("… + full text (body, boost 0.25)", True)):
        path = folder / ("index-full" if fulltext else "index-plain")
        built = path / "bench-build.json"
        if reuse and built.exists():
            index = KeywordIndex(path, fulltext)
            build = json.loads(built.read_text())
            print(f"reusing the index built {build['when']}: {name}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)
            index = KeywordIndex(path, fulltext)
            print(f"building the index: {name} …", file=sys.stderr, flush=True)
            started, cpu = time.perf_counter(), process_cpu()

            def progress(done: int, started: float = started) -> None:
                if done % 100_000 < keyword._PAGE:
                    took = time.perf_counter() - started
                    print(f"  {done:,} of {papers:,} papers ({took:.0f} s)", file=sys.stderr, flush=True)

            index.sync(db, progress)  # type: ignore[arg-type]
            build = {"seconds": time.perf_counter() - started, "cpu": process_cpu() - cpu,
                     "load": os.getloadavg()[0], "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}  # fmt: skip
            built.write_text(json.dumps(build))
        p50, p99 = latencies(index, queries)
        rows.append((name, build, folder_size(path), p50, p99))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=Path(".bench/fulltext"))
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--papers", type=Path, help="an existing SQLite database of papers (full scale)")
    parser.add_argument("--vocab-seed", type=int, default=7, help="the seed of --papers' vocabulary")
    parser.add_argument("--reuse", action="store_true", help="measure the indexes an earlier run built")
    args = parser.parse_args()
    if args.papers:
        folder = args.dir / f"at-scale-{args.papers.stem}"
        url, rng = f"sqlite:///{args.papers}", np.random.default_rng(args.vocab_seed)
    else:
        folder = args.dir / f"n{args.n}"
        url, rng = f"sqlite:///{folder / 'papers.db'}", np.random.default_rng(11)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = np.array(words(rng))
    generated = None
    if args.papers:
        generated = GeneratedTexts(vocab, np.random.default_rng(3))
        keyword.fulltext_store = generated  # type: ignore[assignment]
    elif not (folder / "stored").exists():
        print(f"storing {args.n:,} synthetic papers with full texts …", file=sys.stderr, flush=True)
        store(url, args.n, vocab, rng)
        (folder / "stored").touch()
    db = open_database(url)
    with db.read() as conn:
        papers = conn.exec_driver_sql("SELECT count(*) FROM papers").scalar_one()
        stored = conn.exec_driver_sql("SELECT sum(length(markdown)) FROM paper_fulltext").scalar_one() or 0
    qrng = np.random.default_rng(5)
    queries = [" ".join(vocab[zipf_ranks(qrng, int(qrng.integers(2, 5)))]) for _ in range(args.queries)]
    queries += [" ".join(vocab[qrng.integers(0, 30, size=3)]) for _ in range(args.queries // 5)]

    rows = measure(db, folder, queries, papers, args.reuse)
    if generated and not generated.chars:  # reused indexes: the texts' length from a sample
        generated.full_texts(None, [str(k) for k in range(10_000)])
        chars = generated.chars * papers / 10_000
    else:
        chars = generated.chars if generated else stored
    factor = SCALE / papers
    source = "generated as the index reads them, not stored" if generated else "stored in the database"
    print(f"\n{papers:,} papers, full texts of {chars / papers:,.0f} characters on average "
          f"({chars / 1e6:,.0f} MB of Markdown, {source})")  # fmt: skip
    if not generated:
        print(f"the database file: {(folder / 'papers.db').stat().st_size / 1e6:,.0f} MB")
    print(f"BM25 top-10 over {len(queries)} queries (2–4 Zipf words, a fifth of common ones), one thread; "
          f"CPU: the process's, tantivy's indexing threads included\n")  # fmt: skip
    scaled = "" if factor == 1 else f" at 1M papers (×{factor:,.0f}): build, size |"
    print(f"| keyword index | build | CPU | load average | size | p50 | p99 |{scaled}")
    print("|---|---|---|---|---|---|---|" + ("---|" if scaled else ""))
    for name, made, size, p50, p99 in rows:
        took, cpu = float(made["seconds"]), float(made["cpu"])
        at_scale = "" if factor == 1 else f" {took * factor / 60:,.0f} min, {size * factor / 1e9:,.1f} GB |"
        print(f"| {name} | {took:,.1f} s | {cpu:,.1f} s | {float(made['load']):.1f} ({made['when']}) | "
              f"{size / 1e6:,.0f} MB | {p50:.2f} ms | {p99:.2f} ms |{at_scale}")  # fmt: skip
    print(f"\nQueries measured at load average {os.getloadavg()[0]:.1f}.")
    print(
        f"\nStored Markdown at 1M papers: about {chars * factor / 1e9:,.0f} GB in the database (paper_fulltext)."
    )
    db.close()


if __name__ == "__main__":
    from report import recorded

    if any(arg.startswith("--papers") for arg in sys.argv):
        with recorded("fulltext-at-scale"):
            main()
    else:
        with recorded("fulltext"):
            main()
