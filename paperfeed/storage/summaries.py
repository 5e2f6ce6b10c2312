"""All SQL about abstractive summaries (``paper_summaries``): which papers on the feed still need one (none
yet, or one of an older abstract), and storing what the ``summaries`` job got, with its model and date."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa

from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import paper_summaries, papers


def source_hash(title: str, abstract: str) -> str:
    return hashlib.blake2b(f"{title}\x1f{abstract}".encode(), digest_size=16).hexdigest()


def unsummarised(db: Database, limit: int) -> list[tuple[str, str, str]]:
    """(id, title, abstract) of papers without a summary of their current text, newest on the feed first.
    The hash is compared in Python: it is computed from the text, which SQL would have to hash alike."""
    query = (
        sa.select(papers.c.id, papers.c.title, papers.c.abstract, paper_summaries.c.source_hash)
        .select_from(papers.outerjoin(paper_summaries, paper_summaries.c.paper_id == papers.c.id))
        .order_by(papers.c.feed_day.desc(), papers.c.id)
    )
    found: list[tuple[str, str, str]] = []
    with db.read() as conn:
        for row in conn.execute(query.execution_options(yield_per=500)):
            if row.source_hash != source_hash(row.title, row.abstract):
                found.append((row.id, row.title, row.abstract))
                if len(found) >= limit:
                    break
    return found


def store(db: Database, paper_id: str, text: str, model: str, made_at: datetime, digest: str) -> None:
    values = {"text": text, "model": model, "made_at": made_at, "source_hash": digest}
    with db.write() as conn:
        stmt = upsert(conn, paper_summaries).values(paper_id=paper_id, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["paper_id"], set_=values))
