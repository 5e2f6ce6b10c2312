"""A period's candidates ranked for one reader, best first, each with the reason it is there.

A candidate's score is the sum of its ``Parts``, each in standard deviations over the period's papers
where it is a similarity (so that parts on different scales add up): closeness in meaning to what the
reader liked, shared words with it, a lift for categories the reader likes more than the period does, a
bonus for sharing an author with a liked paper, bonuses for what the reader follows, a penalty near
what they disliked, and a small prior (upvotes, recency). The reason names the part that contributed
most: a follow when one matched, else the nearest liked paper, a shared author or a liked category; a
reader with no signals gets the period's popular and recent papers. A disliked paper is never
returned; a seen one only when asked.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from paperfeed.models import Follow, Paper
from paperfeed.recommend.candidates import Candidates
from paperfeed.recommend.model import WEIGHTS, ReaderModel, Weights, fit
from paperfeed.recommend.signals import VERB, Signals, name_key


@dataclass(frozen=True, slots=True)
class Pick:
    paper: Paper
    score: float
    reason: str


@dataclass
class Parts:
    """Each part of every candidate's score: arrays over the candidates."""

    meaning: np.ndarray  # closeness of the vectors to the liked papers' centroid
    words: np.ndarray  # the candidate's tf-idf terms against the liked papers' profile
    category: np.ndarray
    author: np.ndarray
    follow: np.ndarray
    follow_reason: np.ndarray  # index into ``reasons`` of the strongest follow matched, -1 if none
    reasons: list[str]
    dislike: np.ndarray
    prior: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return (
            self.meaning + self.words + self.category + self.author + self.follow - self.dislike + self.prior
        )


def parts(model: ReaderModel, candidates: Candidates) -> Parts:
    """Every part of every candidate's score. The products go through einsum, which runs on the calling
    thread: numpy's BLAS would start threads of its own, and on a busy server (web workers on every core)
    those made a ranking's p99 several times slower (bench/recommend.py)."""
    w = model.weights
    n = len(candidates)
    meaning = np.zeros(n, dtype=np.float32)
    if len(model.liked):
        meaning = np.einsum("ij,j->i", candidates.centred, model.centroid)  # the one large product
        if not candidates.has_vector.all():  # neither close nor far: the period's mean
            meaning[~candidates.has_vector] = (
                float(meaning[candidates.has_vector].mean()) if candidates.has_vector.any() else 0.0
            )
    words = candidates.terms.score(model.profile, model.profile_weight, n)

    category = np.zeros(n, dtype=np.float32)
    # Most liked papers' categories and authors are not in the period: only those that are are looked at.
    for c, lift in model.category_lift.items():
        if (rows_of := candidates.by_category.get(c)) is not None:
            category[rows_of] = np.maximum(category[rows_of], w.category * lift)

    author = np.zeros(n, dtype=np.float32)
    for key, (weight, _, _) in model.authors.items():
        if (rows_of := candidates.by_author.get(key)) is not None:
            author[rows_of] += w.author * weight
    # Each shared author counts (a group's paper shares several; one common name may be someone else),
    # up to ``author_cap`` of them.
    np.minimum(author, w.author * w.author_cap, out=author)

    follow = np.zeros(n, dtype=np.float32)
    follow_reason = np.full(n, -1, dtype=np.int64)
    reasons: list[str] = []
    # Weakest kind first, so that the reason kept is the strongest follow that matched.
    for f in sorted(model.follows, key=lambda f: FOLLOW_ORDER.get(f.kind, 9), reverse=True):
        found, bonus, why = followed(f, candidates, w)
        if len(found):
            follow[found] = np.maximum(follow[found], bonus)
            follow_reason[found] = len(reasons)
            reasons.append(why)

    dislike = np.zeros(n, dtype=np.float32)
    if len(model.disliked):
        near = np.einsum("ij,kj->ik", candidates.centred, model.disliked).max(axis=1)
        near[~candidates.has_vector] = float(near.mean())
        dislike = (w.dislike * np.clip(standard(near) - w.dislike_from, 0, None)).astype(np.float32)

    return Parts(
        (1 - w.words) * standard(meaning),
        w.words * standard(words),
        category,
        author,
        follow,
        follow_reason,
        reasons,
        dislike,
        w.prior * candidates.prior,
    )


def standard(x: np.ndarray) -> np.ndarray:
    """``x`` in standard deviations from its mean over the period (all zero when it does not vary)."""
    spread = float(x.std()) if x.size else 0.0
    return ((x - x.mean()) / spread).astype(np.float32) if spread > 0 else np.zeros_like(x)


FOLLOW_ORDER = {"author": 0, "organization": 1, "topic": 2, "category": 3}


