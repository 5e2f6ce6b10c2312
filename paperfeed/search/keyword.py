"""The BM25 keyword index: tantivy, kept beside the database and derived from it.

Why tantivy rather than SQLite FTS5: measured here at 1M papers, top-10 takes 0.26 ms p50 / 0.82 ms p99
against FTS5's 3–7 / 14–31 ms, and common words 1.6 vs 40 ms; it builds twice as fast and works the same
over PostgreSQL. The index records the highest change number (``papers.rev``) it holds, so ``sync``
only reads what changed since; deleting the folder and syncing rebuilds it from scratch.

Files deleted or cut short under a running server (issue 17's drills): searches keep answering from the last
commit they could read while its files are whole (a deleted file stays readable; one cut short is never read
again, see ``mapped``), and the next ``sync`` by the node's writer finds the damage and rebuilds the index
beside it, then moves it in.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import Stemmer
import tantivy

from paperfeed.search.mapped import Watched
from paperfeed.storage import Database
from paperfeed.storage import fulltext as fulltext_store
from paperfeed.storage import papers as paper_store

log = logging.getLogger(__name__)

SCHEMA_VERSION = "4"  # bump when the fields below change: an index of another version is rebuilt
_STATE = "paperfeed-state"
_KEEP = {".writer.lock"}  # the node's writer lock (search/follower.py), held while the folder is rebuilt
_ASIDE = ".rebuilding"  # the folder a rebuild is made in before it replaces the index's files
_SEGMENT_FILE = re.compile(r"[0-9a-f]{32}\..+")  # tantivy's segment files, which its searchers map
# Title and abstract as one field: scored as one text, BM25 gives 0.700 nDCG@10 on SciFact against 0.624
# for separate fields with the title boosted (its length normalisation then favours short titles). An
# exact title still comes first: search/hybrid.py puts it there.
_FIELDS = ["text", "authors"]
# With PAPERFEED_SEARCH_FULLTEXT, the full text is a third field ("body"), its BM25 weighted down: a paper
# whose title and abstract match still comes before one that only mentions the words in its 30,000
# characters. Measured in bench/fulltext.py (docs/benchmarks.md).
BODY_BOOST = 0.25
_FULLTEXT = "+fulltext"  # the schema version's suffix for an index with bodies
_PAGE = 5000
_STEMMER = Stemmer.Stemmer("english")  # Porter2, the stemmer of tantivy's en_stem tokenizer
_TOKENS = re.compile(r"[^\W_]+")  # what tantivy's simple tokenizer keeps
_K1 = 1.2  # tantivy's BM25 k1
_COMMON = 0.5  # of the papers: a query word held by more is left out when rarer ones remain
_COMMIT_EVERY = 100_000
_RELOAD_SECONDS = 1.0  # how often searches look for a commit another process made
_HEAP = 256_000_000
# Beside an import, one indexing thread keeps up with the importer (it spends ~50 µs a paper, the
# importer more) and leaves it the other core; 2 measured no faster on 2 cores. A commit stops the
# importer until tantivy has caught up, so it commits less often (1M papers: 77 s instead of 80 s); a
# kill loses at most that much index work, which the rerun reads back from the database.
_ALONGSIDE_THREADS = 1
_ALONGSIDE_COMMIT_EVERY = 500_000


def _schema(fulltext: bool = False) -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_text_field("id", stored=True, tokenizer_name="raw")
    # Term frequencies without positions: queries are bags of words (phrase syntax is stripped), and
    # positions cost a quarter of the indexing time.
    b.add_text_field("text", tokenizer_name="en_stem", index_option="freq")
    b.add_text_field("authors", tokenizer_name="default", index_option="freq")
    b.add_text_field("category", tokenizer_name="raw")
    b.add_integer_field("day", indexed=True, fast=True)  # feed day as a proleptic ordinal, for filters
    b.add_text_field("organization", tokenizer_name="raw")
    if fulltext:
        b.add_text_field("body", tokenizer_name="en_stem", index_option="freq")
    return b.build()


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions a search may carry; both indexes apply them, and the database checks them again."""

    since: date | None = None  # feed day, inclusive
    until: date | None = None
    category: str | None = None  # any of the paper's arXiv categories, e.g. "cs.LG"
    organization: str | None = None  # the organization's short name

    def __bool__(self) -> bool:
        return any((self.since, self.until, self.category, self.organization))


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    score: float


