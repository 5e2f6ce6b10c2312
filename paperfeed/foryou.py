"""For-you: one reader's ranking of a period's papers, the one place the page and its API, the private
feed, the MCP tool and the digest's personal picks get it from (docs/recommend.md, "Where it is used").

- **The period**: by default the latest ``DEFAULT_DAYS`` feed days that have papers (a quiet or old
  installation is never empty), or ``since`` / ``until`` as feed days, at most ``MAX_DAYS`` of them.
- **The candidates** of a period are built once per process (``CandidateCache``) and kept while the
  period's papers do not change (the papers' latest change number, one row of an index, per request;
  when it moved, the period's count and newest revision).
- **The reader** is read from storage per request: likes (upvotes, collections, "more like this",
  approved claims), "less like this", follows (a saved search counts as a topic: its query's words),
  and what they have seen on any channel. Seen papers, and papers the reader already liked, are left
  out unless asked (``include_seen``); a "less" paper is never shown.
- **Seeds** for a new reader: arXiv ids become "more like this", an author and categories follows.
- **Private feed tokens**: a secret URL per member for RSS/Atom readers, stored as a hash, revocable.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import numpy as np

from paperfeed import accounts
from paperfeed.arxiv_ids import BadArxivId, parse_arxiv_id
from paperfeed.follows import MAX_FOLLOWS, BadFollow, normalise, search_params
from paperfeed.models import Follow, Followed, Paper
from paperfeed.recommend import load
from paperfeed.recommend.candidates import Candidates
from paperfeed.recommend.rank import Pick, recommend
from paperfeed.recommend.signals import Liked, Signals
from paperfeed.storage import Database, lists
from paperfeed.storage import embeddings as vector_store
from paperfeed.storage import feed_tokens as token_store
from paperfeed.storage import feedback as feedback_store
from paperfeed.storage import follows as follow_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import signals as signal_store
from paperfeed.storage.lists import EVERYTHING, Selection

DEFAULT_DAYS = 7  # feed days with papers in the default period
MAX_DAYS = 31  # the longest period asked for with since/until: a month of candidates
MAX_SEED_IDS = 20
FEED_TOKEN_PREFIX = "pff_"  # noqa: S105 - a prefix, not a secret


class BadWindow(ValueError):
    """A since/until that cannot be a period; the message names the parameter."""


@dataclass(frozen=True, slots=True)
class Window:
    start: date
    end: date

    @property
    def label(self) -> str:
        if self.start == self.end:
            return self.start.strftime("%b %-d, %Y")
        first = "%b %-d" if self.start.year == self.end.year else "%b %-d, %Y"
        return f"{self.start.strftime(first)} – {self.end.strftime('%b %-d, %Y')}"


class _DefaultWindows:
    """The default period of each (database, selection), the ``size`` most recently asked: reading the
    latest feed days with papers scans a week of the feed-day index, and they change only when a paper
    is written, which moves the papers' change number."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._found: OrderedDict[tuple[object, ...], tuple[int, Window | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, db: Database, selection: Selection) -> Window | None:
        key = (db.url, selection)
        rev = paper_store.last_rev(db)  # before the days: a paper written after it moves it
        with self._lock:
            found = self._found.get(key)
            if found is not None and found[0] == rev:
                self._found.move_to_end(key)
                return found[1]
        days = lists.recent_days(db, DEFAULT_DAYS, selection)
        win = Window(days[-1], days[0]) if days else None
        with self._lock:
            self._found[key] = (rev, win)
            self._found.move_to_end(key)
            while len(self._found) > self.size:
                self._found.popitem(last=False)
        return win


_DEFAULTS = _DefaultWindows()


def window(
    db: Database, since: date | None = None, until: date | None = None, selection: Selection = EVERYTHING
) -> Window | None:
    """The period to rank: [since, until] (either may be left out), else the latest ``DEFAULT_DAYS`` feed
    days with papers; None when there are no papers at all."""
    if since is None and until is None:
        return _DEFAULTS.get(db, selection)
    if until is None:
        assert since is not None
        until = min(since + timedelta(days=MAX_DAYS - 1), lists.latest_day(db, selection) or since)
        until = max(until, since)
    if since is None:
        since = until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise BadWindow(f"since={since.isoformat()} is after until={until.isoformat()}")
    if (until - since).days >= MAX_DAYS:
        raise BadWindow(f"since/until: at most {MAX_DAYS} days")
    return Window(since, until)


