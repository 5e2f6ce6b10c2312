"""The JSON of remembered search answers, kept as written: what ``/api/papers/search`` sent a reader who is
not signed in, gzip-compressed, under the searcher's key for the answer (``Searcher.answer_key``: the words,
page size, filters and the indexes' generations; search/recent.py says why that key and how long).

Why the written bytes (issue 18): for an anonymous reader nothing in the answer depends on who asks, and
writing it (10 papers, their marks and summaries) costs about as much as a search at a million papers; a
repeat then costs only the HTTP round. Why compressed: an answer of 10 papers is 20–60 kB of JSON (each
abstract appears in ``summary``, ``highlightedSummary`` and the nested paper), and gzip keeps it in a
fifth to an eighth of that, so a worker keeps several times more answers in the same memory (``BUDGET``):
a busy site repeats many more than 512 queries within a minute. A client that accepts gzip (browsers,
httpx, requests, huggingface_hub) gets the kept bytes as they are, smaller on the wire too; any other, the
JSON inflated again (about 0.1 ms).
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable

from starlette.responses import Response

from paperfeed.search.recent import Recent

BUDGET = 32 * 2**20  # compressed bytes kept per web worker
KEPT = 16_384  # answers at most, whatever their size
_GZIP = 31  # zlib's wbits for the gzip format (RFC 1952), which every HTTP client decodes


class Bodies:
    """Written answers, compressed, bounded by their compressed size; entries expire as answers do."""

    def __init__(self, seconds: float) -> None:
        self._kept: Recent[bytes] = Recent(KEPT, seconds, budget=BUDGET, weigh=len)

    @property
    def enabled(self) -> bool:
        return self._kept.enabled

    @property
    def hits(self) -> int:
        return self._kept.hits

    def get(self, key: Hashable) -> bytes | None:
        """The kept answer for ``key``, compressed, or None."""
        return self._kept.get(key)

    def put(self, key: Hashable, body: bytes, until: float | None = None) -> bytes:
        """Keep ``body`` (JSON) for ``key`` until ``until`` at the latest; returns it compressed."""
        squeezer = zlib.compressobj(1, zlib.DEFLATED, _GZIP)  # level 1: 8x smaller here, 0.2 ms per 60 kB
        return self._kept.put(key, squeezer.compress(body) + squeezer.flush(), until)


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
