"""Full-precision copies of the vector index's vectors, with their paper ids, read by position.

Every search scores its candidates with their float16 vectors: the HNSW graph's int8 vectors reorder
close neighbours, and a paper that only BM25 found needs a cosine too. Reading those hundred vectors
from the database cost a search 2–3 ms at 1M papers (SQLite: mostly building and decoding the rows;
PostgreSQL adds a round trip). This file holds them beside the base graph instead, as fixed-size
records, so a search reads exactly the records it needs: one ``pread`` each, a few microseconds.

The records are read, not memory-mapped: pages a process maps count as its own memory, and a server
that had touched a record of most papers would hold most of the file; read pages stay in the kernel's
page cache, shared by every worker on the node. Only the keys live in memory (12 bytes a paper).

Appended by the node's one writer as it extends the base; ``rows`` in the base's state says how many
records belong to it, so a reader never sees a record written after the graph it pairs with, and a
writer killed mid-append cuts the file back to that count before it writes again.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ID_BYTES = 64  # papers.id is at most 64 characters


def record_type(dim: int) -> np.dtype:
    return np.dtype([("id", f"S{ID_BYTES}"), ("vector", "<f2", (dim,))])


def files(folder: Path, name: str) -> tuple[Path, Path]:
    """The records file and the keys file (the graph keys, in the records' order)."""
    return folder / f"{name}.records", folder / f"{name}.keys"


class Appender:
    """Adds records to the end of the files, after first cutting them back to the ``rows`` that count."""

    def __init__(self, folder: Path, name: str, dim: int, rows: int) -> None:
        self.dtype = record_type(dim)
        self.records, self.keys = files(folder, name)
        for path, size in ((self.records, self.dtype.itemsize), (self.keys, 8)):
            with path.open("ab") as f:
                f.truncate(rows * size)
        self.rows = rows

    def add(self, keys: np.ndarray, ids: list[str], vectors: np.ndarray) -> None:
        records = np.zeros(len(ids), dtype=self.dtype)
        records["id"] = [i.encode() for i in ids]
        records["vector"] = vectors
        with self.records.open("ab") as f:
            f.write(records.tobytes())
        with self.keys.open("ab") as f:
            f.write(keys.astype("<u8").tobytes())
        self.rows += len(ids)

    def flush(self) -> None:
        for path in (self.records, self.keys):
            with path.open("rb+") as f:
                os.fsync(f.fileno())


def check(folder: Path, name: str, dim: int, rows: int) -> None:
    """Raise FileNotFoundError, naming the fix, unless both files hold a base's ``rows``."""
    fix = "the vector index is damaged: run 'paperfeed index --rebuild'"
    for path, size in zip(files(folder, name), (record_type(dim).itemsize, 8), strict=True):
        try:
            held = path.stat().st_size // size
        except FileNotFoundError:
            raise FileNotFoundError(f"{path} is missing; {fix}") from None
        if held < rows:
            raise FileNotFoundError(f"{path} holds {held} entries, its base {rows}; {fix}")


def remove(folder: Path, name: str) -> None:
    for path in files(folder, name):
        path.unlink(missing_ok=True)


class Reader:
    """The first ``rows`` records of a base; the latest record wins for a key added twice."""

    def __init__(self, folder: Path, name: str, dim: int, rows: int) -> None:
        self.dtype = record_type(dim)
        self.size = self.dtype.itemsize
        records, keys_file = files(folder, name)
        check(folder, name, dim, rows)
        keys = np.fromfile(keys_file, dtype="<u8", count=rows)
        self._order = np.argsort(keys, kind="stable").astype(np.uint32)
        self._sorted = keys[self._order]
        # Closed when the last search holding this reader lets go of it, not when a refresh swaps it.
        self._file = records.open("rb", buffering=0)

    def read(self, keys: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The paper ids and float32 vectors of those of ``keys`` this base holds."""
        if not len(self._sorted):
            return [], np.zeros((0, self.dtype["vector"].shape[0]), dtype=np.float32)
        at = np.searchsorted(self._sorted, keys, side="right") - 1  # the last of equal keys: the newest
        found = (at >= 0) & (self._sorted[np.maximum(at, 0)] == keys)
        positions = np.sort(self._order[at[found]].astype(np.int64))  # in file order: fewer seeks
        fd = self._file.fileno()
        blob = b"".join(os.pread(fd, self.size, int(p) * self.size) for p in positions)
        records = np.frombuffer(blob, dtype=self.dtype)
        return [raw.decode() for raw in records["id"]], records["vector"].astype(np.float32)
