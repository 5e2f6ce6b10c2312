"""All SQL about the private tokens of a member's For-you feed (RSS and Atom at a secret URL).

Only a token's SHA-256 is stored (``accounts.digest``); a member has at most one live token: making a
new one revokes the old in the same transaction, so a leaked URL is shut by making another. A revoked
row stays, so its URL answers "revoked" rather than "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from paperfeed.storage.db import Database
from paperfeed.storage.schema import feed_tokens


@dataclass(frozen=True, slots=True)
class FeedToken:
    id: int
    user_id: int
    created_at: datetime
    revoked_at: datetime | None


def _token(row: sa.Row) -> FeedToken:
    return FeedToken(row.id, row.user_id, row.created_at, row.revoked_at)


def replace(db: Database, user_id: int, token_hash: str, now: datetime) -> FeedToken:
    """A new live token for the member; any earlier one is revoked."""
    t = feed_tokens.c
    with db.write() as conn:
        conn.execute(
            feed_tokens.update().where(t.user_id == user_id, t.revoked_at.is_(None)).values(revoked_at=now)
        )
        row = conn.execute(
            feed_tokens.insert()
            .values(user_id=user_id, token_hash=token_hash, created_at=now)
            .returning(*feed_tokens.c)
        ).one()
        return _token(row)


def revoke(db: Database, user_id: int, now: datetime) -> int:
    """Revoke the member's live token; how many were live (0 or 1)."""
    t = feed_tokens.c
    with db.write() as conn:
        done = conn.execute(
            feed_tokens.update().where(t.user_id == user_id, t.revoked_at.is_(None)).values(revoked_at=now)
        )
        return int(done.rowcount)


def live_token(db: Database, user_id: int) -> FeedToken | None:
    t = feed_tokens.c
    with db.read() as conn:
        row = conn.execute(sa.select(feed_tokens).where(t.user_id == user_id, t.revoked_at.is_(None))).first()
        return _token(row) if row else None


def by_hash(db: Database, token_hash: str) -> FeedToken | None:
    """The token with this hash, live or revoked."""
    with db.read() as conn:
        row = conn.execute(sa.select(feed_tokens).where(feed_tokens.c.token_hash == token_hash)).first()
        return _token(row) if row else None
