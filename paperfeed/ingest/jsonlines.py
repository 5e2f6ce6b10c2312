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
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
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


@dataclass(frozen=True, slots=True)
class Batch:
    """The papers parsed from the lines up to ``line`` (the checkpoint a rerun starts after), the lines
    refused among them, and the bytes of the file consumed then; ``last``: the file ends here."""

    papers: list[Any]  # Paper, or PreparedPaper from the reading process (ingest/reader.py)
    errors: list[str]
    read: int  # lines that were not blank
    line: int
    position: int
    last: bool


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
    from paperfeed.ingest import reader  # it runs this module's batches() in the reading process

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
    if reader.worth_it(size, indexing=stored is not None):
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


def batches(path: Path, parse: Parse, start_line: int, batch_size: int, now: datetime) -> Iterator[Batch]:
    """The file's lines after ``start_line``, parsed, in batches of ``batch_size`` papers; the last
    batch (perhaps empty) ends at the file's end. A bad line is named in its batch's errors and skipped."""
    batch: list[Paper] = []
    errors: list[str] = []
    read = 0
    last_line = start_line
    with path.open("rb") as raw:
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
                yield Batch(batch, errors, read, line_no, raw.tell(), last=False)
                batch, errors, read = [], [], 0
        yield Batch(batch, errors, read, last_line, raw.tell(), last=True)


@contextmanager
def paced_collector() -> Iterator[Callable[[], object]]:
    """The garbage collector run once per batch, by the function this yields, instead of on its own
    schedule while the file is read. A batch in flight is tens of thousands of objects, all alive until
    it is stored, and the collector's passes walked it again and again (its full passes, a sixth of a bulk
    import's time); between two batches almost nothing is alive. The papers themselves hold no cycles and
    go by reference counting; the function collects the young generations, where the few cycles a batch
    leaves are. The collector's own schedule is back on leaving (unless it was off)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield lambda: gc.collect(1)
    finally:
        if enabled:
            gc.enable()


def _source_key(path: Path) -> str:
    # A file that changed (new snapshot, same name) is a new source and is read from the start.
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _lines(raw: IO[bytes], path: Path, skip: int) -> Iterator[tuple[int, bytes]]:
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw  # type: ignore[assignment]
    return enumerate(itertools.islice(stream, skip, None), start=skip + 1)


def file_size(path: Path) -> int:
    return os.path.getsize(path)