# -- the candidates of a period, once per process --------------------------------------------------------


Revs = tuple[int, int]  # the latest change numbers of (papers, vectors)
Stamp = tuple[tuple[int, int], tuple[int, int]]  # a period's papers and their vectors (see ``get``)


@dataclass
class _Entry:
    stamp: Stamp
    candidates: Candidates
    rev: Revs  # the latest change numbers when ``stamp`` was last found current


class CandidateCache:
    """A period's ``Candidates`` by (database, period, selection, model), the ``size`` most recently used,
    each rebuilt when its period's papers change. One build per key at a time: readers arriving while it
    builds wait for it instead of building it again.

    Whether a period changed is asked in two steps: the latest change numbers of any paper and of any
    vector (one row of an index each), and only when one moved, the period's stamp (its papers' count and
    newest revision, and the same of their vectors, which reads a row per paper of the period). Every
    write that can change a stamp takes a new change number, so unmoved ones mean an unchanged period.
    Vectors count on their own: the embed job writes them after the papers, and candidates built before
    would otherwise rank without them until some paper changed."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[object, ...], _Entry] = OrderedDict()
        self._locks: dict[tuple[object, ...], threading.Lock] = {}
        self._lock = threading.Lock()
        self.builds = 0  # for tests and benchmarks

    def _current(self, key: tuple[object, ...], rev: Revs, stamp: Stamp | None) -> Candidates | None:
        """The cached candidates of ``key`` if still current (``stamp`` None: as of change ``rev``)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or (entry.rev != rev if stamp is None else entry.stamp != stamp):
                return None
            # The stamp was read after ``rev``: the entry holds every change up to it.
            entry.rev = (max(entry.rev[0], rev[0]), max(entry.rev[1], rev[1]))
            self._entries.move_to_end(key)
            return entry.candidates

    def get(self, db: Database, win: Window, selection: Selection, model: str) -> Candidates:
        key = (db.url, win.start, win.end, selection, model)
        # Before the stamp: a change after it moves them for the next request.
        rev = vector_store.last_revs(db)
        if (found := self._current(key, rev, None)) is not None:
            return found
        stamp = (
            lists.period_stamp(db, win.start, win.end, selection),
            vector_store.period_stamp(db, win.start, win.end, model),
        )
        if (found := self._current(key, rev, stamp)) is not None:
            return found
        with self._lock:
            building = self._locks.setdefault(key, threading.Lock())
        with building:
            if (found := self._current(key, rev, stamp)) is not None:  # built while this thread waited
                return found
            found = load.candidates(db, win.start, win.end, model, selection)
            self.builds += 1
            with self._lock:
                self._entries[key] = _Entry(stamp, found, rev)
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    old, _ = self._entries.popitem(last=False)
                    self._locks.pop(old, None)
            return found


CACHE = CandidateCache()


# -- the reader ----------------------------------------------------------------------------------------


def follow_of(f: Followed | Follow) -> Follow:
    """A member's follow as the model reads it: a saved search is a topic, its query's words."""
    if f.kind == "search":
        try:
            return Follow("topic", search_params(f.value).get("q", f.value))
        except BadFollow:
            return Follow("topic", f.value)
    return Follow(f.kind, f.value)


@dataclass(frozen=True, slots=True)
class Reader:
    signals: Signals
    seen: set[str]  # on any channel

    @property
    def hidden(self) -> set[str]:
        """What For-you and the digest leave out unless asked: papers seen on any channel, and papers the
        reader liked already (upvoted, collected, asked more of, wrote)."""
        return self.seen | {like.paper_id for like in self.signals.liked}


