"""All SQL about authorship claims: a member says "this author entry on this paper is me"; an admin
approves or rejects; approved claims put the paper on the member's profile."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paperfeed.models import Claim
from paperfeed.storage.db import Database
from paperfeed.storage.schema import claims, users

STATUSES = ("pending", "approved", "rejected")


class ClaimError(ValueError):
    """A refused claim; the message says why."""


_SELECT = sa.select(claims, users.c.name.label("user_name")).select_from(
    claims.join(users, users.c.id == claims.c.user_id)
)


def _claim(row: Any) -> Claim:
    return Claim(row.id, row.paper_id, row.user_name, row.author, row.status, row.created_at)


def add_claim(db: Database, paper_id: str, user_id: int, author: str, now: datetime) -> Claim:
    with db.write() as conn:
        approved = conn.execute(
            sa.select(claims.c.id).where(
                claims.c.paper_id == paper_id, claims.c.author == author, claims.c.status == "approved"
            )
        ).first()
        if approved is not None:
            raise ClaimError(f"author: {author!r} on {paper_id} is already claimed")
        try:
            claim_id = conn.execute(
                claims.insert()
                .values(paper_id=paper_id, user_id=user_id, author=author, status="pending", created_at=now)
                .returning(claims.c.id)
            ).scalar_one()
        except sa.exc.IntegrityError as exc:
            raise ClaimError(f"author: you already claimed {author!r} on {paper_id}") from exc
    found = claim(db, claim_id)
    assert found is not None
    return found


def claim(db: Database, claim_id: int) -> Claim | None:
    with db.read() as conn:
        row = conn.execute(_SELECT.where(claims.c.id == claim_id)).one_or_none()
    return _claim(row) if row else None


def pending(db: Database) -> list[Claim]:
    with db.read() as conn:
        rows = conn.execute(_SELECT.where(claims.c.status == "pending").order_by(claims.c.created_at))
        return [_claim(r) for r in rows]


def decide(db: Database, claim_id: int, admin_id: int, approve: bool, now: datetime) -> None:
    with db.write() as conn:
        done = conn.execute(
            claims.update()
            .where(claims.c.id == claim_id, claims.c.status == "pending")
            .values(status="approved" if approve else "rejected", decided_at=now, decided_by=admin_id)
        )
        if done.rowcount == 0:
            raise ClaimError(f"claim {claim_id}: no such pending claim")


def user_claims(db: Database, user_id: int, status: str = "approved") -> list[Claim]:
    with db.read() as conn:
        rows = conn.execute(
            _SELECT.where(claims.c.user_id == user_id, claims.c.status == status).order_by(
                claims.c.created_at.desc()
            )
        )
        return [_claim(r) for r in rows]


def approved_authors(db: Database, paper_ids: list[str]) -> dict[str, dict[str, tuple[str, datetime]]]:
    """For each of these papers, its claimed author entries: author name → the member's handle and when
    an admin approved the claim."""
    if not paper_ids:
        return {}
    query = (
        sa.select(claims.c.paper_id, claims.c.author, users.c.name, claims.c.decided_at)
        .select_from(claims.join(users, users.c.id == claims.c.user_id))
        .where(claims.c.paper_id.in_(paper_ids), claims.c.status == "approved")
    )
    found: dict[str, dict[str, tuple[str, datetime]]] = {}
    with db.read() as conn:
        for paper_id, author, name, decided_at in conn.execute(query):
            found.setdefault(paper_id, {})[author] = (name, decided_at)
    return found
