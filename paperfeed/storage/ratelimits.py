"""All SQL about rate limits: one fixed-window counter row per (action, who), in the database.

Why the database and not memory: ``paperfeed serve --workers N`` runs N processes, and on PostgreSQL
several hosts; a counter in one process's memory would let each worker grant the full rate. One
INSERT … ON CONFLICT DO UPDATE … RETURNING per write is atomic on both backends (SQLite serialises
writers with BEGIN IMMEDIATE; PostgreSQL locks the row), so concurrent workers count the same hits. A write
may count several hits at once: web/limits.py reserves a few per write for the requests to come.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import rate_limits


def hit(db: Database, key: str, window: timedelta, now: datetime, units: int = 1) -> tuple[int, datetime]:
    """Count ``units`` hits for ``key``; (hits in the current window including these, when it started)."""
    expired = rate_limits.c.window_start <= now - window
    with db.write() as conn:
        stmt = upsert(conn, rate_limits).values(key=key, window_start=now, hits=units)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "window_start": sa.case(
                    (expired, stmt.excluded.window_start), else_=rate_limits.c.window_start
                ),
                "hits": sa.case((expired, units), else_=rate_limits.c.hits + units),
            },
        )
        row = conn.execute(stmt.returning(rate_limits.c.hits, rate_limits.c.window_start)).one()
    return int(row.hits), row.window_start


def forget_before(db: Database, before: datetime) -> int:
    """Drop windows that ended before ``before`` (housekeeping; a stale row is reset on its next hit)."""
    with db.write() as conn:
        return conn.execute(rate_limits.delete().where(rate_limits.c.window_start < before)).rowcount
