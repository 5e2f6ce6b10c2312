"""A period's candidate papers as arrays, built once and shared by every reader's ranking.

Ranking a week for one reader must cost a few milliseconds at a million papers, so whatever does not
depend on the reader is done here, once per period: the papers' vectors as one matrix (rows of unit
length, a paper without a stored vector gets a zero row and ranks on its metadata alone), the period's
mean vector (what every paper of the period shares, taken out before comparing), the papers' words
weighted by tf-idf (``terms``), lookups from author, organization, category and word to rows, and a
prior from upvotes and recency for readers who gave no signal yet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from paperfeed.models import Paper
from paperfeed.recommend.signals import name_key
from paperfeed.recommend.terms import TermIndex, paper_text

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-case words, plural-insensitive (as the digest's topic matching)."""
    return [
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        for w in _WORD.findall(text.casefold())
    ]


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass
class Candidates:
    """The papers a ranking chooses from (a period's), best-known order first (e.g. trending)."""

    papers: list[Paper]
    matrix: np.ndarray  # n × d, unit rows; zero rows for papers without a vector
    has_vector: np.ndarray  # n booleans
    mean: np.ndarray  # the period's mean vector
    centred: np.ndarray  # n × d: each row minus the mean, unit length again
    prior: np.ndarray  # n scores in [0, 1]: upvotes first, then recency, for ties and new readers
    # Lookups to rows, as arrays: a dict of strings to arrays is not tracked by Python's cyclic garbage
    # collector, while one of lists or sets is walked, with every list and set in it, by each of its full
    # passes, and a web worker keeps these for as long as the period lasts.
    row: dict[str, int] = field(default_factory=dict)
    by_author: dict[str, np.ndarray] = field(default_factory=dict)
    by_organization: dict[str, np.ndarray] = field(default_factory=dict)
    by_category: dict[str, np.ndarray] = field(default_factory=dict)
    category_share: dict[str, float] = field(default_factory=dict)  # of the period's papers
    terms: TermIndex = field(default_factory=lambda: TermIndex.build([]))  # the period's words, tf-idf
    _words: dict[str, np.ndarray] | None = None

    @classmethod
    def of(cls, papers: Sequence[Paper], vectors: Mapping[str, np.ndarray], dim: int = 384) -> Candidates:
        """``vectors`` holds the stored embedding of each paper that has one."""
        papers = list(papers)
        n = len(papers)
        if vectors:
            dim = len(next(iter(vectors.values())))
        matrix = np.zeros((n, dim), dtype=np.float32)
        has = np.zeros(n, dtype=bool)
        for i, p in enumerate(papers):
            v = vectors.get(p.id)
            if v is not None:
                matrix[i] = v
                has[i] = True
        matrix[has] = unit_rows(matrix[has])
        mean = matrix[has].mean(axis=0) if has.any() else np.zeros(dim, dtype=np.float32)
        centred = np.zeros_like(matrix)
        centred[has] = unit_rows(matrix[has] - mean)
        found = cls(papers, matrix, has, mean.astype(np.float32), centred, _prior(papers))
        by_author: dict[str, list[int]] = {}
        by_organization: dict[str, list[int]] = {}
        by_category: dict[str, list[int]] = {}
        for i, p in enumerate(papers):
            found.row[p.id] = i
            for author in p.authors:
                by_author.setdefault(name_key(author), []).append(i)
            if p.organization:
                for name in {name_key(p.organization.name), name_key(p.organization.fullname)}:
                    by_organization.setdefault(name, []).append(i)
            for c in p.categories:
                by_category.setdefault(c, []).append(i)
        found.by_author = _arrays(by_author)
        found.by_organization = _arrays(by_organization)
        found.by_category = _arrays(by_category)
        found.category_share = {c: len(rows) / max(n, 1) for c, rows in found.by_category.items()}
        found.terms = TermIndex.build([paper_text(p.title, p.abstract) for p in papers])
        return found

    def __len__(self) -> int:
        return len(self.papers)

    def matching(self, terms: str) -> list[int]:
        """Rows whose title or abstract holds every word of ``terms`` (a followed topic); the word index
        is built on first use, so a period nobody follows a topic in never pays for it."""
        if self._words is None:
            index: dict[str, list[int]] = {}
            for i, p in enumerate(self.papers):
                for w in set(words(p.title + " " + p.abstract)):
                    index.setdefault(w, []).append(i)
            self._words = _arrays(index)
        wanted = words(terms)
        if not wanted:
            return []
        held = [self._words.get(w, _NONE) for w in wanted]
        found = held[0]
        for rows in held[1:]:
            found = np.intersect1d(found, rows, assume_unique=True)
        return [int(i) for i in found]


_NONE = np.zeros(0, dtype=np.int64)


def _arrays(rows: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """Each key's rows (increasing, as added) as an array."""
    return {k: np.array(v, dtype=np.int64) for k, v in rows.items()}


def _prior(papers: Sequence[Paper]) -> np.ndarray:
    """Upvotes (log-scaled) then recency, in [0, 1]: the order of a reader with no signal."""
    if not papers:
        return np.zeros(0, dtype=np.float32)
    votes = np.log1p(np.array([max(p.upvotes, 0) for p in papers], dtype=np.float64))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    when = np.array([(p.published_at or epoch).timestamp() for p in papers], dtype=np.float64)
    span = when.max() - when.min()
    fresh = (when - when.min()) / span if span > 0 else np.zeros_like(when)
    top = votes.max()
    return ((votes / top if top > 0 else votes) * 0.9 + fresh * 0.1).astype(np.float32)
