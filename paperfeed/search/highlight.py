"""The words of a query that a paper's title and abstract contain, for the search page and the API.

A word counts as matched when its Porter2 stem is one of the query's, which is how the keyword index
matched it (``search/keyword.py``), so "networks" in a title is marked for the query "network". Function
words ("the", "of") are left unmarked: BM25 weighs them near zero, and marking them would only add noise.
Math (``$…$``) is never marked: the page typesets it in the browser, and a mark inside would break it.

Highlights are data, not markup: ``segments`` splits a text into ``(text, matched)`` pairs, which the
page's template writes with ``<mark>`` around the matched ones (the template escapes every piece), and
``marked`` writes the API's ``highlightedTitle`` / ``highlightedSummary``: the text HTML-escaped, the
matched words in ``<mark>…</mark>``.
"""

from __future__ import annotations

import html
import re
import threading
from functools import lru_cache

import Stemmer

from paperfeed.tex import MATH

Segment = tuple[str, bool]

_WORDS = re.compile(r"[^\W_]+")  # as the keyword index splits text (tantivy's simple tokenizer)
_FUNCTION_WORDS = frozenset(
    """a an and are as at be been but by can do does for from had has have how i if in into is it its
    of on or our so than that the their them then there these they this to was we were what when where
    which who why will with""".split()
)
_local = threading.local()  # a PyStemmer object must not be shared between threads


def _stem(words: list[str]) -> list[str]:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return list(stemmer.stemWords(words))


def content_words(query: str) -> list[str]:
    """The query's words in lower case, less function words."""
    return [w for w in _WORDS.findall(query.lower()) if w not in _FUNCTION_WORDS]


def terms(query: str) -> frozenset[str]:
    """The stems a text's words are matched against: the stems of the query's content words."""
    return frozenset(_stem(content_words(query)))


def segments(text: str, stems: frozenset[str]) -> list[Segment]:
    """``text`` as consecutive ``(piece, matched)`` pairs whose pieces join back into ``text``."""
    out: list[Segment] = []
    if not stems:
        return [(text, False)] if text else []
    at = 0
    for math in [*MATH.finditer(text), None]:
        end = math.start() if math else len(text)
        _words(text[at:end], stems, out)
        if math:
            _add(out, math.group(), False)
            at = math.end()
    return out


def _words(text: str, stems: frozenset[str], out: list[Segment]) -> None:
    # Porter2 rewrites a word's ending, never its first letter: only words that begin like one of the
    # stems can match, and only those are stemmed (stemming all of an abstract's 200 words cost a search
    # ~1 ms a paper). They are found in the text in lower case, where each character is still one.
    initials = "".join(sorted({stem[0] for stem in stems if stem}))
    lowered = text.lower()
    if len(lowered) == len(text):
        found = [m.span() for m in _starting(initials).finditer(lowered)]
        words = [lowered[start:end] for start, end in found]
    else:  # a character whose lower case is longer ("İ"): the words of the text itself
        found = [m.span() for m in _WORDS.finditer(text) if m.group()[0].lower()[:1] in initials]
        words = [text[start:end].lower() for start, end in found]
    hits = _stem(words)
    at = 0
    for (start, end), word, stem in zip(found, words, hits, strict=True):
        if stem in stems and word not in _FUNCTION_WORDS:
            _add(out, text[at:start], False)
            _add(out, text[start:end], True)
            at = end
    _add(out, text[at:], False)


@lru_cache(maxsize=256)
def _starting(initials: str) -> re.Pattern[str]:
    """Whole words (as ``_WORDS`` finds them) that begin with one of these letters."""
    return re.compile(rf"(?<![^\W_])[{re.escape(initials)}][^\W_]*") if initials else re.compile(r"(?!)")


def _add(out: list[Segment], piece: str, matched: bool) -> None:
    if not piece:
        return
    if out and out[-1][1] == matched:
        out[-1] = (out[-1][0] + piece, matched)
    elif out and matched and out[-1][0].isspace() and len(out) > 1 and out[-2][1]:
        # "linear attention": one mark over both words and the space between them.
        space = out.pop()[0]
        out[-1] = (out[-1][0] + space + piece, True)
    else:
        out.append((piece, matched))


def marked(pieces: list[Segment]) -> str:
    """HTML: every piece escaped, the matched ones in ``<mark>``."""
    return "".join(f"<mark>{html.escape(p)}</mark>" if hit else html.escape(p) for p, hit in pieces)
