"""Keyphrases for each paper (``ai_keywords`` in the API), extracted offline with no model.

Candidates are runs of one to three content words that no stop word or punctuation breaks (RAKE's
idea); each is scored by how often it occurs, whether the title has it, and how rare its words are in
the whole corpus (inverse document frequency, read from the keyword index, so "model" loses to
"sparse delta memory"). Why not YAKE: measured here at 35 ms per abstract, more than embedding the
abstract costs; this takes well under a millisecond.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

_LATEX = re.compile(r"\$[^$]*\$|\\[a-zA-Z]+\*?(\{[^}]*\})?")
_CHUNKS = re.compile(r"[.,;:!?()\[\]{}\"'`|/<>=+]|\s-\s|\s–\s|\s—\s")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]|[A-Za-z]")
_NAME_LIKE = re.compile(r"[A-Z0-9]")  # after the first letter: DeepSearch, RLVR, GPT-4

# Function words plus the verbs and nouns every abstract uses to talk about itself.
STOP_WORDS = frozenset(
    """a about above across after again against all almost also although always among an and another any
    are as at be because been before being below between both but by can could did do does doing done
    during each either else enough especially even ever every for from further furthermore had has have
    having here hence how however i if in into is it its itself just less like made make makes many may
    might more moreover most much must neither no nor not now of off often on once one only or other our
    ours out over own per rather same several shall should show shows shown showed since so some such
    than that the their them then there therefore these they this those though through thus to too
    toward towards under until up upon us use used uses using very via was we well were what when where
    whereas whether which while who whom whose why will with within without would yet you your
    paper propose proposed proposes present presents introduce introduces approach approaches method
    methods result results work works novel new based existing across demonstrate demonstrates study
    studies achieve achieves achieved outperform outperforms significantly significant extensive
    experiments experimental code available state-of-the-art art various different first two three
    furthermore however including include includes provide provides task tasks problem problems""".split()
)


def candidates(text: str) -> list[list[str]]:
    """Runs of at most three content words, as they are written."""
    text = _LATEX.sub(" ", text)
    runs: list[list[str]] = []
    for chunk in _CHUNKS.split(text):
        run: list[str] = []
        for word in _WORD.findall(chunk):
            if word.lower() in STOP_WORDS or len(word) < 2:
                runs.extend(_windows(run))
                run = []
            else:
                run.append(word)
        runs.extend(_windows(run))
    return runs


def _windows(run: list[str]) -> list[list[str]]:
    # Every sub-phrase of up to three words: a long run still yields its meaningful pieces.
    return [run[i : i + n] for n in (1, 2, 3) for i in range(len(run) - n + 1)]


def extract(
    title: str, abstract: str, idf: Callable[[list[str]], dict[str, float]], top: int = 5
) -> list[str]:
    """The ``top`` keyphrases of a paper. ``idf`` maps lower-case words to their inverse document
    frequency (unknown words count as rare)."""
    title_phrases = {" ".join(w.lower() for w in c) for c in candidates(title)}
    counts: dict[str, int] = {}
    surface: dict[str, str] = {}
    for phrase in candidates(title) + candidates(abstract):
        key = " ".join(w.lower() for w in phrase)
        counts[key] = counts.get(key, 0) + 1
        surface.setdefault(key, " ".join(phrase))
    words = sorted({w for key in counts for w in key.split()})
    rarity = idf(words)
    scored = []
    for key, count in counts.items():
        parts = key.split()
        mean_idf = sum(rarity.get(w, 1.0) for w in parts) / len(parts)
        in_title = 1.0 if key in title_phrases else 0.0
        scored.append(((count + 2 * in_title) * mean_idf * (1 + 0.6 * (len(parts) - 1)), key))
    chosen: list[str] = []
    for _score, key in sorted(scored, reverse=True):
        words_of = set(key.split())
        if (len(words_of) == 1 and not _NAME_LIKE.search(surface[key][1:])) or len(key) < 3:
            # Alone, a plain word ("ideas", "videos") says little; a name or acronym does (RLVR,
            # DeepSearch). Two-letter words are stray abbreviations.
            continue
        # Skip a phrase that repeats half a chosen one's words: "delta memory" after "sparse delta memory".
        if any(len(words_of & set(c.split())) * 2 >= min(len(words_of), len(c.split())) for c in chosen):
            continue
        chosen.append(key)
        if len(chosen) == top:
            break
    return [surface[k] for k in chosen]


def idf_from(
    doc_freq: Callable[[list[str]], dict[str, int]], num_docs: int
) -> Callable[[list[str]], dict[str, float]]:
    """Turns document frequencies into BM25's idf, smoothed so a word in every document scores ~0."""

    def idf(words: list[str]) -> dict[str, float]:
        freq = doc_freq(words)
        return {w: math.log(1 + (num_docs - freq.get(w, 0) + 0.5) / (freq.get(w, 0) + 0.5)) for w in words}

    return idf
