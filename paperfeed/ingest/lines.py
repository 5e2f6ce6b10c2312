"""Reading a JSON-lines file (the arXiv snapshot, seed cards) into batches of papers: each line parsed and
checked, a bad one named with its line number and skipped. ``jsonlines.import_file`` stores the batches; a
bulk import reads them in a process of its own (ingest/reader.py)."""

from __future__ import annotations

import gc
import gzip
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from paperfeed.ingest.normalize import BadRecord
from paperfeed.models import Paper

Parse = Callable[[Any, datetime], Paper]


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
    it is stored, and the collector's passes walked it again and again; between two batches almost
    nothing is alive. The papers themselves hold no cycles and go by reference counting; the function
    collects the young generations, where the few cycles a batch leaves are. The collector's own
    schedule is back on leaving (unless it was off)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield lambda: gc.collect(1)
    finally:
        if enabled:
            gc.enable()


def _lines(raw: IO[bytes], path: Path, skip: int) -> Iterator[tuple[int, bytes]]:
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw  # type: ignore[assignment]
    return enumerate(itertools.islice(stream, skip, None), start=skip + 1)