def followed(f: Follow, candidates: Candidates, w: Weights) -> tuple[Sequence[int] | np.ndarray, float, str]:
    """The candidates a follow matches, its bonus and its reason."""
    if f.kind == "author":
        return (
            candidates.by_author.get(name_key(f.value), ()),
            w.follow_author,
            f"by {f.value}, whom you follow",
        )
    if f.kind == "organization":
        found = candidates.by_organization.get(name_key(f.value), ())
        return found, w.follow_organization, f"from {f.value}, which you follow"
    if f.kind == "topic":
        return candidates.matching(f.value), w.follow_topic, f"about “{f.value}”, which you follow"
    if f.kind == "category":
        return candidates.by_category.get(f.value, ()), w.follow_category, f"in {f.value}, which you follow"
    return (), 0.0, ""


def rank(
    model: ReaderModel,
    candidates: Candidates,
    seen: Collection[str] = frozenset(),
    include_seen: bool = False,
    limit: int | None = None,
) -> list[Pick]:
    """The candidates best first (``limit`` of them), without disliked papers, nor seen ones unless
    ``include_seen``."""
    p = parts(model, candidates)
    total = p.total
    chosen: list[int] = []
    for i in np.argsort(-total, kind="stable"):
        paper_id = candidates.papers[i].id
        if paper_id in model.disliked_ids or (not include_seen and paper_id in seen):
            continue
        chosen.append(int(i))
        if limit is not None and len(chosen) >= limit:
            break
    nearest = nearest_liked(model, candidates, chosen)
    return [
        Pick(candidates.papers[i], float(total[i]), reason(model, candidates, p, i, near))
        for i, near in zip(chosen, nearest, strict=True)
    ]


def nearest_liked(model: ReaderModel, candidates: Candidates, rows: list[int]) -> list[int]:
    """For each of these candidates, the liked paper closest in meaning (an index into the model's
    liked ids; -1 when neither has a vector). Only for the papers shown: a small product."""
    if not len(model.liked) or not rows:
        return [-1] * len(rows)
    close = np.einsum("ij,kj->ik", candidates.centred[rows], model.liked) * model.liked_weight
    best = close.argmax(axis=1)
    return [model.liked_rows[b] if candidates.has_vector[r] else -1 for r, b in zip(rows, best, strict=True)]


# Closeness (meaning and words, in standard deviations over the period) from which a candidate is said
# to be "close to" the liked paper nearest to it, whatever else counted.
CLOSE = 1.0


def reason(model: ReaderModel, candidates: Candidates, p: Parts, i: int, near: int) -> str:
    """Why candidate ``i`` is where it is, in words: a follow it matches; else the liked paper nearest
    to it when it is close (``CLOSE``); else the largest of closeness, a shared author and a liked
    category."""
    paper = candidates.papers[i]
    if p.follow_reason[i] >= 0:
        return p.reasons[p.follow_reason[i]]
    options: list[tuple[float, str]] = []
    if near < 0:  # no vector: the liked paper that holds its heaviest shared term
        held = (
            int(s)
            for t, s in zip(model.profile, model.term_source, strict=True)
            if candidates.terms.holds(i, int(t))
        )
        near = next(held, -1)
    closeness = float(p.meaning[i] + p.words[i])
    if near >= 0:
        if closeness >= CLOSE:  # the most telling reason: a paper the reader knows
            return close_to(model, near)
        options.append((closeness, close_to(model, near)))
    if p.author[i] > 0:
        _, n, name = max(model.authors[key] for a in paper.authors if (key := name_key(a)) in model.authors)
        options.append(
            (
                float(p.author[i]),
                f"by {name}, who wrote “{short(model.liked_titles[n])}”, {VERB[model.liked_kinds[n]]}",
            )
        )
    if p.category[i] > 0:
        c = max(
            (c for c in paper.categories if c in model.category_lift), key=model.category_lift.__getitem__
        )
        k = model.category_count[c]
        options.append((float(p.category[i]), f"in {c}, like {k} paper{'s' if k != 1 else ''} you liked"))
    if options:
        return max(options)[1]
    if paper.upvotes:
        return f"popular this period: {paper.upvotes} upvote{'s' if paper.upvotes != 1 else ''}"
    return "new this period"


def close_to(model: ReaderModel, n: int) -> str:
    return f"close to “{short(model.liked_titles[n])}”, {VERB[model.liked_kinds[n]]}"


def short(title: str, width: int = 70) -> str:
    title = " ".join(title.split())
    return title if len(title) <= width else title[: width - 1].rstrip() + "…"


def recommend(
    signals: Signals,
    candidates: Candidates,
    known: Mapping[str, Paper],
    vectors: Mapping[str, np.ndarray],
    seen: Collection[str] = frozenset(),
    include_seen: bool = False,
    limit: int | None = None,
    now: datetime | None = None,
    weights: Weights = WEIGHTS,
) -> list[Pick]:
    """Fit the reader's model and rank: what For-you and the digest's picks call."""
    return rank(fit(signals, candidates, known, vectors, now, weights), candidates, seen, include_seen, limit)
