"""Index files a process reads through memory maps, watched so that one cut short is noticed before it is read.

tantivy maps its segment files and usearch maps the vector graph. Deleting a mapped file is harmless (the
pages stay readable until unmapped), but truncating one in place is not: the next read of a page past the
new end kills the whole process with SIGBUS, which Python cannot catch. So an index keeps a descriptor of
each file it maps, with the size it had, and checks them (one ``fstat`` each, about a microsecond) before a
search reads the maps; a file that shrank makes the index stop reading them and answer without that side
until its writer has rebuilt it (issue 17's drills; ``tests/test_drills.py``).

Inside ``one_check()`` (a whole search: hybrid.Searcher) each set of files is checked once, at its first
read, not before each read (issue 18: at a million papers the keyword index maps ~170 files, and one search
read them three or four times). The guarantee is the same: a file cut short before the search began is
never read. A cut during a search was never caught by the checks either (it can land during a read).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

# The Watched found whole in the current ``one_check()`` block; None outside one.
_whole: ContextVar[set[Watched] | None] = ContextVar("mapped_whole", default=None)


@contextmanager
def one_check() -> Iterator[None]:
    """Check each set of files at most once within this block (the reads of one search)."""
    token = _whole.set(set())
    try:
        yield
    finally:
        _whole.reset(token)


class Watched:
    """Descriptors of some files and their sizes when they were mapped; closed with the object."""

    def __init__(self, paths: Iterable[Path], needed: Mapping[Path, int] | None = None) -> None:
        """``needed``: for some of the files, the size they must keep (by default, the size they have)."""
        self._files: list[tuple[int, int]] = []
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # removed since it was listed (a merge): nothing maps it any more
            self._files.append((fd, (needed or {}).get(path, os.fstat(fd).st_size)))
        weakref.finalize(self, _close, [fd for fd, _ in self._files])

    def intact(self) -> bool:
        """No file is shorter than when it was mapped (a deleted file still counts as intact: its pages
        stay readable). Within ``one_check()``, once: later calls there answer True."""
        checked = _whole.get()
        if checked is not None and self in checked:
            return True
        if not all(os.fstat(fd).st_size >= size for fd, size in self._files):
            return False
        if checked is not None:
            checked.add(self)
        return True


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)
