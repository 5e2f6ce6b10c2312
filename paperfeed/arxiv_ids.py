"""What an arXiv id is: the one parser that ingest, the feed, search and the web use to read an id in any
of its usual spellings ('2607.01234v2', 'arXiv:2607.01234', 'https://arxiv.org/abs/hep-th/9901001').

It imports nothing from paperfeed, so reading an id never pulls in a layer it does not need.
"""

from __future__ import annotations

import re

# New-style ids (0704.0001, 2607.12345) and old-style ones (hep-th/9901001, math.AG/0601001), without a
# version. NEW_STYLE is public for code that matches ids inside a longer text (a URL, say).
NEW_STYLE = r"\d{4}\.\d{4,5}"
OLD_STYLE = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
# A version has at most a few digits (the most revised papers are near v30); a longer run is no id, and
# never reaches int(), whose cost grows with the digits.
_VERSION = r"(?:v(?P<v>\d{1,6}))?"
_NEW_ID = re.compile(rf"^(?P<id>{NEW_STYLE}){_VERSION}$")
_OLD_ID = re.compile(rf"^(?P<id>{OLD_STYLE}){_VERSION}$")
PREFIXES = ("https://arxiv.org/abs/", "http://arxiv.org/abs/", "arxiv:", "arXiv:", "oai:arXiv.org:")


class BadArxivId(ValueError):
    """Text that is not an arXiv id; the message quotes it and gives an example of one."""


def parse_arxiv_id(raw: str) -> tuple[str, int | None]:
    """'2607.01234v2' → ('2607.01234', 2); 'hep-th/9901001' → ('hep-th/9901001', None)."""
    match = _NEW_ID.match(raw)  # the common spelling, without stripping or prefixes
    if match:
        version = match.group("v")
        return match.group("id"), int(version) if version else None
    text = raw.strip()
    for prefix in PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    match = _NEW_ID.match(text) or _OLD_ID.match(text)
    if not match:
        raise BadArxivId(f"{raw[:80]!r} is not an arXiv id (expected e.g. 2607.01234 or hep-th/9901001)")
    version = match.group("v")
    return match.group("id"), int(version) if version else None
