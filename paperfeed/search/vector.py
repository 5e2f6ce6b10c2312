"""The approximate-nearest-neighbour index over paper vectors: usearch HNSW, derived from the database.

Why usearch: measured here at 1M × 384-d, 0.29 ms p50 at recall@10 0.967 against 30 ms for an exact
numpy scan; pgvector's HNSW took 1.2–1.5 ms at 100k. Vectors are held as int8 (cosine is what the model
was trained for, and int8 keeps a million papers in ~400 MB instead of 1.5 GB). The rounding to int8 is
paperfeed's own: a unit vector's components are small (|x| < 0.3 here), and usearch's cast (x·127)
would give them a dozen levels each; stretched first so the largest component nearly fills the int8
range (cosine ignores length), they keep four times the resolution, and at 200k papers recall@10 of
the graph alone rose from 0.91 to 0.975.

Two parts, so web workers stay cheap and current:
- the *base*: an HNSW file that one writer per node (``paperfeed index``, the worker, or the web app's
  follower) extends and saves; readers memory-map it, so every web worker on a node shares one copy;
- the *delta*: vectors written to the database after the base's position, which each reader pulls
  every few seconds and scans exactly. A paper embedded anywhere is found on every node after at most
  one refresh interval, before any base file is rewritten.

Beside the base, its vectors at full precision with their paper ids (``rescore``), which searches score
their candidates with.

Files deleted or cut short under a running server (issue 17's drills): a reader keeps the base it mapped
while its files are whole (a deleted file stays readable), drops it before reading a file that was cut
short (``mapped``), and otherwise answers from the database's vectors if there are few enough to hold; the
writer sees that the saved base cannot be mapped (``needs_build``) and builds a new one at once.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from usearch.index import Index

from paperfeed.search import rescore
from paperfeed.search.mapped import Watched
from paperfeed.storage import Database
from paperfeed.storage import embeddings as store

log = logging.getLogger(__name__)

_FILE = "vectors.usearch"
_STATE = "vectors.state"
_RECORDS = "vectors"  # rescore's files: vectors.records and vectors.keys
_PAGE = 20_000
# Measured at 1M papers (bench/search.py's vectors, top-100 rescored): the build's search depth decides the
# graph's quality. With efConstruction 64, recall@10 was 0.86 (M=16, ef 200) and stalled at 0.96 (M=24,
# ef 400–600); with 128, M=16 reaches 0.994 at ef 200 in about 1 ms, and M=16 keeps the file small.
CONNECTIVITY = 16  # HNSW M
EXPANSION_ADD = 128  # efConstruction
EXPANSION_SEARCH = 200  # ef
HEADROOM = 1.25  # the scale leaves room for components 25% larger than the first vectors' largest
# Below this many vectors a brute-force scan of the int8 vectors costs about a millisecond, and unlike a
# graph walk it cannot miss: a query far from everything (a lone topic in a small corpus) once lost its
# nearest paper to a graph whose multi-threaded build happened to leave it poorly linked.
EXACT_BELOW = 50_000
# Vectors a reader with no usable base pulls from the database and scans (77 MB as float32): more, and its
# dense side waits for the writer's new base rather than each web worker holding every vector.
DELTA_MAX = 50_000


@dataclass(frozen=True, slots=True)
class VectorHit:
    key: int
    score: float  # cosine similarity


@dataclass(frozen=True, slots=True)
class _Delta:
    """Vectors stored after the base's position, held in memory: keys, paper ids, float32 rows."""

    keys: np.ndarray
    ids: list[str]
    vectors: np.ndarray

    @staticmethod
    def empty(dim: int) -> _Delta:
        return _Delta(np.zeros(0, dtype=np.uint64), [], np.zeros((0, dim), dtype=np.float32))

    def plus(self, rows: list[store.VectorRow]) -> _Delta:
        keys = np.fromiter((r.key for r in rows), dtype=np.uint64, count=len(rows))
        keep = ~np.isin(self.keys, keys)  # a newer vector for the same paper wins
        return _Delta(
            np.concatenate([self.keys[keep], keys]),
            [i for i, k in zip(self.ids, keep, strict=True) if k] + [r.paper_id for r in rows],
            np.concatenate([self.vectors[keep], np.stack([r.vector for r in rows])]),
        )


_Base = tuple[
    Index, float, rescore.Reader, Watched
]  # the mapped graph, its int8 scale, its records, their files


@dataclass(frozen=True, slots=True)
class _State:
    """What the saved base holds: the model, the (rev, id) of its last vector, its int8 scale (0 before
    the first vector) and how many full-precision records go with it."""

    model: str
    rev: int = 0
    last_id: str = ""
    scale: float = 0.0
    rows: int = 0


