"""What every ``paperfeed`` command shares: the context (settings, the database opened on first use), the
decorator that hands it to a command, the exit codes, and the one way to fail.

Exit codes, for cron: 0 done; 1 failed (nothing half-written: every batch is its own transaction);
3 done, but some records were rejected or some digests must wait for a rerun (each is named on stderr).
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from paperfeed import settings as settings_module
from paperfeed.search.keyword import KeywordIndex
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database

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
        return KeywordIndex(self.settings.resolved_index_dir())


pass_context = click.make_pass_decorator(Context, ensure=True)


def fail(message: str) -> NoReturn:
    """One line on stderr, then exit 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_FAILED)
