"""All SQL about embedding claims: the batches of papers that workers have taken to embed, so that any
number of workers, on one machine or many, embed disjoint batches at once (issue 18, item 5).

The embedding job walks papers in ``(rev, id)`` order. Its position (``job_positions``) says where
everything before is done; after it, ``embed_claims`` holds a run of claims, each a stretch of up to a
batch of papers, without gaps or overlaps:

- ``claim`` first takes over a claim whose holder is gone (its expiry passed, or its process died on this
  node, or it let the claim go), the oldest first; otherwise it carves the next stretch after the last
  claim. Carving holds the position row's lock (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
  serialises every writer anyway), so two workers never carve the same stretch; a takeover is an UPDATE
  conditional on the old holder, and on PostgreSQL skips rows another transaction holds (``SKIP LOCKED``).
- ``finish`` marks the claim done in the transaction that stores its vectors, conditional on this worker
  still holding it: a worker whose claim was taken over cannot commit its batch, so every paper's vector
  is written by exactly one committed batch. It then folds the finished claims at the front of the run into
  the position and deletes them.
- The holder renews its claims while it works (``renew``, from a heartbeat); a killed worker stops, and once
  its claims expire (``PAPERFEED_LEASE_SECONDS``) another worker redoes them from the start of the stretch.

A paper whose rev changes after its stretch was carved is simply met again further on, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import embed_claims as table
from paperfeed.storage.schema import job_positions, papers

Key = tuple[int, str]  # (rev, id): a place in the job's walk


class ClaimLost(RuntimeError):
    """Another worker took this claim over (ours expired): its batch must not be committed."""


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    job: str
    after: Key  # exclusive
    upto: Key  # inclusive
    taken_over: str  # the holder it was taken from ('' for a fresh stretch)


def claim(
    db: Database,
    job: str,
    holder: str,
    size: int,
    seconds: float,
    dead: Callable[[str], bool] = lambda _holder: False,
) -> Claim | None:
    """The next stretch for ``holder`` to embed, held for ``seconds``; None when every paper after the
    job's position is done or held by a live worker. ``dead(other)`` says a holder's process is gone."""
    return _take_over(db, job, holder, seconds, dead) or _carve(db, job, holder, size, seconds)


def _take_over(
    db: Database, job: str, holder: str, seconds: float, dead: Callable[[str], bool]
) -> Claim | None:
    now = datetime.now(UTC)
    c = table.c
    with db.write() as conn:
        rows = conn.execute(
            sa.select(table)
            .where(c.job == job, c.done.is_(False), c.holder != holder)
            .order_by(c.after_rev, c.after_id)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            if row.expires_at > now and row.holder and not dead(row.holder):
                continue
            taken = conn.execute(
                table.update()
                .where(c.id == row.id, c.holder == row.holder, c.done.is_(False))
                .values(holder=holder, expires_at=now + timedelta(seconds=seconds))
            ).rowcount
            if taken == 1:
                return Claim(
                    row.id, job, (row.after_rev, row.after_id), (row.upto_rev, row.upto_id), row.holder
                )
    return None


def _carve(db: Database, job: str, holder: str, size: int, seconds: float) -> Claim | None:
    c, p = table.c, papers.c
    now = datetime.now(UTC)
    with db.write() as conn:
        position = _lock_position(conn, job)
        _fold(conn, job, position)
        last = conn.execute(
            sa.select(c.upto_rev, c.upto_id)
            .where(c.job == job)
            .order_by(c.upto_rev.desc(), c.upto_id.desc())
            .limit(1)
        ).first()
        start = (int(last.upto_rev), last.upto_id) if last else _position(conn, job)
        ends = (
            conn.execute(
                sa.select(p.rev, p.id)
                .where(_after(p.rev, p.id, start))
                .order_by(p.rev, p.id)
                .offset(size - 1)
                .limit(1)
            ).first()
            or conn.execute(
                sa.select(p.rev, p.id)
                .where(_after(p.rev, p.id, start))
                .order_by(p.rev.desc(), p.id.desc())
                .limit(1)
            ).first()
        )
        if ends is None:
            return None
        upto = (int(ends.rev), ends.id)
        values = {
            "job": job,
            "after_rev": start[0],
            "after_id": start[1],
            "upto_rev": upto[0],
            "upto_id": upto[1],
            "holder": holder,
            "expires_at": now + timedelta(seconds=seconds),
            "done": False,
        }
        new_id = conn.execute(table.insert().values(**values).returning(c.id)).scalar_one()
    return Claim(int(new_id), job, start, upto, "")


def finish(conn: sa.Connection, done: Claim, holder: str) -> None:
    """Inside the transaction that stores the claim's batch: mark it done, or raise ClaimLost (the caller's
    transaction then rolls back) when another worker holds it now; then fold finished claims into the
    job's position."""
    c = table.c
    marked = conn.execute(
        table.update().where(c.id == done.id, c.holder == holder, c.done.is_(False)).values(done=True)
    ).rowcount
    if marked != 1:
        raise ClaimLost(f"claim {done.id} of {done.job} is no longer held by {holder}")
    _fold(conn, done.job, _lock_position(conn, done.job))


