"""What one digest holds: the period's top papers by trending, then personal picks, each with a "why".

The period's papers are read once per run (``PeriodPapers``); a digest is then chosen for each subscriber
from lookups in memory. Personal picks come from an explicit list of *pick sources*, each a function
``(period papers, subscriber) → [(paper id, why)]`` in its own order of preference. Adding a source is one
function and one line in ``PICK_SOURCES``. A subscription linked to a member takes its picks from the
For-you model instead (``MEMBER_PICK_SOURCES``): the same ranking, and the same seen-once ledger, as the
member's For-you page.

A paper this subscriber was already sent is never chosen again, nor, for a member, one they have seen on
any channel: the sender passes those among the shortlist, read inside the claiming transaction, which
also records a member's chosen papers as seen (``via='digest'``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import numpy as np

from paperfeed import foryou
from paperfeed.feed import Period, period_of
from paperfeed.models import Paper, Subscriber
from paperfeed.recommend.candidates import Candidates
from paperfeed.recommend.signals import name_key
from paperfeed.storage import Database, lists
from paperfeed.storage import embeddings as embedding_store

Frequency = Literal["daily", "weekly"]
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly")
_KIND = {"daily": "day", "weekly": "week"}
# Enough candidates to refill the top list for a subscriber who was already sent the first ones.
_TOP_SPARE = 3
# The most papers a period loads; far beyond any one week of arXiv.
_MAX_PERIOD_PAPERS = 100_000
_WORD = re.compile(r"\w+")


class BadFrequency(ValueError):
    pass


def parse_frequency(value: str) -> Frequency:
    for f in FREQUENCIES:
        if value == f:
            return f
    raise BadFrequency(f"frequency {value!r} is not one of: {', '.join(FREQUENCIES)}")


def digest_period(frequency: Frequency, day: date) -> Period:
    return period_of("day" if frequency == "daily" else "week", day)


def period_key(frequency: Frequency, period: Period) -> str:
    """The ledger's name for a period: 'daily:2026-08-20', 'weekly:2026-W34'."""
    return f"{frequency}:{period.key}"


def default_day(db: Database, frequency: Frequency, today: date) -> date:
    """Which period 'digest send' means without --date: daily, the latest day with papers (so a cron
    run on a day without new papers finds that period already sent); weekly, last week."""
    if frequency == "weekly":
        return today - timedelta(days=7)
    return lists.latest_day(db) or today


@dataclass(frozen=True, slots=True)
class Item:
    paper: Paper
    why: str
    section: Literal["top", "pick"]


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def words(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.casefold())]


def match_words(pp: PeriodPapers, terms: str) -> list[str]:
    """The default topic search: papers of the period whose title or abstract holds every word of
    ``terms`` (plural-insensitive), in trending order. Simple matching over the period's papers; the
    word index is built on first use, so a run without topic follows never pays for it."""
    if pp._words is None:
        index: dict[str, set[str]] = {}
        for p in pp.papers:
            for w in set(words(p.title + " " + p.abstract)):
                index.setdefault(w, set()).add(p.id)
        pp._words = index
    wanted = words(terms)
    ids = set.intersection(*(pp._words.get(w, set()) for w in wanted)) if wanted else set()
    return sorted(ids, key=pp.rank.__getitem__)


# Which papers of the period match a followed topic, best first. ``match_words`` by default; hybrid search
# (issue #3) can take its place: ``load_period(…, topic_search=…)`` / ``send_digests(…, topic_search=…)``.
TopicSearch = Callable[["PeriodPapers", str], list[str]]


@dataclass
class PeriodPapers:
    """The period's papers in trending order, and the lookups pick sources need."""

    frequency: Frequency
    period: Period
    key: str
    papers: list[Paper]  # best first
    topic_search: TopicSearch = match_words
    rank: dict[str, int] = field(default_factory=dict)
    by_id: dict[str, Paper] = field(default_factory=dict)
    by_author: dict[str, list[str]] = field(default_factory=dict)
    by_organization: dict[str, list[str]] = field(default_factory=dict)
    _words: dict[str, set[str]] | None = None
    _topics: dict[str, list[str]] = field(default_factory=dict)
    db: Database | None = None  # for pick sources that read more than the period's papers
    model: str = ""  # the embedding model whose vectors ``vectors`` reads
    _vectors: dict[str, np.ndarray] | None = None
    _candidates: Candidates | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def vectors(self) -> dict[str, np.ndarray]:
        """The period's papers' stored embeddings, read once per run."""
        if self._vectors is None:
            ids = list(self.by_id)
            self._vectors = {}
            if self.db is not None and self.model:
                for start in range(0, len(ids), 1000):
                    self._vectors.update(
                        embedding_store.vectors_of(self.db, ids[start : start + 1000], self.model)
                    )
        return self._vectors

    def candidates(self) -> Candidates:
        """The period's papers as the For-you model's candidates, built once per run (sender threads
        share it)."""
        with self._lock:
            if self._candidates is None:
                self._candidates = Candidates.of(self.papers, self.vectors())
            return self._candidates

    def __post_init__(self) -> None:
        for i, p in enumerate(self.papers):
            self.rank[p.id] = i
            self.by_id[p.id] = p
            for author in p.authors:
                self.by_author.setdefault(name_key(author), []).append(p.id)
            if p.organization:
                for name in {name_key(p.organization.name), name_key(p.organization.fullname)}:
                    self.by_organization.setdefault(name, []).append(p.id)

    def topic(self, terms: str) -> list[str]:
        """Papers of the period matching a followed topic, best first; asked once per topic and run."""
        found = self._topics.get(terms)
        if found is None:
            found = self._topics[terms] = [i for i in self.topic_search(self, terms) if i in self.by_id]
        return found


