"""Embedding throughput: `paperfeed index` against the bare model, on the same texts, in one run.

The texts are the bundled real papers (304 recent arXiv abstracts and 200 snapshot lines), repeated
under new ids to --n papers. Every measurement embeds the same texts: each paper's one or two windows
(``Embedder.windows``: a long abstract's end is a second window). Measured in this order:
  1. batched, for information: the tokenizer and onnxruntime session alone, length-sorted batches of
     32. Not what paperfeed runs on a CPU: the int8 model quantises its activations with one scale per
     batch, so a vector would depend on the other texts in its batch (``embed.Embedder``);
  2. bare model: the tokenizer and session alone as paperfeed must run them (``Embedder.embed``: one
     window at a time for that model on a CPU, batches on a GPU) — the figure paperfeed is held to,
     measured before and after 3 (this machine's speed drifts by up to 10% between minutes);
  3. paperfeed: `indexer.bring_up_to_date` on a fresh database holding those papers — reading them back,
     embedding, keyphrases, storing vectors in batches with the job position, and building the keyword
     and vector indexes.
Prints papers/s for each and the ratio of 3 to 2 (the mean of its two times).

    .venv/bin/python bench/embed.py [--n 2000] [--dir .bench/embed]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

from paperfeed.ingest.normalize import paper_from_snapshot
from paperfeed.search import indexer
from paperfeed.search.embed import Embedder
from paperfeed.settings import Settings
from paperfeed.storage import open_database
from paperfeed.storage import papers as paper_store

DATA = Path(__file__).resolve().parents[1] / "data"


def bare(model: Embedder, texts: list[str]) -> float:
    """Seconds the tokenizer and session alone take for the texts, as paperfeed runs the model."""
    started = time.perf_counter()
    model.embed(texts)
    return time.perf_counter() - started


def batched(model: Embedder, texts: list[str]) -> float:
    """Seconds the session takes for the texts in length-sorted batches of 32, whatever the model."""
    limit, model.batch_limit = model.batch_limit, 0
    try:
        started = time.perf_counter()
        model.embed(texts, 32)
        return time.perf_counter() - started
    finally:
        model.batch_limit = limit


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=Path(".bench/embed"))
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    real = [
        paper_from_snapshot(json.loads(line))
        for name in ("arxiv-recent.jsonl", "arxiv-snapshot-sample.jsonl")
        for line in (DATA / name).read_text().splitlines()
    ]
    papers = [
        replace(real[i % len(real)], id=f"{i // len(real)}-{real[i % len(real)].id}") for i in range(args.n)
    ]
    settings = Settings(database_url=f"sqlite:///{args.dir / 'papers.db'}", index_dir=str(args.dir / "index"))
    model = Embedder(settings.embedding_model)
    texts = [window for p in papers for window in model.windows(p.title, p.abstract)]
    model.embed(texts[:64])  # warm up

    batched_s = batched(model, texts)
    bare_before = bare(model, texts)
    db = open_database(settings.database_url)
    for start in range(0, len(papers), 1000):
        paper_store.upsert_papers(db, papers[start : start + 1000])
    started = time.perf_counter()
    report = indexer.bring_up_to_date(db, settings, embedder=model)
    ours_s = time.perf_counter() - started
    assert report.embedded == len(papers), report
    bare_after = bare(model, texts)
    bare_s = (bare_before + bare_after) / 2

    n = len(papers)
    print(
        f"{n} papers (the bundled real abstracts, repeated) in {len(texts)} windows, model {settings.embedding_model}"
    )
    print(f"batched (32 a batch; not used: vectors would depend on the batch): {n / batched_s:7.1f} papers/s")
    print(f"bare model ({'one window at a time' if model.batch_limit == 1 else 'length-sorted batches'}), "
          f"before and after: {n / bare_before:7.1f} and {n / bare_after:.1f} papers/s")  # fmt: skip
    print(f"paperfeed index (read, embed, keyphrases, store, indexes): {n / ours_s:7.1f} papers/s")
    print(f"ratio paperfeed / bare model (the mean of its two times): {bare_s / ours_s:.2f}")


if __name__ == "__main__":
    from report import recorded

    with recorded("embed"):
        main()
