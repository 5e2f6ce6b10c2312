"""Answers a search box: keyword (BM25) and dense retrieval fused, an exact id or title first, filters.

Fusion is a convex combination of two scores that each mean the same thing for every query: BM25
divided by the best score the query could reach (how much of the query a paper matches), and the
cosine similarity of the embeddings. Unlike min-max normalisation over each result list, a weak keyword
match does not become a perfect 1.0 just because it is the best of a bad list, so a paper that shares no
word with the query but matches its meaning can still win. On SciFact (bench/relevance.py) this scores
as well as the best min-max weighting and stays flat for weights 0.4–0.6. Both retrievers apply the
filters themselves; the database check on the final papers is the authority, so a stale index can only
miss a paper, never show one that does not match.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from paperfeed.arxiv_ids import BadArxivId, parse_arxiv_id
from paperfeed.models import Paper
from paperfeed.search import embed, highlight, indexer
from paperfeed.search.embed import Embedder
from paperfeed.search.keyword import Filters, KeywordIndex
from paperfeed.search.mapped import one_check
from paperfeed.search.recent import Recent
from paperfeed.search.vector import VectorIndex
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import embeddings as vectors_store
from paperfeed.storage import papers as paper_store

MODES = ("hybrid", "keyword", "dense")
DENSE_WEIGHT = 0.5  # of the fused score; BM25 has the rest (bench/relevance.py prints 0.3–0.8)
# Candidates taken from each retriever. With every candidate scored by both, SciFact gives the same
# nDCG@10 at 50 as at 100 or 200, and at 1M papers 50 saves a search about 3 ms (bench/search.py).
DEPTH = 50
FILTERED_DEPTH = 1000  # the vector index cannot filter: look deeper, then keep what matches
# Answers (``find``) and query vectors a process keeps (search/recent.py). An answer holds its papers, a few
# kB each: 512 answers of 10 papers are ~10 MB. A query vector is 1.5 kB.
ANSWERS_KEPT = 512
VECTORS_KEPT = 4096
# The relevance floor: the score under which a paper is not shown to a person (the page, the API and a
# CLI search; the batch mode ranks everything). Chosen on SciFact's train claims and 207 made-up queries
# (docs/search.md, "The relevance floor"). The judged-relevant papers in the claims' top 10s score at
# least 0.227; 0.15 keeps them all, and a paper found by meaning alone ("cows getting heavier on pasture"
# finds the cattle-growth paper at 0.179). A query none of whose words occurs in any paper has only
# meaning to go on, and made-up words land up to 0.199 from real abstracts (cosine 0.40): such a query
# needs 0.21. Dense mode: twice each (the cosine alone). Keyword mode: matching a word at all.
FLOOR = {"hybrid": 0.15, "dense": 0.30, "keyword": 1e-9}
UNKNOWN_WORDS_FLOOR = {"hybrid": 0.21, "dense": 0.42, "keyword": 1e-9}


@dataclass(frozen=True, slots=True)
class Result:
    paper: Paper
    score: float


@dataclass(frozen=True, slots=True)
class Scored:
    id: str
    score: float


@dataclass(frozen=True, slots=True)
class Found:
    """What a person is shown for a query: the best results over the floor, and how many there are.

    ``total`` counts the papers over the floor among both retrievers' candidates. It is exact
    (``counted``) when no paper outside the candidates can reach the floor: one missing from both lists
    scores at most the last score of each (when a list stopped at its depth; 0 when it did not). Else
    there are at least ``total``."""

    results: list[Result]
    total: int
    counted: bool
    exact: bool = False  # the query was an arXiv id of a stored paper: that paper alone


@dataclass(frozen=True, slots=True)
class _Candidates:
    keyword: list[Scored]
    dense: list[Scored]
    keyword_beyond: float  # the best BM25 share a paper outside ``keyword`` can have
    dense_beyond: float  # the best cosine a paper outside ``dense`` can have (approximately: HNSW)


class Searcher:
    """Everything a search needs, opened once per process; the model loads on the first query."""

    def __init__(
        self,
        db: Database,
        keywords: KeywordIndex,
        vectors: VectorIndex,
        model: str,
        refresh_seconds: float = 5.0,
        cache_seconds: float = 0.0,
    ) -> None:
        self.db = db
        self.keywords = keywords
        self.vectors = vectors
        self.model = model
        self.refresh_seconds = refresh_seconds
        # What a person was shown for a query, reused while both indexes are unchanged and for at most
        # ``cache_seconds`` (0: never); and the model's vector of a query text, which only the model decides.
        self.answers: Recent[Found] = Recent(ANSWERS_KEPT, cache_seconds)
        self.query_vectors: Recent[np.ndarray] = Recent(VECTORS_KEPT)

    @classmethod
    def open(cls, db: Database, settings: Settings, refresh_seconds: float | None = None) -> Searcher:
        """A searcher over this node's indexes and the configured model: how every caller opens one.
        ``refresh_seconds`` (how often a search first catches the vector index up with the database)
        defaults to settings.index_refresh_seconds; one-off commands and tests pass 0, to see every stored
        vector at once."""
        keywords, vectors = indexer.open_indexes(settings)
        refresh = settings.index_refresh_seconds if refresh_seconds is None else refresh_seconds
        return cls(db, keywords, vectors, settings.embedding_model, refresh, settings.search_cache_seconds)

    @cached_property
    def embedder(self) -> Embedder:
        # One thread: a query of a few words gains nothing from a second one (measured here), which is
        # better left to the BM25 side of the same search, or to another request.
        return embed.shared(self.model, threads=1)

    @cached_property
    def _dense_side(self) -> ThreadPoolExecutor:
        # A search's dense side (embed the query, walk the graph, read the hits' vectors) runs on one of
        # these threads while its keyword side runs on the caller's: onnxruntime, usearch and the reads
        # let go of the GIL. At 1M papers this saved about 1.5 ms at p50 and 5 ms at p90.
        return ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="search-dense")

    def query_vector(self, query: str) -> np.ndarray:
        """The model's vector of a query, from memory when the same text was embedded before."""
        vector = self.query_vectors.get(query)
        return (
            vector if vector is not None else self.query_vectors.put(query, self.embedder.embed_query(query))
        )

    # -- retrieval ----------------------------------------------------------------------------------

    def keyword_ranking(
        self, query: str, depth: int, filters: Filters | None = None, among: Sequence[str] | None = None
    ) -> list[Scored]:
        """BM25 hits, scored as a share of the best score the query could reach (0–1); ``among``
        scores just those papers."""
        hits = self.keywords.search(query, depth, filters=filters, among=among)
        bound = self.keywords.best_possible(query) if hits else 1.0
        return [Scored(h.id, min(h.score / bound, 1.0) if bound else 0.0) for h in hits]

    def dense_ranking(self, vector: np.ndarray, depth: int, filters: Filters | None = None) -> list[Scored]:
        """Nearest papers by cosine. The HNSW index holds int8 vectors, whose rounding reorders close
        neighbours; the candidates are therefore scored again with their stored float16 vectors (kept
        beside the vector index: reading them from the database cost a search 2–3 ms)."""
        return by_cosine(*self.vectors.stored(self._nearest(vector, depth, filters)), vector)

    def candidates(
        self,
        query: str,
        vector: np.ndarray | None = None,
        depth: int = DEPTH,
        filters: Filters | None = None,
    ) -> tuple[list[Scored], list[Scored]]:
        """Each retriever's top ``depth``, then both scores for every paper either one found.

        A paper one retriever missed is not a zero for it: its cosine comes from its stored vector
        and its BM25 from the keyword index, asked about just those papers. Scoring the union
        completely gains 0.004 nDCG@10 on SciFact over counting a miss as 0, and makes the depth
        matter little (the same score at 50 as at 200). The query is embedded here unless ``vector``
        is given; the dense side runs beside the keyword side."""
        found = self._gather(query, vector, depth, filters)
        return found.keyword, found.dense

    def _gather(
        self, query: str, vector: np.ndarray | None, depth: int, filters: Filters | None
    ) -> _Candidates:
        # Caught up here, before the two sides fork: the keyword side reads its papers' vectors from the
        # same index, and a refresh still running on the dense side left it without the newest ones.
        self.vectors.refresh_every(self.db, self.refresh_seconds)
        # In this search's context: its files checked once (mapped.one_check) on both sides.
        run = contextvars.copy_context().run
        dense_side = self._dense_side.submit(run, self._nearest_stored, query, vector, depth, filters)
        keyword = self.keyword_ranking(query, depth, filters)
        # A paper below BM25's top ``depth`` scores at most its last; when fewer matched, every
        # paper that matches a word is in the list and any other scores 0.
        keyword_beyond = keyword[-1].score if len(keyword) >= depth else 0.0
        ids, matrix = self.vectors.stored({vectors_store.vector_key(s.id) for s in keyword})
        vector, (near_ids, near_matrix) = dense_side.result()
        nearest = by_cosine(near_ids, near_matrix, vector)
        wanted = FILTERED_DEPTH if filters else depth
        dense_beyond = nearest[-1].score if len(nearest) >= wanted else 0.0
        known = set(ids)
        new = [i for i, paper_id in enumerate(near_ids) if paper_id not in known]
        dense = by_cosine(
            [*ids, *(near_ids[i] for i in new)], np.concatenate([matrix, near_matrix[new]]), vector
        )
        # When BM25 found fewer than ``depth`` papers, it found every paper that matches a word of the
        # query: the others score 0, and asking tantivy about them would only say so.
        no_bm25 = [s.id for s in dense if s.id not in known] if keyword_beyond else []
        keyword = keyword + self.keyword_ranking(query, len(no_bm25), filters, among=no_bm25)
        return _Candidates(keyword, dense, keyword_beyond, max(dense_beyond, 0.0))

    def _nearest_stored(
        self, query: str, vector: np.ndarray | None, depth: int, filters: Filters | None
    ) -> tuple[np.ndarray, tuple[list[str], np.ndarray]]:
        """The query's vector, and the ids and stored vectors of its nearest papers."""
        if vector is None:
            vector = self.query_vector(query)
        return vector, self.vectors.stored(self._nearest(vector, depth, filters, refresh=False))

    def _nearest(
        self, vector: np.ndarray, depth: int, filters: Filters | None, refresh: bool = True
    ) -> set[int]:
        """Vector-index keys of the nearest papers (deeper when filtered: the index cannot filter)."""
        if refresh:
            self.vectors.refresh_every(self.db, self.refresh_seconds)
        return {h.key for h in self.vectors.search(vector, FILTERED_DEPTH if filters else depth)}

    def rank(
        self,
        query: str,
        depth: int = DEPTH,
        filters: Filters | None = None,
        vector: np.ndarray | None = None,
        mode: str = "hybrid",
    ) -> list[Scored]:
        """Ranking of paper ids (not yet checked against the database) by one retriever or both."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        if mode == "keyword":
            return self.keyword_ranking(query, depth, filters)
        if mode == "dense":
            vector = self.query_vector(query) if vector is None else vector
            return self.dense_ranking(vector, depth, filters)
        return fuse(*self.candidates(query, vector, depth, filters))

    def search(
        self,
        query: str,
        limit: int = 10,
        filters: Filters | None = None,
        vector: np.ndarray | None = None,
        mode: str = "hybrid",
    ) -> list[Result]:
        query = query.strip()
        if not query:
            return []
        ranking = self.rank(query, max(DEPTH, limit), filters, vector, mode)
        results: list[Result] = []
        # An exact arXiv id or title is what the user meant: it comes first whatever the scores say.
        exact = self._exact_id(query)
        if exact and (paper := paper_store.paper(self.db, exact)) and matches(paper, filters):
            results.append(Result(paper, max((s.score for s in ranking if s.id == exact), default=1.0)))
        wanted = " ".join(query.lower().split())
        # Papers are read in slices of the ranking, so a search reads about as many as it shows; only
        # filters that the database rejects make it read further.
        step = limit + 5 if filters else limit
        for start in range(0, len(ranking), step):
            window = ranking[start : start + step]
            found = {p.id: p for p in paper_store.papers_by_ids(self.db, [s.id for s in window])}
            for s in window:
                paper = found.get(s.id)
                if paper is not None and paper.id != exact and matches(paper, filters):
                    results.append(Result(paper, s.score))
            if len(results) >= limit:
                break
        titled = [r for r in results if " ".join(r.paper.title.lower().split()) == wanted]
        if titled and not exact:
            results = titled + [r for r in results if r not in titled]
        return results[:limit]

    def find(
        self, query: str, limit: int = 10, filters: Filters | None = None, mode: str = "hybrid"
    ) -> Found:
        """What a person is shown: an arXiv id of a stored paper gives that paper alone; otherwise the
        best ``limit`` papers scoring over the floor (none for a query nothing is close to), an exact
        title first, and how many papers are over the floor."""
        with one_check():  # the index files checked once for the whole search, not before each read
            return self._find_remembered(query, limit, filters, mode)

    def _find_remembered(self, query: str, limit: int, filters: Filters | None, mode: str) -> Found:
        query = query.strip()
        if not query:
            return Found([], 0, True)
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        if not self.answers.enabled:
            return self._find(query, limit, filters, mode)
        key = self.answer_key(query, limit, filters, mode)
        found = self.answers.get(key)
        return found if found is not None else self.answers.put(key, self._find(query, limit, filters, mode))

    def answer_key(
        self, query: str, limit: int = 10, filters: Filters | None = None, mode: str = "hybrid"
    ) -> Hashable:
        """What decides ``find``'s answer: the words, page size, filters, mode and the indexes'
        generations (caught up first, so that the key names the indexes the answer is computed from)."""
        self.vectors.refresh_every(self.db, self.refresh_seconds)
        return self._key(query, limit, filters, mode)

    def current_key(
        self, query: str, limit: int = 10, filters: Filters | None = None, mode: str = "hybrid"
    ) -> Hashable | None:
        """``answer_key`` if it can be had without reading the database or the index folders (no catch-up
        due), else None: for answering from memory on the server's event loop, which must not wait."""
        if self.vectors.refresh_due(self.refresh_seconds) or self.keywords.reload_due:
            return None
        return self._key(query, limit, filters, mode)

    def _key(self, query: str, limit: int, filters: Filters | None, mode: str) -> Hashable:
        generations = (self.keywords.generation, self.vectors.generation)
        return (" ".join(query.split()), limit, filters or None, mode, *generations)

    def _find(self, query: str, limit: int, filters: Filters | None, mode: str) -> Found:
        exact = self._exact_id(query)
        if exact and (paper := paper_store.paper(self.db, exact)) and matches(paper, filters):
            return Found([Result(paper, 1.0)], 1, True, exact=True)
        got = self._gather(query, None, max(DEPTH, limit), filters)
        weight = {"hybrid": DENSE_WEIGHT, "keyword": 0.0, "dense": 1.0}[mode]
        ranking = {"hybrid": fuse(got.keyword, got.dense), "keyword": got.keyword, "dense": got.dense}[mode]
        ranking = sorted(ranking, key=lambda s: -s.score) if mode == "keyword" else ranking
        floor = (FLOOR if self._knows_a_word(query) else UNKNOWN_WORDS_FLOOR)[mode]
        over = [s for s in ranking if s.score >= floor]
        beyond = (1.0 - weight) * got.keyword_beyond + weight * got.dense_beyond
        # With filters every paper over the floor is read and checked (the vector index cannot filter,
        # so its candidates may not match); without, only as many as are shown, and a few spare.
        read = over if filters else over[: limit + 5]
        papers = {p.id: p for p in paper_store.papers_by_ids(self.db, [s.id for s in read])}
        results = [
            Result(papers[s.id], s.score) for s in read if s.id in papers and matches(papers[s.id], filters)
        ]
        total = len(results) if filters else len(over)
        wanted = " ".join(query.lower().split())
        titled = [r for r in results if " ".join(r.paper.title.lower().split()) == wanted]
        results = titled + [r for r in results if r not in titled]
        return Found(results[:limit], total, beyond < floor)

    def _knows_a_word(self, query: str) -> bool:
        """Whether any of the query's content words occurs in a paper's title or abstract."""
        words = highlight.content_words(query)
        return any(self.keywords.document_frequencies(words).values()) if words else False

    def similar(self, paper_id: str, limit: int = 6) -> list[Result]:
        """Papers nearest in meaning to one paper (its own vector as the query), itself left out."""
        vector = vectors_store.vector_of(self.db, paper_id, self.model)
        if vector is None:
            return []
        with one_check():
            ranking = [s for s in self.dense_ranking(vector, limit + 1) if s.id != paper_id][:limit]
        found = {p.id: p for p in paper_store.papers_by_ids(self.db, [s.id for s in ranking])}
        return [Result(found[s.id], s.score) for s in ranking if s.id in found]

    @staticmethod
    def _exact_id(query: str) -> str | None:
        try:
            return parse_arxiv_id(query.removeprefix("arXiv:").removeprefix("arxiv:"))[0]
        except BadArxivId:
            return None


