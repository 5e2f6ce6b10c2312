"""How far a file import got: the line after the last committed batch, per source file."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import ingest_checkpoints as table


def line_reached(db: Database, source: str) -> int:
    with db.read() as conn:
        found = conn.execute(sa.select(table.c.line).where(table.c.source == source)).scalar_one_or_none()
    return int(found or 0)


def reach_line(conn: sa.Connection, source: str, line: int) -> None:
    """Record progress inside the caller's transaction, the one that stores the batch up to ``line``."""
    stmt = upsert(conn, table).values(source=source, line=line, updated_at=datetime.now(UTC))
    stmt = stmt.on_conflict_do_update(
        index_elements=["source"], set_={"line": line, "updated_at": stmt.excluded.updated_at}
    )
    conn.execute(stmt)


def forget(db: Database, source: str) -> None:
    with db.write() as conn:
        conn.execute(table.delete().where(table.c.source == source))
