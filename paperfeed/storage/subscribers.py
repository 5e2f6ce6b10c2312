"""All SQL about digest subscribers: double opt-in, suppression, preferences and the sender's pages.

Addresses arrive here normalised (``paperfeed.digest.subscriptions.normalize_email``). A suppressed
address (unsubscribed or bounced) is never made active again except by its owner confirming a new
subscription, so neither ``add`` nor ``import`` can undo an unsubscribe.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from paperfeed.models import Follow, Subscriber
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import subscriber_follows, subscribers

Requested = Literal["queued", "rate_limited", "already_active"]


def _subscriber(row: Any, follows: Sequence[Follow] = ()) -> Subscriber:
    return Subscriber(
        id=row.id,
        email=row.email,
        frequency=row.frequency,
        status=row.status,
        paused=bool(row.paused),
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        suppressed_reason=row.suppressed_reason,
        user_id=row.user_id,
        follows=tuple(follows),
    )


def _follows(conn: sa.Connection, ids: Sequence[int]) -> dict[int, list[Follow]]:
    out: dict[int, list[Follow]] = {i: [] for i in ids}
    if ids:
        c = subscriber_follows.c
        query = sa.select(c.subscriber_id, c.kind, c.value).where(c.subscriber_id.in_(list(ids)))
        for row in conn.execute(query.order_by(c.subscriber_id, c.kind, c.value)):
            out[row.subscriber_id].append(Follow(row.kind, row.value))
    return out


def subscriber(db: Database, subscriber_id: int) -> Subscriber | None:
    with db.read() as conn:
        row = conn.execute(sa.select(subscribers).where(subscribers.c.id == subscriber_id)).one_or_none()
        return _subscriber(row, _follows(conn, [row.id])[row.id]) if row else None


def subscriber_by_email(db: Database, email: str) -> Subscriber | None:
    with db.read() as conn:
        row = conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).one_or_none()
        return _subscriber(row, _follows(conn, [row.id])[row.id]) if row else None


def request_confirmation(
    db: Database, email: str, frequency: str, now: datetime, resend_after: timedelta
) -> Requested:
    """Record a subscribe request. 'queued': a confirmation email is now due (the worker sends it,
    ``due_confirmations``); 'rate_limited': one is due already or went out too recently; 'already_active':
    nothing to do."""
    c = subscribers.c
    with db.write() as conn:
        row = conn.execute(
            sa.select(c.id, c.status, c.confirm_sent_at, c.confirm_due_at).where(c.email == email)
        ).one_or_none()
        if row is None:
            # Two first requests at once: the loser's insert conflicts and queues nothing (RETURNING
            # says which, as psycopg reports no rowcount for an INSERT).
            stmt = upsert(conn, subscribers).values(
                email=email, frequency=frequency, status="pending", created_at=now, confirm_due_at=now
            )
            done = conn.execute(stmt.on_conflict_do_nothing(index_elements=["email"]).returning(c.id))
            return "queued" if done.first() is not None else "rate_limited"
        if row.status == "active":
            return "already_active"
        if row.confirm_due_at is not None or (
            row.confirm_sent_at is not None and now - row.confirm_sent_at < resend_after
        ):
            return "rate_limited"
        # A pending or suppressed address keeps its old token until the worker sends a new one (the old
        # link then stops working); a suppressed address stays suppressed until it is confirmed.
        conn.execute(
            subscribers.update().where(c.id == row.id).values(frequency=frequency, confirm_due_at=now)
        )
        return "queued"


@dataclass(frozen=True, slots=True)
class DueConfirmation:
    subscriber_id: int
    email: str
    frequency: str
    due_at: datetime  # when it was asked for


def due_confirmations(db: Database, limit: int, email: str | None = None) -> list[DueConfirmation]:
    """Confirmation emails waiting to be sent, oldest request first (only ``email``'s when given)."""
    c = subscribers.c
    query = sa.select(c.id, c.email, c.frequency, c.confirm_due_at).where(
        c.confirm_due_at.is_not(None), c.status != "active"
    )
    if email is not None:
        query = query.where(c.email == email)
    with db.read() as conn:
        rows = conn.execute(query.order_by(c.confirm_due_at, c.id).limit(limit)).all()
    return [DueConfirmation(r.id, r.email, r.frequency, r.confirm_due_at) for r in rows]


def claim_confirmation(
    db: Database, due: DueConfirmation, token_hash: str, expires_at: datetime, now: datetime
) -> bool:
    """Take a due confirmation for sending, with the token its email will carry (only the hash is kept;
    it replaces any earlier one). False when another sender took it, or the address became active."""
    c = subscribers.c
    with db.write() as conn:
        done = conn.execute(
            subscribers.update()
            .where(c.id == due.subscriber_id, c.confirm_due_at == due.due_at, c.status != "active")
            .values(
                confirm_token_hash=token_hash,
                confirm_expires_at=expires_at,
                confirm_sent_at=now,
                confirm_due_at=None,
            )
        )
        return bool(done.rowcount)


def requeue_confirmation(db: Database, due: DueConfirmation) -> None:
    """Make a claimed confirmation due again (the SMTP server said: try again later)."""
    c = subscribers.c
    with db.write() as conn:
        conn.execute(
            subscribers.update()
            .where(c.id == due.subscriber_id, c.confirm_due_at.is_(None), c.status != "active")
            .values(confirm_due_at=due.due_at)
        )


def drop_confirmation(db: Database, due: DueConfirmation) -> None:
    """Forget a confirmation that is no longer worth sending (asked for longer ago than a link lives)."""
    c = subscribers.c
    with db.write() as conn:
        conn.execute(
            subscribers.update()
            .where(c.id == due.subscriber_id, c.confirm_due_at == due.due_at)
            .values(confirm_due_at=None)
        )


def by_confirm_token(db: Database, token_hash: str, now: datetime) -> Subscriber | None:
    """The subscription an unexpired confirmation token would confirm (nothing changes)."""
    c = subscribers.c
    query = sa.select(subscribers).where(c.confirm_token_hash == token_hash, c.confirm_expires_at > now)
    with db.read() as conn:
        row = conn.execute(query).one_or_none()
        return _subscriber(row, _follows(conn, [row.id])[row.id]) if row else None


def confirm(db: Database, token_hash: str, now: datetime) -> Subscriber | None:
    """Make the subscription holding this unexpired token active, and spend the token."""
    c = subscribers.c
    with db.write() as conn:
        row = conn.execute(
            subscribers.update()
            .where(c.confirm_token_hash == token_hash, c.confirm_expires_at > now)
            .values(
                status="active",
                paused=False,
                confirmed_at=now,
                confirm_token_hash=None,
                confirm_expires_at=None,
                confirm_due_at=None,
                suppressed_at=None,
                suppressed_reason=None,
            )
            .returning(*subscribers.c)
        ).one_or_none()
        return _subscriber(row, _follows(conn, [row.id])[row.id]) if row else None


def suppress(db: Database, subscriber_id: int, reason: str, now: datetime) -> bool:
    """Stop all mail to this address at once (unsubscribe, hard bounce). Repeating it changes nothing;
    False when there is no such subscriber."""
    c = subscribers.c
    with db.write() as conn:
        found = conn.execute(sa.select(c.status).where(c.id == subscriber_id)).one_or_none()
        if found is None:
            return False
        if found.status != "suppressed":
            conn.execute(
                subscribers.update()
                .where(c.id == subscriber_id)
                .values(status="suppressed", suppressed_at=now, suppressed_reason=reason)
            )
        return True


def suppress_in(conn: sa.Connection, subscriber_id: int, reason: str, now: datetime) -> None:
    """``suppress`` inside a caller's transaction (the sender records a hard bounce with its delivery)."""
    c = subscribers.c
    conn.execute(
        subscribers.update()
        .where(c.id == subscriber_id, c.status != "suppressed")
        .values(status="suppressed", suppressed_at=now, suppressed_reason=reason)
    )


def update_preferences(
    db: Database, subscriber_id: int, frequency: str, paused: bool, follows: Iterable[Follow]
) -> None:
    """Replace frequency, pause and the whole list of follows in one transaction."""
    with db.write() as conn:
        conn.execute(
            subscribers.update()
            .where(subscribers.c.id == subscriber_id)
            .values(frequency=frequency, paused=paused)
        )
        conn.execute(subscriber_follows.delete().where(subscriber_follows.c.subscriber_id == subscriber_id))
        rows = [{"subscriber_id": subscriber_id, "kind": f.kind, "value": f.value} for f in set(follows)]
        if rows:
            conn.execute(subscriber_follows.insert(), rows)


@dataclass(frozen=True, slots=True)
class ImportCounts:
    added: int
    confirmed: int  # known addresses (pending or active) now active
    suppressed: int  # known suppressed addresses, left suppressed


def add_confirmed(
    db: Database, entries: Sequence[tuple[str, str, Sequence[Follow]]], now: datetime
) -> ImportCounts:
    """Add (email, frequency, follows) as confirmed subscriptions in one transaction: for moving an
    existing opted-in list. A suppressed address stays suppressed; a known one keeps its follows and
    gets the given ones added."""
    c = subscribers.c
    added = confirmed = kept = 0
    with db.write() as conn:
        emails = [e for e, _, _ in entries]
        known = {
            r.email: r for r in conn.execute(sa.select(c.id, c.email, c.status).where(c.email.in_(emails)))
        }
        for email, frequency, follows in entries:
            row = known.get(email)
            if row is not None and row.status == "suppressed":
                kept += 1
                continue
            if row is None:
                sid = conn.execute(
                    subscribers.insert()
                    .values(
                        email=email, frequency=frequency, status="active", created_at=now, confirmed_at=now
                    )
                    .returning(c.id)
                ).scalar_one()
                added += 1
            else:
                sid = row.id
                conn.execute(
                    subscribers.update()
                    .where(c.id == sid)
                    .values(
                        frequency=frequency,
                        status="active",
                        confirmed_at=now,
                        confirm_token_hash=None,
                        confirm_due_at=None,
                    )
                )
                confirmed += 1
            if follows:
                stmt = upsert(conn, subscriber_follows).on_conflict_do_nothing()
                conn.execute(
                    stmt, [{"subscriber_id": sid, "kind": f.kind, "value": f.value} for f in follows]
                )
    return ImportCounts(added, confirmed, kept)


def sendable(db: Database, frequency: str, after_id: int, limit: int) -> list[Subscriber]:
    """Active, unpaused subscribers of a frequency with ids above ``after_id``, in id order, with their
    follows: the sender pages through these."""
    c = subscribers.c
    query = (
        sa.select(subscribers)
        .where(c.frequency == frequency, c.status == "active", c.id > after_id, c.paused == sa.false())
        .order_by(c.id)
        .limit(limit)
    )
    with db.read() as conn:
        rows = conn.execute(query).all()
        follows = _follows(conn, [r.id for r in rows])
    return [_subscriber(r, follows[r.id]) for r in rows]


def counts(db: Database) -> dict[str, int]:
    """Subscribers per status ('active', 'pending', 'suppressed') and 'paused' among the active."""
    c = subscribers.c
    with db.read() as conn:
        found: dict[str, int] = {
            r[0]: int(r[1]) for r in conn.execute(sa.select(c.status, sa.func.count()).group_by(c.status))
        }
        paused = conn.execute(
            sa.select(sa.func.count()).where(c.status == "active", c.paused == sa.true())
        ).scalar_one()
    return {**{k: int(v) for k, v in found.items()}, "paused": int(paused)}


def link_user(db: Database, subscriber_id: int, user_id: int) -> None:
    """Tie a subscription to a member account (their upvotes and collections then shape its picks)."""
    with db.write() as conn:
        conn.execute(subscribers.update().where(subscribers.c.id == subscriber_id).values(user_id=user_id))
