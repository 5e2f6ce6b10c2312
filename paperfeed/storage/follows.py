"""All SQL about follows: what each member follows, and who follows a given thing.

The unique (user, kind, key) constraint makes following idempotent on both backends, however many
requests arrive at once; the caller normalises the key (``paperfeed/follows.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paperfeed.models import Followed
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import follows


def _followed(row: Any) -> Followed:
    return Followed(row.id, row.user_id, row.kind, row.value, row.key, row.created_at)


def follow(
    db: Database, user_id: int, kind: str, value: str, key: str, now: datetime
) -> tuple[bool, Followed]:
    """(whether this call added it, the follow as stored)."""
    with db.write() as conn:
        stmt = upsert(conn, follows).values(user_id=user_id, kind=kind, value=value, key=key, created_at=now)
        added = conn.execute(stmt.on_conflict_do_nothing().returning(follows.c.id)).first() is not None
        row = conn.execute(
            sa.select(follows).where(
                follows.c.user_id == user_id, follows.c.kind == kind, follows.c.key == key
            )
        ).one()
        return added, _followed(row)


def unfollow(db: Database, user_id: int, kind: str, key: str) -> bool:
    with db.write() as conn:
        gone = conn.execute(
            follows.delete()
            .where(follows.c.user_id == user_id, follows.c.kind == kind, follows.c.key == key)
            .returning(follows.c.id)
        ).first()
        return gone is not None


def follows_of(db: Database, user_id: int) -> list[Followed]:
    """A member's follows, oldest first."""
    with db.read() as conn:
        rows = conn.execute(
            sa.select(follows).where(follows.c.user_id == user_id).order_by(follows.c.id)
        ).all()
        return [_followed(r) for r in rows]


def count_of(db: Database, user_id: int) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).where(follows.c.user_id == user_id)).scalar_one())


def followers(db: Database, kind: str, keys: Sequence[str]) -> dict[str, list[int]]:
    """For each key of this kind, the members who follow it."""
    out: dict[str, list[int]] = {k: [] for k in keys}
    if not keys:
        return out
    with db.read() as conn:
        rows = conn.execute(
            sa.select(follows.c.key, follows.c.user_id)
            .where(follows.c.kind == kind, follows.c.key.in_(list(keys)))
            .order_by(follows.c.user_id)
        )
        for key, user_id in rows:
            out[key].append(int(user_id))
    return out


def is_following(db: Database, user_id: int, kind: str, key: str) -> bool:
    with db.read() as conn:
        return (
            conn.execute(
                sa.select(follows.c.id).where(
                    follows.c.user_id == user_id, follows.c.kind == kind, follows.c.key == key
                )
            ).first()
            is not None
        )


def follows_of_members(db: Database, user_ids: Sequence[int]) -> dict[int, list[Followed]]:
    """Several members' follows at once (the webhook job's, for the owners of its endpoints)."""
    out: dict[int, list[Followed]] = {u: [] for u in user_ids}
    if not user_ids:
        return out
    with db.read() as conn:
        rows = conn.execute(
            sa.select(follows).where(follows.c.user_id.in_(list(user_ids))).order_by(follows.c.id)
        )
        for r in rows:
            out[int(r.user_id)].append(_followed(r))
    return out
