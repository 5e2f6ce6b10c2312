"""All SQL about sending digests: the delivery ledger, the papers each subscriber was sent, and the
sender processes.

The ledger holds one row per (subscriber, period) under a unique constraint. A sender *claims* a digest
by inserting that row (``INSERT … ON CONFLICT DO NOTHING``; a 'retry' row by a conditional ``UPDATE``),
both of which exactly one of any number of concurrent senders wins, on SQLite and PostgreSQL alike. The
row is marked 'sent' only after the SMTP server accepted the message; a row still 'claimed' by a sender
that died is marked 'unknown' and never sent again: a digest may be lost to a crash, never duplicated.

A member's unread notifications ride in their digest the same way as its papers: taken (marked emailed at
the claim's time) in the claiming transaction, handed back when the server refused the digest.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paperfeed.models import Notification
from paperfeed.storage import notifications
from paperfeed.storage.db import Database
from paperfeed.storage.feedback import seen_among_in, seen_in, unsee_in
from paperfeed.storage.schema import (
    UTCDateTime,
    digest_deliveries,
    digest_papers,
    digest_senders,
    subscribers,
)
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
    paper_ids: list[str]  # with no notifications either: recorded as 'empty', nothing to send
    notifications: list[Notification] = field(default_factory=list)


def claim(
    db: Database,
    subscriber_id: int,
    period: str,
    sender_id: str,
    now: datetime,
    shortlist: Collection[str],
    choose: Callable[[set[str]], list[str]],
    done: tuple[int, str] | None = None,
    member: int | None = None,
    max_notifications: int = 0,
) -> Claim | None:
    """Claim the digest of (subscriber, period) and record the papers it will carry, in one transaction.

    ``choose`` gets the papers of ``shortlist`` this subscriber was already sent and returns the ids the
    digest carries. None when the digest is not ours to send: sent, claimed by another sender, or the
    subscriber is no longer active. ``done`` = (delivery id, Message-ID) of the previous digest this
    sender had accepted: marked 'sent' in the same transaction, which halves the commits per digest.
    ``member``: the subscriber's linked account, whose unread notifications (up to ``max_notifications``)
    the digest carries too.
    The papers chosen are recorded as seen by ``member`` (via 'digest') in the same transaction, and what
    they have seen on any channel counts as sent: a claimed digest is seen, whatever happens next."""
    c = digest_deliveries.c
    now_param = {"now": now}
    with db.write() as conn:
        if done is not None:
            conn.execute(_MARK_SENT, {"id": done[0], "sender": sender_id, "message_id": done[1], **now_param})
        keys = {"subscriber": subscriber_id, "period": period, "sender": sender_id}
        delivery_id = conn.execute(_CLAIM, {**keys, **now_param}).scalar_one_or_none()
        if delivery_id is None:  # someone claimed it before: take it over only if a transient error freed it
            delivery_id = conn.execute(
                digest_deliveries.update()
                .where(
                    c.subscriber_id == subscriber_id,
                    c.period == period,
                    c.status == "retry",
                    sa.exists().where(
                        subscribers.c.id == subscriber_id,
                        subscribers.c.status == "active",
                        subscribers.c.paused == sa.false(),
                    ),
                )
                .values(status="claimed", sender_id=sender_id, claimed_at=now, attempts=c.attempts + 1)
                .returning(c.id)
            ).scalar_one_or_none()
        if delivery_id is None:
            return None
        sent: set[str] = set()
        if shortlist:
            found = conn.execute(_SENT_AMONG, {"subscriber": subscriber_id, "ids": list(shortlist)})
            sent = set(found.scalars())
            if member is not None:
                sent |= seen_among_in(conn, member, shortlist)
        chosen = choose(sent)
        notes: list[Notification] = []
        if member is not None and max_notifications > 0:
            notes = notifications.take_for_digest(conn, member, now, max_notifications)
        if chosen:
            rows = [{"subscriber": subscriber_id, "paper": i, "period": period} for i in chosen]
            conn.execute(_RECORD_PAPERS, rows)
            if member is not None:
                seen_in(conn, member, chosen, "digest", now, unseen=True)  # ``sent`` held the seen
        elif not notes:
            conn.execute(
                digest_deliveries.update().where(c.id == delivery_id).values(status="empty", finished_at=now)
            )
        return Claim(delivery_id, chosen, notes)


# The statements a digest runs, written once as SQL both dialects read the same way: building them
# with Core expressions on every call cost more than the database work itself (measured: 3/4 of a
# claim's time). The SELECT in an INSERT … SELECT … ON CONFLICT needs its WHERE (SQLite's parser).
_CLAIM = sa.text(
    "INSERT INTO digest_deliveries (subscriber_id, period, status, sender_id, attempts, claimed_at) "
    "SELECT id, :period, 'claimed', :sender, 1, :now FROM subscribers "
    "WHERE id = :subscriber AND status = 'active' AND NOT paused "
    "ON CONFLICT (subscriber_id, period) DO NOTHING RETURNING id"
).bindparams(sa.bindparam("now", type_=UTCDateTime()))
_MARK_SENT = sa.text(
    # 'unknown' too: another sender may have taken this one for dead, but the server accepted it.
    "UPDATE digest_deliveries SET status = 'sent', finished_at = :now, message_id = :message_id, "
    "error = NULL WHERE id = :id AND sender_id = :sender AND status IN ('claimed', 'unknown')"
).bindparams(sa.bindparam("now", type_=UTCDateTime()))
_SENT_AMONG = sa.text(
    "SELECT paper_id FROM digest_papers WHERE subscriber_id = :subscriber AND paper_id IN :ids"
).bindparams(sa.bindparam("ids", expanding=True))
_RECORD_PAPERS = sa.text(
    "INSERT INTO digest_papers (subscriber_id, paper_id, period) VALUES (:subscriber, :paper, :period) "
    "ON CONFLICT DO NOTHING"
)


def _mark_sent(conn: sa.Connection, delivery_id: int, sender_id: str, message_id: str, now: datetime) -> None:
    conn.execute(_MARK_SENT, {"id": delivery_id, "sender": sender_id, "message_id": message_id, "now": now})


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
    Except for 'unknown', the papers and notifications it would have carried count as unsent."""
    c = digest_deliveries.c
    with db.write() as conn:
        row = conn.execute(
            digest_deliveries.update()
            .where(c.id == delivery_id)
            .values(status=status, finished_at=now, error=error[:1000])
            .returning(c.subscriber_id, c.period, c.claimed_at)
        ).one()
        if status != "unknown":
            p = digest_papers.c
            mine = (p.subscriber_id == row.subscriber_id, p.period == row.period)
            member = conn.execute(
                sa.select(subscribers.c.user_id).where(subscribers.c.id == row.subscriber_id)
            ).scalar_one_or_none()
            if member is not None:  # never delivered: not seen, and its notifications unread again
                unsent = list(conn.execute(sa.select(p.paper_id).where(*mine)).scalars())
                unsee_in(conn, member, unsent, "digest")
                notifications.untake(conn, member, row.claimed_at)
            conn.execute(digest_papers.delete().where(*mine))
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
