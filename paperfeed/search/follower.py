"""Keeps one node's search indexes current while its web workers serve: a thread in each worker, of
which only the one holding the node's lock file writes.

Every ``index_refresh_seconds`` the writer catches the keyword index up with ``papers.rev``, embeds new
papers (unless job workers do that: ``embed_in_web``), and folds the vector delta into the saved base
once it is large. The other workers only read: tantivy reloads new commits, and the vector index pulls
new vectors from the database on the next search. So a paper stored on any machine is searchable on
every node within about one interval (plus the time to embed it, for the semantic half).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import IO

from paperfeed.search import indexer
from paperfeed.search.hybrid import Searcher
from paperfeed.settings import Settings
from paperfeed.storage import leases
from paperfeed.storage.db import unavailable

log = logging.getLogger(__name__)

MERGE_DELTA = 10_000  # vectors in the delta before the writer saves a new base file


def lock_path(settings: Settings) -> Path:
    return Path(settings.resolved_index_dir()) / ".writer.lock"


def take_node_lock(settings: Settings) -> IO[bytes] | None:
    """The lock that makes one process per node the writer of its index folder (held while the returned
    file stays open; the kernel drops it when the process dies), or None if another process holds it."""
    lock = lock_path(settings)
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = lock.open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


class IndexFollower:
    def __init__(self, searcher: Searcher, settings: Settings) -> None:
        self.searcher = searcher
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="index-follower", daemon=True)
        self._lock_file: IO[bytes] | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock for the next worker to start

    def _is_writer(self) -> bool:
        if self._lock_file is not None and not _still_there(self._lock_file, lock_path(self.settings)):
            # The lock file was deleted (with the index folder): another worker could lock a new one and
            # write beside this one. Give up the old lock and take the new file's, as every worker does.
            self._lock_file.close()
            self._lock_file = None
        if self._lock_file is None:
            self._lock_file = take_node_lock(self.settings)
        return self._lock_file is not None

    def _run(self) -> None:
        down = False
        while not self._stop.wait(self.settings.index_refresh_seconds):
            try:
                self.step()
            except Exception as exc:  # a failed round must not end the thread: the next one retries
                if not unavailable(exc):
                    log.exception("search index follower: round failed")
                elif not down:  # one line for an outage, not a traceback every round
                    reason = str(exc).splitlines()[0]
                    log.warning("search index follower: the database is unavailable; retrying: %s", reason)
                down = unavailable(exc)
            else:
                if down:
                    log.warning("search index follower: the database is back")
                down = False

    def step(self) -> None:
        """One round: writes if this worker holds the node's lock, then refreshes what it reads. A damaged
        index is rebuilt first, before the embedding, which can take long."""
        searcher, db = self.searcher, self.searcher.db
        writer = self._is_writer()
        if writer:
            searcher.keywords.sync(db)  # rebuilds the folder if it finds it damaged
        searcher.vectors.refresh(db)
        if writer and searcher.vectors.needs_build():
            self._save_base()
        if writer and self.settings.embed_in_web:
            indexer.embed_new(
                db,
                searcher.embedder,
                searcher.keywords,
                batch_size=self.settings.embed_batch,
                holder=leases.holder_name(self.settings.node()),
                lease_seconds=self.settings.lease_seconds,
            )
            searcher.vectors.refresh(db)
        if writer and searcher.vectors.delta_size() >= MERGE_DELTA:
            self._save_base()

    def _save_base(self) -> None:
        self.searcher.vectors.sync(self.searcher.db)
        self.searcher.vectors.refresh(self.searcher.db)  # map the new base; the delta empties


def _still_there(handle: IO[bytes], path: Path) -> bool:
    """Whether the open file is still the one at ``path``."""
    try:
        return os.fstat(handle.fileno()).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False