def reader(db: Database, user_id: int, extra_follows: Iterable[Follow] = ()) -> Reader:
    """Everything the member did that their ranking learns from, and what they have seen, read in one
    transaction (``storage/signals.py``)."""
    rows = signal_store.reader_rows(db, user_id)
    liked = tuple(Liked(pid, kind, at) for pid, kind, at in rows.likes)  # type: ignore[arg-type]
    follows = tuple(dict.fromkeys([*(follow_of(f) for f in rows.follows), *extra_follows]))
    return Reader(Signals(liked, tuple(rows.less), follows), rows.seen)


# A paper as ``KnownCache`` keeps it: what the model reads of it (id, title, abstract, authors, categories)
# as a tuple of strings and tuples, which Python's cyclic garbage collector stops tracking. A Paper, its
# lists and versions stay tracked, and every full pass of the collector walks each of the cache's 50,000.
_Kept = tuple[str, str, str, tuple[str, ...], tuple[str, ...]]


def _kept(p: signal_store.PaperText) -> _Kept:
    return (p.id, p.title, p.abstract, tuple(p.authors), tuple(p.categories))


def _paper(k: _Kept) -> Paper:
    return Paper(k[0], k[1], k[2], list(k[3]), list(k[4]))


class KnownCache:
    """Liked and disliked papers outside the period, with their vectors, by (database, model, id): many
    readers like the same papers, and one reader's next visit likes mostly the same ones, so each is read
    from storage once per ``ttl`` seconds (a paper's text changes only with a new arXiv version; an hour
    late is harmless to a ranking). The ``size`` most recently used are kept. The papers it gives hold
    what the model reads of them: id, title, abstract, authors and categories."""

    def __init__(self, size: int = 50_000, ttl: float = 3600.0) -> None:
        self.size, self.ttl = size, ttl
        self._entries: OrderedDict[tuple[str, str, str], tuple[float, _Kept | None, np.ndarray | None]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(
        self, db: Database, model: str, ids: Iterable[str]
    ) -> tuple[dict[str, Paper], dict[str, np.ndarray]]:
        papers: dict[str, Paper] = {}
        vectors: dict[str, np.ndarray] = {}
        missing: list[str] = []
        now = time.monotonic()
        with self._lock:
            for i in ids:
                found = self._entries.get((db.url, model, i))
                if found is None or now - found[0] > self.ttl:
                    missing.append(i)
                    continue
                self._entries.move_to_end((db.url, model, i))
                if found[1] is not None:
                    papers[i] = _paper(found[1])
                if found[2] is not None:
                    vectors[i] = found[2]
        if missing:
            read = {p.id: _kept(p) for p in signal_store.paper_texts(db, missing)}
            read_vectors = load.vectors(db, missing, model)
            papers.update((i, _paper(k)) for i, k in read.items())
            vectors.update(read_vectors)
            with self._lock:
                for i in missing:
                    self._entries[(db.url, model, i)] = (now, read.get(i), read_vectors.get(i))
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return papers, vectors


KNOWN = KnownCache()


def known(
    db: Database, signals: Signals, candidates: Candidates, model: str
) -> tuple[dict[str, Paper], dict[str, np.ndarray]]:
    """The metadata and vectors of the reader's liked and disliked papers outside the period (those in
    it are read from the candidates)."""
    ids = sorted(i for i in signals.paper_ids() if i not in candidates.row)
    return KNOWN.get(db, model, ids) if ids else ({}, {})


def rank_for(
    db: Database,
    signals: Signals,
    candidates: Candidates,
    model: str,
    hidden: set[str],
    limit: int,
    now: datetime | None,
) -> list[Pick]:
    """The reader's best ``limit`` candidates, none of ``hidden`` nor of their "less" papers."""
    found, vectors = known(db, signals, candidates, model)
    return recommend(signals, candidates, found, vectors, seen=hidden, limit=limit, now=now)


# The reasons of a reader with no signal that reaches a paper (rank.reason's fallbacks).
_GENERIC = ("popular this period", "new this period")


def personal(reason: str) -> bool:
    """Whether a pick's reason comes from the reader (a like, a follow), not only from the period."""
    return not reason.startswith(_GENERIC)


@dataclass(frozen=True, slots=True)
class ForYou:
    window: Window
    picks: list[Pick]  # this page's, best first, each with its reason
    total: int  # papers the list holds (the period's, less hidden and "less" ones)
    offset: int
    new_reader: bool  # no signal at all yet: the page offers to start from seeds


def for_you(
    db: Database,
    model: str,
    user_id: int,
    win: Window,
    selection: Selection = EVERYTHING,
    limit: int = 50,
    offset: int = 0,
    include_seen: bool = False,
    now: datetime | None = None,
    cache: CandidateCache = CACHE,
) -> ForYou:
    """One page of the member's For-you list for the period ``win``."""
    candidates = cache.get(db, win, selection, model)
    found = reader(db, user_id)
    signals = found.signals
    hidden = set() if include_seen else found.hidden
    picks = rank_for(db, signals, candidates, model, hidden, offset + limit, now)[offset:]
    out = hidden | set(signals.disliked)
    total = len(candidates) - sum(1 for i in out if i in candidates.row)
    # Ranked on the cached papers; shown with their counters as they are now (upvotes, comments).
    fresh = {p.id: p for p in paper_store.papers_by_ids(db, [p.paper.id for p in picks])}
    picks = [replace(p, paper=fresh.get(p.paper.id, p.paper)) for p in picks]
    return ForYou(win, picks, max(total, 0), offset, signals.empty)


# -- seeds ---------------------------------------------------------------------------------------------


@dataclass
class Seeded:
    papers: list[str] = field(default_factory=list)  # ids now "more like this"
    follows: list[str] = field(default_factory=list)  # "author: Y", "category: cs.CL"
    problems: list[str] = field(default_factory=list)  # what could not be used, and why


def seed(
    db: Database,
    user_id: int,
    arxiv_ids: Iterable[str],
    authors: Iterable[str],
    categories: Iterable[str],
    now: datetime,
) -> Seeded:
    """Start a reader's For-you: seed papers as "more like this", an author and categories as follows."""
    done = Seeded()
    ids = [i for i in arxiv_ids if i.strip()]
    if len(ids) > MAX_SEED_IDS:
        done.problems.append(f"arxiv_ids: at most {MAX_SEED_IDS}; the first {MAX_SEED_IDS} were used")
        ids = ids[:MAX_SEED_IDS]
    wanted: list[str] = []
    for raw in ids:
        try:
            wanted.append(parse_arxiv_id(raw)[0])
        except BadArxivId:
            done.problems.append(f"{raw[:40]!r} is not an arXiv id")
    stored = {p.id for p in paper_store.papers_by_ids(db, wanted)}
    for paper_id in wanted:
        if paper_id in stored:
            feedback_store.set_feedback(db, user_id, paper_id, "more", now)
            done.papers.append(paper_id)
        else:
            done.problems.append(f"arXiv:{paper_id} is not on this site (submit it first)")
    for kind, values in (("author", authors), ("category", categories)):
        for value in values:
            if not value.strip():
                continue
            try:
                k, shown, key = normalise(kind, value)
            except BadFollow as exc:
                done.problems.append(f"{kind}: {exc}")
                continue
            if follow_store.count_of(db, user_id) >= MAX_FOLLOWS:
                done.problems.append(f"{kind} {shown}: you follow {MAX_FOLLOWS} things already")
                continue
            follow_store.follow(db, user_id, k, shown, key, now)
            done.follows.append(f"{kind}: {shown}")
    return done


# -- the private feed's token --------------------------------------------------------------------------


def new_feed_token(db: Database, user_id: int, now: datetime) -> str:
    """A new secret for the member's private feed URL (shown once); the previous one stops working."""
    secret = FEED_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_store.replace(db, user_id, accounts.digest(secret), now)
    return secret


def feed_token_owner(db: Database, secret: str) -> tuple[str, int | None]:
    """("live", member id), ("revoked", member id) or ("unknown", None) for a feed URL's secret."""
    if not secret.startswith(FEED_TOKEN_PREFIX) or len(secret) > 128:
        return "unknown", None
    found = token_store.by_hash(db, accounts.digest(secret))
    if found is None:
        return "unknown", None
    return ("revoked" if found.revoked_at else "live"), found.user_id
