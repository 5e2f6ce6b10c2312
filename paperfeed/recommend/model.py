"""A reader's model, fitted from their signals against a period's candidates: a few vectors, a few
hundred weighted terms and some lookups, so that scoring a period is one matrix-vector product and some
additions (``rank``). docs/recommend.md gives the formula.

What it holds:
- the liked papers' vectors, each minus the period's mean and of unit length again ("centred": every
  paper of a field shares much of its embedding, and that shared part says nothing about one reader's
  taste), each with a weight from how it was liked and how long ago, and their weighted mean, the centroid;
- a profile of words: the liked papers' tf-idf terms over the period, those most liked papers share first;
- the disliked papers' centred vectors;
- category lifts (categories the liked papers hold more often than the period) and the liked papers'
  authors;
- the follows, as given.

One centroid, not one per interest: grouping liked papers into interests, or ranking by the nearest liked
paper, scored no better on any simulated reader, several interests included (docs/recommend.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from paperfeed.models import Follow, Paper
from paperfeed.recommend.candidates import Candidates, unit_rows
from paperfeed.recommend.signals import LikeKind, Signals, name_key


@dataclass(frozen=True)
class Weights:
    """Every constant of the model, in one place (docs/recommend.md explains each)."""

    kind: Mapping[str, float] = field(
        default_factory=lambda: {"upvote": 1.0, "collection": 1.0, "more": 1.5, "claim": 0.8, "seed": 1.0}
    )
    half_life_days: float = 365.0  # a like this old counts half
    words: float = 0.55  # share of shared words in closeness; the rest is meaning (the vectors)
    profile_terms: int = 100  # the liked papers' heaviest terms kept
    coverage: float = 1.0  # power of the share of liked papers holding a term
    category: float = 2.0  # times the lift of the candidate's best category
    smoothing: float = 2.0  # pseudo-papers of the period's category mix added to the liked ones
    author: float = 1.0  # each author a candidate shares with a liked paper
    author_cap: float = 3.0  # at most this many shared authors count
    follow_author: float = 5.0  # an author is narrow: every paper of theirs should surface
    follow_organization: float = 3.0
    follow_topic: float = 2.0
    follow_category: float = 1.0  # a category is broad: a nudge, the reader's taste orders inside it
    dislike: float = 1.0  # per standard deviation of closeness to a disliked paper, beyond ``dislike_from``
    dislike_from: float = 1.0  # closer than the period's mean by less than this: nothing moves
    prior: float = 0.02  # upvotes and recency, to break ties


WEIGHTS = Weights()


@dataclass
class ReaderModel:
    liked_ids: list[str]
    liked_kinds: list[LikeKind]
    liked_titles: list[str]
    liked: np.ndarray  # m × d centred unit vectors of the liked papers that have a vector
    liked_rows: list[int]  # which of liked_ids each row of ``liked`` is
    liked_weight: np.ndarray  # m, the largest 1
    centroid: np.ndarray  # d: the weighted mean of ``liked``, unit length
    disliked_ids: set[str]
    disliked: np.ndarray  # q × d centred unit vectors
    profile: np.ndarray  # ids of the liked papers' heaviest terms in the period's index
    profile_weight: np.ndarray  # their weights, unit length
    term_source: np.ndarray  # for each, the liked paper (index into liked_ids) it weighs most in
    category_lift: dict[str, float]
    category_count: dict[str, int]
    authors: dict[str, tuple[float, int, str]]  # name key → (weight, liked index, name as written)
    follows: tuple[Follow, ...]
    weights: Weights = WEIGHTS


def fit(
    signals: Signals,
    candidates: Candidates,
    known: Mapping[str, Paper],
    vectors: Mapping[str, np.ndarray],
    now: datetime | None = None,
    weights: Weights = WEIGHTS,
) -> ReaderModel:
    """The reader's model for ranking ``candidates``. ``known`` and ``vectors`` hold the metadata and
    stored embeddings of the liked and disliked papers (those missing are looked up among the
    candidates; a paper known nowhere counts only by its id)."""

    def paper(i: str) -> Paper | None:
        p = known.get(i)
        if p is None and i in candidates.row:
            p = candidates.papers[candidates.row[i]]
        return p

    def vector(i: str) -> np.ndarray | None:
        v = vectors.get(i)
        if v is None and i in candidates.row and candidates.has_vector[candidates.row[i]]:
            v = candidates.matrix[candidates.row[i]]
        return v

    disliked_ids = set(signals.disliked)
    # "Less" is the reader correcting us: a paper both liked and disliked counts as disliked only.
    likes = {}
    for like in signals.liked:
        if like.paper_id not in disliked_ids:
            likes[like.paper_id] = like
    ids = list(likes)
    kinds = [likes[i].kind for i in ids]
    papers = [paper(i) for i in ids]
    titles = [p.title if p else i for i, p in zip(ids, papers, strict=True)]
    weight = np.array(
        [
            weights.kind.get(likes[i].kind, 1.0) * _decay(likes[i].at, now, weights.half_life_days)
            for i in ids
        ],
        dtype=np.float32,
    )

    rows = [n for n, i in enumerate(ids) if vector(i) is not None]
    liked = _centred([vector(ids[n]) for n in rows], candidates)
    liked_weight = weight[rows] / weight[rows].max() if rows else np.zeros(0, dtype=np.float32)
    centroid = (
        unit_rows(np.einsum("i,ij->j", liked_weight, liked)[None, :])[0]
        if len(liked)
        else np.zeros(liked.shape[1], np.float32)
    )
    disliked = _centred([v for i in disliked_ids if (v := vector(i)) is not None], candidates)

    profile, profile_weight, source = _profile(
        papers, weight, candidates, weights.profile_terms, weights.coverage
    )
    count: dict[str, int] = {}
    authors: dict[str, tuple[float, int, str]] = {}
    for n, p in enumerate(papers):
        if p is None:
            continue
        for c in set(p.categories):
            count[c] = count.get(c, 0) + 1
        for a in p.authors:
            key = name_key(a)
            if key not in authors or authors[key][0] < weight[n]:
                authors[key] = (float(weight[n]), n, a)
    return ReaderModel(
        ids,
        kinds,
        titles,
        liked,
        rows,
        liked_weight.astype(np.float32),
        centroid,
        disliked_ids,
        disliked,
        profile,
        profile_weight,
        source,
        _lifts(count, len([p for p in papers if p is not None]), candidates, weights.smoothing),
        count,
        authors,
        tuple(signals.follows),
        weights,
    )


def _decay(at: datetime | None, now: datetime | None, half_life_days: float) -> float:
    if at is None or now is None:
        return 1.0
    age = max((now - at).total_seconds() / 86400, 0.0)
    return float(0.5 ** (age / half_life_days))


def _centred(found: list[np.ndarray | None], candidates: Candidates) -> np.ndarray:
    dim = candidates.matrix.shape[1]
    kept = [v for v in found if v is not None]
    if not kept:
        return np.zeros((0, dim), dtype=np.float32)
    return unit_rows(unit_rows(np.stack(kept).astype(np.float32)) - candidates.mean)


def _profile(
    papers: list[Paper | None], weight: np.ndarray, candidates: Candidates, keep: int, coverage: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The liked papers' terms (tf-idf over the period): each term's weighted mean, times the share of
    the liked papers holding it to the power ``coverage`` (a term most liked papers share says more than
    one a single paper repeats). The ``keep`` heaviest term ids, their weights (unit length), and for
    each the liked paper it weighs most in."""
    index = candidates.terms
    weighed = [
        (n, *index.weigh_paper(p.id, p.title, p.abstract)) for n, p in enumerate(papers) if p is not None
    ]
    mass = 0.0
    for n, _, _ in weighed:
        mass += float(weight[n])
    if not mass:
        return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64)
    # Over the liked papers' own terms (a few thousand), in term id order, rather than over the period's
    # whole vocabulary (hundreds of thousands): the same sums, in the same order.
    every = np.sort(np.concatenate([ids for _, ids, _ in weighed]))
    held_terms = every[np.concatenate(([True], every[1:] != every[:-1]))] if len(every) else every
    size = len(held_terms)
    total = np.zeros(size, dtype=np.float32)
    share = np.zeros(size, dtype=np.float32)
    best = np.zeros(size, dtype=np.float32)
    source = np.full(size, -1, dtype=np.int64)
    for n, ids, values in weighed:
        at = np.searchsorted(held_terms, ids)
        total[at] += weight[n] * values
        share[at] += weight[n]
        heavier = values > best[at]
        best[at[heavier]] = values[heavier]
        source[at[heavier]] = n
    scored = total * (share / mass) ** coverage
    held = np.flatnonzero(scored)
    top = held[np.argsort(-scored[held], kind="stable")[:keep]]
    values = scored[top]
    return held_terms[top], (values / np.linalg.norm(values)).astype(np.float32), source[top]


def _lifts(count: dict[str, int], n: int, candidates: Candidates, smoothing: float) -> dict[str, float]:
    """For each category of the liked papers: its share among them (smoothed towards the period's
    share) times the log of that share over the period's. A category all liked papers share and the
    period rarely has lifts most; one liked paper in a rare category lifts little. Positive lifts only."""
    lifts = {}
    for c, k in count.items():
        base = candidates.category_share.get(c)
        if not base:
            continue
        share = (k + smoothing * base) / (n + smoothing)
        lift = share * math.log(share / base)
        if lift > 0:
            lifts[c] = lift
    return lifts
