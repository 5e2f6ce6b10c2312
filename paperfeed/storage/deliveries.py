"""All SQL about sending digests: the delivery ledger, the papers each subscriber was sent, and the
sender processes.

The ledger holds one row per (subscriber, period) under a unique constraint. A sender *claims* a digest
by inserting that row (``INSERT … ON CONFLICT DO NOTHING``; a 'retry' row by a conditional ``UPDATE``),
both of which exactly one of any number of concurrent senders wins, on SQLite and PostgreSQL alike. The
row is marked 'sent' only after the SMTP server accepted the message; a row still 'claimed' by a sender
that died is marked 'unknown' and never sent again: a digest may be lost to a crash, never duplicated.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import digest_deliveries, digest_papers, digest_senders, subscribers
from paperfeed.storage.subscribers import suppress_in

# -- sender processes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sender:
    id: str
    host: str
    pid: int
    process_start: str
    heartbeat_at: datetime


def register_sender(db: Database, sender: Sender, now: datetime) -> None:
    with db.write() as conn:
        conn.execute(
            digest_senders.insert().values(
                id=sender.id,
                host=sender.host,
                pid=sender.pid,
                process_start=sender.process_start,
                started_at=now,
                heartbeat_at=now,
            )
        )


def heartbeat(db: Database, sender_id: str, now: datetime) -> None:
    with db.write() as conn:
        conn.execute(digest_senders.update().where(digest_senders.c.id == sender_id).values(heartbeat_at=now))


def finish_sender(db: Database, sender_id: str, now: datetime) -> None:
    with db.write() as conn:
        conn.execute(digest_senders.update().where(digest_senders.c.id == sender_id).values(finished_at=now))


def running_senders(db: Database) -> list[Sender]:
    """Senders that never said they finished: alive, or killed."""
    c = digest_senders.c
    with db.read() as conn:
        rows = conn.execute(
            sa.select(c.id, c.host, c.pid, c.process_start, c.heartbeat_at).where(c.finished_at.is_(None))
        )
        return [Sender(r.id, r.host, r.pid, r.process_start, r.heartbeat_at) for r in rows]


def mark_dead(db: Database, sender_ids: Sequence[str], now: datetime) -> int:
    """Digests that dead senders had claimed but not marked become 'unknown' (the server may or may not
    have accepted them, so they are not sent again); returns how many."""
    if not sender_ids:
        return 0
    c = digest_deliveries.c
    with db.write() as conn:
        done = conn.execute(
            digest_deliveries.update()
            .where(c.sender_id.in_(list(sender_ids)), c.status == "claimed")
            .values(status="unknown", finished_at=now, error="the sender stopped while sending")
        )
        conn.execute(
            digest_senders.update().where(digest_senders.c.id.in_(list(sender_ids))).values(finished_at=now)
        )
        return int(done.rowcount)


# -- the ledger ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: int
    paper_ids: list[str]  # empty: nothing new for this subscriber, recorded as 'empty', nothing to send


def claim(
    db: Database,
    subscriber_id: int,
    period: str,
    sender_id: str,
    now: datetime,
    shortlist: Collection[str],
    choose: Callable[[set[str]], list[str]],
    done: tuple[int, str] | None = None,
) -> Claim | None:
    """Claim the digest of (subscriber, period) and record the papers it will carry, in one transaction.

    ``choose`` gets the papers of ``shortlist`` this subscriber was already sent and returns the ids the
    digest carries. None when the digest is not ours to send: sent, claimed by another sender, or the
    subscriber is no longer active. ``done`` = (delivery id, Message-ID) of the previous digest this
    sender had accepted: marked 'sent' in the same transaction, which halves the commits per digest."""
    c = digest_deliveries.c
    with db.write() as conn:
        if done is not None:
            _mark_sent(conn, done[0], sender_id, done[1], now)
        status = conn.execute(
            sa.select(subscribers.c.status, subscribers.c.paused).where(subscribers.c.id == subscriber_id)
        ).one_or_none()
        if status is None or status.status != "active" or status.paused:
            return None
        delivery_id = conn.execute(
            upsert(conn, digest_deliveries)
            .values(
                subscriber_id=subscriber_id,
                period=period,
                status="claimed",
                sender_id=sender_id,
                claimed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["subscriber_id", "period"])
            .returning(c.id)
        ).scalar_one_or_none()
        if delivery_id is None:  # someone claimed it before: take it over only if a transient error freed it
            delivery_id = conn.execute(
                digest_deliveries.update()
                .where(c.subscriber_id == subscriber_id, c.period == period, c.status == "retry")
                .values(status="claimed", sender_id=sender_id, claimed_at=now, attempts=c.attempts + 1)
                .returning(c.id)
            ).scalar_one_or_none()
        if delivery_id is None:
            return None
        sent: set[str] = set()
        if shortlist:
            p = digest_papers.c
            sent = set(
                conn.execute(
                    sa.select(p.paper_id).where(
                        p.subscriber_id == subscriber_id, p.paper_id.in_(list(shortlist))
                    )
                ).scalars()
            )
        chosen = choose(sent)
        if chosen:
            conn.execute(
                upsert(conn, digest_papers).on_conflict_do_nothing(),
                [{"subscriber_id": subscriber_id, "paper_id": i, "period": period} for i in chosen],
            )
        else:
            conn.execute(
                digest_deliveries.update().where(c.id == delivery_id).values(status="empty", finished_at=now)
            )
        return Claim(delivery_id, chosen)


def _mark_sent(conn: sa.Connection, delivery_id: int, sender_id: str, message_id: str, now: datetime) -> None:
    c = digest_deliveries.c
    # 'unknown' too: another sender may have taken this one for dead, but the server accepted it.
    conn.execute(
        digest_deliveries.update()
        .where(c.id == delivery_id, c.sender_id == sender_id, c.status.in_(("claimed", "unknown")))
        .values(status="sent", finished_at=now, message_id=message_id, error=None)
    )


def mark_sent(db: Database, delivery_id: int, sender_id: str, message_id: str, now: datetime) -> None:
    with db.write() as conn:
        _mark_sent(conn, delivery_id, sender_id, message_id, now)


def mark_unsent(
    db: Database,
    delivery_id: int,
    error: str,
    now: datetime,
    status: str,
    suppress_reason: str | None = None,
) -> None:
    """The server did not take the message. 'retry' (a transient error: the next run sends it),
    'failed' (permanent; with ``suppress_reason`` the address is suppressed too) or 'unknown' (the
    connection broke while the message was being handed over: it may have arrived, so never again).
    Except for 'unknown', the papers it would have carried count as unsent."""
    c = digest_deliveries.c
    with db.write() as conn:
        row = conn.execute(
            digest_deliveries.update()
            .where(c.id == delivery_id)
            .values(status=status, finished_at=now, error=error[:1000])
            .returning(c.subscriber_id, c.period)
        ).one()
        if status != "unknown":
            p = digest_papers.c
            conn.execute(
                digest_papers.delete().where(p.subscriber_id == row.subscriber_id, p.period == row.period)
            )
        if suppress_reason:
            suppress_in(conn, row.subscriber_id, suppress_reason, now)


def period_counts(db: Database, period: str) -> dict[str, int]:
    """Deliveries of a period per status."""
    c = digest_deliveries.c
    with db.read() as conn:
        rows = conn.execute(
            sa.select(c.status, sa.func.count()).where(c.period == period).group_by(c.status)
        ).all()
    return {r[0]: int(r[1]) for r in rows}


def deliveries(db: Database, period: str) -> list[dict[str, Any]]:
    """Every delivery of a period (subscriber id, email, status, Message-ID), for reports and tests."""
    c = digest_deliveries.c
    query = (
        sa.select(c.id, c.subscriber_id, subscribers.c.email, c.status, c.message_id, c.attempts, c.error)
        .select_from(digest_deliveries.join(subscribers, subscribers.c.id == c.subscriber_id))
        .where(c.period == period)
        .order_by(c.subscriber_id)
    )
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def papers_sent(db: Database, subscriber_id: int) -> dict[str, str]:
    """paper id → period, for every paper this subscriber was sent."""
    p = digest_papers.c
    with db.read() as conn:
        rows = conn.execute(sa.select(p.paper_id, p.period).where(p.subscriber_id == subscriber_id))
        return {r.paper_id: r.period for r in rows}