class VectorIndex:
    def __init__(self, folder: Path, model: str, dim: int) -> None:
        self.folder = folder
        self.model = model
        self.dim = dim
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # What searches read: the mapped base (its graph, int8 scale and records) and the delta. A
        # refresh replaces the pair in one assignment, so a search on another thread sees one whole
        # state, never a delta's keys with another delta's vectors.
        self._now: tuple[_Base | None, _Delta] = (None, _Delta.empty(dim))
        self._saved: tuple[_State, tuple[int, int, int] | None] | None = None  # what was last mapped
        self._saved_ok = True  # the saved base could be mapped at the last refresh
        self._too_many = False  # no base, and more than DELTA_MAX vectors: the dense side is off
        self._delta_position = (0, "")
        self._refreshed = -math.inf
        self._base_of: tuple[_State, tuple[int, int, int] | None] | None = None  # the base ``_now`` maps

    # -- state on disk ----------------------------------------------------------------------------

    def _state(self) -> _State:
        """The saved base's state; a state file of an older layout reads as no base: rebuilt."""
        try:
            model, rev, scale, rows, last_id = (self.folder / _STATE).read_text().split("\n", 4)
            return _State(model, int(rev), last_id, float(scale), int(rows))
        except (FileNotFoundError, ValueError):
            return _State(self.model)

    def _new_index(self) -> Index:
        return Index(
            ndim=self.dim,
            metric="cos",
            dtype="i8",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    # -- the writer -------------------------------------------------------------------------------

    def sync(self, db: Database, progress: Callable[[int], None] | None = None) -> int:
        """``_sync``, except that a folder deleted while it writes (a file it opens is gone) is logged and
        left to the next round, which finds no saved base and builds it again."""
        try:
            return self._sync(db, progress)
        except FileNotFoundError as exc:
            log.warning(
                "vector index %s: deleted while it was saved (%s); building it again", self.folder, exc
            )
            return 0

    def _sync(self, db: Database, progress: Callable[[int], None] | None = None) -> int:
        """Add every vector written since the saved base to it and save it; returns how many.

        Only one process per folder may call this at a time (the caller holds the node's index lock).
        The state file is replaced after the index file, atomically: a kill in between means the next
        sync adds some vectors again, which replaces them by key — harmless.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        state = self._state()
        path = self.folder / _FILE
        index = self._new_index()
        fresh = not (state.model == self.model and state.scale and path.exists())
        if not fresh:
            try:
                index.load(str(path))
                rescore.check(self.folder, _RECORDS, self.dim, state.rows)
            except (RuntimeError, FileNotFoundError) as exc:  # cut short, or a part of it is missing
                log.warning("vector index %s: %s; rebuilding it from the database", self.folder, exc)
                index, fresh = self._new_index(), True
        if fresh:
            state = _State(self.model)  # another model's vectors (or none, or damaged ones): start over
            rescore.remove(self.folder, _RECORDS)  # new files: readers keep the old ones open
        rev, last_id, scale = state.rev, state.last_id, state.scale
        records = rescore.Appender(self.folder, _RECORDS, self.dim, state.rows)
        done = 0
        while rows := store.vectors_since(db, self.model, (rev, last_id), _PAGE):
            keys = np.fromiter((r.key for r in rows), dtype=np.uint64, count=len(rows))
            vectors = np.stack([r.vector for r in rows])
            scale = scale or 127 / (HEADROOM * max(float(np.abs(vectors).max()), 1e-6))
            present = np.asarray(index.contains(keys)) if len(index) else None
            if present is not None and present.any():
                index.remove(keys[present])  # a changed paper: its new vector replaces the old one
            index.add(keys, quantize(vectors, scale), threads=os.cpu_count() or 1)
            records.add(keys, [r.paper_id for r in rows], vectors)
            rev, last_id = rows[-1].rev, rows[-1].paper_id
            done += len(rows)
            if progress:
                progress(done)
        if done or fresh or not path.exists():
            records.flush()
            tmp = self.folder / (_FILE + ".tmp")
            index.save(str(tmp))
            os.replace(tmp, path)
            state_tmp = self.folder / (_STATE + ".tmp")
            state_tmp.write_text(f"{self.model}\n{rev}\n{scale!r}\n{records.rows}\n{last_id}")
            os.replace(state_tmp, self.folder / _STATE)
        return done

    def rebuild(self, db: Database, progress: Callable[[int], None] | None = None) -> int:
        for name in (_FILE, _STATE):
            (self.folder / name).unlink(missing_ok=True)
        rescore.remove(self.folder, _RECORDS)
        return self.sync(db, progress)

    # -- readers ----------------------------------------------------------------------------------

    def refresh(self, db: Database) -> None:
        """Map the newest saved base and pull the vectors written after it into the delta."""
        with self._lock:
            base, delta = self._now
            position, base_of = self._delta_position, self._base_of
            if base is not None and not base[3].intact():
                log.warning("vector index %s: a file was cut short; searching without it", self.folder)
                base, delta, position, self._saved_ok = None, _Delta.empty(self.dim), (0, ""), False
                base_of = None
            saved = self._saved_base()
            if saved != self._saved:
                mapped = self._map(saved[0])
                if mapped is not None:
                    base, delta, position = mapped, _Delta.empty(self.dim), (saved[0].rev, saved[0].last_id)
                    base_of = saved
                # else the base mapped before, if any, stays: its files were deleted, its pages are whole
                self._saved, self._saved_ok = saved, mapped is not None
            self._too_many = (
                base is None and position == (0, "") and store.count_embedded(db, self.model) > DELTA_MAX
            )
            rows: list[store.VectorRow] = []
            while not self._too_many and (page := store.vectors_since(db, self.model, position, _PAGE)):
                rows.extend(page)
                position = (page[-1].rev, page[-1].paper_id)
            self._now = (base, delta.plus(rows) if rows else delta)
            self._delta_position, self._base_of = position, base_of

    def _saved_base(self) -> tuple[_State, tuple[int, int, int] | None]:
        """The saved base's state and its graph file's identity (a rebuild can give an equal state)."""
        try:
            found = (self.folder / _FILE).stat()
        except FileNotFoundError:
            return self._state(), None
        return self._state(), (found.st_ino, found.st_size, found.st_mtime_ns)

    def _map(self, state: _State) -> _Base | None:
        """The saved base, memory-mapped (workers on a node share the pages), or None if it cannot be."""
        path = self.folder / _FILE
        if not (state.model == self.model and state.scale and path.exists()):
            return None
        try:
            graph = self._new_index()
            graph.view(str(path))
            records = rescore.Reader(self.folder, _RECORDS, self.dim, state.rows)
        except (RuntimeError, FileNotFoundError) as exc:
            log.warning("vector index %s: %s; searching without it until it is rebuilt", self.folder, exc)
            return None
        record_file = rescore.files(self.folder, _RECORDS)[0]
        watched = Watched([path, record_file], {record_file: state.rows * records.size})
        return graph, state.scale, records, watched

    def needs_build(self) -> bool:
        """The saved base is missing or cannot be mapped while there are vectors: the writer should build
        one now rather than wait for the delta to grow (index files deleted or cut short)."""
        base, delta = self._now
        return not self._saved_ok and (base is not None or len(delta.keys) > 0 or self._too_many)

    def refresh_every(self, db: Database, seconds: float) -> None:
        """``refresh`` at most once per ``seconds``: searches call this, so a reader needs no thread."""
        if self.refresh_due(seconds):
            self._refreshed = time.monotonic()
            self.refresh(db)

    def refresh_due(self, seconds: float) -> bool:
        """Whether ``refresh_every`` would refresh now (read the database, map files)."""
        base = self._now[0]
        return time.monotonic() - self._refreshed >= seconds or (base is not None and not base[3].intact())

    def _current(self) -> tuple[_Base | None, _Delta]:
        """What a search reads: never a base whose files were cut short since the last refresh."""
        base, delta = self._now
        return (base if base is None or base[3].intact() else None), delta

    def search(self, vector: np.ndarray, k: int) -> list[VectorHit]:
        """The ``k`` nearest papers by cosine similarity, from the base and the delta together."""
        base, delta = self._current()
        hits: dict[int, float] = {}
        if base is not None and len(base[0]):
            graph, scale, _, _ = base
            size = len(graph)
            found = graph.search(quantize(vector, scale), min(k, size), exact=size < EXACT_BELOW)
            for key, distance in zip(found.keys, found.distances, strict=True):
                hits[int(key)] = 1.0 - float(distance)
        if len(delta.keys):
            scores = delta.vectors @ vector
            top = np.argsort(-scores)[:k]
            for i in top:
                hits[int(delta.keys[i])] = float(scores[i])  # the delta's vector is the newer one
        ranked = sorted(hits.items(), key=lambda kv: -kv[1])[:k]
        return [VectorHit(key, score) for key, score in ranked]

    def stored(self, keys: set[int]) -> tuple[list[str], np.ndarray]:
        """The paper ids behind these keys and their full-precision vectors (those the index holds):
        what searches score their candidates with. A key in the delta has its newer vector there."""
        base, delta = self._current()
        wanted = np.fromiter(keys, dtype=np.uint64, count=len(keys))
        ids: list[str] = []
        parts = [np.zeros((0, self.dim), dtype=np.float32)]
        if len(delta.keys):
            newer = np.flatnonzero(np.isin(delta.keys, wanted))
            ids += [delta.ids[i] for i in newer]
            parts.append(delta.vectors[newer])
            wanted = wanted[~np.isin(wanted, delta.keys)]
        if base is not None and len(wanted):
            base_ids, vectors = base[2].read(wanted)
            ids += base_ids
            parts.append(vectors)
        return ids, np.concatenate(parts)

    @property
    def generation(self) -> Hashable:
        """What searches read, named as every process of the node names it: the saved base mapped (its
        state and file), how far the delta reaches, whether the base is whole. A key for remembered
        answers, which a node's workers share (web/remembered.py)."""
        base = self._now[0]
        return self._base_of, self._delta_position, base is None or base[3].intact(), self._too_many

    def delta_size(self) -> int:
        return len(self._now[1].keys)

    def __len__(self) -> int:
        base, delta = self._now
        return (len(base[0]) if base is not None else 0) + len(delta.keys)


def quantize(vectors: np.ndarray, scale: float) -> np.ndarray:
    """Float vectors as the int8 the index holds: stretched by ``scale``, rounded, clipped."""
    return np.clip(np.rint(vectors * scale), -127, 127).astype(np.int8)