def renew(db: Database, job: str, holder: str, seconds: float) -> int:
    """Extend every unfinished claim this holder has on the job; returns how many it still holds."""
    c = table.c
    with db.write() as conn:
        return int(
            conn.execute(
                table.update()
                .where(c.job == job, c.holder == holder, c.done.is_(False))
                .values(expires_at=datetime.now(UTC) + timedelta(seconds=seconds))
            ).rowcount
        )


def release(db: Database, job: str, holder: str) -> int:
    """Let go of this holder's unfinished claims (a worker stopping): another worker takes them at once."""
    c = table.c
    with db.write() as conn:
        return int(
            conn.execute(
                table.update()
                .where(c.job == job, c.holder == holder, c.done.is_(False))
                .values(holder="", expires_at=datetime.now(UTC))
            ).rowcount
        )


def held_elsewhere(db: Database, job: str, holder: str) -> int:
    """How many of the job's claims other workers hold, unfinished (still theirs, or waiting to expire)."""
    c = table.c
    with db.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(c.job == job, c.done.is_(False), c.holder != holder)
            ).scalar_one()
        )


def claims(db: Database, job: str) -> list[tuple[int, str, bool]]:
    """(id, holder, done) of the job's claims, oldest first: what an operator or a test looks at."""
    c = table.c
    with db.read() as conn:
        rows = conn.execute(
            sa.select(c.id, c.holder, c.done).where(c.job == job).order_by(c.after_rev, c.after_id)
        )
        return [(int(r.id), r.holder, bool(r.done)) for r in rows]


def _lock_position(conn: sa.Connection, job: str) -> Key:
    """The job's position, its row locked until commit (created at the start if missing)."""
    stmt = upsert(conn, job_positions).values(name=job, rev=0, last_id="", updated_at=datetime.now(UTC))
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
    j = job_positions.c
    row = conn.execute(sa.select(j.rev, j.last_id).where(j.name == job).with_for_update()).one()
    return int(row.rev), row.last_id


def _position(conn: sa.Connection, job: str) -> Key:
    j = job_positions.c
    row = conn.execute(sa.select(j.rev, j.last_id).where(j.name == job)).one()
    return int(row.rev), row.last_id


def _fold(conn: sa.Connection, job: str, position: Key) -> None:
    """Move the position over the finished claims at the front of the run, and delete them. A claim
    another transaction finishes meanwhile stays for the next fold."""
    c = table.c
    rows = conn.execute(
        sa.select(c.id, c.after_rev, c.after_id, c.upto_rev, c.upto_id, c.done)
        .where(c.job == job)
        .order_by(c.after_rev, c.after_id)
    ).all()
    folded: list[int] = []
    for row in rows:
        if not row.done or (int(row.after_rev), row.after_id) != position:
            break
        folded.append(int(row.id))
        position = (int(row.upto_rev), row.upto_id)
    if not folded:
        return
    conn.execute(table.delete().where(c.id.in_(folded)))
    conn.execute(
        job_positions.update()
        .where(job_positions.c.name == job)
        .values(rev=position[0], last_id=position[1], updated_at=datetime.now(UTC))
    )


def _after(rev: sa.ColumnElement[int], paper_id: sa.ColumnElement[str], key: Key) -> sa.ColumnElement[bool]:
    return sa.tuple_(rev, paper_id) > sa.tuple_(sa.literal(key[0]), sa.literal(key[1]))
