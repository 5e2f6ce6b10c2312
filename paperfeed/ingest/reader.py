"""The reading half of a bulk import, in a process of its own, so that reading and storing use two cores.

``jsonlines.import_file`` stores; for a file over PIPELINE_BYTES, with a CPU free for it (``worth_it``),
it starts ``python -m paperfeed.ingest.reader``, which reads the file, parses and checks
each line (``lines.batches``: the same code, the same messages for a bad line) and prepares each
paper's row, author keys and code links (``papers.prepare``), a batch ahead of the importer. Batches come
back over a pipe as compact tuples: a pickled ``Paper`` cost more to send and receive than to build.

Nothing here touches the database: the checkpoint still records only what the importer stored, in the
batch's own transaction. If the importer dies (kill -9), this process's next write to the pipe fails and it
exits, having written nothing anywhere. If this process dies, the importer stops with ``ReaderStopped``
after the batches it received are stored, and the same command continues from there.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from paperfeed.ingest.lines import Batch, Parse, batches, paced_collector
from paperfeed.storage.paper_rows import PreparedPaper, prepare

# Below this the second process costs more than it saves: starting it (an interpreter, the modules it
# needs) takes as long as the importer needs for a few megabytes of lines on its own.
PIPELINE_BYTES = 32 * 2**20
_PIPE_SIZE = 2**20  # Linux's default pipe holds 64 KB; a batch is megabytes
_HEADER = struct.Struct("<Q")


class ReaderStopped(RuntimeError):
    """The reading process ended before the file did (killed, or out of memory)."""


def worth_it(size: int, busy: int = 0) -> bool:
    """Whether a file of ``size`` bytes is read by a process of its own: a file large enough, and a CPU
    free for it. ``busy``: cores the import keeps busy besides its own process's main thread: tantivy's
    thread when the keyword index is built alongside, a PostgreSQL server doing the writes (measured on
    two CPUs with either: the reader made the import no faster, and cost CPU)."""
    return size > PIPELINE_BYTES and bool(sys.executable) and _cpus() > 1 + busy


def _cpus() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    counted = getattr(os, "process_cpu_count", None)  # Python 3.13
    if counted is not None:
        return int(counted() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextmanager
def reading(
    path: Path,
    parse: Parse,
    start_line: int,
    batch_size: int,
    now: datetime,
    dialect: str,
    index_rows: bool,
) -> Iterator[Iterator[Batch]]:
    """``lines.batches(path, parse, start_line, batch_size, now)`` read by a second process, their
    papers prepared for a ``dialect`` database (``PreparedPaper``, with what ``UpsertCounts.written``
    needs if ``index_rows``). On leaving, the process is ended if it still runs (the importer failed: a
    full disk, an interrupt)."""
    job = pickle.dumps(
        (str(path), parse, start_line, batch_size, now, dialect, index_rows), pickle.HIGHEST_PROTOCOL
    )
    receive, send = os.pipe()
    try:
        _widen(send)
        process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(send), str(path)],  # the path: for ps, not read from here
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            pass_fds=(send,),
        )
    except BaseException:
        os.close(receive)
        raise
    finally:
        os.close(send)  # the child's copy only: the importer sees the end of the pipe when the child ends
    try:
        with open(receive, "rb") as pipe:
            assert process.stdin is not None
            with process.stdin:
                process.stdin.write(job)
            yield _received(pipe, process, path)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _received(pipe: IO[bytes], process: subprocess.Popen[bytes], path: Path) -> Iterator[Batch]:
    while True:
        message = _read(pipe)
        if message is None:
            raise ReaderStopped(
                f"the process reading {path.name} stopped ({_ended(process)}) before the end of the file; "
                "the papers stored before are kept: run the same command again to continue"
            )
        kind, payload = message
        if kind == "failed":  # what reading the file raised there, raised here as the importer would
            raise payload
        batch: Batch = payload
        batch.papers[:] = [PreparedPaper._make(p) for p in batch.papers]  # in place: the importer empties it
        yield batch
        if batch.last:
            return


def _read(pipe: IO[bytes]) -> Any:
    header = pipe.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = pipe.read(size)
    return pickle.loads(data) if len(data) == size else None  # noqa: S301 - our own child, our own pipe


def _ended(process: subprocess.Popen[bytes]) -> str:
    try:
        code = process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return "it stopped sending"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _widen(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    except (ImportError, AttributeError, OSError):  # not Linux, or above the system's limit: the default
        pass


def _send(out: IO[bytes], message: tuple[str, Any]) -> None:
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)))
    out.write(data)
    out.flush()


def _compact(paper: PreparedPaper, index_rows: bool) -> tuple[Any, ...]:
    """A paper as sent: a plain tuple (a named one pickles as a call per paper), without what nothing
    will read (a list and a date cost as much to send and receive as the row)."""
    if index_rows:
        return tuple(paper)
    return (
        paper.id,
        paper.version,
        paper.row,
        paper.organization,
        None,
        None,
        None,
        paper.author_keys,
        paper.links,
    )


def main() -> None:
    """The reading process: the job from stdin, batches to the pipe named on the command line."""
    # Ctrl-C reaches the importer too, which ends this process; a traceback from here would say nothing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = open(int(sys.argv[1]), "wb")  # noqa: SIM115 - closed at the end, or left to os._exit
    try:
        path, parse, start_line, batch_size, now, dialect, index_rows = pickle.load(sys.stdin.buffer)  # noqa: S301 - from the importer
    except EOFError:  # the importer died before sending the job
        return
    try:
        with paced_collector() as collect:
            for batch in batches(Path(path), parse, start_line, batch_size, now):
                prepared = [_compact(p, index_rows) for p in prepare(batch.papers, now, dialect)]
                _send(out, ("batch", replace(batch, papers=prepared)))
                batch.papers.clear()  # as the importer does (jsonlines.import_file)
                del prepared
                collect()
    except BrokenPipeError:  # the importer is gone: so is the reason to read on
        os._exit(0)
    except Exception as exc:  # handed to the importer, which raises it
        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        try:
            _send(out, ("failed", exc))
        except BrokenPipeError:
            os._exit(0)
    out.close()


if __name__ == "__main__":
    main()
