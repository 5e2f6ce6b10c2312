"""Each bench's latest figures in docs/benchmarks.md: the bench prints as usual, and when it finishes its
section of that page (between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``) is replaced by what it
printed, the date, the command as run (so a run with reduced sizes says so) and the machine.

    if __name__ == "__main__":
        with recorded("import"):
            main()

A bench that fails (an exception, ``sys.exit`` with a message) writes nothing. Run benches one at a time, as
``make bench`` does: two writing at once could each keep the other's old section.

Also here, as the benches that serve share it: the CPU time a server has spent (``cpu_seconds``).
"""

from __future__ import annotations

import io
import os
import platform
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import date
from pathlib import Path
from typing import TextIO

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


class _Tee(io.TextIOBase):
    """Writes to the terminal as before and keeps a copy."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.copy = io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def command() -> str:
    """The command line of this run, with the script named as it is in the repository."""
    script = Path(sys.argv[0])
    shown = f"bench/{script.name}" if script.parent.name == "bench" else str(script)
    return shlex.join(["python", shown, *sys.argv[1:]])


def section(printed: str, when: date, run: str) -> str:
    """The body of a bench's section: when, how and where it ran, then what it printed."""
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    text = "\n".join(line.rstrip() for line in printed.strip("\n").splitlines())
    return f"Measured {when.isoformat()} with `{run}` ({machine}):\n\n```text\n{text}\n```"


def replace_section(page: str, name: str, body: str) -> str:
    """``page`` with ``name``'s section holding ``body``; a section not there yet is added at the end."""
    start, end = markers(name)
    block = f"{start}\n{body}\n{end}"
    if page.count(start) == 0 and page.count(end) == 0:
        return f"{page.rstrip()}\n\n## bench/{name}.py\n\n{block}\n"
    if page.count(start) != 1 or page.count(end) != 1 or page.index(start) > page.index(end):
        raise ValueError(f"{start} … {end} must appear once each, in that order")
    before, rest = page.split(start, 1)
    return before + block + rest.split(end, 1)[1]


def write(name: str, body: str, doc: Path = DOC) -> None:
    """Replace ``name``'s section of ``doc`` in one step (a new file renamed over the old one)."""
    page = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    partial = doc.with_name(doc.name + ".partial")
    partial.write_text(replace_section(page, name, body), encoding="utf-8")
    partial.replace(doc)


@contextmanager
def recorded(name: str, doc: Path = DOC) -> Iterator[None]:
    """Run a bench's main inside; when it returns, its printed figures become its section of ``doc``."""
    tee = _Tee(sys.stdout)
    with redirect_stdout(tee):
        yield
    try:
        write(name, section(tee.copy.getvalue(), date.today(), command()), doc)
    except (OSError, ValueError) as exc:  # the figures are printed above: say why the page is not updated
        print(f"{doc} not updated: {exc}", file=sys.stderr)
    else:
        print(f"figures written to {doc}, section {name!r}", file=sys.stderr)


def family(pid: int) -> list[int]:
    """A process and its live children (uvicorn's workers), found once: reading only their /proc files
    afterwards is cheap enough to do while a bench's requests are due."""
    found = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def cpu_of(pids: list[int]) -> float:
    """CPU time (user + system) of these processes, from /proc (those gone meanwhile count nothing)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its live children (uvicorn's workers), from /proc."""
    return cpu_of(family(pid))
