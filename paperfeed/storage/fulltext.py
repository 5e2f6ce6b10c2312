"""All SQL about full texts and thumbnails: which papers the ``fulltext`` job should fetch next
(``paper_fulltext``: none yet, due again, or a newer arXiv version than the stored text), what it found
(Markdown, figures, the validators for a conditional request, the answer it met), and the first figure's
thumbnail (``paper_thumbnails``), read back by the web.

Each outcome is one transaction, so a worker killed between two papers leaves every paper either as it
was or as its answer says: the next run asks again for the papers it had not finished.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from paperfeed.links import Found
from paperfeed.storage import links as link_store
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.papers import next_rev
from paperfeed.storage.schema import paper_fulltext, paper_thumbnails, papers

OK, PARTIAL, NONE, MALFORMED, FAILED = "ok", "partial", "none", "malformed", "failed"


@dataclass(frozen=True, slots=True)
class Due:
    """A paper whose full text the job should ask for, with what a conditional request needs (the
    validators only when the stored text is of the version asked for)."""

    paper_id: str
    version: int
    etag: str | None = None
    last_modified: str | None = None
    attempts: int = 0  # failed tries in a row (of whichever version), for the backoff
    thumbnail: bool = False  # one is stored already
    first_figure: dict[str, str] | None = None  # the stored text's first figure ({"url", "caption"})


@dataclass(frozen=True, slots=True)
class FullText:
    status: str
    version: int
    markdown: str | None
    figures: list[dict[str, str]] = field(default_factory=list)
    fetched_at: datetime | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Thumbnail:
    image: bytes
    media_type: str
    width: int
    height: int
    made_at: datetime


def due(db: Database, now: datetime, limit: int, since: date | None = None) -> list[Due]:
    """Papers of the feed (since that feed day; arXiv ids only: cards have no HTML) with no full text yet,
    one due again, or a newer version than the stored one; newest feed day first."""
    f, p = paper_fulltext.c, papers.c
    has_thumb = sa.exists().where(paper_thumbnails.c.paper_id == p.id)
    query = (
        sa.select(p.id, p.version, f.version.label("stored"), f.etag, f.last_modified, f.attempts,
                  f.figures, has_thumb.label("thumb"))
        .select_from(papers.outerjoin(paper_fulltext, f.paper_id == p.id))
        .where(
            ~p.id.like("card-%"),
            p.feed_day >= (since or date.min),
            # A newer version is due at once, unless a failed try for it waits out its backoff.
            sa.or_(f.paper_id.is_(None), f.next_fetch_at <= now, sa.and_(f.version < p.version, f.attempts == 0)),
        )
        .order_by(p.feed_day.desc(), p.id.desc())
        .limit(limit)
    )  # fmt: skip
    with db.read() as conn:
        rows = conn.execute(query).all()
    out = []
    for r in rows:
        same = r.stored == r.version
        out.append(
            Due(
                r.id,
                r.version,
                r.etag if same else None,
                r.last_modified if same else None,
                r.attempts or 0,
                bool(r.thumb),
                (r.figures[0] if r.figures else None) if same else None,
            )
        )
    return out


def _upsert(conn: sa.Connection, paper_id: str, insert: dict[str, Any], update: dict[str, Any]) -> None:
    stmt = upsert(conn, paper_fulltext).values(paper_id=paper_id, **insert)
    conn.execute(stmt.on_conflict_do_update(index_elements=["paper_id"], set_=update))


def store_text(
    db: Database,
    paper_id: str,
    version: int,
    status: str,
    markdown: str | None,
    figures: Sequence[dict[str, str]],
    etag: str | None,
    last_modified: str | None,
    now: datetime,
    next_at: datetime,
    message: str | None = None,
    links: Found | None = None,
) -> None:
    """A page arXiv answered 200 for, converted (``status`` ok, partial or malformed), with the code links
    found in it, which go where no link is stored yet (the abstract's and members' stand)."""
    values = {
        "version": version,
        "status": status,
        "markdown": markdown,
        "figures": list(figures),
        "etag": etag,
        "last_modified": last_modified,
        "fetched_at": now,
        "next_fetch_at": next_at,
        "attempts": 0,
        "message": message,
    }
    with db.write() as conn:
        _upsert(conn, paper_id, values, values)
        # A new change number for the paper: the keyword index re-reads it (with its full text, when
        # PAPERFEED_SEARCH_FULLTEXT is on), as it does any changed paper.
        conn.execute(papers.update().where(papers.c.id == paper_id).values(rev=next_rev(conn)))
        if links is not None:
            link_store.store_if_absent(conn, paper_id, links, now)


def record_unchanged(db: Database, paper_id: str, now: datetime, next_at: datetime) -> None:
    """arXiv answered 304: the stored text stands."""
    values = {"fetched_at": now, "next_fetch_at": next_at, "attempts": 0, "message": None}
    with db.write() as conn:
        conn.execute(paper_fulltext.update().where(paper_fulltext.c.paper_id == paper_id).values(**values))


def record_none(
    db: Database, paper_id: str, version: int, now: datetime, next_at: datetime, why: str
) -> None:
    """arXiv has no HTML rendering of this version (404, 410): asked again at ``next_at``. Text stored for
    an older version is kept (it is still that paper's)."""
    insert = {"version": version, "status": NONE, "figures": [], "fetched_at": now, "next_fetch_at": next_at,
              "attempts": 0, "message": why}  # fmt: skip
    update = {k: v for k, v in insert.items() if k != "figures"}
    with db.write() as conn:
        _upsert(conn, paper_id, insert, update)


def record_failure(
    db: Database, paper_id: str, version: int, attempts: int, next_at: datetime, why: str
) -> None:
    """A try that got no usable answer (a timeout, a 5xx, a rate limit): what is stored stays, the paper
    waits until ``next_at``. ``attempts`` counts the failed tries in a row, for the backoff."""
    insert = {"version": version, "status": FAILED, "figures": [], "next_fetch_at": next_at,
              "attempts": attempts, "message": why}  # fmt: skip
    update = {"next_fetch_at": next_at, "attempts": attempts, "message": why}
    with db.write() as conn:
        _upsert(conn, paper_id, insert, update)


def full_text(db: Database, paper_id: str) -> FullText | None:
    f = paper_fulltext.c
    query = sa.select(f.status, f.version, f.markdown, f.figures, f.fetched_at, f.message).where(
        f.paper_id == paper_id
    )
    with db.read() as conn:
        row = conn.execute(query).one_or_none()
    if row is None:
        return None
    return FullText(
        row.status, row.version, row.markdown, list(row.figures or []), row.fetched_at, row.message
    )


def store_thumbnail(
    db: Database,
    paper_id: str,
    image: bytes,
    media_type: str,
    size: tuple[int, int],
    source_url: str,
    caption: str,
    now: datetime,
) -> None:
    values = {"image": image, "media_type": media_type, "width": size[0], "height": size[1],
              "source_url": source_url, "caption": caption, "made_at": now}  # fmt: skip
    with db.write() as conn:
        stmt = upsert(conn, paper_thumbnails).values(paper_id=paper_id, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["paper_id"], set_=values))


