"""Paper vectors and keywords: what ``paperfeed index`` writes and what every node's vector index reads.

Vectors are stored as float16 (half the bytes of float32; retrieval quality is unchanged at this
precision). Each row carries its own change number, so a node's vector index catches up by keyset
paging exactly as the keyword index does on ``papers.rev``. Rows are keyed in the vector index by a
63-bit hash of the paper id: stable across nodes and rebuilds, no id table to keep in step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import sqlalchemy as sa

from paperfeed.storage.db import Database, upsert
from paperfeed.storage.papers import next_rev
from paperfeed.storage.schema import job_positions, paper_embeddings, papers


def vector_key(paper_id: str) -> int:
    """The paper's key in vector indexes: 63 bits so it fits PostgreSQL's signed BIGINT. At a million
    papers the chance that any two collide is about 1 in 10^7."""
    return int.from_bytes(hashlib.blake2b(paper_id.encode(), digest_size=8).digest(), "big") >> 1


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class ToEmbed:
    rev: int
    id: str
    title: str
    abstract: str
    stored_hash: str | None  # of the text behind the stored vector for this model, if any


@dataclass(frozen=True, slots=True)
class Embedded:
    paper_id: str
    text_hash: str
    vector: np.ndarray
    keywords: list[str] | None  # None leaves the stored keywords as they are


@dataclass(frozen=True, slots=True)
class VectorRow:
    rev: int
    paper_id: str
    key: int
    vector: np.ndarray  # float32


# -- job positions ------------------------------------------------------------------------------------


def position(db: Database, job: str) -> tuple[int, str]:
    with db.read() as conn:
        row = conn.execute(
            sa.select(job_positions.c.rev, job_positions.c.last_id).where(job_positions.c.name == job)
        ).first()
    return (int(row.rev), row.last_id) if row else (0, "")


# -- the embedding job ----------------------------------------------------------------------------------


def papers_to_embed(db: Database, model: str, after: tuple[int, str], upto: tuple[int, str]) -> list[ToEmbed]:
    """The papers after ``after`` up to ``upto`` (included) in change order, with the hash of their stored
    vector's text: one claimed stretch (``storage/embed_claims.py``)."""
    c, e = papers.c, paper_embeddings.c
    key = sa.tuple_(c.rev, c.id)
    query = (
        sa.select(c.rev, c.id, c.title, c.abstract, e.text_hash)
        .select_from(papers.outerjoin(paper_embeddings, sa.and_(e.paper_id == c.id, e.model == model)))
        .where(
            key > sa.tuple_(sa.literal(after[0]), sa.literal(after[1])),
            key <= sa.tuple_(sa.literal(upto[0]), sa.literal(upto[1])),
        )
        .order_by(c.rev, c.id)
    )
    with db.read() as conn:
        return [ToEmbed(r.rev, r.id, r.title, r.abstract, r.text_hash) for r in conn.execute(query)]


def count_after(db: Database, after: tuple[int, str]) -> int:
    """How many papers a job positioned at ``after`` has still to look at."""
    c = papers.c
    with db.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(papers)
                .where(sa.tuple_(c.rev, c.id) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
            ).scalar_one()
        )


def store_embedded(
    db: Database,
    model: str,
    done: Sequence[Embedded],
    keywords_only: Sequence[tuple[str, list[str]]] = (),
    also: Callable[[sa.Connection], None] | None = None,
) -> None:
    """Write a batch of vectors and keywords (and the keywords of papers whose vector is kept,
    ``keywords_only``) in one transaction, with ``also`` (the embedding job marks its claim done there, or
    raises to roll the batch back): a kill leaves either all of it or none."""
    with db.write() as conn:
        if also is not None:
            also(conn)  # first: on PostgreSQL it locks the claim before anything else is written
        if keywords_only:
            update = papers.update().where(papers.c.id == sa.bindparam("pid"))
            conn.execute(
                update.values(keywords=sa.bindparam("kw")), [{"pid": i, "kw": kw} for i, kw in keywords_only]
            )
        if done:
            rev = next_rev(conn, "embeddings")
            rows = [
                {
                    "paper_id": d.paper_id,
                    "key": vector_key(d.paper_id),
                    "model": model,
                    "text_hash": d.text_hash,
                    "vector": d.vector.astype("<f2").tobytes(),
                    "rev": rev,
                }
                for d in done
            ]
            stmt = upsert(conn, paper_embeddings)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["paper_id"],
                    set_={k: stmt.excluded[k] for k in ("model", "text_hash", "vector", "rev")},
                ),
                rows,
            )
            # Keywords are display data, not indexed: writing them does not bump the paper's rev.
            if keywords := [{"pid": d.paper_id, "kw": d.keywords} for d in done if d.keywords is not None]:
                update = papers.update().where(papers.c.id == sa.bindparam("pid"))
                conn.execute(update.values(keywords=sa.bindparam("kw")), keywords)


# -- what vector indexes read ---------------------------------------------------------------------------


def vectors_since(db: Database, model: str, after: tuple[int, str], limit: int) -> list[VectorRow]:
    e = paper_embeddings.c
    query = (
        sa.select(e.rev, e.paper_id, e.vector)
        .where(
            e.model == model,
            sa.tuple_(e.rev, e.paper_id) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1])),
        )
        .order_by(e.rev, e.paper_id)
        .limit(limit)
    )
    with db.read() as conn:
        return [
            VectorRow(r.rev, r.paper_id, vector_key(r.paper_id), _decode(r.vector))
            for r in conn.execute(query)
        ]


def vector_of(db: Database, paper_id: str, model: str) -> np.ndarray | None:
    e = paper_embeddings.c
    with db.read() as conn:
        blob = conn.execute(sa.select(e.vector).where(e.paper_id == paper_id, e.model == model)).scalar()
    return None if blob is None else _decode(blob)


def vectors_of(db: Database, paper_ids: Sequence[str], model: str) -> dict[str, np.ndarray]:
    """Stored vectors of several papers (those that have one)."""
    if not paper_ids:
        return {}
    e = paper_embeddings.c
    query = sa.select(e.paper_id, e.vector).where(e.model == model, e.paper_id.in_(list(set(paper_ids))))
    with db.read() as conn:
        return {r.paper_id: _decode(r.vector) for r in conn.execute(query)}


def count_embedded(db: Database, model: str) -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(paper_embeddings)
                .where(paper_embeddings.c.model == model)
            ).scalar_one()
        )


def _decode(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)


def last_revs(db: Database) -> tuple[int, int]:
    """The latest change numbers of any paper and of any stored vector (one row of an index each), in one
    statement."""
    newest = [
        sa.select(sa.func.coalesce(sa.func.max(table.c.rev), 0)).scalar_subquery()
        for table in (papers, paper_embeddings)
    ]
    with db.read() as conn:
        paper_rev, vector_rev = conn.execute(sa.select(*newest)).one()
        return int(paper_rev), int(vector_rev)


def period_stamp(db: Database, start: date, end: date, model: str) -> tuple[int, int]:
    """(how many papers of the feed days [start, end] have a vector of ``model``, their newest vector's
    change number): it moves when one of them is embedded or re-embedded."""
    query = (
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(paper_embeddings.c.rev), 0))
        .select_from(papers.join(paper_embeddings, paper_embeddings.c.paper_id == papers.c.id))
        .where(papers.c.feed_day.between(start, end), paper_embeddings.c.model == model)
    )
    with db.read() as conn:
        count, rev = conn.execute(query).one()
        return int(count), int(rev)