class KeywordIndex:
    def __init__(self, path: Path, fulltext: bool = False) -> None:
        self.path = path
        self.fulltext = fulltext  # full texts indexed too (a field of their own): another schema
        self._version = SCHEMA_VERSION + (_FULLTEXT if fulltext else "")
        self._fields = [*_FIELDS, "body"] if fulltext else _FIELDS
        path.mkdir(parents=True, exist_ok=True)
        if self._state()[0] != self._version and any(path.iterdir()):
            _clear(path)
        self._lock = threading.Lock()
        self._reloaded = 0.0
        self._mapped: Watched | None = None  # the files the current searcher maps
        self._segments: frozenset[str] = frozenset()  # and the segments they belong to
        self._whole = True  # False once one of them was cut short: nothing is read until a reload
        self._problem = ""  # why the folder could not be read at the last reload, if it could not
        self._in_memory = False  # the folder could not be opened: an empty index in memory stands in
        try:
            self._index = _manual(tantivy.Index(_schema(fulltext), path=str(path)))
        except ValueError as exc:  # meta.json unreadable: answer from nothing until the writer rebuilds
            self._index, self._in_memory = tantivy.Index(_schema(fulltext)), True
            self._note(str(exc))
        self._pending = 0  # documents added since the last commit
        self._position = (0, "")  # (rev, id) of the last document added
        self._empty = False  # the index held nothing when this writer opened
        self._commit_every = _COMMIT_EVERY

    # -- keeping up with the database -------------------------------------------------------------

    def _state(self) -> tuple[str, int, str]:
        """(schema version, rev, id) of the last paper this index holds."""
        try:
            version, rev, last_id = (self.path / _STATE).read_text().split("\n", 2)
            return version, int(rev), last_id
        except (FileNotFoundError, ValueError):
            return self._version, 0, ""

    def _save_state(self, rev: int, last_id: str) -> None:
        tmp = self.path / (_STATE + ".tmp")
        tmp.write_text(f"{self._version}\n{rev}\n{last_id}")
        os.replace(tmp, self.path / _STATE)  # atomic: a kill leaves the old or the new state

    def sync(self, db: Database, progress: Callable[[int], None] | None = None) -> int:
        """Index every paper written since the last sync; returns how many were (re)indexed.

        A kill between tantivy's commit and the state file means the next sync repeats some papers;
        each is deleted by id before it is added, so repeating is harmless. A damaged folder (``damage``)
        is rebuilt from the database.
        """
        if problem := self.damage():
            log.warning("keyword index %s: %s; rebuilding it from the database", self.path, problem)
            return self.rebuild(db, progress)
        try:
            with self._writing() as writer:
                return self._catch_up(db, writer, progress)
        except (ValueError, OSError) as exc:
            # The folder was damaged after the check (tantivy cannot open or lock it, the state file's
            # folder is gone): rebuilt now rather than by the next round, after a logged traceback.
            if not (problem := self.damage()):
                raise
            log.warning("keyword index %s: %s (%s); rebuilding it from the database", self.path, problem, exc)
            return self.rebuild(db, progress)

    @contextmanager
    def _writing(self, threads: int = 0, commit_every: int = _COMMIT_EVERY) -> Iterator[tantivy.IndexWriter]:
        if problem := self.damage():  # an import into a damaged folder: it starts over, in place
            log.warning("keyword index %s: %s; rebuilding it from the database", self.path, problem)
            self._reset()
        elif self._in_memory:  # another process repaired the folder since
            self._index, self._in_memory = _manual(tantivy.Index.open(str(self.path))), False
        writer = self._index.writer(heap_size=_HEAP, num_threads=threads)
        self._commit_every = commit_every
        self._pending = 0
        self._position = self._state()[1:]
        # Deleting before adding is only needed when the index may already hold the paper; skipping it
        # while building an empty index makes a first build faster. Counted as the folder holds it now
        # (this process's searcher loads new commits only when its searches ask).
        documents = tantivy.Index.open(str(self.path)).searcher().num_docs
        self._empty = self._state()[1:] == (0, "") and documents == 0
        try:
            yield writer
            if self._pending:
                writer.commit()
                self._save_state(*self._position)
            writer.wait_merging_threads()
            self._reloaded = 0.0  # searches in this process look at the new commits at once
        except BaseException:
            writer.rollback()
            # Ends the writer now, releasing tantivy's lock on the folder: the exception's traceback keeps
            # this frame, and the writer with it, alive until a garbage collection (a database error left
            # every later sync refused with LockBusy).
            writer.wait_merging_threads()
            raise

    def _catch_up(
        self,
        db: Database,
        writer: tantivy.IndexWriter,
        progress: Callable[[int], None] | None,
        new: bool = True,
    ) -> int:
        """Index what was written after the position. ``new``: no paper read can have been added since
        the writer opened (one pass over the changes sees each paper once)."""
        done = 0
        while rows := paper_store.changed_since(db, *self._position, _PAGE):
            self._add(db, writer, rows, (rows[-1].rev, rows[-1].id), new)
            done += len(rows)
            if progress:
                progress(done)
        return done

    def _add(
        self,
        db: Database,
        writer: tantivy.IndexWriter,
        rows: list[paper_store.IndexRow],
        position: tuple[int, str],
        new: bool,
    ) -> None:
        """Add papers written up to ``position`` (rev, id), committing every ``_commit_every`` documents.
        ``new``: none of them can be in the index yet if it was empty when the writer opened."""
        replace = not (self._empty and new)
        bodies = fulltext_store.full_texts(db, [r.id for r in rows]) if self.fulltext else {}
        for row in rows:
            if replace:
                writer.delete_documents_by_term("id", row.id)
            fields = {
                "id": row.id,
                "text": f"{row.title}\n{row.abstract}",
                "authors": " ; ".join(row.authors),
                "category": row.categories,
                "day": row.feed_day.toordinal(),
                "organization": row.organization or "",
            }
            if self.fulltext:
                fields["body"] = bodies.get(row.id, "")
            writer.add_document(tantivy.Document(**fields))
        self._position = position
        self._pending += len(rows)
        if self._pending >= self._commit_every:
            writer.commit()
            self._save_state(*position)
            self._pending = 0

    @contextmanager
    def alongside(self, db: Database) -> Iterator[Callable[[paper_store.UpsertCounts], None]]:
        """Index a bulk import as it goes: the body calls the function it is given with what each batch
        stored, and the papers are indexed from memory; on exit the index is complete.

        Reading each batch back from the database cost as much as storing it, and tantivy's indexing
        threads do the tokenising without the GIL, so this runs in the importer's process. Papers that
        were not simply inserted (a newer version: its feed day and organization are the stored ones),
        or a batch that another writer's change precedes (a gap in rev), are read back instead.
        """
        with self._writing(_ALONGSIDE_THREADS, _ALONGSIDE_COMMIT_EVERY) as writer:
            self._catch_up(db, writer, None)  # what an interrupted import left unindexed, first

            def stored(counts: paper_store.UpsertCounts) -> None:
                if not counts.rev:
                    return  # nothing written
                if counts.written and counts.rev == self._position[0] + 1:
                    # The position's id is the last in the database's order (PostgreSQL's collation
                    # may differ from Python's), which only the database can say.
                    position = (counts.rev, paper_store.last_id(db, counts.rev))
                    self._add(db, writer, counts.written, position, new=True)  # inserts: new papers
                else:  # may hold papers this import indexed already, in an older version
                    self._catch_up(db, writer, None, new=False)

            yield stored
            self._catch_up(db, writer, None, new=False)  # whatever was written since the last batch

    def rebuild(self, db: Database, progress: Callable[[int], None] | None = None) -> int:
        """A new index of every paper, built beside the folder's files (in ``.rebuilding``) and then moved
        in, ``meta.json`` last: until then searches, here and in the node's other workers, read the old
        commit if they still can (the rebuild of 1M papers takes over a minute)."""
        aside = self.path / _ASIDE
        shutil.rmtree(aside, ignore_errors=True)
        count = KeywordIndex(aside, self.fulltext).sync(db, progress)
        with self._lock:
            _clear(self.path)
            for built in sorted(aside.iterdir(), key=lambda p: p.name == "meta.json"):
                os.replace(built, self.path / built.name)
            aside.rmdir()
            self._index, self._in_memory = _manual(tantivy.Index.open(str(self.path))), False
            self._mapped, self._segments, self._whole, self._problem = None, frozenset(), True, ""
            self._reloaded = 0.0
        return count

    def damage(self) -> str | None:
        """Why the folder cannot be built on, or None: files deleted, cut short or unreadable (a fresh
        process could not open it), or documents without the state that says which papers they are."""
        if self._mapped is not None and not self._mapped.intact():
            return "a file was cut short"
        if not (self.path / "meta.json").exists():
            return "meta.json is missing"
        try:
            documents = tantivy.Index.open(str(self.path)).searcher().num_docs
        except ValueError as exc:
            return str(exc)
        position = self._state()[1:]
        if documents and position == (0, ""):
            return f"{_STATE} is missing"
        if not documents and position != (0, ""):
            return "the index is empty, its state is not"
        return None

    def _reset(self) -> None:
        """An empty index in place of whatever the folder held."""
        with self._lock:
            _clear(self.path)
            self._index, self._in_memory = (
                _manual(tantivy.Index(_schema(self.fulltext), path=str(self.path))),
                False,
            )
            self._mapped, self._segments, self._whole, self._problem = None, frozenset(), True, ""
            self._reloaded = 0.0

    # -- queries ----------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        limit: int = 10,
        offset: int = 0,
        filters: Filters | None = None,
        among: Sequence[str] | None = None,
    ) -> list[Hit]:
        """BM25 over title and abstract (one field) and authors. Any text is accepted: syntax the query
        language cannot read is searched as plain words rather than answered with an error. ``among``
        scores only those papers (hybrid search asks for the BM25 of papers found by meaning)."""
        if among is not None and not among:
            return []
        searcher = self._searcher()
        if searcher is None:
            return []  # the index is being rebuilt: hybrid search answers from the vector side meanwhile
        text = " ".join(word for word, _ in _informative(searcher, query))
        if not text:
            return []
        boosts = {"body": BODY_BOOST} if self.fulltext else None
        parsed, _errors = self._index.parse_query_lenient(text, self._fields, field_boosts=boosts)
        restrictions = self._filter_queries(filters) if filters else []
        if among:
            restrictions.append(tantivy.Query.term_set_query(self._index.schema, "id", list(among)))
        if restrictions:
            # A restriction only selects: scored 0, it leaves every paper's BM25 as the text gave it.
            parsed = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, parsed),
                    *((tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0)) for q in restrictions),
                ]
            )
        result = searcher.search(parsed, limit=limit, offset=offset, count=False)
        return [Hit(searcher.doc(addr)["id"][0], score) for score, addr in result.hits]

    def _filter_queries(self, filters: Filters) -> list[tantivy.Query]:
        schema = self._index.schema
        queries = []
        if filters.since or filters.until:
            since = filters.since.toordinal() if filters.since else 1
            until = filters.until.toordinal() if filters.until else date.max.toordinal()
            queries.append(tantivy.Query.range_query(schema, "day", tantivy.FieldType.Integer, since, until))
        if filters.category:
            queries.append(tantivy.Query.term_query(schema, "category", filters.category))
        if filters.organization:
            queries.append(tantivy.Query.term_query(schema, "organization", filters.organization))
        return queries

    def best_possible(self, query: str) -> float:
        """An upper bound of any paper's BM25 score for this query (every term at saturation): scores
        divided by it say how much of the query a paper matches, comparably across queries."""
        searcher = self._searcher()
        if searcher is None:
            return 0.0
        total = max(searcher.num_docs, 1)
        bound = 0.0
        for _, freqs in _informative(searcher, query):
            for freq in freqs:
                if freq:
                    bound += math.log(1 + (total - freq + 0.5) / (freq + 0.5)) * (_K1 + 1)
        return bound

    def document_frequencies(self, words: list[str]) -> dict[str, int]:
        """In how many papers each (lower-case, unstemmed) word occurs, for keyphrase scoring."""
        searcher = self._searcher()
        if searcher is None:
            return dict.fromkeys(words, 0)
        stems = _STEMMER.stemWords(words)
        return {w: searcher.doc_freq("text", s) for w, s in zip(words, stems, strict=True)}

    @property
    def generation(self) -> tuple[tuple[str, ...], bool]:
        """The commit searches read, named as every process of the node names it (its segments), and
        whether it is readable: a key for remembered answers, which a node's workers share."""
        # A remembered answer reads no maps: the files are checked by the next search that reads them
        # (or before a reload), not here.
        whole = self._searcher(reading=False) is not None  # loads a newer commit, at most once a second
        return tuple(sorted(self._segments)), whole

    @property
    def reload_due(self) -> bool:
        """Whether the next ``generation`` or search looks for a newer commit (reads the folder)."""
        return time.monotonic() - self._reloaded > _RELOAD_SECONDS

    def __len__(self) -> int:
        searcher = self._searcher()
        return int(searcher.num_docs) if searcher is not None else 0

    def _searcher(self, reading: bool = True) -> tantivy.Searcher | None:
        """The newest commit's searcher, or the last good one while the folder cannot be read; None while
        a file it maps is cut short (reading it would kill the process). ``reading``: the caller reads
        the maps (if not, they are checked only before a reload, which reads them too)."""
        now = time.monotonic()
        reload = now - self._reloaded > _RELOAD_SECONDS  # another process (ingest, worker) may have committed
        if (reading or reload) and self._mapped is not None and self._whole and not self._mapped.intact():
            self._whole = False  # checked before every read (once a search: mapped.one_check)
            self._note("a file was cut short")
        if reload:
            with self._lock:
                self._reload()
                self._reloaded = now
        return self._index.searcher() if self._whole else None

    def _reload(self) -> None:
        try:
            if self._in_memory or not self._whole:
                # Opened anew: a reload would reopen a cut segment through the maps this index keeps (at
                # their old length), and read past the file's end.
                self._index, self._in_memory = _manual(tantivy.Index.open(str(self.path))), False
            else:
                try:
                    self._index.reload()
                except ValueError:  # the folder was removed and made again: open it anew
                    self._index = _manual(tantivy.Index.open(str(self.path)))
            segments = _segments(self.path)  # of the commit just loaded, or of one made since
            files = [p for p in self.path.iterdir() if _SEGMENT_FILE.fullmatch(p.name)]
        except (ValueError, OSError) as exc:
            self._note(str(exc))  # keep the last good searcher, if its files are whole
            return
        if segments != self._segments:  # a new commit (a rebuild's segments are all new)
            # Every segment file there: those of the commit loaded, and any a commit since has added (one
            # since may also have removed some, which nothing can then cut short).
            self._mapped = Watched(files)
            self._segments, self._whole = segments, True
        if self._problem and self._whole:
            log.warning("keyword index %s: readable again", self.path)
            self._problem = ""

    def _note(self, problem: str) -> None:
        if problem != self._problem:  # once, not once a second
            log.warning("keyword index %s: %s; searching without it until it is rebuilt", self.path, problem)
            self._problem = problem


