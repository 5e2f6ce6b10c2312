"""Recent answers kept by one process: a bounded, thread-safe map whose entries expire.

Searches repeat (the same words from many readers, a page reloaded, a link shared), and a search is the
costly request: the model, BM25 and the graph walk take ~10 ms at a million papers, a repeat from memory a
few microseconds. Entries are keyed by what decides the answer, the indexes' generation included, so a
commit to the keyword index or new vectors make every older entry unreachable at once (a new or edited
paper takes a new ``rev``, which the keyword index commits); the age bound keeps what changes without one
(votes, comment counts, approved authorship claims) at most that stale.
Each process keeps its own: nothing is shared, so nothing needs invalidating across workers or machines.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Recent(Generic[V]):
    def __init__(self, size: int, seconds: float | None = None) -> None:
        self.size = size
        self.seconds = seconds  # None: entries never expire (a pure function's results)
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.size > 0 and (self.seconds is None or self.seconds > 0)

    def get(self, key: Hashable) -> V | None:
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or (self.seconds is not None and entry[0] < time.monotonic()):
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: Hashable, value: V) -> V:
        if self.enabled:
            until = time.monotonic() + (self.seconds or 0.0)
            with self._lock:
                self._entries[key] = (until, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
