"""Words as features: each paper's terms (its content words, plural-insensitive, and each pair of
neighbouring ones), weighted by tf-idf over a period's papers, as arrays.

The terms of arxiv-sanity-lite's features (unigrams and bigrams, sublinear tf, idf, unit length, terms in
more than a tenth of the papers left out), computed with the standard library and numpy: a period's
index is built once, and a reader's profile is a few hundred term ids and weights.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from paperfeed.search.keyphrases import STOP_WORDS

_TERM = re.compile(r"[a-z][a-z0-9\-]*[a-z0-9]")
_STEMS: dict[str, str] = {}  # word → its singular, remembered: the same words recur in every abstract
COMMON = 0.1  # a term in more than this share of the period's papers is left out
REMEMBER = 20_000  # liked papers' weights kept per period (about 2 KB each)


def _stem(w: str) -> str:
    s = _STEMS.get(w)
    if s is None:
        s = w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        if len(_STEMS) < 500_000:
            _STEMS[w] = s
    return s


def terms(text: str) -> Counter[str]:
    """A text's terms and their counts: its lower-case words less stop words, plural-insensitive, and each
    pair of neighbouring ones ("linear attention" is a term of its own)."""
    stems = _STEMS
    kept = [stems.get(w) or _stem(w) for w in _TERM.findall(text.casefold()) if w not in STOP_WORDS]
    counts = Counter(kept)
    counts.update(map(" ".join, pairwise(kept)))
    return counts


def paper_text(title: str, abstract: str) -> str:
    return f"{title}. {abstract}"


@dataclass
class TermIndex:
    """A period's terms: their ids and idf, and for each term the papers (rows) that hold it with its
    tf-idf weight there (each paper's weights of unit length), stored term by term."""

    vocab: dict[str, int]
    idf: np.ndarray  # by term id
    start: np.ndarray  # term id → where its rows begin in ``rows``/``values`` (length: terms + 1)
    rows: np.ndarray
    values: np.ndarray
    # Liked papers' weights, by paper id: a reader's next visit, or their next like, reads the others
    # from here instead of splitting their abstracts again. Bounded; the oldest entries go first.
    remembered: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def build(cls, texts: Sequence[str]) -> TermIndex:
        n = len(texts)
        counted = [terms(t) for t in texts]
        df: Counter[str] = Counter()
        for c in counted:
            df.update(c.keys())
        common = max(2, int(COMMON * n))
        kept = sorted(t for t, k in df.items() if k <= common)
        vocab = {t: i for i, t in enumerate(kept)}
        idf = np.array([math.log((1 + n) / (1 + df[t])) + 1 for t in kept], dtype=np.float32)
        index = cls(
            vocab,
            idf,
            np.zeros(len(kept) + 1, dtype=np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.float32),
        )
        ids_all, rows_all, values_all = [], [], []
        for row, c in enumerate(counted):
            ids, weights = index.weigh_counts(c)
            ids_all.append(ids)
            rows_all.append(np.full(len(ids), row, dtype=np.int32))
            values_all.append(weights)
        if ids_all:
            ids = np.concatenate(ids_all)
            order = np.argsort(ids, kind="stable")  # term by term, rows increasing within a term
            index.rows = np.concatenate(rows_all)[order]
            index.values = np.concatenate(values_all)[order]
            index.start[1:] = np.cumsum(np.bincount(ids, minlength=len(kept)))
        return index

    def weigh_counts(self, counts: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids of the known terms among ``counts`` and their tf-idf weights, (1 + log tf) × idf, of unit
        length."""
        vocab = self.vocab
        known: list[int] = []
        tf: list[int] = []
        for t, k in counts.items():
            if (i := vocab.get(t)) is not None:
                known.append(i)
                tf.append(k)
        if not known:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        ids = np.array(known, dtype=np.int64)
        weights = (1.0 + np.log(np.array(tf, dtype=np.float32))) * self.idf[ids]
        return ids, (weights / np.linalg.norm(weights)).astype(np.float32)

    def weigh(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        return self.weigh_counts(terms(text))

    def weigh_paper(self, paper_id: str, title: str, abstract: str) -> tuple[np.ndarray, np.ndarray]:
        """``weigh`` for a stored paper, remembered by id (a paper's text changes only with a new version,
        which a new period's index does not remember)."""
        found = self.remembered.get(paper_id)
        if found is None:
            found = self.weigh(paper_text(title, abstract))
            if len(self.remembered) >= REMEMBER:
                del self.remembered[next(iter(self.remembered))]
            self.remembered[paper_id] = found
        return found

    def score(self, ids: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
        """For each of the ``n`` papers, the sum over these terms of weight × the paper's tf-idf."""
        out = np.zeros(n, dtype=np.float32)
        if not len(ids):
            return out
        # Every (row, weight) of these terms, term after term, added in that order (``add.at`` adds one
        # by one): the same float32 sums as adding term by term, without a Python loop over the terms.
        starts = self.start[ids]
        lengths = self.start[ids + 1] - starts
        at = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(int(lengths.sum()))
        np.add.at(out, self.rows[at], np.repeat(weights.astype(np.float32), lengths) * self.values[at])
        return out

    def holds(self, row: int, term: int) -> bool:
        rows = self.rows[self.start[term] : self.start[term + 1]]
        at = int(np.searchsorted(rows, row))
        return at < len(rows) and int(rows[at]) == row
