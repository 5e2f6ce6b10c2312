"""Streaming import of JSON-lines files (the arXiv snapshot, seed cards): batched, checkpointed, forgiving.

A bad line is reported with its line number and skipped; the good lines around it are stored. After each
batch the line reached is recorded in the batch's own transaction, so a rerun after a kill starts right
after the last stored batch.
The checkpoint is dropped when the file is done.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from paperfeed.ingest import reader
from paperfeed.ingest.lines import Batch, Parse, batches, paced_collector
from paperfeed.models import ImportReport
from paperfeed.storage import Database, checkpoints
from paperfeed.storage import papers as paper_store
from paperfeed.storage.papers import UpsertCounts

BATCH = 2000
# A file this large is a bulk import, stored in larger batches. Each batch's transaction writes the pages
# of paper_authors it touched to the WAL, and the checkpointer copies them back; its rows are keyed by
# author, so a batch touches pages all over that table, and the larger it grows the more of them. Fewer,
# larger batches write each page fewer times. A kill loses at most one batch, as before.
BULK_BYTES = 32 * 2**20
BULK_BATCH = 10_000
Progress = Callable[[int], None]  # called with the bytes of the file consumed so far
Stored = Callable[[UpsertCounts], None]  # called with what each batch stored (the keyword index, alongside)


def import_file(
    db: Database,
    path: Path,
    parse: Parse,
    progress: Progress | None = None,
    batch_size: int | None = None,
    now: datetime | None = None,
    stored: Stored | None = None,
) -> ImportReport:
    """Import a JSON-lines file, resuming after the last batch a previous run stored. ``batch_size``:
    lines per batch (and transaction); by default BATCH, or BULK_BATCH for a file over BULK_BYTES. A file
    large enough is read and parsed by a second process while this one stores (ingest/reader.py)."""
    now = now or datetime.now(UTC)
    size = file_size(path)
    if batch_size is None:
        batch_size = BULK_BATCH if size > BULK_BYTES else BATCH
    source = _source_key(path)
    start_line = checkpoints.line_reached(db, source)
    report = ImportReport()
    errors: list[str] = []
    read = 0
    reading: AbstractContextManager[Iterator[Batch]]
    # Tantivy's thread (an index built alongside) keeps a core busy, and so does a PostgreSQL server when
    # it runs on this machine (assumed: it cannot be told from here).
    busy = (stored is not None) + (db.dialect == "postgresql")
    if reader.worth_it(size, busy):
        reading = reader.reading(path, parse, start_line, batch_size, now, db.dialect, stored is not None)
        store: Callable[..., UpsertCounts] = paper_store.store_prepared
    else:
        reading = nullcontext(batches(path, parse, start_line, batch_size, now))
        store = paper_store.upsert_papers
    with db.bulk(), paced_collector() as collect, reading as parsed:
        for batch in parsed:
            mark = partial(checkpoints.reach_line, source=source, line=batch.line)
            counts = store(db, batch.papers, now, also=mark, index_rows=stored is not None)
            if stored:
                stored(counts)
            report += ImportReport(
                inserted=counts.inserted, updated=counts.updated, unchanged=counts.unchanged
            )
            errors += batch.errors
            read += batch.read
            if progress and not batch.last:
                progress(batch.position)
            # Emptied once stored (its reader may hold the batch until the next): the collector then
            # finds almost nothing alive to walk.
            batch.papers.clear()
            del counts
            collect()
    # Finished: the checkpoint only serves an interrupted import. A rerun reads the whole file again and
    # finds every paper unchanged.
    checkpoints.forget(db, source)
    if progress:
        progress(path.stat().st_size)
    return report + ImportReport(read=read, errors=errors)


def _source_key(path: Path) -> str:
    # A file that changed (new snapshot, same name) is a new source and is read from the start.
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def file_size(path: Path) -> int:
    return os.path.getsize(path)
