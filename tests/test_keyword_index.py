"""The tantivy keyword index: derived from the database, incremental, rebuildable, safe to repeat."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tantivy

from paperfeed.ingest.snapshot import ingest_snapshot
from paperfeed.models import Paper
from paperfeed.search import mapped
from paperfeed.search.hybrid import Searcher
from paperfeed.search.keyword import KeywordIndex
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import papers as store
from tests.conftest import RECENT

T0 = datetime(2026, 8, 3, 12, 0, tzinfo=UTC)


def fresh(settings: Settings) -> KeywordIndex:
    index = KeywordIndex(settings.resolved_index_dir())
    index._reloaded = -1e9  # tests read right after writing; skip the once-a-second reload throttle
    return index


def ids(index: KeywordIndex, query: str, limit: int = 5) -> list[str]:
    index._reloaded = -1e9
    return [h.id for h in index.search(query, limit)]


def test_sync_indexes_only_what_changed(settings: Settings, db: Database) -> None:
    ingest_snapshot(db, RECENT)
    index = fresh(settings)
    assert index.sync(db) == 304 and len(index) == 304
    assert index.sync(db) == 0, "nothing changed, nothing read"
    assert ids(index, "Sparse Delta Memory linear RNN")[0] == "2607.07386"
    assert ids(index, "Cabannes")[0] == "2607.07386", "authors are searchable"
    store.upsert_papers(
        db,
        [
            Paper(
                id="2608.99999",
                title="Quokka cardinality sketches",
                abstract="Quokkas.",
                authors=["Q. Uokka"],
                published_at=T0,
            )
        ],
    )
    assert index.sync(db) == 1 and ids(index, "quokka") == ["2608.99999"]


def test_new_version_replaces_the_document(settings: Settings, db: Database) -> None:
    p = Paper(
        id="2608.99999", title="Wombat burrows", abstract="Digging.", authors=["W. Ombat"], published_at=T0
    )
    store.upsert_papers(db, [p])
    index = fresh(settings)
    index.sync(db)
    p2 = Paper(
        id=p.id, title="Platypus venom", abstract="Spurs.", authors=["P. Latypus"], published_at=T0, version=2
    )
    store.upsert_papers(db, [p2])
    assert index.sync(db) == 1
    assert ids(index, "wombat") == [] and ids(index, "platypus") == ["2608.99999"] and len(index) == 1


def test_repeating_a_sync_after_a_lost_state_file_changes_nothing(settings: Settings, db: Database) -> None:
    ingest_snapshot(db, RECENT)
    index = fresh(settings)
    index.sync(db)
    (Path(settings.resolved_index_dir()) / "paperfeed-state").unlink()  # as if killed before writing it
    reopened = fresh(settings)
    assert reopened.sync(db) == 304
    assert len(reopened) == 304, "documents were replaced, not duplicated"


def test_rebuild_from_the_database(settings: Settings, db: Database) -> None:
    ingest_snapshot(db, RECENT)
    index = fresh(settings)
    index.sync(db)
    assert index.rebuild(db) == 304 and len(index) == 304


class _DeletedAfterTheCheck(KeywordIndex):
    """The folder deleted just after the last damage check before the writer opens (a drill's race)."""

    checks = 0

    def damage(self) -> str | None:
        problem = super().damage()
        self.checks += 1
        if self.checks == 2:  # sync checks, then _writing does
            shutil.rmtree(self.path)
        return problem


def test_a_folder_deleted_after_the_check_is_rebuilt_in_the_same_sync(
    settings: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    ingest_snapshot(db, RECENT)
    fresh(settings).sync(db)
    index = _DeletedAfterTheCheck(settings.resolved_index_dir())
    assert index.sync(db) == 304 and len(index) == 304
    assert ids(index, "Sparse Delta Memory")[0] == "2607.07386"
    assert "meta.json is missing" in caplog.text and "Traceback" not in caplog.text


def test_indexing_alongside_an_import(settings: Settings, db: Database) -> None:
    index = fresh(settings)
    with index.alongside(db) as stored:
        ingest_snapshot(db, RECENT, stored=stored)
    assert len(index) == 304 and index.sync(db) == 0
    assert ids(index, "Sparse Delta Memory")[0] == "2607.07386"


def _documents(index: KeywordIndex) -> list[str]:
    """The ids of every document the index holds (the other fields are not stored: searches compare them)."""
    index._index.reload()
    searcher = index._index.searcher()
    every = searcher.search(tantivy.Query.all_query(), limit=max(searcher.num_docs, 1))
    return sorted(searcher.doc(address)["id"][0] for _, address in every.hits)


def _same_index(a: KeywordIndex, b: KeywordIndex, queries: list[str]) -> None:
    assert len(a) == len(b) and _documents(a) == _documents(b)
    # The same papers match (scores differ: replaced documents count until merged). The queries' words are
    # rare ones: a word near the common-word limit may be left out by one index and not by the other.
    for query in queries:
        assert sorted(h.id for h in a.search(query, 1000)) == sorted(h.id for h in b.search(query, 1000))


def test_alongside_gives_the_index_a_sync_gives(settings: Settings, db: Database, tmp_path: Path) -> None:
    """Batches indexed from memory (inserts), read back (a newer version; a batch another writer's
    change precedes), in any mix: the same documents as a sync from the database."""
    lines = RECENT.read_text().splitlines()
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("\n".join(lines[:200]) + "\n")
    newer = [json.loads(line) for line in lines[150:]]
    for record in newer[:50]:  # papers of the first file, in a newer version with a new title
        record["versions"].append({"version": "v9", "created": "Mon, 3 Aug 2026 10:00:00 GMT"})
        record["title"] = "Wombat " + record["title"]
    second.write_text("".join(json.dumps(r) + "\n" for r in newer))
    index = fresh(settings)
    with index.alongside(db) as stored:
        report = ingest_snapshot(db, first, stored=stored)
        assert report.inserted == 200
        store.upsert_papers(db, [Paper(id="2608.99999", title="Quokka", abstract="Q.", authors=["Q. U."])])
        report = ingest_snapshot(db, second, stored=stored)  # after another writer's change
        assert (report.inserted, report.updated) == (104, 50)
    index._reloaded = -1e9
    assert len(index) == 305 and index.sync(db) == 0
    assert ids(index, "quokka") == ["2608.99999"] and len(ids(index, "wombat", 100)) == 50

    synced = KeywordIndex(tmp_path / "synced")
    synced.sync(db)
    _same_index(index, synced, ["wombat", "sparse delta memory", "diffusion retrieval", "Cabannes", "quokka"])


def test_any_text_is_a_query(settings: Settings, db: Database) -> None:
    ingest_snapshot(db, RECENT)
    index = fresh(settings)
    index.sync(db)
    for query in ['"unbalanced', "a AND", "OR", "title:(", "$\\alpha$ ^ ~2 *", "", "   ", "<script>"]:
        index.search(query, 5)  # must not raise


def test_words_most_papers_hold_are_left_out_unless_nothing_else_is_left(
    settings: Settings, db: Database
) -> None:
    ingest_snapshot(db, RECENT)
    index = fresh(settings)
    index.sync(db)
    searcher = index._searcher()
    assert searcher is not None
    common = [w for w in ("the", "of", "and", "a") if searcher.doc_freq("text", w) > len(index) / 2]
    assert len(common) >= 3, "the bundled abstracts all use these words"
    rare = "sparse delta memory"
    with_common = f"the {rare} of a"
    assert [(h.id, h.score) for h in index.search(with_common, 20)] == [
        (h.id, h.score) for h in index.search(rare, 20)
    ]
    assert index.best_possible(with_common) == index.best_possible(rare) > 0
    # A query of common words only is searched as it is, every word scored.
    only = " ".join(common)
    assert len(ids(index, only, 50)) == 50
    assert index.best_possible(only) > index.best_possible(common[0]) > 0


def test_exact_arxiv_id_comes_first(loaded_db: Database, loaded_settings: Settings) -> None:
    searcher = Searcher.open(loaded_db, loaded_settings)
    results = searcher.search("2607.07386", 5, mode="keyword")
    assert results[0].paper.id == "2607.07386"
    results = searcher.search("arXiv:0704.0001v2", 5, mode="keyword")
    assert results[0].paper.id == "0704.0001"


_CUT_SHORT = """
import os, sys, time
from pathlib import Path
from paperfeed.search.keyword import KeywordIndex
from paperfeed.storage import open_database
db, folder = open_database(sys.argv[1]), Path(sys.argv[2])
index = KeywordIndex(folder)
assert index.sync(db) == 304 and index.search("sparse delta memory")
for path in folder.iterdir():
    if path.name[0] != "." and path.name.split(".")[0] not in ("meta", "paperfeed-state"):
        os.truncate(path, path.stat().st_size // 2)
started = time.monotonic()
while time.monotonic() - started < 2.5:  # searches, and reloads once a second, with no one to rebuild it
    assert index.search("sparse delta memory") == [] and len(index) == 0
    time.sleep(0.05)
assert index.sync(db) == 304, "the writer finds the damage and rebuilds"
index._reloaded = -1e9
print(index.search("sparse delta memory")[0].id)
"""


def test_segments_cut_short_in_place_are_never_read_again(settings: Settings, db: Database) -> None:
    """Reading a memory-mapped page past a file's new end kills the process (SIGBUS), so this runs in a
    child process: searches find nothing from the cut index, reloads included, until a sync rebuilds it."""
    ingest_snapshot(db, RECENT)
    command = [sys.executable, "-c", _CUT_SHORT, settings.database_url, str(settings.resolved_index_dir())]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.split() == ["2607.07386"]


def test_one_search_checks_its_mapped_files_once_and_the_next_search_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within mapped.one_check (one search) each set of files is checked at its first read only (issue 18:
    ~170 fstat a read at 1M papers); a file cut short before a search begins is noticed by it."""
    files = [tmp_path / f"segment{n}" for n in range(3)]
    for path in files:
        path.write_bytes(b"x" * 100)
    watched = mapped.Watched(files)
    checks = []
    monkeypatch.setattr(mapped.os, "fstat", lambda fd: checks.append(fd) or os.stat(fd))
    with mapped.one_check():
        assert watched.intact() and watched.intact() and watched.intact()
    assert len(checks) == 3
    assert watched.intact() and len(checks) == 6, "outside a search, before every read"
    os.truncate(files[1], 10)
    with mapped.one_check():
        assert not watched.intact() and not watched.intact(), "cut before the search: never read"
