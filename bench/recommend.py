"""Recommendation quality and cost: paperfeed's For-you model against popularity, recency, the mean-embedding
("centroid") baseline and arxiv-sanity-lite's method, on simulated readers of real papers.

Papers: the bundled real arXiv papers (data/arxiv-recent.jsonl, 304 papers of Jul-Aug 2026, and
data/arxiv-snapshot-sample.jsonl, 200 physics and maths papers of 2007 spread over the same weeks in id
order) and SciFact's 5,183 abstracts (benchmark only, never bundled; no categories, authors or dates: each
gets a random day of the same weeks). Vectors are the real offline model's, made as `paperfeed index`
makes them, cached under .bench/.

Readers: each simulation draws readers whose interest is a real topic of these papers, likes each paper
of that topic with probability 0.7, and is trained on up to k of its liked papers from the days before a
cut; the ranking is scored on the papers after the cut (a time split), against the liked papers there.
- category: one arXiv category (any listed) holding 2-30% of the papers;
- keyphrase: one keyphrase (paperfeed's extractor over these papers, two or more words) found in the
  title or abstract of 1.5-10% of the papers; relevance is the phrase in the text;
- author: a group of co-authors with papers on both sides of the cut; they follow those authors;
- mixed: two or three of the above interests, 20% of the likes noise (random papers), a disliked sub-topic (a
  keyphrase or category overlapping the interests: two or three "less" on it before the cut, and none of it
  relevant after), a followed category for half of the category interests.
Each simulation runs for several seeds (new readers and likes) and cuts (the share of days before it).

Methods, all in the same run on the same readers:
- popularity: upvotes, from a simulated community (300 readers of the same simulations) on the same papers;
- recency: newest first;
- centroid: cosine with the mean of the liked papers' vectors;
- arxiv-sanity-lite: its features (compute.py: TfidfVectorizer over title, abstract and author names,
  unigrams and bigrams, sublinear tf, min_df 5, max_df 0.1, at most 20,000 features, fitted on every
  paper) and its ranking (serve.py: one LinearSVC per reader, class_weight balanced, C=0.01, the liked
  papers positive and every other paper negative, ranked by decision function); our own code;
- paperfeed, likes only: paperfeed.recommend given the liked papers only (what the baselines get);
- paperfeed: given every signal the simulated reader has (likes, "less", follows).

Cost: ranking 5,000 candidates (SciFact vectors, synthetic metadata) for readers with 50 signals each
(40 liked, 5 disliked, 5 follows), the model fitted and ranked per request: p50/p99 over the readers.

    .venv/bin/python bench/recommend.py [--seeds 3] [--cuts 0.5,0.65,0.8] [--k 10] [--readers 40]
                                        [--data ../shared/data/scifact] [--latency-readers 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.ingest.normalize import paper_from_snapshot  # noqa: E402
from paperfeed.models import Follow, Organization, Paper  # noqa: E402
from paperfeed.recommend import signals as sig  # noqa: E402
from paperfeed.recommend.candidates import Candidates  # noqa: E402
from paperfeed.recommend.model import WEIGHTS, Weights, fit  # noqa: E402
from paperfeed.recommend.rank import parts, rank  # noqa: E402
from paperfeed.search import keyphrases  # noqa: E402
from paperfeed.search.embed import RECIPE, Embedder  # noqa: E402

DATA = ROOT / "data"
CACHE = ROOT / ".bench" / "recommend-vectors.db"
MODEL = "all-MiniLM-L6-v2-int8"
LIKE_PROBABILITY = 0.7
MIX_LO, MIX_HI = 2, 4
MIX_SHARE = 0.35
START = datetime(2026, 7, 7, tzinfo=UTC)  # the first day of the recent arXiv papers


@dataclass
class Doc:
    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published: datetime
    source: str


@dataclass
class Pool:
    """The papers of one world: their vectors, days, texts and tf-idf features."""

    name: str
    docs: list[Doc]
    vectors: np.ndarray
    day: np.ndarray  # days since START
    text: list[str] = field(default_factory=list)  # lower-case title and abstract
    phrases: dict[str, set[int]] = field(default_factory=dict)  # keyphrase → docs whose text holds it
    tfidf: object = None

    def __post_init__(self) -> None:
        self.text = [" ".join(f"{d.title}. {d.abstract}".lower().split()) for d in self.docs]


# -- papers --------------------------------------------------------------------------------------------


def arxiv_docs() -> list[Doc]:
    docs = []
    for name, source in (("arxiv-recent.jsonl", "recent"), ("arxiv-snapshot-sample.jsonl", "snapshot")):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            p = paper_from_snapshot(json.loads(line))
            assert p.published_at is not None
            docs.append(Doc(p.id, p.title, p.abstract, p.authors, p.categories, p.published_at, source))
    # The 2007 papers span three days: spread them over the recent papers' weeks in id (= time) order.
    recent = sorted(d.published for d in docs if d.source == "recent")
    old = sorted((d for d in docs if d.source == "snapshot"), key=lambda d: d.id)
    for n, d in enumerate(old):
        d.published = recent[n * len(recent) // len(old)] + timedelta(minutes=1)
    return docs


def scifact_docs(corpus: Path, rng: np.random.Generator) -> list[Doc]:
    docs = []
    for line in corpus.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        when = START + timedelta(seconds=float(rng.uniform(0, 45 * 86400)))
        docs.append(Doc(f"scifact-{r['_id']}", r["title"], r["text"], [], [], when, "scifact"))
    return docs


def vectors(docs: list[Doc]) -> np.ndarray:
    """Each paper's vector as ``paperfeed index`` makes and stores it (title windows, float16), cached."""
    CACHE.parent.mkdir(exist_ok=True)
    keys = [
        hashlib.blake2b(f"{MODEL}\n{RECIPE}\n{d.title}\n{d.abstract}".encode(), digest_size=16).hexdigest()
        for d in docs
    ]
    with sqlite3.connect(CACHE) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS v (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        known = dict(conn.execute("SELECT key, vector FROM v"))
        missing = [i for i, k in enumerate(keys) if k not in known]
        if missing:
            embedder = Embedder(MODEL)
            print(f"embedding {len(missing)} papers into {CACHE}", file=sys.stderr)
            for start in range(0, len(missing), 64):
                chunk = missing[start : start + 64]
                windows = [embedder.windows(docs[i].title, docs[i].abstract) for i in chunk]
                out = embedder.embed_windows(windows)
                rows = [(keys[i], out[n].astype("<f2").tobytes()) for n, i in enumerate(chunk)]
                conn.executemany("INSERT OR REPLACE INTO v VALUES (?, ?)", rows)
                conn.commit()
                known.update(rows)
    return np.stack([np.frombuffer(known[k], dtype="<f2").astype(np.float32) for k in keys])


def make_pool(name: str, docs: list[Doc]) -> Pool:
    day = np.array([(d.published - START).total_seconds() / 86400 for d in docs])
    pool = Pool(name, docs, vectors(docs), day)
    pool.phrases = topic_phrases(pool)
    pool.tfidf = sanity_features(pool)
    return pool


def topic_phrases(pool: Pool) -> dict[str, set[int]]:
    """Keyphrases of two or more words that paperfeed's extractor finds in these papers, each with the
    papers whose title or abstract holds it (word-bounded, an optional plural s)."""
    df: dict[str, int] = {}
    for t in pool.text:
        for w in set(re.findall(r"[a-z0-9\-]+", t)):
            df[w] = df.get(w, 0) + 1
    idf = keyphrases.idf_from(lambda ws: {w: df.get(w, 0) for w in ws}, len(pool.docs))
    found: set[str] = set()
    for d in pool.docs:
        for phrase in keyphrases.extract(d.title, d.abstract, idf, top=8):
            if len(phrase.split()) >= 2:
                found.add(phrase.lower())
    # Which papers hold each phrase: the papers' word n-grams, plural-insensitive, looked up.
    wanted = {_plain(p): p for p in sorted(found, reverse=True)}
    holders: dict[str, set[int]] = {}
    for i, t in enumerate(pool.text):
        tokens = [_plain(w) for w in re.findall(r"[a-z0-9\-]+", t)]
        for n in (2, 3):
            for start in range(len(tokens) - n + 1):
                key = " ".join(tokens[start : start + n])
                if key in wanted:
                    holders.setdefault(wanted[key], set()).add(i)
    out: dict[str, set[int]] = {}
    taken: set[frozenset[int]] = set()
    for phrase, docs in sorted(holders.items()):
        enough = 0.01 * len(pool.docs) <= len(docs) <= 0.10 * len(pool.docs) and len(docs) >= 5
        if enough and frozenset(docs) not in taken:  # "kv cache" and "kv caches" are one topic
            taken.add(frozenset(docs))
            out[phrase] = docs
    return out


def _plain(words: str) -> str:
    return " ".join(
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words.split()
    )


# -- arxiv-sanity-lite -----------------------------------------------------------------------------------


def sanity_features(pool: Pool) -> object:
    from sklearn.feature_extraction.text import TfidfVectorizer

    # compute.py, as shipped.
    v = TfidfVectorizer(
        input="content",
        encoding="utf-8",
        decode_error="replace",
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",  # noqa: S106 (not a password)
        ngram_range=(1, 2),
        max_features=20000,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=True,
        max_df=0.1,
        min_df=5,
    )
    corpus = [" ".join([d.title, d.abstract, " ".join(d.authors)]) for d in pool.docs]
    return v.fit_transform(corpus).astype(np.float32)


def sanity_scores(pool: Pool, liked: list[int], candidates: np.ndarray) -> np.ndarray:
    from sklearn import svm

    # serve.py's svm_rank, as shipped: every paper it holds is a negative unless tagged.
    x = pool.tfidf
    y = np.zeros(len(pool.docs), dtype=np.float32)
    y[liked] = 1.0
    clf = svm.LinearSVC(class_weight="balanced", verbose=False, max_iter=10000, tol=1e-6, C=0.01)
    clf.fit(x, y)
    return np.asarray(clf.decision_function(x[candidates]))


# -- readers -------------------------------------------------------------------------------------------


@dataclass
class Reader:
    interest: str
    relevant: set[int]  # every paper of the interest, on both sides of the cut
    disliked_topic: set[int] = field(default_factory=set)
    follows: list[Follow] = field(default_factory=list)
    noise: float = 0.0
    like_all: bool = False  # an author's reader likes every paper of theirs


def category_interests(pool: Pool) -> dict[str, set[int]]:
    by: dict[str, set[int]] = {}
    for i, d in enumerate(pool.docs):
        for c in d.categories:
            by.setdefault(c, set()).add(i)
    n = len(pool.docs)
    return {c: s for c, s in by.items() if 0.02 * n <= len(s) <= 0.30 * n}


def category_readers(pool: Pool, rng: np.random.Generator, count: int) -> list[Reader]:
    return [Reader(f"category {c}", s) for c, s in _some(category_interests(pool), rng, count)]


def keyphrase_readers(pool: Pool, rng: np.random.Generator, count: int) -> list[Reader]:
    return [Reader(f"keyphrase “{p}”", s) for p, s in _some(pool.phrases, rng, count)]


def author_readers(pool: Pool, rng: np.random.Generator, count: int) -> list[Reader]:
    """Groups of co-authors (authors with the same papers are one group) with three papers or more."""
    by: dict[str, set[int]] = {}
    for i, d in enumerate(pool.docs):
        for a in d.authors:
            by.setdefault(a, set()).add(i)
    groups: dict[frozenset[int], list[str]] = {}
    for a, s in by.items():
        if len(s) >= 2:
            groups.setdefault(frozenset(s), []).append(a)
    readers = [
        Reader(
            f"authors {', '.join(names[:2])}",
            set(s),
            follows=[Follow("author", a) for a in names[:3]],
            like_all=True,
        )
        for s, names in groups.items()
    ]
    order = rng.permutation(len(readers))
    return [readers[i] for i in order[:count]]


def mixed_readers(pool: Pool, rng: np.random.Generator, count: int) -> list[Reader]:
    categories = category_interests(pool)
    interests = [("category", c, s) for c, s in categories.items()] + [
        ("keyphrase", p, s) for p, s in pool.phrases.items()
    ]
    dislikable = interests
    readers: list[Reader] = []
    tries = 0
    while len(readers) < count and tries < 50 * count:
        tries += 1
        chosen = [
            interests[i]
            for i in rng.choice(len(interests), size=int(rng.integers(MIX_LO, MIX_HI)), replace=False)
        ]
        relevant = set().union(*(s for _, _, s in chosen))
        if len(relevant) > MIX_SHARE * len(pool.docs):
            continue
        # A sub-topic of the interests the reader wants less of: overlapping them, but not most of them.
        options = [
            (k, name, s)
            for k, name, s in dislikable
            if 4 <= len(s & relevant) <= 0.5 * len(relevant) and name not in {n for _, n, _ in chosen}
        ]
        if not options:
            continue
        _, disliked, dislike_set = options[int(rng.integers(len(options)))]
        follows = [
            Follow("category", name) for kind, name, _ in chosen if kind == "category" and rng.random() < 0.5
        ]
        label = " + ".join(f"{name}" for _, name, _ in chosen) + f", less of {disliked}"
        readers.append(Reader(label, relevant - dislike_set, dislike_set, follows, noise=0.2))
    return readers


def _some(options: dict[str, set[int]], rng: np.random.Generator, count: int) -> list[tuple[str, set[int]]]:
    names = sorted(options)
    order = rng.permutation(len(names))
    return [(names[i], options[names[i]]) for i in order[:count]]


GENERATORS: dict[str, Callable[[Pool, np.random.Generator, int], list[Reader]]] = {
    "category": category_readers,
    "keyphrase": keyphrase_readers,
    "author": author_readers,
    "mixed": mixed_readers,
}
# (pool, generator): SciFact has neither categories nor authors.
SIMULATIONS = [
    ("arxiv", "category"),
    ("arxiv", "keyphrase"),
    ("arxiv", "author"),
    ("arxiv", "mixed"),
    ("scifact", "keyphrase"),
    ("scifact", "mixed"),
]


@dataclass
class Episode:
    """One reader on one side of one cut: what it gave before, what it liked after."""

    reader: Reader
    liked: list[int]  # before the cut, oldest first
    disliked: list[int]
    candidates: np.ndarray  # every paper after the cut
    relevant: set[int]


def episode(reader: Reader, pool: Pool, cut: float, k: int, rng: np.random.Generator) -> Episode | None:
    before = pool.day < cut
    likes = {i for i in reader.relevant if reader.like_all or rng.random() < LIKE_PROBABILITY}
    train = sorted(i for i in likes if before[i])
    test = {i for i in likes if not before[i]}
    if len(train) < (1 if reader.like_all else 3) or not test:
        return None
    liked = [int(i) for i in rng.permutation(train)[:k]]
    if reader.noise:
        others = np.flatnonzero(before)
        n = max(1, round(len(liked) * reader.noise))
        liked = liked[: len(liked) - n] + [int(i) for i in rng.choice(others, size=n, replace=False)]
    disliked: list[int] = []
    if reader.disliked_topic:
        seen = sorted(i for i in reader.disliked_topic if before[i])
        if len(seen) < 2:
            return None
        disliked = [int(i) for i in rng.permutation(seen)[: int(rng.integers(2, 4))]]
        liked = [i for i in liked if i not in disliked]
    candidates = np.flatnonzero(~before)
    return Episode(reader, sorted(liked, key=lambda i: pool.day[i]), disliked, candidates, test)


def upvotes(pool: Pool, rng: np.random.Generator, population: int = 300) -> np.ndarray:
    """A community's upvotes on every paper: readers of every simulation of this pool, each upvoting the
    papers of its interest with the same probability as a reader likes them."""
    votes = np.zeros(len(pool.docs), dtype=np.int64)
    gens = [g for p, g in SIMULATIONS if p == pool.name]
    for n in range(population):
        readers = GENERATORS[gens[n % len(gens)]](pool, rng, 1)
        for r in readers:
            for i in r.relevant:
                if rng.random() < LIKE_PROBABILITY:
                    votes[i] += 1
    return votes


# -- methods -------------------------------------------------------------------------------------------


@dataclass
class World:
    """One pool, seed and cut: the candidates as paperfeed holds them, shared by every reader."""

    pool: Pool
    cut: float
    votes: np.ndarray
    papers: list[Paper]
    candidates: Candidates | None = None
    rows: np.ndarray | None = None  # pool index of each candidate row


def world(pool: Pool, cut: float, votes: np.ndarray) -> World:
    papers = [
        Paper(
            d.id,
            d.title,
            d.abstract,
            d.authors,
            d.categories,
            published_at=d.published,
            upvotes=int(votes[i]),
        )
        for i, d in enumerate(pool.docs)
    ]
    w = World(pool, cut, votes, papers)
    rows = np.flatnonzero(pool.day >= cut)
    w.candidates = Candidates.of([papers[i] for i in rows], {papers[i].id: pool.vectors[i] for i in rows})
    w.rows = rows
    return w


Method = Callable[[World, Episode], np.ndarray]


def popularity(w: World, e: Episode) -> np.ndarray:
    return w.votes[e.candidates] + 1e-9 * w.pool.day[e.candidates]


def recency(w: World, e: Episode) -> np.ndarray:
    return w.pool.day[e.candidates].astype(np.float64)


def centroid(w: World, e: Episode) -> np.ndarray:
    mean = w.pool.vectors[e.liked].mean(axis=0)
    return w.pool.vectors[e.candidates] @ (mean / np.linalg.norm(mean))


def arxiv_sanity(w: World, e: Episode) -> np.ndarray:
    return sanity_scores(w.pool, e.liked, e.candidates)


def paperfeed_with(everything: bool, weights: Weights = WEIGHTS) -> Method:
    def method(w: World, e: Episode) -> np.ndarray:
        assert w.candidates is not None and w.rows is not None
        start = START + timedelta(days=w.cut)
        liked = tuple(
            sig.Liked(w.papers[i].id, "upvote", w.papers[i].published_at + timedelta(hours=6))
            for i in e.liked  # type: ignore[operator]
        )
        signals = sig.Signals(liked)
        if everything:
            signals = sig.Signals(liked, tuple(w.papers[i].id for i in e.disliked), tuple(e.reader.follows))
        ids = signals.paper_ids()
        index = {p.id: n for n, p in enumerate(w.papers)}
        known = {i: w.papers[index[i]] for i in ids}
        vecs = {i: w.pool.vectors[index[i]] for i in ids}
        model = fit(signals, w.candidates, known, vecs, start, weights)
        total = parts(model, w.candidates).total
        total[[w.candidates.row[i] for i in model.disliked_ids if i in w.candidates.row]] = -np.inf
        return total

    return method


METHODS: dict[str, Method] = {
    "popularity": popularity,
    "recency": recency,
    "centroid": centroid,
    "arxiv-sanity-lite": arxiv_sanity,
    "paperfeed, likes only": paperfeed_with(False),
    "paperfeed": paperfeed_with(True),
}


# -- metrics -------------------------------------------------------------------------------------------


def metrics(scores: np.ndarray, e: Episode, at: int = 10) -> tuple[float, float, float]:
    """Precision@10, nDCG@10 (binary relevance: the papers liked after the cut) and the share of the top
    10 that is of the reader's disliked sub-topic."""
    order = [int(e.candidates[i]) for i in np.argsort(-scores, kind="stable")[:at]]
    hits = [1.0 if i in e.relevant else 0.0 for i in order]
    dcg = sum(h / math.log2(n + 2) for n, h in enumerate(hits))
    ideal = sum(1 / math.log2(n + 2) for n in range(min(at, len(e.relevant))))
    return sum(hits) / at, dcg / ideal, sum(i in e.reader.disliked_topic for i in order) / at


@dataclass
class Result:
    episodes: int = 0
    precision: dict[str, list[float]] = field(default_factory=dict)
    ndcg: dict[str, list[float]] = field(default_factory=dict)
    by_run: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # method → run → nDCG@10s
    less: dict[str, list[float]] = field(
        default_factory=dict
    )  # share of the disliked sub-topic in the top 10
    candidates: list[int] = field(default_factory=list)
    relevant: list[int] = field(default_factory=list)


def simulate(
    pools: dict[str, Pool], seeds: int, cuts: list[float], k: int, count: int, methods: dict[str, Method]
) -> dict[tuple[str, str], Result]:
    results = {s: Result() for s in SIMULATIONS}
    for seed in range(seeds):
        for pool in pools.values():
            votes = upvotes(pool, np.random.default_rng(1000 + seed))
            span = pool.day.max()
            for cut_share in cuts:
                w = world(pool, cut_share * span, votes)
                run = f"seed {seed}, cut {cut_share:.2f}"
                for sim in SIMULATIONS:
                    if sim[0] != pool.name:
                        continue
                    rng = np.random.default_rng([seed, int(cut_share * 100), len(sim[1])])
                    result = results[sim]
                    for reader in GENERATORS[sim[1]](pool, rng, count):
                        e = episode(reader, pool, w.cut, k, rng)
                        if e is None:
                            continue
                        result.episodes += 1
                        result.candidates.append(len(e.candidates))
                        result.relevant.append(len(e.relevant))
                        for name, method in methods.items():
                            p, n, less = metrics(method(w, e), e)
                            if e.disliked:
                                result.less.setdefault(name, []).append(less)
                            result.precision.setdefault(name, []).append(p)
                            result.ndcg.setdefault(name, []).append(n)
                            result.by_run.setdefault(name, {}).setdefault(run, []).append(n)
    return results


# -- cost ----------------------------------------------------------------------------------------------


def latency(pool: Pool, readers: int, n: int = 5000) -> None:
    """Fit and rank for readers with 50 signals each, over 5,000 candidates: real vectors and texts
    (SciFact's, or the arXiv papers' repeated with noise), synthetic authors, categories, organizations."""
    rng = np.random.default_rng(7)
    categories = [f"cs.{c}" for c in ("CL", "LG", "AI", "CV", "CR", "RO", "IR", "SE", "DC", "HC")]
    names = [f"Author {i}" for i in range(20000)]
    orgs = [Organization(f"org{i}", f"Org {i}") for i in range(300)]
    base = (
        rng.integers(0, len(pool.docs), size=n) if len(pool.docs) < n else rng.permutation(len(pool.docs))[:n]
    )
    matrix = pool.vectors[base] + (
        0.02 * rng.standard_normal((n, pool.vectors.shape[1])) if len(pool.docs) < n else 0
    )

    def paper(k: int, i: int) -> Paper:
        d = pool.docs[i]
        return Paper(
            f"{d.id}-{k}",
            d.title,
            d.abstract,
            [names[j] for j in rng.integers(0, len(names), size=int(rng.integers(1, 8)))],
            list(rng.choice(categories, size=int(rng.integers(1, 4)), replace=False)),
            published_at=d.published,
            upvotes=int(rng.integers(0, 50)),
            organization=orgs[int(rng.integers(len(orgs)))] if rng.random() < 0.3 else None,
        )

    papers = [paper(k, int(i)) for k, i in enumerate(base)]
    vecs = {p.id: matrix[k].astype(np.float32) for k, p in enumerate(papers)}
    t0 = time.perf_counter()
    cands = Candidates.of(papers, vecs)
    build = time.perf_counter() - t0
    readers_signals = []
    for r in range(readers):
        # 40 liked papers and 5 disliked ones from earlier weeks (real texts and vectors), 5 follows.
        chosen = rng.choice(len(pool.docs), size=45, replace=False)
        earlier = [paper(-1 - r, int(i)) for i in chosen]
        known = {p.id: p for p in earlier}
        v = {p.id: pool.vectors[i] for p, i in zip(earlier, chosen, strict=True)}
        follows = (
            Follow("author", names[int(rng.integers(len(names)))]),
            Follow("author", names[int(rng.integers(len(names)))]),
            Follow("organization", orgs[int(rng.integers(len(orgs)))].name),
            Follow("category", str(rng.choice(categories))),
            Follow("topic", "randomized controlled trial"),
        )
        ids = [p.id for p in earlier]
        seen = {papers[int(i)].id for i in rng.integers(0, n, size=20)}
        readers_signals.append(
            (sig.Signals(tuple(sig.Liked(i) for i in ids[:40]), tuple(ids[40:]), follows), known, v, seen)
        )
    cands.matching("warm up")  # the topic index, built once per period like the rest

    # Each reader visits twice in a row: the first visit splits all its liked abstracts into terms, the
    # next (a reload, the next page, a new like) finds them remembered. Wall-clock time depends on how
    # busy the machine is; the CPU time of the calling thread is what a request costs a free core.
    cands.terms.remembered.clear()
    wall: dict[tuple[str, str], list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for s, known, v, seen in readers_signals:
        for visit in ("first", "next"):
            c0, t0 = time.thread_time(), time.perf_counter()
            model = fit(s, cands, known, v)
            t1 = time.perf_counter()
            picks = rank(model, cands, seen=seen, limit=50)
            t2, c2 = time.perf_counter(), time.thread_time()
            assert len(picks) == 50
            wall.setdefault((visit, "fit"), []).append(t1 - t0)
            wall.setdefault((visit, "rank"), []).append(t2 - t1)
            wall.setdefault((visit, "both"), []).append(t2 - t0)
            cpu.setdefault(visit, []).append(c2 - c0)

    def ms(values: list[float], q: int) -> str:
        return f"{np.percentile(np.array(values) * 1000, q):.1f}"

    print(
        f"Ranking {n:,} candidates for {readers:,} readers with 50 signals each (40 liked, 5 disliked, "
        f"5 follows), 50 picks with reasons, in ms; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores during the run:\n"
    )
    print(
        "| visit | fit p50 | fit p99 | rank p50 | rank p99 | fit + rank p50 | fit + rank p99 | CPU p50 | CPU p99 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for visit in ("first", "next"):
        cells = [ms(wall[(visit, part)], q) for part in ("fit", "rank", "both") for q in (50, 99)]
        cells += [ms(cpu[visit], 50), ms(cpu[visit], 99)]
        print(f"| {visit} | {' | '.join(cells)} |")
    print(f"\nThe candidates' arrays (vectors, tf-idf terms, lookups), built once per period: {build:.1f} s")


# -- report --------------------------------------------------------------------------------------------


def report(results: dict[tuple[str, str], Result], methods: list[str]) -> None:
    base = "arxiv-sanity-lite"
    for (pool, gen), r in results.items():
        if not r.episodes:
            continue
        runs = sorted(next(iter(r.by_run.values())))
        print(
            f"\n{pool} · {gen} readers: {r.episodes} reader-episodes; candidates {min(r.candidates)}-"
            f"{max(r.candidates)}, liked after the cut {min(r.relevant)}-{max(r.relevant)} "
            f"(median {int(np.median(r.relevant))})\n"
        )
        head = "| method | P@10 | nDCG@10 | " + " | ".join(runs) + " |"
        print(head)
        print("|---|---:|---:|" + "---:|" * len(runs))
        for m in methods:
            per_run = " | ".join(f"{np.mean(r.by_run[m].get(run, [np.nan])):.3f}" for run in runs)
            print(f"| {m} | {np.mean(r.precision[m]):.3f} | {np.mean(r.ndcg[m]):.3f} | {per_run} |")
        ratio = np.mean(r.ndcg["paperfeed"]) / np.mean(r.ndcg[base])
        ratio_likes = np.mean(r.ndcg["paperfeed, likes only"]) / np.mean(r.ndcg[base])
        print(f"\npaperfeed / {base}, nDCG@10: {ratio:.2f} (likes only: {ratio_likes:.2f})")
        if r.less:
            shares = ", ".join(f"{m} {np.mean(r.less[m]):.3f}" for m in methods)
            print(f"Share of the top 10 in the disliked sub-topic: {shares}")
    shown = [(s, r) for s, r in results.items() if r.episodes]
    print("\nMean over the simulations (each simulation weighs the same):\n")
    print("| method | " + " | ".join(f"{p}/{g}" for (p, g), _ in shown) + " | mean P@10 | mean nDCG@10 |")
    print("|---|" + "---:|" * (len(shown) + 2))
    for m in methods:
        cells = " | ".join(f"{np.mean(r.ndcg[m]):.3f}" for _, r in shown)
        mp = np.mean([np.mean(r.precision[m]) for _, r in shown])
        mn = np.mean([np.mean(r.ndcg[m]) for _, r in shown])
        print(f"| {m} | {cells} | {mp:.3f} | {mn:.3f} |")
    mean = {m: np.mean([np.mean(r.ndcg[m]) for _, r in shown]) for m in methods}
    print(
        f"\n(the simulations' cells are nDCG@10) paperfeed / {base}: {mean['paperfeed'] / mean[base]:.2f}; "
        f"likes only: {mean['paperfeed, likes only'] / mean[base]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cuts", default="0.5,0.65,0.8", help="shares of the days before each cut")
    parser.add_argument("--k", type=int, default=10, help="liked papers a reader is trained on, at most")
    parser.add_argument(
        "--readers", type=int, default=40, help="readers per simulation, seed and cut, at most"
    )
    parser.add_argument("--latency-readers", type=int, default=1000)
    parser.add_argument("--pools", default="arxiv,scifact")
    args = parser.parse_args()

    wanted = args.pools.split(",")
    pools = {}
    if "arxiv" in wanted:
        pools["arxiv"] = make_pool("arxiv", arxiv_docs())
    if "scifact" in wanted:
        corpus = args.data / "corpus.jsonl"
        if corpus.exists():
            pools["scifact"] = make_pool("scifact", scifact_docs(corpus, np.random.default_rng(0)))
        else:
            print(f"{corpus} not found: SciFact's simulations left out", file=sys.stderr)
    cuts = [float(c) for c in args.cuts.split(",")]
    print(
        f"{', '.join(f'{p.name}: {len(p.docs):,} papers, {len(p.phrases)} topic keyphrases' for p in pools.values())}; "
        f"k = {args.k}, seeds {args.seeds}, cuts {args.cuts}, up to {args.readers} readers per simulation, seed and cut"
    )
    t0 = time.perf_counter()
    results = simulate(pools, args.seeds, cuts, args.k, args.readers, METHODS)
    report(results, list(METHODS))
    print(f"\n(simulations took {time.perf_counter() - t0:.0f} s)")
    if args.latency_readers and pools:
        print()
        latency(pools.get("scifact") or next(iter(pools.values())), args.latency_readers)


if __name__ == "__main__":
    from report import recorded

    with recorded("recommend"):
        main()
