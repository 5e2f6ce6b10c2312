"""All SQL about outgoing webhooks: the endpoints members register, the delivery ledger, and the cursors
of the worker's look for new events.

The ledger holds one row per (endpoint, event) under a unique constraint, so finding the same event twice
(a rerun after a crash) adds nothing. The rows of a batch of events and the cursor past them commit in one
transaction: a worker killed mid-batch finds the same events again, none is skipped. A row stays
'pending' until the receiver answered 2xx; then it is 'sent' and never sent again. A worker killed between
the receiver's answer and that mark sends it once more with the same ``webhook-id``, which receivers use
to drop a repeat (Standard Webhooks): a delivery can be repeated by a crash, never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paperfeed.models import Paper, Webhook
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.papers import paper_of_row, paper_query, whole_revs
from paperfeed.storage.schema import (
    claims,
    comments,
    papers,
    submissions,
    users,
    webhook_cursors,
    webhook_deliveries,
    webhooks,
)


def _webhook(row: Any) -> Webhook:
    return Webhook(
        row.id, row.user_id, row.url, tuple(row.events), tuple(row.categories), row.format, row.created_at,
        row.failures, row.disabled_at, row.last_status, row.last_at,
    )  # fmt: skip


# -- endpoints --------------------------------------------------------------------------------------------


def create(
    db: Database,
    user_id: int,
    url: str,
    secret: str,
    events: Sequence[str],
    categories: Sequence[str],
    fmt: str,
    now: datetime,
) -> Webhook:
    with db.write() as conn:
        new_id = conn.execute(
            webhooks.insert()
            .values(
                user_id=user_id,
                url=url,
                secret=secret,
                events=list(events),
                categories=list(categories),
                format=fmt,
                created_at=now,
            )
            .returning(webhooks.c.id)
        ).scalar_one()
    found = webhook(db, new_id)
    assert found is not None
    return found


def webhook(db: Database, webhook_id: int) -> Webhook | None:
    with db.read() as conn:
        row = conn.execute(sa.select(webhooks).where(webhooks.c.id == webhook_id)).one_or_none()
    return _webhook(row) if row else None


def user_webhooks(db: Database, user_id: int) -> list[Webhook]:
    with db.read() as conn:
        rows = conn.execute(sa.select(webhooks).where(webhooks.c.user_id == user_id).order_by(webhooks.c.id))
        return [_webhook(r) for r in rows]


def count_user_webhooks(db: Database, user_id: int) -> int:
    with db.read() as conn:
        query = sa.select(sa.func.count()).where(webhooks.c.user_id == user_id)
        return int(conn.execute(query).scalar_one())


def delete(db: Database, webhook_id: int, user_id: int) -> bool:
    """Remove a member's endpoint and its ledger; False when it is not theirs."""
    with db.write() as conn:
        mine = (webhooks.c.id == webhook_id) & (webhooks.c.user_id == user_id)
        if conn.execute(sa.select(webhooks.c.id).where(mine)).first() is None:
            return False
        conn.execute(webhook_deliveries.delete().where(webhook_deliveries.c.webhook_id == webhook_id))
        conn.execute(webhooks.delete().where(mine))
    return True


def active(db: Database) -> list[tuple[Webhook, bool]]:
    """Every enabled endpoint, with whether its owner is an admin (admins may follow every submission)."""
    query = (
        sa.select(webhooks, users.c.is_admin)
        .select_from(webhooks.join(users, users.c.id == webhooks.c.user_id))
        .where(webhooks.c.disabled_at.is_(None))
    )
    with db.read() as conn:
        return [(_webhook(r), bool(r.is_admin)) for r in conn.execute(query)]


# -- where new events come from ---------------------------------------------------------------------------


def cursor(db: Database, source: str) -> int | None:
    """How far the worker has looked in ``source``; None before its first look."""
    with db.read() as conn:
        query = sa.select(webhook_cursors.c.position).where(webhook_cursors.c.source == source)
        found = conn.execute(query).scalar_one_or_none()
    return None if found is None else int(found)


