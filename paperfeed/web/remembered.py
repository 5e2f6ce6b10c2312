"""The JSON of remembered search answers, kept as written: what ``/api/papers/search`` sent a reader who is
not signed in, gzip-compressed, under the searcher's key for the answer (``Searcher.answer_key``: the words,
page size, filters and the indexes' commits; search/recent.py says why that key and how long).

Why the written bytes (issue 18): for an anonymous reader nothing in the answer depends on who asks, and
writing it (10 papers, their marks and summaries) costs a good part of a search at a million papers; a
repeat then costs only the HTTP round. Why compressed: each abstract appears three times in an answer
(``summary``, ``highlightedSummary``, the nested paper), and gzip keeps it in a fraction of the size, so a
worker keeps several times more answers in the same memory (``BUDGET``): a busy site repeats many more
than 512 queries within a minute. A client that accepts gzip (browsers, httpx, requests,
huggingface_hub) gets the kept bytes as they are, smaller on the wire too; any other, the JSON inflated
again. docs/benchmarks.md ("bench/search.py") has the figures.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Hashable
from pathlib import Path

from starlette.responses import Response

from paperfeed.search.recent import Recent

BUDGET = 32 * 2**20  # compressed bytes kept per web worker
KEPT = 16_384  # answers at most, whatever their size
_GZIP = 31  # zlib's wbits for the gzip format (RFC 1952), which every HTTP client decodes
_EXPIRY = struct.Struct("<d")  # a shared answer's expiry (time.time()), before its bytes
_SWEEP_EVERY = 256

log = logging.getLogger(__name__)


class Bodies:
    """Written answers, compressed, bounded by their compressed size; entries expire as answers do. With
    a ``folder`` (the node's index folder), also shared by the node's workers (``Shared``)."""

    def __init__(self, seconds: float, folder: Path | None = None) -> None:
        self._kept: Recent[bytes] = Recent(KEPT, seconds, budget=BUDGET, weigh=len)
        self._shared = Shared(folder, seconds) if folder is not None and self._kept.enabled else None

    @property
    def enabled(self) -> bool:
        return self._kept.enabled

    @property
    def hits(self) -> int:
        return self._kept.hits

    def get(self, key: Hashable) -> bytes | None:
        """The kept answer for ``key``, compressed, or None."""
        kept = self._kept.get(key)
        if kept is None and self._shared is not None and (found := self._shared.get(key)) is not None:
            kept = self._kept.put(key, found[1], found[0] - time.time() + time.monotonic())
        return kept

    def put(self, key: Hashable, body: bytes, until: float | None = None) -> bytes:
        """Keep ``body`` (JSON) for ``key`` until ``until`` (``time.monotonic()``) at the latest; returns
        it compressed."""
        squeezer = zlib.compressobj(1, zlib.DEFLATED, _GZIP)  # level 1: most of the gain, the least time
        kept = self._kept.put(key, squeezer.compress(body) + squeezer.flush(), until)
        if self._shared is not None:
            self._shared.put(key, kept, (self._kept.expires(key) or time.monotonic()) - time.monotonic())
        return kept


class Shared:
    """Answers a node's web workers share: one file each in ``<index folder>/.search-answers``, named by
    a hash of the key (which names the indexes by their commits, the same in every worker), holding its
    expiry and the compressed JSON; written whole (a temporary file, then renamed), read through the page
    cache. Each worker alone would search for a query the first time it is asked there, once per worker
    (docs/benchmarks.md has what that cost). Expired files are removed every ``_SWEEP_EVERY`` writes."""

    def __init__(self, folder: Path, seconds: float) -> None:
        self.folder = folder / ".search-answers"
        self.seconds = seconds
        self._writes = 0
        self._warned = False

    def _path(self, key: Hashable) -> Path:
        return self.folder / hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()

    def get(self, key: Hashable) -> tuple[float, bytes] | None:
        """(expiry as ``time.time()``, compressed JSON) of a fresh answer for ``key``, or None."""
        try:
            data = self._path(key).read_bytes()
        except OSError:
            return None
        if len(data) < _EXPIRY.size:
            return None
        (until,) = _EXPIRY.unpack_from(data)
        return (until, data[_EXPIRY.size :]) if until > time.time() else None

    def put(self, key: Hashable, kept: bytes, seconds: float) -> None:
        path = self._path(key)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            self.folder.mkdir(exist_ok=True)
            temporary.write_bytes(_EXPIRY.pack(time.time() + seconds) + kept)
            os.replace(temporary, path)
        except OSError as exc:  # a full or read-only disk: this worker still keeps its own
            with contextlib.suppress(OSError):
                temporary.unlink()
            if not self._warned:  # once, not once a search
                log.warning("search answers: cannot share them in %s: %s", self.folder, exc)
                self._warned = True
            return
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            self.sweep()

    def sweep(self) -> None:
        """Remove the files of expired answers (and temporary files a killed worker left)."""
        old = time.time() - self.seconds - 60
        try:
            with os.scandir(self.folder) as entries:
                for entry in entries:
                    with contextlib.suppress(OSError):  # another worker removed it first
                        if entry.stat().st_mtime < old:
                            os.unlink(entry.path)
        except OSError:
            return


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header lists gzip (and not with ``q=0``)."""
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.partition(";")
        if coding.strip() in ("gzip", "x-gzip"):
            weight = params.strip().removeprefix("q=").strip()
            try:
                return not weight or float(weight) > 0
            except ValueError:
                return False
    return False


def written(kept: bytes, accept_encoding: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The body and headers that answer with ``kept`` a client that sent this ``Accept-Encoding``."""
    compressed = accepts_gzip(accept_encoding)
    body = kept if compressed else zlib.decompress(kept, _GZIP)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"vary", b"accept-encoding"),  # the same URL is answered compressed or not
    ]
    if compressed:
        headers.append((b"content-encoding", b"gzip"))
    return body, headers


def response(kept: bytes, accept_encoding: str) -> Response:
    """``written`` as a response, for a handler."""
    body, headers = written(kept, accept_encoding)
    answer = Response(body)
    answer.raw_headers = headers
    return answer
