"""Online backup of a SQLite database: SQLite's backup API copies a consistent snapshot page by page
while readers and the writer carry on (WAL). PostgreSQL installations use ``pg_dump`` instead."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """The backup cannot be made; the message says why."""


def backup_sqlite(database_url: str, target: Path, pages_per_step: int = 4096) -> int:
    """Copy the database at ``database_url`` to ``target`` (replaced if present); returns pages copied.

    Steps of ``pages_per_step`` pages let the writer in between; a write during the copy makes SQLite
    restart it, so the result is always one consistent state."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            "'paperfeed backup' copies SQLite databases; for PostgreSQL use pg_dump (docs/deploy.md)"
        )
    source_path = Path(url.database or "")
    if not source_path.is_file():
        raise BackupError(f"no SQLite database file at {source_path}")
    if target.resolve() == source_path.resolve():
        raise BackupError("the backup target is the database itself")
    partial = target.with_name(target.name + ".partial")  # a kill mid-copy never leaves a half file as TARGET
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy, pages=pages_per_step)
        pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        copy.close()
        source.close()
    partial.replace(target)
    return pages
