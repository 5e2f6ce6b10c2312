"""Summaries, offline: one or two sentences of the abstract, picked by a documented extractive method
(docs/summaries.md), no model and no network; the API's ``ai_summary`` (labelled ``extractive``) and the
paper page show it.

The method: split the abstract into sentences; weigh each content word (not a stop word of
``search/keyphrases.py``) by how often the abstract uses it, twice when the title uses it too; score a
sentence by the weights of its distinct content words over the square root of its length; leave out
sentences that only point at code or data (a URL). The best sentence is the summary, and the second best
joins it, in the abstract's order, while the two stay within ``MAX_WORDS``.

When ``PAPERFEED_SUMMARY_URL`` names an OpenAI-compatible API, the worker's ``summaries`` job
(``paperfeed/abstractive.py``) asks it for an abstractive summary of each paper instead, through one outbound client,
and stores it with the model that answered and the date (``storage/summaries.py``); the API and the page
then show that one, labelled abstractive with its provenance.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

from paperfeed.search.keyphrases import STOP_WORDS

MAX_WORDS = 60
# A sentence ends at . ! ? followed by space and a capital, a digit, a bracket or TeX; not after the
# abbreviations abstracts use mid-sentence.
_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[$\\])")
_ABBREVIATIONS = re.compile(r"(?:\b(?:e\.g|i\.e|et al|vs|cf|Fig|Eq|Sec|approx|resp)\.|\b[A-Z]\.)$")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_URL = re.compile(r"https?://|www\.|github\.com|huggingface\.co", re.I)


def sentences(text: str) -> list[str]:
    """The abstract's sentences, whitespace collapsed."""
    flat = " ".join(text.split())
    out: list[str] = []
    start = 0
    for match in _END.finditer(flat):
        piece = flat[start : match.start()]
        if _ABBREVIATIONS.search(piece):
            continue  # "e.g. Transformers": not the end of a sentence
        out.append(piece)
        start = match.end()
    out.append(flat[start:])
    return [s.strip() for s in out if s.strip()]


def _words(text: str) -> list[str]:
    if text.isascii():  # lower case first, then the words: the same words, found faster
        return _WORD.findall(text.lower())
    return [w.lower() for w in _WORD.findall(text)]


def _content(words: list[str]) -> list[str]:
    return [w for w in words if len(w) > 2 and w not in STOP_WORDS]


# A function of the text alone, asked for every paper an API answer shows (~0.3 ms each, more than the rest
# of its JSON): the papers people see recur, on the feed and across searches.
@lru_cache(maxsize=4096)
def extractive_summary(title: str, abstract: str) -> str:
    """One or two sentences of the abstract that carry most of its vocabulary ('' for an empty one)."""
    every = sentences(abstract)
    found = [s for s in every if not _URL.search(s)] or every
    if len(found) <= 1:
        return found[0] if found else ""
    # The abstract's words are its sentences' words (no word spans two), each sentence read once.
    words_of = {s: _words(s) for s in every}
    content_of = {s: _content(words) for s, words in words_of.items()}
    weights = Counter(w for s in every for w in content_of[s])
    for word in set(_content(_words(title))):
        weights[word] *= 2
    scores = []
    for i, sentence in enumerate(found):
        words = words_of[sentence]
        score = sum(weights[w] for w in set(content_of[sentence])) / math.sqrt(max(len(words), 1))
        scores.append((score, -i))
    ranked = [-i for _, i in sorted(scores, reverse=True)]
    best = [ranked[0]]
    length = len(found[ranked[0]].split())
    second = ranked[1]
    if length + len(found[second].split()) <= MAX_WORDS:
        best.append(second)
    return " ".join(found[i] for i in sorted(best))
