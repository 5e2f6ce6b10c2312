"""Embedding throughput: the bare model, `paperfeed index`, and the embedding job in one and two worker
processes sharing one database, in one run.

The papers: the bundled real ones (304 recent arXiv abstracts and 200 snapshot lines), repeated under new ids
to --n papers, each repeat with its abstract's sentences rotated so no two texts are the same; and --synthetic
made-up papers (words drawn from the real abstracts' vocabulary, abstracts as long as real ones). Every
measurement embeds each paper's one or two windows (``Embedder.windows``). Measured in this order:
  1. batched, for information: the tokenizer and onnxruntime session alone, length-sorted batches of
     32. Not what paperfeed runs on a CPU: the int8 model quantises its activations with one scale per
     batch, so a vector would depend on the other texts in its batch (``embed.Embedder``);
  2. bare model: the tokenizer and session alone as paperfeed must run them (``Embedder.embed``: one
     window at a time for that model on a CPU, batches on a GPU) — the figure paperfeed is held to,
     measured before and after 3 (this machine's speed drifts by up to 10% between minutes);
  3. paperfeed: `indexer.bring_up_to_date` on a fresh database holding the real-text papers — reading
     them back, embedding, keyphrases, storing vectors in claimed batches, and building the keyword and
     vector indexes — with every core, as one `paperfeed index` or worker per machine runs;
  4. the embedding job (`indexer.embed_new`, what each `paperfeed worker` runs) in one process and in two
     processes at once over one fresh SQLite database, each process with one thread (as two one-core
     machines would be), claims of ``CLAIM`` papers, on the real-text and on the synthetic papers. Each
     process loads its model and reads its keyword index first; the clock runs from the moment both may
     start to the last one's end.
Prints papers/s for each, and papers per CPU-second (the CPU time of every thread of the processes that
embed): on a busy machine the first depends on the other processes, the second hardly. For 4, each
worker's share too (no paper is embedded by both: the claims).

    .venv/bin/python bench/embed.py [--n 400] [--synthetic 160] [--dir .bench/embed]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from paperfeed.ingest.normalize import paper_from_snapshot
from paperfeed.models import Paper
from paperfeed.search import indexer
from paperfeed.search.embed import Embedder
from paperfeed.settings import Settings
from paperfeed.storage import open_database
from paperfeed.storage import papers as paper_store

DATA = Path(__file__).resolve().parents[1] / "data"
# Papers a claim in the worker runs (PAPERFEED_EMBED_BATCH, 256 by default): smaller here, so that a few
# hundred papers split evenly between two workers.
CLAIM = 16


def real_papers(n: int) -> list[Paper]:
    real = [
        paper_from_snapshot(json.loads(line))
        for name in ("arxiv-recent.jsonl", "arxiv-snapshot-sample.jsonl")
        for line in (DATA / name).read_text().splitlines()
    ]
    out = []
    for i in range(n):
        base, repeat = real[i % len(real)], i // len(real)
        sentences = re.split(r"(?<=\.)\s+", base.abstract)
        turn = repeat % max(len(sentences), 1)
        abstract = " ".join(sentences[turn:] + sentences[:turn])
        out.append(replace(base, id=f"{repeat}-{base.id}", abstract=abstract))
    return out


def synthetic_papers(n: int, like: list[Paper]) -> list[Paper]:
    """Made-up papers: words drawn from the real abstracts, abstracts as long (in words) as real ones."""
    rng = random.Random(18)
    words = [w for p in like for w in p.abstract.split()]
    lengths = [len(p.abstract.split()) for p in like]
    return [
        replace(
            like[i % len(like)],
            id=f"synthetic-{i}",
            title=" ".join(rng.choices(words, k=rng.randint(6, 14))).capitalize(),
            abstract=" ".join(rng.choices(words, k=rng.choice(lengths))) + ".",
        )
        for i in range(n)
    ]


def bare(model: Embedder, texts: list[str]) -> tuple[float, float]:
    """Seconds (wall clock, and CPU time of all this process's threads) the tokenizer and session alone
    take for the texts, as paperfeed runs the model."""
    started, cpu = time.perf_counter(), time.process_time()
    model.embed(texts)
    return time.perf_counter() - started, time.process_time() - cpu


def batched(model: Embedder, texts: list[str]) -> float:
    """Seconds the session takes for the texts in length-sorted batches of 32, whatever the model."""
    limit, model.batch_limit = model.batch_limit, 0
    try:
        started = time.perf_counter()
        model.embed(texts, 32)
        return time.perf_counter() - started
    finally:
        model.batch_limit = limit


def fresh(folder: Path, papers: list[Paper]) -> Settings:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    settings = Settings(database_url=f"sqlite:///{folder / 'papers.db'}", index_dir=str(folder / "index"))
    db = open_database(settings.database_url)
    for start in range(0, len(papers), 1000):
        paper_store.upsert_papers(db, papers[start : start + 1000])
    db.close()
    return settings


def workers(folder: Path, papers: list[Paper], count: int) -> tuple[float, float, list[int]]:
    """Run the embedding job in ``count`` processes of one thread over one database; returns the seconds
    from the common start to the last one's end, the CPU seconds they used together, and how many papers
    each embedded."""
    settings = fresh(folder, papers)
    go = folder / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                settings.database_url,
                str(folder / f"index-{i}"),
                str(go),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    for proc in procs:  # each says "ready" once its model and keyword index are loaded
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    start = time.time()
    go.touch()
    results = [json.loads(proc.communicate()[0]) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    embedded = [r["embedded"] for r in results]
    assert sum(embedded) == len(papers), embedded  # every paper once, none by two workers
    return max(r["end"] for r in results) - start, sum(r["cpu"] for r in results), embedded


def worker(url: str, index: str, go: str) -> None:
    """One worker process of ``workers``: load, say ready, wait for the start, embed, report."""
    settings = Settings(database_url=url, index_dir=index)
    db = open_database(url)
    keywords, _ = indexer.open_indexes(settings)
    keywords.sync(db)
    model = Embedder(settings.embedding_model, threads=1)
    model.embed(["warm up"])
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    cpu = time.process_time()
    embedded, kept = indexer.embed_new(db, model, keywords, batch_size=CLAIM, holder=f"bench:{os.getpid()}")
    cpu = time.process_time() - cpu
    print(json.dumps({"embedded": embedded, "kept": kept, "end": time.time(), "cpu": cpu}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--synthetic", type=int, default=160)
    parser.add_argument("--dir", type=Path, default=Path(".bench/embed"))
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    papers = real_papers(args.n)
    made_up = synthetic_papers(args.synthetic, papers)
    settings = fresh(args.dir / "index-run", papers)
    model = Embedder(settings.embedding_model)
    texts = [window for p in papers for window in model.windows(p.title, p.abstract)]
    model.embed(texts[:64])  # warm up

    batched_s = batched(model, texts)
    bare_before, cpu_before = bare(model, texts)
    db = open_database(settings.database_url)
    started, cpu = time.perf_counter(), time.process_time()
    report = indexer.bring_up_to_date(db, settings, embedder=model)
    ours_s, ours_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert report.embedded == len(papers), report
    db.close()
    bare_after, cpu_after = bare(model, texts)
    bare_s = (bare_before + bare_after) / 2

    n = len(papers)
    print(f"{n} real-text papers (the bundled abstracts, repeated, sentences rotated) in {len(texts)} windows, "
          f"model {settings.embedding_model} on {model.device}")  # fmt: skip
    print(f"batched (32 a batch; not used: vectors would depend on the batch): {n / batched_s:7.1f} papers/s")
    print(f"bare model ({'one window at a time' if model.batch_limit == 1 else 'length-sorted batches'}), "
          f"before and after: {n / bare_before:7.1f} and {n / bare_after:.1f} papers/s "
          f"({2 * n / (cpu_before + cpu_after):.1f} per CPU-second)")  # fmt: skip
    print(f"paperfeed index (read, embed, keyphrases, store, indexes): {n / ours_s:7.1f} papers/s "
          f"({n / ours_cpu:.1f} per CPU-second)")  # fmt: skip
    print(f"ratio paperfeed / bare model (the mean of its two times): {bare_s / ours_s:.2f}")
    print("the embedding job in worker processes of one thread each, over one SQLite database:")
    for label, chosen in (("real-text", papers), ("synthetic", made_up)):
        one_s, one_cpu, _ = workers(args.dir / f"{label}-1", chosen, 1)
        two_s, two_cpu, shares = workers(args.dir / f"{label}-2", chosen, 2)
        k = len(chosen)
        print(f"  {k} {label} papers: 1 worker {k / one_s:6.1f} papers/s ({k / one_cpu:.1f} per CPU-second); "
              f"2 workers {k / two_s:6.1f} papers/s together ({k / two_cpu:.1f} per CPU-second; "
              f"{' + '.join(map(str, shares))} papers), {one_s / two_s:.2f}x")  # fmt: skip
    print(f"load while measuring (1-minute load average, {os.cpu_count()} cores): {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:])
    else:
        from report import recorded

        with recorded("embed"):
            main()
