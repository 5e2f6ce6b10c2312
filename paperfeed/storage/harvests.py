"""All SQL about OAI-PMH harvests: one row per harvest of a window (endpoint, format, set, from, until).

The row holds the resumption token for the next page. ``record_page`` and ``finish_harvest`` take the
connection of the transaction that stores the page's papers, so papers and token commit together: after a
kill at any point the stored token is exactly the page after the last stored one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from paperfeed.models import Harvest
from paperfeed.storage.db import Database
from paperfeed.storage.schema import harvests as table

RUNNING, DONE, FAILED = "running", "done", "failed"


def unfinished_harvest(
    db: Database, endpoint: str, metadata_prefix: str, set_spec: str, from_date: str, until_date: str
) -> Harvest | None:
    """The latest harvest of this window, if it did not finish (killed while running, or failed).

    Only the latest counts: a harvest started over (``--restart``) supersedes an older failed one."""
    c = table.c
    query = (
        sa.select(table)
        .where(
            c.endpoint == endpoint,
            c.metadata_prefix == metadata_prefix,
            c.set_spec == set_spec,
            c.from_date == from_date,
            c.until_date == until_date,
        )
        .order_by(c.id.desc())
        .limit(1)
    )
    with db.read() as conn:
        row = conn.execute(query).one_or_none()
    if row is None or row.status == DONE:
        return None
    return _harvest(row)


def latest_harvest(db: Database, endpoint: str, metadata_prefix: str, set_spec: str) -> Harvest | None:
    """The most recent harvest of any window from this endpoint, format and set."""
    c = table.c
    query = (
        sa.select(table)
        .where(c.endpoint == endpoint, c.metadata_prefix == metadata_prefix, c.set_spec == set_spec)
        .order_by(c.id.desc())
        .limit(1)
    )
    with db.read() as conn:
        row = conn.execute(query).one_or_none()
    return _harvest(row) if row else None


def start_harvest(
    db: Database,
    endpoint: str,
    metadata_prefix: str,
    set_spec: str,
    from_date: str,
    until_date: str,
    now: datetime | None = None,
) -> Harvest:
    now = now or datetime.now(UTC)
    values = {
        "endpoint": endpoint,
        "metadata_prefix": metadata_prefix,
        "set_spec": set_spec,
        "from_date": from_date,
        "until_date": until_date,
        "resumption_token": None,
        "pages": 0,
        "records": 0,
        "status": RUNNING,
        "error": None,
        "started_at": now,
        "updated_at": now,
    }
    with db.write() as conn:
        row = conn.execute(table.insert().values(**values).returning(table)).one()
    return _harvest(row)


def resume_harvest(db: Database, harvest_id: int, now: datetime | None = None) -> None:
    """Mark a failed or killed harvest as running again (its token is kept)."""
    with db.write() as conn:
        conn.execute(
            table.update()
            .where(table.c.id == harvest_id)
            .values(status=RUNNING, error=None, updated_at=now or datetime.now(UTC))
        )


def record_page(conn: sa.Connection, harvest_id: int, next_token: str, records: int, now: datetime) -> None:
    """One more page stored; ``next_token`` asks for the page after it. Runs in the page's transaction."""
    conn.execute(
        table.update()
        .where(table.c.id == harvest_id)
        .values(
            resumption_token=next_token,
            pages=table.c.pages + 1,
            records=table.c.records + records,
            updated_at=now,
        )
    )


def finish_harvest(conn: sa.Connection, harvest_id: int, records: int, now: datetime) -> None:
    """The last page is stored: the list is complete. Runs in the last page's transaction."""
    conn.execute(
        table.update()
        .where(table.c.id == harvest_id)
        .values(
            resumption_token=None,
            pages=table.c.pages + 1,
            records=table.c.records + records,
            status=DONE,
            error=None,
            updated_at=now,
        )
    )


def fail_harvest(db: Database, harvest_id: int, error: str, now: datetime | None = None) -> None:
    """Record why a harvest stopped; its token stays, so a rerun continues after the last stored page."""
    with db.write() as conn:
        conn.execute(
            table.update()
            .where(table.c.id == harvest_id)
            .values(status=FAILED, error=error, updated_at=now or datetime.now(UTC))
        )


def harvest(db: Database, harvest_id: int) -> Harvest | None:
    with db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == harvest_id)).one_or_none()
    return _harvest(row) if row else None


def _harvest(row: Any) -> Harvest:
    return Harvest(
        id=row.id,
        endpoint=row.endpoint,
        metadata_prefix=row.metadata_prefix,
        set_spec=row.set_spec,
        from_date=row.from_date,
        until_date=row.until_date,
        resumption_token=row.resumption_token,
        pages=row.pages,
        records=row.records,
        status=row.status,
        error=row.error,
        started_at=row.started_at,
        updated_at=row.updated_at,
    )
