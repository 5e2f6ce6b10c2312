"""Brings a database to the newest schema with Alembic; the ordered migrations live in ``migrations/versions``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from paperfeed.storage.db import Database

_SCRIPTS = Path(__file__).parent / "migrations"


def _config(db: Database | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    if db is not None:
        cfg.attributes["engine"] = db.engine
    return cfg


def upgrade(db: Database, to: str = "head") -> None:
    """Apply every migration not yet recorded in the database, up to ``to`` (a no-op when current)."""
    command.upgrade(_config(db), to)


def current(db: Database) -> str | None:
    """The revision the database stands at (None for an empty database)."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str | None:
    """The newest revision this code knows."""
    return ScriptDirectory.from_config(_config()).get_current_head()
