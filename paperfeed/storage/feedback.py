"""All SQL about a reader's own marks on papers: "more / less like this" (``paper_feedback``) and the papers
they have seen on any channel (``seen_papers``: sent in a digest, opened, or marked seen).

Both tables hold one row per (member, paper). Feedback is replaced by the latest signal; a paper is seen
once, by the first channel that showed it (later ones change nothing), so "seen" is idempotent however
many requests or digests race. The digest writes its rows inside its claiming transaction
(``seen_in``), so a paper recorded as sent is seen, and one whose digest failed is not
(``unsee_in``).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa

from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import UTCDateTime, paper_feedback, seen_papers

SIGNALS = ("more", "less")
VIAS = ("digest", "opened", "marked")

# -- more / less like this --------------------------------------------------------------------------------


def set_feedback(db: Database, user_id: int, paper_id: str, signal: str, now: datetime) -> None:
    """Record "more" or "less" for this paper, replacing an earlier signal."""
    assert signal in SIGNALS
    with db.write() as conn:
        stmt = upsert(conn, paper_feedback).values(
            user_id=user_id, paper_id=paper_id, signal=signal, created_at=now
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["user_id", "paper_id"], set_={"signal": signal, "created_at": now}
            )
        )


def remove_feedback(db: Database, user_id: int, paper_id: str) -> bool:
    """Take a signal back; whether there was one."""
    return _remove(db, paper_feedback, user_id, paper_id)


def _remove(db: Database, table: sa.Table, user_id: int, paper_id: str) -> bool:
    """Delete the reader's row for the paper from ``table``; whether there was one."""
    c = table.c
    with db.write() as conn:
        gone = conn.execute(
            table.delete().where(c.user_id == user_id, c.paper_id == paper_id).returning(c.paper_id)
        ).first()
        return gone is not None


def feedback_on(db: Database, user_id: int, paper_ids: Collection[str]) -> dict[str, str]:
    """paper id → "more" | "less", for those of these papers the reader gave a signal."""
    if not paper_ids:
        return {}
    f = paper_feedback.c
    with db.read() as conn:
        rows = conn.execute(
            sa.select(f.paper_id, f.signal).where(f.user_id == user_id, f.paper_id.in_(list(paper_ids)))
        )
        return {r.paper_id: r.signal for r in rows}


# -- seen once, across channels -------------------------------------------------------------------------


def mark_seen(db: Database, user_id: int, paper_ids: Collection[str], via: str, now: datetime) -> int:
    """Record these papers as seen by the reader (``via`` digest | opened | marked); how many were new."""
    with db.write() as conn:
        return seen_in(conn, user_id, paper_ids, via, now)


# The statements a digest runs for every member subscriber, written once as SQL both dialects read alike
# (building them with Core expressions on every call cost more than running them: storage/deliveries.py).
_SEEN_AMONG = sa.text(
    "SELECT paper_id FROM seen_papers WHERE user_id = :user AND paper_id IN :ids"
).bindparams(sa.bindparam("ids", expanding=True))
_SEE = sa.text(
    "INSERT INTO seen_papers (user_id, paper_id, via, seen_at) VALUES (:user, :paper, :via, :at) "
    "ON CONFLICT DO NOTHING"
).bindparams(sa.bindparam("at", type_=UTCDateTime()))


def seen_in(
    conn: sa.Connection,
    user_id: int,
    paper_ids: Collection[str],
    via: str,
    now: datetime,
    unseen: bool = False,
) -> int:
    """``mark_seen`` inside a caller's transaction (the digest's claim): how many were not seen before.
    ``unseen``: the caller read in this transaction that none of them is seen (no second look)."""
    assert via in VIAS
    already = set() if unseen else seen_among_in(conn, user_id, paper_ids)
    new = [i for i in dict.fromkeys(paper_ids) if i not in already]
    if new:
        conn.execute(_SEE, [{"user": user_id, "paper": i, "via": via, "at": now} for i in new])
    return len(new)


def unsee(db: Database, user_id: int, paper_id: str) -> bool:
    """Take a "seen" back (the reader wants it in For-you again); whether it was seen."""
    return _remove(db, seen_papers, user_id, paper_id)


def unsee_in(conn: sa.Connection, user_id: int, paper_ids: Collection[str], via: str) -> None:
    """Forget the rows ``via`` wrote for these papers (a digest that was never delivered)."""
    if paper_ids:
        s = seen_papers.c
        conn.execute(
            seen_papers.delete().where(s.user_id == user_id, s.via == via, s.paper_id.in_(list(paper_ids)))
        )


def seen_via(db: Database, user_id: int) -> dict[str, str]:
    """paper id → how the reader saw it (for tests and the reader's own view)."""
    s = seen_papers.c
    with db.read() as conn:
        return {
            r.paper_id: r.via for r in conn.execute(sa.select(s.paper_id, s.via).where(s.user_id == user_id))
        }


def seen_among_in(conn: sa.Connection, user_id: int, paper_ids: Collection[str]) -> set[str]:
    """Which of these papers the reader has seen, inside a caller's transaction."""
    if not paper_ids:
        return set()
    return set(conn.execute(_SEEN_AMONG, {"user": user_id, "ids": list(paper_ids)}).scalars())