def thumbnail(db: Database, paper_id: str) -> Thumbnail | None:
    t = paper_thumbnails.c
    query = sa.select(t.image, t.media_type, t.width, t.height, t.made_at).where(t.paper_id == paper_id)
    with db.read() as conn:
        row = conn.execute(query).one_or_none()
    return Thumbnail(bytes(row.image), row.media_type, row.width, row.height, row.made_at) if row else None


def full_texts(db: Database, ids: Sequence[str]) -> dict[str, str]:
    """Paper id → stored Markdown, for the keyword index (only papers that have some)."""
    if not ids:
        return {}
    f = paper_fulltext.c
    query = sa.select(f.paper_id, f.markdown).where(f.paper_id.in_(list(ids)), f.markdown.is_not(None))
    with db.read() as conn:
        return {r.paper_id: r.markdown for r in conn.execute(query)}


def markdown(db: Database, paper_id: str) -> str | None:
    """The paper's full text as Markdown, when the job has some (of this or an older version)."""
    query = sa.select(paper_fulltext.c.markdown).where(paper_fulltext.c.paper_id == paper_id)
    with db.read() as conn:
        return conn.execute(query).scalar_one_or_none()


def has_text(db: Database, paper_id: str) -> bool:
    """Whether the paper has a full text (the page links to it by name)."""
    f = paper_fulltext.c
    query = sa.select(sa.literal(1)).where(f.paper_id == paper_id, f.markdown.is_not(None))
    with db.read() as conn:
        return conn.execute(query).first() is not None
