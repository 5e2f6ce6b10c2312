"""All SQL about collections: named lists of papers with a note each, public or private to their owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paperfeed.models import Collection, CollectionItem
from paperfeed.storage import papers as paper_store
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import collection_items, collections, users


class CollectionError(ValueError):
    """A refused collection change; the message says why."""


_SELECT = sa.select(collections, users.c.name.label("owner")).select_from(
    collections.join(users, users.c.id == collections.c.user_id)
)


def _collection(row: Any) -> Collection:
    return Collection(row.id, row.owner, row.name, row.description, bool(row.is_public), row.created_at)


def create(
    db: Database, user_id: int, name: str, description: str, is_public: bool, now: datetime
) -> Collection:
    with db.write() as conn:
        try:
            cid = conn.execute(
                collections.insert()
                .values(
                    user_id=user_id, name=name, description=description, is_public=is_public, created_at=now
                )
                .returning(collections.c.id)
            ).scalar_one()
        except sa.exc.IntegrityError as exc:
            raise CollectionError(f"name: you already have a collection named {name!r}") from exc
    found = collection(db, cid)
    assert found is not None
    return found


def collection(db: Database, collection_id: int) -> Collection | None:
    with db.read() as conn:
        row = conn.execute(_SELECT.where(collections.c.id == collection_id)).one_or_none()
    return _collection(row) if row else None


def owner_id(db: Database, collection_id: int) -> int | None:
    with db.read() as conn:
        return conn.execute(
            sa.select(collections.c.user_id).where(collections.c.id == collection_id)
        ).scalar_one_or_none()


def user_collections(db: Database, user_id: int, include_private: bool) -> list[Collection]:
    query = _SELECT.where(collections.c.user_id == user_id)
    if not include_private:
        query = query.where(collections.c.is_public == sa.true())
    with db.read() as conn:
        return [_collection(r) for r in conn.execute(query.order_by(collections.c.name))]


def put_item(db: Database, collection_id: int, paper_id: str, note: str, now: datetime) -> None:
    """Add a paper (or change its note). KeyError for an unknown paper."""
    with db.write() as conn:
        stmt = upsert(conn, collection_items).values(
            collection_id=collection_id, paper_id=paper_id, note=note, added_at=now
        )
        try:
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["collection_id", "paper_id"], set_={"note": note})
            )
        except sa.exc.IntegrityError as exc:  # the foreign key: no such paper
            raise KeyError(paper_id) from exc


def remove_item(db: Database, collection_id: int, paper_id: str) -> None:
    with db.write() as conn:
        conn.execute(
            collection_items.delete().where(
                collection_items.c.collection_id == collection_id, collection_items.c.paper_id == paper_id
            )
        )


def items(db: Database, collection_id: int) -> list[CollectionItem]:
    """The papers, in the order they were added, with their notes."""
    with db.read() as conn:
        rows = conn.execute(
            sa.select(collection_items.c.paper_id, collection_items.c.note, collection_items.c.added_at)
            .where(collection_items.c.collection_id == collection_id)
            .order_by(collection_items.c.added_at, collection_items.c.paper_id)
        ).all()
    found = {p.id: p for p in paper_store.papers_by_ids(db, [r.paper_id for r in rows])}
    return [CollectionItem(found[r.paper_id], r.note, r.added_at) for r in rows if r.paper_id in found]