_SYNTAX = re.compile(r'[+\-:^()\[\]{}"~*\\!/<>=]')


def _informative(searcher: tantivy.Searcher, query: str) -> list[tuple[str, list[int]]]:
    """The query's words (as ``_plain`` gives them), each with its stems' document frequencies, without
    the words more than ``_COMMON`` of the papers hold, unless only such words are left: such a word's BM25
    weight is at most ln 2 (a rare word's, many times that), so it hardly moves a ranking, yet scoring it
    walks through most of the index, since tantivy-py's collector never skips (no block-max WAND). A word
    that the tokenizer splits is dropped only if all its parts are common. ``search`` asks for the words,
    ``best_possible`` sums the frequencies, without looking them up again."""
    words = [
        (word, [searcher.doc_freq("text", stem) for stem in _STEMMER.stemWords(_TOKENS.findall(word))])
        for word in _plain(query).split()
    ]
    limit = searcher.num_docs * _COMMON
    kept = [(word, freqs) for word, freqs in words if not (freqs and all(f > limit for f in freqs))]
    return kept or words


def _plain(query: str) -> str:
    """Users type words, ids and LaTeX, not tantivy syntax: keep letters, digits and dots only."""
    # Lower case too: upper-case AND / OR / NOT would otherwise be read as operators.
    return " ".join(_SYNTAX.sub(" ", query).lower().split())


def _clear(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for child in path.iterdir():
        if child.is_file() and child.name not in _KEEP:
            child.unlink()


def _manual(index: tantivy.Index) -> tantivy.Index:
    """The index with a reader that loads new commits only when asked (``_reload``): tantivy's default
    reloads by itself when another process commits, and would then map files this process does not watch."""
    index.config_reader(reload_policy="Manual")
    return index


def _segments(path: Path) -> frozenset[str]:
    """The segments of the folder's last commit, as their files' names begin."""
    meta = json.loads((path / "meta.json").read_bytes())
    return frozenset(s["segment_id"].replace("-", "") for s in meta["segments"])


def open_index(path: Path, fulltext: bool = False) -> KeywordIndex:
    return KeywordIndex(path, fulltext)