def load_period(
    db: Database,
    frequency: Frequency,
    day: date,
    now: datetime | None = None,
    topic_search: TopicSearch | None = None,
    model: str = "",
) -> PeriodPapers:
    period = digest_period(frequency, day)
    # Trending as it stood when the period ended (or now, for the current one).
    end = datetime.combine(period.end + timedelta(days=1), time(), tzinfo=UTC)
    at = min(now or datetime.now(UTC), end)
    found = lists.feed_papers(db, period.start, period.end, "trending", _MAX_PERIOD_PAPERS, now=at)
    return PeriodPapers(
        frequency,
        period,
        period_key(frequency, period),
        found,
        topic_search or match_words,
        db=db,
        model=model,
    )


# -- pick sources ------------------------------------------------------------------------------------

PickSource = Callable[[PeriodPapers, Subscriber], Iterable[tuple[str, str]]]


def topic_picks(pp: PeriodPapers, sub: Subscriber) -> Iterable[tuple[str, str]]:
    for f in sub.follows:
        if f.kind == "topic":
            for paper_id in pp.topic(f.value):
                yield paper_id, f"Matches your topic “{f.value}”"


def author_picks(pp: PeriodPapers, sub: Subscriber) -> Iterable[tuple[str, str]]:
    for f in sub.follows:
        if f.kind == "author":
            for paper_id in pp.by_author.get(name_key(f.value), []):
                yield paper_id, f"By {f.value}, whom you follow"


def organization_picks(pp: PeriodPapers, sub: Subscriber) -> Iterable[tuple[str, str]]:
    for f in sub.follows:
        if f.kind == "organization":
            for paper_id in pp.by_organization.get(name_key(f.value), []):
                yield paper_id, f"From {f.value}, which you follow"


# How many papers the model proposes for one member: enough to refill the picks after the already sent.
_MODEL_PICKS = 30


def for_you_picks(pp: PeriodPapers, sub: Subscriber) -> Iterable[tuple[str, str]]:
    """A member subscriber's picks: the period's papers ranked by the For-you model (``paperfeed/foryou.py``)
    from everything the member did and follows, plus what the subscription follows; papers they have
    seen on any channel (a digest, opened, marked) or liked already are left out, each pick with the
    model's reason."""
    if sub.user_id is None or pp.db is None:
        return
    member = foryou.reader(pp.db, sub.user_id, extra_follows=sub.follows)
    picks = foryou.rank_for(
        pp.db, member.signals, pp.candidates(), pp.model, member.hidden, _MODEL_PICKS, datetime.now(UTC)
    )
    for pick in picks:
        if foryou.personal(pick.reason):  # "popular this period" is what the top list already says
            yield pick.paper.id, pick.reason[:1].upper() + pick.reason[1:]


# In order: where two sources pick the same paper, the first one's "why" is shown.
PICK_SOURCES: list[tuple[str, PickSource]] = [
    ("topics", topic_picks),
    ("authors", author_picks),
    ("organizations", organization_picks),
]
# A subscription linked to a member: one ranking, the For-you model's, which reads the subscription's
# follows too, so its picks and For-you's never disagree (issue #14, "one ranking, two channels").
MEMBER_PICK_SOURCES: list[tuple[str, PickSource]] = [("for you", for_you_picks)]


@dataclass(frozen=True, slots=True)
class Shortlist:
    """Every paper a subscriber's digest could hold, in order, before removing the already sent."""

    top: list[tuple[str, str]]
    picks: list[tuple[str, str]]

    @property
    def ids(self) -> set[str]:
        return {i for i, _ in self.top} | {i for i, _ in self.picks}


def shortlist(pp: PeriodPapers, sub: Subscriber, top_n: int, max_picks: int) -> Shortlist:
    top = [(p.id, _trending_why(p)) for p in pp.papers[: top_n * _TOP_SPARE]]
    # Round-robin over sources so one busy topic does not crowd out a followed author.
    sources = MEMBER_PICK_SOURCES if sub.user_id is not None and pp.db is not None else PICK_SOURCES
    streams = [iter(source(pp, sub)) for _, source in sources]
    picks: list[tuple[str, str]] = []
    seen: set[str] = set()
    limit = (top_n + max_picks) * _TOP_SPARE
    while streams and len(picks) < limit:
        for stream in list(streams):
            for paper_id, why in stream:
                if paper_id not in seen:
                    seen.add(paper_id)
                    picks.append((paper_id, why))
                    break
            else:
                streams.remove(stream)
    return Shortlist(top, picks)


def choose(pp: PeriodPapers, short: Shortlist, sent: set[str], top_n: int, max_picks: int) -> list[Item]:
    """The digest: ``top_n`` trending papers and up to ``max_picks`` picks, none already sent, none
    twice. A pick that also trends is shown as a pick: its "why" is the personal one."""
    picks = [(i, w) for i, w in short.picks if i not in sent][:max_picks]
    pick_ids = {i for i, _ in picks}
    top = [(i, w) for i, w in short.top if i not in sent and i not in pick_ids][:top_n]
    return [Item(pp.by_id[i], w, "top") for i, w in top] + [Item(pp.by_id[i], w, "pick") for i, w in picks]


def _trending_why(p: Paper) -> str:
    comments = f", {p.num_comments} comment{'s' if p.num_comments != 1 else ''}" if p.num_comments else ""
    return f"Trending: {p.upvotes} upvote{'s' if p.upvotes != 1 else ''}{comments}"