def last_positions(db: Database) -> dict[str, int]:
    """Where each source stands now: a first look starts here (events before any endpoint don't count)."""
    with db.read() as conn:
        return {
            "papers": int(
                conn.execute(sa.select(sa.func.coalesce(sa.func.max(papers.c.rev), 0))).scalar_one()
            ),
            "comments": int(
                conn.execute(sa.select(sa.func.coalesce(sa.func.max(comments.c.id), 0))).scalar_one()
            ),
            "submissions": int(
                conn.execute(sa.select(sa.func.coalesce(sa.func.max(submissions.c.id), 0))).scalar_one()
            ),
        }


def papers_after(db: Database, rev: int, limit: int) -> list[tuple[int, Paper, datetime]]:
    """Papers stored or changed after ``rev``: (rev, paper, when it was first stored), oldest change first,
    about ``limit`` of them, ending at a whole rev (``papers.whole_revs``)."""
    query = (
        paper_query()
        .add_columns(papers.c.ingested_at.label("first_stored"))
        .where(papers.c.rev > rev)
        .order_by(papers.c.rev, papers.c.id)
    )
    with db.read() as conn:
        return [(int(r.rev), paper_of_row(r), r.first_stored) for r in whole_revs(conn, query, limit)]


@dataclass(frozen=True, slots=True)
class NewComment:
    id: int
    paper_id: str
    user_id: int
    author: str
    body: str
    created_at: datetime
    interested: frozenset[int]  # members who commented on the paper before, or claimed it (approved)


def comments_after(db: Database, comment_id: int, limit: int) -> list[NewComment]:
    query = (
        sa.select(comments, users.c.name)
        .select_from(comments.join(users, users.c.id == comments.c.user_id))
        .where(comments.c.id > comment_id)
        .order_by(comments.c.id)
        .limit(limit)
    )
    found = []
    with db.read() as conn:
        for r in conn.execute(query).all():
            earlier = sa.select(comments.c.user_id).where(
                comments.c.paper_id == r.paper_id, comments.c.id < r.id
            )
            claimed = sa.select(claims.c.user_id).where(
                claims.c.paper_id == r.paper_id, claims.c.status == "approved"
            )
            people = {int(u) for u in conn.execute(earlier.union(claimed)).scalars()}
            found.append(
                NewComment(r.id, r.paper_id, r.user_id, r.name, r.body, r.created_at, frozenset(people))
            )
    return found


