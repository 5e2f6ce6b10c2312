"""Recent answers kept by one process: a bounded, thread-safe map whose entries expire.

Searches repeat (the same words from many readers, a page reloaded, a link shared), and a search is the
costly request: the model, BM25 and the graph walk take ~10 ms at a million papers, a repeat from memory a
few microseconds. Entries are keyed by what decides the answer, the indexes' generation included, so a
commit to the keyword index or new vectors make every older entry unreachable at once (a new or edited
paper takes a new ``rev``, which the keyword index commits); the age bound keeps what changes without one
(votes, comment counts, approved authorship claims) at most that stale.
Each process keeps its own: nothing is shared, so nothing needs invalidating across workers or machines.

A map may also be bounded by weight (``budget``, with ``weigh``: the bytes of a written answer), so that
it holds as many small entries as fit rather than a count sized for the largest.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Recent(Generic[V]):
    def __init__(
        self,
        size: int,
        seconds: float | None = None,
        budget: int | None = None,
        weigh: Callable[[V], int] | None = None,
    ) -> None:
        self.size = size
        self.seconds = seconds  # None: entries never expire (a pure function's results)
        self.budget = budget  # the most the entries may weigh together (with ``weigh``); None: no bound
        self._weigh = weigh
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self.weight = 0
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

    def expires(self, key: Hashable) -> float | None:
        """When the entry for ``key`` expires (``time.monotonic()``'s clock), or None without one."""
        entry = self._entries.get(key)
        return entry[0] if entry is not None and self.seconds is not None else None

    def put(self, key: Hashable, value: V, until: float | None = None) -> V:
        """Keep ``value`` for ``seconds`` from now, or until ``until`` if that is sooner (an answer made
        from another remembered one expires with it)."""
        if self.enabled:
            until = min(
                time.monotonic() + (self.seconds or 0.0), until if until is not None else float("inf")
            )
            with self._lock:
                old = self._entries.get(key)
                self._entries[key] = (until, value)
                self._entries.move_to_end(key)
                if self._weigh is not None:
                    self.weight += self._weigh(value) - (self._weigh(old[1]) if old is not None else 0)
                while len(self._entries) > self.size or (
                    self.budget is not None and self.weight > self.budget and len(self._entries) > 1
                ):
                    self._drop_oldest()
        return value

    def _drop_oldest(self) -> None:
        _, (_, value) = self._entries.popitem(last=False)
        if self._weigh is not None:
            self.weight -= self._weigh(value)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.weight = 0
