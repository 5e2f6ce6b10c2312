"""Keyphrases for each paper (``ai_keywords`` in the API), extracted offline with no model.

Candidates are runs of one to three content words that no stop word, verb, adverb or punctuation breaks
(RAKE's idea); each is scored by how often it occurs, whether the title has it, and how rare its words
are in the whole corpus (inverse document frequency, read from the keyword index, so "model" loses to
"sparse delta memory"). Why not YAKE: measured here at 35 ms per abstract, more than embedding the
abstract costs; this takes well under a millisecond.

A keyphrase must read as a topic, not as a piece of a sentence (issue #18: "Alves et al", "beats GPT-2",
"unseen user--item pairs---is", "network never re-reads"): ``reads_as_phrase`` is that rule, the one
place it is written; the extractor keeps only phrases that pass it, and cards apply it to stored ones.
``VERSION`` names the extractor: changing it makes the next ``paperfeed index`` extract every paper's
keyphrases again (``search/indexer.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

VERSION = 2  # bump when what extract() returns changes: the next 'paperfeed index' redoes every paper

_LATEX = re.compile(r"\$[^$]*\$|\\[a-zA-Z]+\*?(\{[^}]*\})?")
# Punctuation ends a phrase; so does a dash between words, written as a run of hyphens ("pairs---is",
# "CNN--RNN" in LaTeX) or as an en or em dash.
_CHUNKS = re.compile(r"[.,;:!?()\[\]{}\"'`|/<>=+]|\s-\s|-{2,}|[–—]")
_WORD = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*")  # single hyphens inside: GPT-2, k-NN
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
    furthermore however including include includes provide provides task tasks problem problems
    et al eg ie etc vs unlike never together due whose behind throughout later earlier beyond along around
    despite versus""".split()
)

# Verbs that abstracts use to tell what happened: left in a phrase, it reads as half a sentence ("beats
# GPT-2", "find Grokking", "stress test reaches"). Forms that are mostly nouns ("design", "match") or
# adjectives ("generalized") are not here; "-ing" forms only where they lead a clause.
VERBS = frozenset(
    """achieve achieves achieved achieving allow allows allowed allowing appear appears appeared beat
    beats beating become becomes became bring brings brought capture captures captured demonstrate
    demonstrated describe describes described designed dominate dominates dominated enable enables
    enabled enabling establish establishes established exceed exceeds exceeded exhibit exhibits
    exhibited explain explains explained exploits exploited fail fails failed find finds found give
    gives gave given help helps helped identify identifies identified improve improves improved
    improving indicate indicates indicated introduced lead leads led leading meet meets met obtain
    obtains obtained outperformed outperforming perform performs performed predict predicts predicted
    presented produce produces produced provided providing reach reaches reached reaching read reads
    re-read re-reads reduce reduces reduced remain remains remained require requires required requiring
    reveal reveals revealed see sees saw seen seem seems seemed showing suggest suggests suggested
    surpass surpasses surpassed take takes took taken tend tends yield yields yielded yielding know
    knows knew known derive derives derived discuss discusses discussed extend extends extended
    investigate investigates investigated explore explores explored examine examines examined prove
    proves proved proven argue argues argued observe observes observed confirm confirms confirmed
    verify verifies verified called let lets get gets got keep keeps kept consist consists undermine
    undermines deserve deserves deserved need needs needed matters preserve preserves incorporate
    incorporates combine combines rely relies depend depends emerge emerges persist persists occur occurs
    arise arises holds lies vary varies differ differs converge converges involve involves contain
    contains represent represents assume assumes ensure ensures runs remove removes removed confront
    confronts reformulate reformulates fill fills drop drops pull pulls manifest manifests manifesting
    capable solving forming""".split()
)
# Word endings that show a phrase was cut from a sentence (checked where the part of speech shows):
# a participle at its end ("architectures needed"), a verb in "-s" before an object ("Undermines
# Parametric Knowledge"), an adjective at its end ("reliable mechanistic"). An "-ing" word at the start
# is mostly a noun's modifier ("reading speed", "scaling laws"): only the listed verbs break there. Words in the lists are the nouns these endings would wrongly catch.
_NOUNS_IN_ED = frozenset("speed seed feed breed hundred embed bed greed reed shred".split())
_NOUNS_IN_IC = frozenset(
    "logic music topic arithmetic traffic clinic rhetoric magic metric public fabric".split()
)
_ENDS_PLURAL = re.compile(r"(?:ss|us|is|ics|ous|ys)$")
# Words in -ly that are not adverbs; any other ("efficiently", "truly") breaks a phrase like a verb.
_NOT_ADVERBS = frozenset(
    "family anomaly assembly supply early daily weekly monthly yearly poly italy july".split()
)
_BREAKS = STOP_WORDS | VERBS
_ET_AL = re.compile(r"\bet\.?\s+al\b", re.IGNORECASE)
_PUNCT_RUN = re.compile(r"[^\w\s+]{2,}")  # "---", "–—", "..."; "++" is C++, not a run
_DASH_BETWEEN = re.compile(r"(?<!\w)[-–—]|[-–—](?!\w)")  # "model - based", "-leading", "pairs—"
_EDGE_PUNCT = re.compile(r"^[^\w$\\(]|[^\w)%+#$]$")


def breaks_phrase(word: str) -> bool:
    """A stop word, a verb or an adverb: a keyphrase neither contains one nor ends on one."""
    lower = word.lower()
    return lower in _BREAKS or (lower.endswith("ly") and len(lower) > 4 and lower not in _NOT_ADVERBS)


def reads_as_phrase(phrase: str) -> bool:
    """Whether a keyphrase reads as a topic: no "et al", no punctuation run, em dash or dangling dash, no
    stop word, verb or adverb in it, not a bare number. A hyphen or en dash inside a word is fine (GPT-2,
    state-space, Lotka–Volterra)."""
    words = phrase.split()
    if not words or _ET_AL.search(phrase) or _EDGE_PUNCT.search(phrase):
        return False
    if _PUNCT_RUN.search(phrase) or _DASH_BETWEEN.search(phrase) or "--" in phrase or "—" in phrase:
        return False
    if any(breaks_phrase(w) for w in words) or _cut_from_a_sentence([w.lower() for w in words], words):
        return False
    return not all(re.fullmatch(r"[\d.,%]+", w) for w in words)


def _cut_from_a_sentence(lower: list[str], words: list[str]) -> bool:
    first, last = lower[0], lower[-1]
    plain_first = not _NAME_LIKE.search(words[0][1:])  # GPTs, LLMs are names, not verbs
    return (
        (last.endswith("ed") and len(last) > 4 and last not in _NOUNS_IN_ED)
        or (len(lower) > 1 and plain_first and first.endswith("s") and not _ENDS_PLURAL.search(first))
        or (last.endswith("ic") and last not in _NOUNS_IN_IC)
        or (last.endswith("cal") and len(lower) > 1)
        or last.endswith(("ous", "ful", "less"))
    )


def candidates(text: str) -> list[list[str]]:
    """Runs of at most three content words, as they are written."""
    text = _LATEX.sub(" ", text)
    runs: list[list[str]] = []
    for chunk in _CHUNKS.split(text):
        run: list[str] = []
        for match in _WORD.finditer(chunk):
            word = match.group()
            # A word glued to a hyphen is a fragment of one whose other half was math: "$p$-adic".
            glued = (
                chunk[match.start() - 1 : match.start()] == "-" or chunk[match.end() : match.end() + 1] == "-"
            )
            if glued or breaks_phrase(word) or len(word) < 2:
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
        if not reads_as_phrase(surface[key]):
            continue
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