def submissions_after(db: Database, submission_id: int, limit: int) -> list[tuple[int, str, str, datetime]]:
    """Submissions queued after ``submission_id``: (id, paper id, the member's handle, when)."""
    query = (
        sa.select(submissions.c.id, submissions.c.paper_id, users.c.name, submissions.c.created_at)
        .select_from(submissions.join(users, users.c.id == submissions.c.user_id))
        .where(submissions.c.id > submission_id)
        .order_by(submissions.c.id)
        .limit(limit)
    )
    with db.read() as conn:
        return [(int(r.id), r.paper_id, r.name, r.created_at) for r in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class NewDelivery:
    id: str  # msg_…
    webhook_id: int
    event_key: str
    event: str
    payload: str


def record(db: Database, source: str, position: int, deliveries: Sequence[NewDelivery], now: datetime) -> int:
    """Add these deliveries (those already in the ledger are left alone) and move ``source``'s cursor to
    ``position``, in one transaction; returns how many were new."""
    added = 0
    with db.write() as conn:
        for d in deliveries:
            stmt = upsert(conn, webhook_deliveries).values(
                id=d.id,
                webhook_id=d.webhook_id,
                event_key=d.event_key,
                event=d.event,
                payload=d.payload,
                status="pending",
                attempts=0,
                created_at=now,
                due_at=now,
            )
            added += conn.execute(stmt.on_conflict_do_nothing()).rowcount or 0
        stmt = upsert(conn, webhook_cursors).values(source=source, position=position)
        conn.execute(stmt.on_conflict_do_update(index_elements=["source"], set_={"position": position}))
    return added


# -- delivering ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    id: str
    webhook_id: int
    event: str
    payload: str
    attempts: int
    created_at: datetime
    url: str
    secret: str
    format: str


def due(db: Database, now: datetime, limit: int) -> list[Due]:
    """Pending deliveries whose time has come, to enabled endpoints, oldest first."""
    d = webhook_deliveries
    query = (
        sa.select(d, webhooks.c.url, webhooks.c.secret, webhooks.c.format)
        .select_from(d.join(webhooks, webhooks.c.id == d.c.webhook_id))
        .where(d.c.status == "pending", d.c.due_at <= now, webhooks.c.disabled_at.is_(None))
        .order_by(d.c.due_at, d.c.created_at, d.c.id)
        .limit(limit)
    )
    with db.read() as conn:
        return [
            Due(r.id, r.webhook_id, r.event, r.payload, r.attempts, r.created_at, r.url, r.secret, r.format)
            for r in conn.execute(query)
        ]


def mark_sent(db: Database, delivery_id: str, webhook_id: int, status: str, now: datetime) -> None:
    with db.write() as conn:
        conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == delivery_id)
            .values(
                status="sent", sent_at=now, last_status=status, attempts=webhook_deliveries.c.attempts + 1
            )
        )
        conn.execute(
            webhooks.update()
            .where(webhooks.c.id == webhook_id)
            .values(failures=0, last_status=status, last_at=now)
        )


def mark_failed(
    db: Database,
    delivery_id: str,
    webhook_id: int,
    status: str,
    retry_at: datetime | None,
    disable_after: int,
    now: datetime,
) -> bool:
    """Record a failed try: the delivery waits until ``retry_at`` (None: it is given up, 'failed'); the
    endpoint counts one more failure in a row and is disabled at ``disable_after``. True if it was."""
    with db.write() as conn:
        values: dict[str, Any] = {"last_status": status, "attempts": webhook_deliveries.c.attempts + 1}
        values.update({"due_at": retry_at} if retry_at else {"status": "failed"})
        conn.execute(
            webhook_deliveries.update().where(webhook_deliveries.c.id == delivery_id).values(**values)
        )
        failures = conn.execute(
            webhooks.update()
            .where(webhooks.c.id == webhook_id)
            .values(failures=webhooks.c.failures + 1, last_status=status, last_at=now)
            .returning(webhooks.c.failures)
        ).scalar_one()
        if failures >= disable_after:
            conn.execute(
                webhooks.update()
                .where(webhooks.c.id == webhook_id, webhooks.c.disabled_at.is_(None))
                .values(disabled_at=now)
            )
            return True
    return False


def enable(db: Database, webhook_id: int, user_id: int) -> bool:
    """Re-enable a disabled endpoint (its failures forgotten); False when it is not the member's."""
    with db.write() as conn:
        done = conn.execute(
            webhooks.update()
            .where(webhooks.c.id == webhook_id, webhooks.c.user_id == user_id)
            .values(disabled_at=None, failures=0)
        ).rowcount
    return bool(done)


def deliveries(db: Database, webhook_id: int, limit: int = 20) -> list[tuple[str, str, str, int, str | None]]:
    """The endpoint's latest deliveries: (id, event, status, attempts, last status), newest first."""
    d = webhook_deliveries
    query = (
        sa.select(d.c.id, d.c.event, d.c.status, d.c.attempts, d.c.last_status)
        .where(d.c.webhook_id == webhook_id)
        .order_by(d.c.created_at.desc(), d.c.id.desc())
        .limit(limit)
    )
    with db.read() as conn:
        return [(r.id, r.event, r.status, int(r.attempts), r.last_status) for r in conn.execute(query)]