def by_cosine(ids: Sequence[str], matrix: np.ndarray, vector: np.ndarray) -> list[Scored]:
    """These papers ranked by the cosine of their vectors (rows of ``matrix``) with ``vector``."""
    if not len(ids):
        return []
    scores = matrix @ vector.astype(np.float32)
    order = np.argsort(-scores, kind="stable")
    return [Scored(ids[i], float(scores[i])) for i in order]


def fuse(
    keyword: Sequence[Scored], dense: Sequence[Scored], dense_weight: float = DENSE_WEIGHT
) -> list[Scored]:
    """Convex combination of the two scores; a paper absent from a ranking gets 0 from it."""
    fused: dict[str, float] = {}
    for weight, ranking in ((1.0 - dense_weight, keyword), (dense_weight, dense)):
        for s in ranking:
            fused[s.id] = fused.get(s.id, 0.0) + weight * max(s.score, 0.0)
    return [Scored(i, score) for i, score in sorted(fused.items(), key=lambda kv: -kv[1])]


def matches(paper: Paper, filters: Filters | None) -> bool:
    if not filters:
        return True
    day = paper.feed_day
    if filters.since and (day is None or day < filters.since):
        return False
    if filters.until and (day is None or day > filters.until):
        return False
    if filters.category and filters.category not in paper.categories:
        return False
    return not (
        filters.organization
        and (paper.organization is None or paper.organization.name != filters.organization)
    )
