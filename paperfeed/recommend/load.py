"""What the model needs from storage, read through the storage layer's questions (no SQL here): a
period's candidates with their stored vectors, and the papers and vectors a reader's signals name.

For-you and the digest build a period's ``Candidates`` once and keep it while the period's papers do not
change; a reader's ``known`` papers and vectors are a few dozen rows read per request.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np

from paperfeed.models import Paper
from paperfeed.recommend.candidates import Candidates
from paperfeed.recommend.signals import Signals
from paperfeed.storage import Database, lists
from paperfeed.storage import embeddings as embedding_store
from paperfeed.storage import papers as paper_store

# The most papers a period holds here; far beyond any week of arXiv (compose.py's limit too).
MAX_PERIOD_PAPERS = 100_000
_READ_VECTORS = 1000  # ids per query


def candidates(
    db: Database,
    start: date,
    end: date,
    model: str,
    selection: lists.Selection = lists.EVERYTHING,
    now: datetime | None = None,
) -> Candidates:
    """The papers whose feed day lies in [start, end], in trending order, with their stored vectors."""
    found = lists.feed_papers(db, start, end, "trending", MAX_PERIOD_PAPERS, selection=selection, now=now)
    return Candidates.of(found, vectors(db, [p.id for p in found], model))


def vectors(db: Database, ids: list[str], model: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(ids), _READ_VECTORS):
        out.update(embedding_store.vectors_of(db, ids[start : start + _READ_VECTORS], model))
    return out


def known(db: Database, signals: Signals, model: str) -> tuple[dict[str, Paper], dict[str, np.ndarray]]:
    """The papers a reader's signals name and their stored vectors, for ``model.fit``."""
    ids = sorted(signals.paper_ids())
    return {p.id: p for p in paper_store.papers_by_ids(db, ids)}, vectors(db, ids, model)
