"""All SQL about leases: a named right to do some work, held by one worker until it expires.

Workers on several machines share one database and nothing else, so the database decides who works:
``claim`` is one statement (INSERT … ON CONFLICT DO UPDATE … WHERE expires_at <= now, the same on SQLite
and PostgreSQL) that succeeds for exactly one claimant. The holder renews the lease while it works
(``renew``, a heartbeat); a holder that dies stops renewing, and once the lease has expired another worker
takes it and continues from what was committed. Work that must not be done twice also renews inside the
transaction that commits it (``renew`` with that transaction's connection): a holder that lost its lease,
say after a long pause, cannot commit over its successor.

Times come from the workers' clocks: keep them in sync (NTP); leases last tens of seconds, not
milliseconds. ``release`` sets the time the work is next due (now, for a lock that is simply let go).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import leases as table


class LeaseLost(RuntimeError):
    """Another worker holds the lease now (this one's expired): stop without committing more work."""


class LeaseBusy(RuntimeError):
    """Someone else holds the lease; the message names the holder and until when."""


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str
    expires_at: datetime


def claim(db: Database, name: str, holder: str, seconds: float, now: datetime | None = None) -> bool:
    """Take the lease for ``seconds`` if nobody holds it (no row, or it expired); True when taken."""
    now = now or datetime.now(UTC)
    values = {
        "name": name,
        "holder": holder,
        "expires_at": now + timedelta(seconds=seconds),
        "updated_at": now,
    }
    with db.write() as conn:
        stmt = upsert(conn, table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={c: stmt.excluded[c] for c in ("holder", "expires_at", "updated_at")},
            where=table.c.expires_at <= now,
        )
        return conn.execute(stmt.returning(table.c.name)).first() is not None


def renew(
    target: Database | sa.Connection, name: str, holder: str, seconds: float, now: datetime | None = None
) -> None:
    """Extend a lease this holder has; raises LeaseLost if it no longer has it. Given a connection, the
    renewal is part of that transaction: its work commits only while the lease is held."""
    now = now or datetime.now(UTC)
    stmt = (
        table.update()
        # Only the holder matters: an expired lease nobody has taken yet is still safely this holder's.
        .where(table.c.name == name, table.c.holder == holder)
        .values(expires_at=now + timedelta(seconds=seconds), updated_at=now)
    )
    if isinstance(target, Database):
        with target.write() as conn:
            renewed = conn.execute(stmt).rowcount
    else:
        renewed = target.execute(stmt).rowcount
    if renewed != 1:
        raise LeaseLost(f"lease {name!r} is no longer held by {holder}")


def release(db: Database, name: str, holder: str, next_due: datetime | None = None) -> None:
    """Let the lease go: nobody holds it (holder ''), and it can be claimed from ``next_due`` on (now by
    default). A no-op if another holder has it."""
    now = datetime.now(UTC)
    with db.write() as conn:
        conn.execute(
            table.update()
            .where(table.c.name == name, table.c.holder == holder)
            .values(holder="", expires_at=next_due or now, updated_at=now)
        )


def lease(db: Database, name: str) -> Lease | None:
    with db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.name == name)).one_or_none()
    return Lease(row.name, row.holder, row.expires_at) if row else None


class Held:
    """A lease this process holds, renewed by a heartbeat thread every third of its duration."""

    def __init__(self, db: Database, name: str, holder: str, seconds: float) -> None:
        self.db, self.name, self.holder, self.seconds = db, name, holder, seconds
        self.lost = threading.Event()  # set when a heartbeat found the lease taken over
        self.next_due: datetime | None = None  # when to free it on release (None: at once)

    def renew_in(self, conn: sa.Connection) -> None:
        """Renew inside the caller's transaction, so its work commits only while the lease is held."""
        renew(conn, self.name, self.holder, self.seconds)


def holder_name(node: str = "") -> str:
    """``node:pid`` (node defaults to the host name): who holds a lease, readable by an operator, and
    checkable on the same node."""
    return f"{node or socket.gethostname()}:{os.getpid()}"


def dead_here(other: str, holder: str) -> bool:
    """The other holder ran on this node (same name before the pid) and its process is gone."""
    node, _, pid = other.rpartition(":")
    if node != holder.rpartition(":")[0] or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _take_over(db: Database, name: str, dead: str, holder: str, seconds: float) -> bool:
    """Take a lease from a dead holder; conditional on that holder, so only one claimant wins."""
    now = datetime.now(UTC)
    with db.write() as conn:
        taken = conn.execute(
            table.update()
            .where(table.c.name == name, table.c.holder == dead)
            .values(holder=holder, expires_at=now + timedelta(seconds=seconds), updated_at=now)
        ).rowcount
    return taken == 1


@contextmanager
def hold(db: Database, name: str, holder: str, seconds: float) -> Iterator[Held]:
    """Claim ``name`` (or raise LeaseBusy), keep it renewed while the body runs, release it after.

    A lease whose holder was a process on this node that has died (kill -9) is taken over at once rather
    than after it expires: a rerun on the same machine need not wait. Other nodes wait for the expiry."""
    current = None
    if not claim(db, name, holder, seconds) and not (
        (current := lease(db, name)) is not None
        and dead_here(current.holder, holder)
        and _take_over(db, name, current.holder, holder, seconds)
    ):
        until = f"{current.expires_at:%Y-%m-%d %H:%M:%S} UTC" if current else "?"
        if current is not None and not current.holder:
            raise LeaseBusy(f"{name} is not due before {until}")
        raise LeaseBusy(f"{name} is held by {current.holder if current else 'another worker'} until {until}")
    held = Held(db, name, holder, seconds)
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(seconds / 3):
            try:
                renew(db, name, holder, seconds)
            except LeaseLost:
                held.lost.set()
                return
            except Exception:  # noqa: S112  a database hiccup: the next beat tries again; expiry is the net
                continue

    beat = threading.Thread(target=heartbeat, name=f"lease {name}", daemon=True)
    beat.start()
    try:
        yield held
    finally:
        stop.set()
        beat.join()
        release(db, name, holder, held.next_due)
