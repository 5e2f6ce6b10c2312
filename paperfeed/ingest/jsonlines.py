"""Streaming import of JSON-lines files (the arXiv snapshot, seed cards): batched, checkpointed, forgiving.

A bad line is reported with its line number and skipped; the good lines around it are stored. After each
batch the line reached is recorded in the batch's own transaction, so a rerun after a kill starts right
after the last stored batch.
The checkpoint is dropped when the file is done.
"""

from __future__ import annotations

import gc
import gzip
import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from paperfeed.ingest.normalize import BadRecord
from paperfeed.models import ImportReport, Paper
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
Parse = Callable[[Any, datetime], Paper]
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
    lines per batch (and transaction); by default BATCH, or BULK_BATCH for a file over BULK_BYTES."""
    now = now or datetime.now(UTC)
    if batch_size is None:
        batch_size = BULK_BATCH if file_size(path) > BULK_BYTES else BATCH
    source = _source_key(path)
    start_line = checkpoints.line_reached(db, source)
    report = ImportReport()
    batch: list[Paper] = []
    errors: list[str] = []
    read = 0
    last_line = start_line
    with path.open("rb") as raw, db.bulk(), _long_lived_heap():
        for line_no, line in _lines(raw, path, start_line):
            last_line = line_no
            if not line or line.isspace():
                continue
            read += 1
            try:
                try:
                    record = orjson.loads(line)  # JSON allows the line's trailing newline: no copy
                except orjson.JSONDecodeError:
                    # Stripped, as before: the same verdict on other trailing whitespace, and error
                    # positions counted on the line as written.
                    record = orjson.loads(line.rstrip())
                batch.append(parse(record, now))
            except orjson.JSONDecodeError as exc:
                errors.append(
                    f"{path.name} line {line_no}: broken JSON ({exc.msg} at character {exc.pos + 1})"
                )
            except BadRecord as exc:
                errors.append(f"{path.name} line {line_no}: {exc}")
            if len(batch) >= batch_size:
                report += _flush(db, batch, now, source, line_no, stored)
                batch = []
                if progress:
                    progress(raw.tell())
    report += _flush(db, batch, now, source, last_line, stored)
    # Finished: the checkpoint only serves an interrupted import. A rerun reads the whole file again and
    # finds every paper unchanged.
    checkpoints.forget(db, source)
    if progress:
        progress(path.stat().st_size)
    return report + ImportReport(read=read, errors=errors)


@contextmanager
def _long_lived_heap() -> Iterator[None]:
    """Leave what the process holds already (modules, SQLAlchemy's tables and compiled statements) out of
    the garbage collector's full passes while a file is read. A batch of papers held until its flush, tens
    of thousands of objects, sets off a full pass every batch or two, and each pass walked that whole
    heap again. Objects made meanwhile are still collected, and the heap is handed back afterwards, unless
    the process had frozen objects of its own (a served worker freezes its start-up objects: kept so)."""
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        yield
    finally:
        if not frozen_before:
            gc.unfreeze()


def _flush(
    db: Database, batch: list[Paper], now: datetime, source: str, line_no: int, stored: Stored | None
) -> ImportReport:
    counts = paper_store.upsert_papers(
        db, batch, now, also=lambda conn: checkpoints.reach_line(conn, source, line_no)
    )
    if stored:
        stored(counts)
    return ImportReport(inserted=counts.inserted, updated=counts.updated, unchanged=counts.unchanged)


def _source_key(path: Path) -> str:
    # A file that changed (new snapshot, same name) is a new source and is read from the start.
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _lines(raw: IO[bytes], path: Path, skip: int) -> Iterator[tuple[int, bytes]]:
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw  # type: ignore[assignment]
    return enumerate(itertools.islice(stream, skip, None), start=skip + 1)


def file_size(path: Path) -> int:
    return os.path.getsize(path)
