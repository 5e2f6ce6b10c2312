"""The storage layer: every SQL statement paperfeed runs lives in this package.

``Database`` opens SQLite or PostgreSQL; ``migrate`` brings the schema up to date; one module per entity
(``papers``, ``harvests``, …) answers questions with plain dataclasses from ``paperfeed.models``.
"""

from paperfeed.storage.db import Database
from paperfeed.storage.migrate import upgrade


def open_database(url: str, migrate: bool = True) -> Database:
    """Open the database at ``url``, migrating it to the newest schema first unless told not to."""
    db = Database(url)
    if migrate:
        upgrade(db)
    return db


__all__ = ["Database", "open_database"]
