"""What every ``paperfeed`` command shares: the context (settings, the database opened on first use), the
decorator that hands it to a command, the exit codes, and the one way to fail.

Exit codes, for cron: 0 done; 1 failed (nothing half-written: every batch is its own transaction);
3 done, but some records were rejected or some digests must wait for a rerun (each is named on stderr).
A full disk or a database that cannot be reached is one line and exit 1 (``refused``), not a traceback.
"""

from __future__ import annotations

import errno
import sqlite3
import sys
from collections.abc import Iterator
from typing import NoReturn

import click

from paperfeed import settings as settings_module
from paperfeed.search.keyword import KeywordIndex
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from paperfeed.storage.db import unavailable

EXIT_FAILED = 1
EXIT_REJECTED = 3


class Context:
    """Created by the top-level group (which may override the database URL); the database is opened,
    and migrated, only when a command first asks for it, so ``paperfeed settings`` needs none."""

    def __init__(self) -> None:
        self.settings: Settings = settings_module.load()
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = open_database(self.settings.database_url)
        return self._db

    def keywords(self) -> KeywordIndex:
        return KeywordIndex(self.settings.resolved_index_dir(), self.settings.search_fulltext)


pass_context = click.make_pass_decorator(Context, ensure=True)


def fail(message: str) -> NoReturn:
    """One line on stderr, then exit 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_FAILED)


def refused(error: BaseException) -> str | None:
    """The one-line reason for an error the machine caused rather than the command (the disk full, the
    database unreachable), or None. Every batch is its own transaction, so what was stored stays stored."""
    if any(_no_space(e) for e in _chain(error)):
        return (
            f"the disk is full ({_first_line(error)}); the papers stored before are kept: free some space "
            "and run the same command again to continue"
        )
    if unavailable(error):
        return f"the database is unavailable ({_first_line(error)}); run the command again once it is back"
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _no_space(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(error, sqlite3.OperationalError):
        return "disk is full" in str(error)
    # tantivy reports its I/O errors as ValueError, with the system's message inside.
    return isinstance(error, ValueError) and "No space left on device" in str(error)


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error  # SQLAlchemy's wrapper adds the statement: not wanted
    return str(orig).strip().splitlines()[0][:300] if str(orig).strip() else type(orig).__name__
