"""Index files a process reads through memory maps, watched so that one cut short is noticed before it is read.

tantivy maps its segment files and usearch maps the vector graph. Deleting a mapped file is harmless (the
pages stay readable until unmapped), but truncating one in place is not: the next read of a page past the
new end kills the whole process with SIGBUS, which Python cannot catch. So an index keeps a descriptor of
each file it maps, with the size it had, and checks them (one ``fstat`` each, about a microsecond) before a
search reads the maps; a file that shrank makes the index stop reading them and answer without that side
until its writer has rebuilt it (issue 17's drills; ``tests/test_drills.py``).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path


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
        stay readable)."""
        return all(os.fstat(fd).st_size >= size for fd, size in self._files)


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)
