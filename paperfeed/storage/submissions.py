"""All SQL about the submissions queue: papers members submitted that were not stored yet, waiting for
the worker to fetch them from arXiv (``paperfeed.ingest.submit``).

One row per paper (a paper is submitted once): ``pending`` until the worker stored it and put it on the
feed (``done``) or gave up (``failed``, with the reason in ``message``). A failed row can be submitted
again, by anyone; it then starts over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paperfeed.models import QueuedSubmission
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import submissions, users

PENDING, DONE, FAILED = "pending", "done", "failed"


def _select() -> sa.Select[Any]:
    return sa.select(submissions, users.c.name.label("submitted_by")).select_from(
        submissions.join(users, submissions.c.user_id == users.c.id)
    )


def _queued(row: Any) -> QueuedSubmission:
    return QueuedSubmission(
        id=row.id,
        paper_id=row.paper_id,
        user_id=row.user_id,
        submitted_by=row.submitted_by,
        status=row.status,
        attempts=row.attempts,
        message=row.message,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def enqueue(db: Database, paper_id: str, user_id: int, now: datetime) -> tuple[QueuedSubmission, bool]:
    """Queue a paper for fetching. (the row, True) when this call queued it, also over a failed row;
    (the row as it stands, False) when it is pending or done already."""
    c = submissions.c
    fresh = {
        "user_id": user_id,
        "status": PENDING,
        "attempts": 0,
        "message": None,
        "created_at": now,
        "updated_at": now,
        "next_try_at": now,
    }
    with db.write() as conn:
        # RETURNING tells whether the row was inserted (psycopg reports no rowcount for an INSERT).
        inserted = conn.execute(
            upsert(conn, submissions)
            .values(paper_id=paper_id, **fresh)
            .on_conflict_do_nothing(index_elements=["paper_id"])
            .returning(c.id)
        ).first()
        queued = inserted is not None
        if not queued:
            again = conn.execute(
                submissions.update().where(c.paper_id == paper_id, c.status == FAILED).values(**fresh)
            )
            queued = bool(again.rowcount)
        row = conn.execute(_select().where(c.paper_id == paper_id)).one()
    return _queued(row), queued


def submission(db: Database, paper_id: str) -> QueuedSubmission | None:
    with db.read() as conn:
        row = conn.execute(_select().where(submissions.c.paper_id == paper_id)).one_or_none()
    return _queued(row) if row else None


def due(db: Database, now: datetime, limit: int) -> list[QueuedSubmission]:
    """Pending submissions whose next try has come, longest waiting first."""
    c = submissions.c
    query = (
        _select().where(c.status == PENDING, c.next_try_at <= now).order_by(c.next_try_at, c.id).limit(limit)
    )
    with db.read() as conn:
        return [_queued(r) for r in conn.execute(query)]


def finish(db: Database, submission_id: int, status: str, message: str | None, now: datetime) -> None:
    """Mark a pending submission done or failed."""
    c = submissions.c
    with db.write() as conn:
        conn.execute(
            submissions.update()
            .where(c.id == submission_id, c.status == PENDING)
            .values(status=status, message=message, updated_at=now)
        )


def try_later(db: Database, submission_id: int, message: str, next_try_at: datetime, now: datetime) -> int:
    """Count a try that could not reach arXiv and leave the submission pending until ``next_try_at``;
    the number of failed tries so far."""
    c = submissions.c
    with db.write() as conn:
        attempts = conn.execute(
            submissions.update()
            .where(c.id == submission_id, c.status == PENDING)
            .values(attempts=c.attempts + 1, message=message, next_try_at=next_try_at, updated_at=now)
            .returning(c.attempts)
        ).scalar_one_or_none()
    return int(attempts or 0)


def member_submissions(db: Database, user_id: int, limit: int = 20) -> list[QueuedSubmission]:
    """A member's latest queued submissions (pending, done and failed), newest first."""
    c = submissions.c
    query = _select().where(c.user_id == user_id).order_by(c.created_at.desc(), c.id.desc()).limit(limit)
    with db.read() as conn:
        return [_queued(r) for r in conn.execute(query)]


def count_pending(db: Database) -> int:
    with db.read() as conn:
        found = conn.execute(sa.select(sa.func.count()).where(submissions.c.status == PENDING)).scalar_one()
    return int(found)
