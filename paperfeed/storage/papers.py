"""All SQL about papers: storing what ingest produced and answering the feed's questions."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from paperfeed.models import (
    CodeLinks,
    Organization,
    Paper,
    StoredSummary,
    StoredThumbnail,
    Version,
    feed_day_of,
)
from paperfeed.storage import authors as author_store
from paperfeed.storage import links as link_store
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.paper_rows import COLUMNS, PreparedPaper, json_text, prepare
from paperfeed.storage.schema import (
    counters,
    organizations,
    paper_authors,
    paper_summaries,
    paper_thumbnails,
    papers,
)

# Columns a newer arXiv version replaces; feed state (day, votes, submitter, organization) is ours and stays.
_SOURCE_COLUMNS = (
    "title", "abstract", "authors", "num_authors", "categories", "primary_category", "versions", "version",
    "published_at", "updated_at", "comments", "journal_ref", "doi", "report_no", "license", "submitter",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class IndexRow:
    """What a derived index needs of a paper, read without building a whole Paper."""

    rev: int
    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    feed_day: date
    organization: str | None


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    inserted: int
    updated: int
    unchanged: int
    rev: int = 0  # the change number this batch's writes carry; 0 when nothing was written
    # What a derived index needs of each paper written, when every write was an insert (the bulk
    # import's case): the keyword index takes them from here instead of reading them back. None when
    # some paper was updated, since its feed day and organization are the stored ones.
    written: list[IndexRow] | None = None


def next_rev(conn: sa.Connection, name: str = "papers") -> int:
    """Take the next change number. The counter row stays locked until commit, so on PostgreSQL changes
    become visible in rev order and an index that has seen rev N has seen everything below it."""
    stmt = upsert(conn, counters).values(name=name, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"value": counters.c.value + 1})
    return int(conn.execute(stmt.returning(counters.c.value)).scalar_one())


def whole_revs(conn: sa.Connection, query: sa.Select[Any], limit: int) -> Sequence[sa.Row[Any]]:
    """About ``limit`` rows of ``query`` (papers changed after a cursor, ordered by ``papers.rev``), cut at a
    whole rev: a batch of papers stored together shares one rev, and a reader that moves its cursor to the
    last rev it read would skip the rest of a rev a page cut into. So the page stops before the last rev
    when the limit splits it, or, when a single rev fills the page, holds all of that rev's papers."""
    rows = conn.execute(query.limit(limit)).all()
    if rows and len(rows) == limit:
        last = rows[-1].rev
        if rows[0].rev != last:
            return [r for r in rows if r.rev != last]
        return conn.execute(query.where(papers.c.rev == last)).all()
    return rows


def upsert_papers(
    db: Database,
    batch: Sequence[Paper],
    now: datetime | None = None,
    also: Callable[[sa.Connection], None] | None = None,
    index_rows: bool = True,
) -> UpsertCounts:
    """Store a batch in one transaction: new papers are inserted, a newer version replaces the stored
    record, and an older or equal version changes nothing.

    ``also`` runs inside the same transaction (even for an empty batch), so a harvester can commit its
    progress marker together with the papers it stored. ``index_rows``: give ``UpsertCounts.written``
    (an import that builds no index alongside has no use for it)."""
    if not batch and also is None:
        return UpsertCounts(0, 0, 0)
    now = now or datetime.now(UTC)
    with db.write() as conn:
        counts = _store(conn, batch, now, index_rows)
        if also is not None:
            also(conn)
    return counts


def store_prepared(
    db: Database,
    batch: Sequence[PreparedPaper],
    now: datetime,
    also: Callable[[sa.Connection], None] | None = None,
    index_rows: bool = True,
) -> UpsertCounts:
    """``upsert_papers`` for papers ``prepare`` made ready (with the same ``now`` and this database's
    dialect): the same transaction, the same rules, the same rows."""
    with db.write() as conn:
        stored, fresh = _fresh(conn, batch)
        counts = (
            _write(conn, fresh, stored, len(batch), now, index_rows)
            if fresh
            else UpsertCounts(0, 0, len(batch))
        )
        if also is not None:
            also(conn)
    return counts


def _store(conn: sa.Connection, batch: Sequence[Paper], now: datetime, index_rows: bool) -> UpsertCounts:
    stored, fresh = _fresh(conn, batch)
    if not fresh:
        return UpsertCounts(0, 0, len(batch))
    return _write(conn, prepare(fresh, now, conn.dialect.name), stored, len(batch), now, index_rows)


_ORGANIZATION_ID = COLUMNS.index("organization_id")
_P = TypeVar("_P", Paper, PreparedPaper)


def _fresh(conn: sa.Connection, batch: Sequence[_P]) -> tuple[dict[str, int], list[_P]]:
    """(the versions stored of the batch's papers that are stored, those to write: the newest of each
    id that is not stored, or stored in an older version)."""
    latest: dict[str, _P] = {}
    for p in batch:  # a source may repeat an id inside one batch: keep its newest version
        if p.id not in latest or p.version > latest[p.id].version:
            latest[p.id] = p
    if not latest:
        return {}, []
    stored = _stored_versions(conn, list(latest))
    return stored, [p for p in latest.values() if p.id not in stored or p.version > stored[p.id]]


def _write(
    conn: sa.Connection,
    fresh: list[PreparedPaper],
    stored: dict[str, int],
    total: int,
    now: datetime,
    index_rows: bool,
) -> UpsertCounts:
    org_ids = _organization_ids(conn, [p.organization for p in fresh if p.organization])
    # The authors a new version replaces (the bulk import's inserts have none to read).
    updated = [p.id for p in fresh if p.id in stored]
    before = (
        conn.execute(sa.select(papers.c.id, papers.c.authors).where(papers.c.id.in_(updated))).all()
        if updated
        else []
    )
    rev = next_rev(conn)
    rows = [
        (*p.row, rev)
        if p.organization is None
        else (
            *p.row[:_ORGANIZATION_ID],
            org_ids.get(p.organization.name),
            *p.row[_ORGANIZATION_ID + 1 :],
            rev,
        )
        for p in fresh
    ]
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_sqlite_upsert(conn), rows)
    else:
        conn.execute(_upsert(conn), [dict(zip(COLUMNS, row, strict=True)) for row in rows])
    # Each paper's authors by normal name, for author pages, feeds and follows (storage/authors.py).
    author_store.replace(conn, [(key, p.id) for p in fresh for key in p.author_keys], before)
    # Code links the text names (a member's own are kept: storage/links.py).
    link_store.store_found(conn, [(p.id, p.links) for p in fresh if p.links is not None], now)
    inserted = sum(1 for p in fresh if p.id not in stored)
    written = [_index_row(p, rev) for p in fresh] if index_rows and inserted == len(fresh) else None
    return UpsertCounts(inserted, len(fresh) - inserted, total - len(fresh), rev, written)


def _index_row(p: PreparedPaper, rev: int) -> IndexRow:
    if p.authors is None or p.categories is None or p.feed_day is None:
        raise ValueError(f"{p.id} was prepared without what an index needs")
    organization = p.organization.name if p.organization else None
    return IndexRow(rev, p.id, p.row[1], p.row[2], p.authors, p.categories, p.feed_day, organization)


def _stored_versions(conn: sa.Connection, ids: list[str]) -> dict[str, int]:
    """The version stored of each of these papers that is stored."""
    if conn.dialect.name == "sqlite":
        # The ids as one JSON array: SQLAlchemy renders an IN list of a batch's 2,000 ids parameter by
        # parameter at every call, which cost more than the lookups.
        found = conn.exec_driver_sql(
            "SELECT id, version FROM papers WHERE id IN (SELECT value FROM json_each(?))",
            (json_text(ids),),
        )
        return dict(found.all())
    query = sa.select(papers.c.id, papers.c.version).where(papers.c.id.in_(ids))
    return dict(conn.execute(query).all())


def _upsert(conn: sa.Connection) -> Any:
    stmt = upsert(conn, papers)
    return stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={c: stmt.excluded[c] for c in (*_SOURCE_COLUMNS, "rev")},
        where=papers.c.version < stmt.excluded.version,
    )


_SQLITE_SQL: list[str] = []  # the upsert compiled for SQLite, once per process


def _sqlite_upsert(conn: sa.Connection) -> str:
    """The same upsert as SQLite text, its positional parameters in COLUMNS order."""
    if not _SQLITE_SQL:
        compiled = _upsert(conn).compile(dialect=conn.dialect, column_keys=list(COLUMNS))
        if tuple(compiled.positiontup or ()) != COLUMNS:
            raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
        _SQLITE_SQL.append(compiled.string)
    return _SQLITE_SQL[0]


def _organization_ids(conn: sa.Connection, orgs: list[Organization]) -> dict[str, int]:
    if not orgs:
        return {}
    unique = {o.name: o for o in orgs}
    stmt = upsert(conn, organizations).on_conflict_do_nothing(index_elements=["name"])
    conn.execute(stmt, [{"name": o.name, "fullname": o.fullname} for o in unique.values()])
    found = conn.execute(
        sa.select(organizations.c.name, organizations.c.id).where(organizations.c.name.in_(unique))
    )
    return dict(found.all())


def mark_submitted(db: Database, paper_id: str, by: str | None, at: datetime) -> bool:
    """Put a stored paper on the feed of the day it was submitted; False if someone submitted it already."""
    with db.write() as conn:
        row = conn.execute(
            sa.select(papers.c.published_at, papers.c.submitted_at).where(papers.c.id == paper_id)
        ).one_or_none()
        if row is None:
            raise KeyError(paper_id)
        if row.submitted_at is not None:
            return False
        conn.execute(
            papers.update()
            .where(papers.c.id == paper_id)
            .values(
                submitted_at=at,
                submitted_by=by,
                feed_day=feed_day_of(row.published_at, at, at),
                rev=next_rev(conn),
            )
        )
    return True


def unmark_submitted(db: Database, paper_id: str) -> bool:
    """Take a paper off the curated list: it goes back to the day it was published (or stored); False if
    it was not on the list."""
    with db.write() as conn:
        row = conn.execute(
            sa.select(papers.c.published_at, papers.c.submitted_at, papers.c.ingested_at).where(
                papers.c.id == paper_id
            )
        ).one_or_none()
        if row is None:
            raise KeyError(paper_id)
        if row.submitted_at is None:
            return False
        conn.execute(
            papers.update()
            .where(papers.c.id == paper_id)
            .values(
                submitted_at=None,
                submitted_by=None,
                feed_day=feed_day_of(row.published_at, None, row.ingested_at),
                rev=next_rev(conn),
            )
        )
    return True


# -- questions ---------------------------------------------------------------------------------------


def paper_query() -> sa.Select[Any]:
    """Papers with their organization, ready for a WHERE: every question about whole papers starts here.
    One statement, built once: statements are immutable (``where`` makes a new one), and building these
    joins took a third of a millisecond each time."""
    return _PAPER_QUERY


def _paper_query() -> sa.Select[Any]:
    return sa.select(
        papers,
        organizations.c.name.label("org_name"),
        organizations.c.fullname.label("org_fullname"),
        *link_store.LINK_COLUMNS,
        paper_summaries.c.text.label("summary_text"),
        paper_summaries.c.model.label("summary_model"),
        paper_summaries.c.made_at.label("summary_at"),
        paper_thumbnails.c.made_at.label("thumbnail_at"),
        paper_thumbnails.c.caption.label("thumbnail_caption"),
    ).select_from(
        link_store.repo_join(papers.outerjoin(organizations, papers.c.organization_id == organizations.c.id))
        .outerjoin(paper_summaries, paper_summaries.c.paper_id == papers.c.id)
        .outerjoin(paper_thumbnails, paper_thumbnails.c.paper_id == papers.c.id)
    )


_PAPER_QUERY = _paper_query()


def paper(db: Database, paper_id: str) -> Paper | None:
    with db.read() as conn:
        row = conn.execute(paper_query().where(papers.c.id == paper_id)).one_or_none()
    return paper_of_row(row) if row else None


# Built once: every search reads its results with it, and building the statement each time cost more
# than running it.
_BY_IDS = paper_query().where(papers.c.id.in_(sa.bindparam("ids", expanding=True)))


def papers_by_ids(db: Database, ids: Sequence[str]) -> list[Paper]:
    """The papers with these ids, in the order given (search results keep their ranking)."""
    if not ids:
        return []
    with db.read() as conn:
        found = {r.id: paper_of_row(r) for r in conn.execute(_BY_IDS, {"ids": list(ids)})}
    return [found[i] for i in ids if i in found]


def organization_papers(db: Database, org_id: int, limit: int = 100) -> list[Paper]:
    """The papers an organization publishes, newest on the feed first."""
    query = paper_query().where(papers.c.organization_id == org_id)
    with db.read() as conn:
        rows = conn.execute(query.order_by(papers.c.feed_day.desc(), papers.c.id).limit(limit))
        return [paper_of_row(r) for r in rows]


def author_papers(db: Database, name: str, limit: int = 50, offset: int = 0) -> list[Paper]:
    """The papers with an author of this name (compared as ``authors.author_key`` does: no case, accents
    or extra spaces), newest on the feed first, through the ``paper_authors`` index."""
    ids = sa.select(paper_authors.c.paper_id).where(paper_authors.c.key == author_store.author_key(name))
    query = (
        paper_query()
        .where(papers.c.id.in_(ids))
        .order_by(papers.c.feed_day.desc(), papers.c.published_at.desc().nulls_last(), papers.c.id)
        .limit(limit)
        .offset(offset)
    )
    with db.read() as conn:
        return [paper_of_row(r) for r in conn.execute(query)]


def count_papers(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one())


def changed_since(db: Database, rev: int, after_id: str, limit: int) -> list[IndexRow]:
    """Papers written after position (rev, id) in change order: derived indexes page through this to
    catch up. Keyset paging on (rev, id), since one batch shares one rev."""
    c = papers.c
    query = (
        sa.select(c.rev, c.id, c.title, c.abstract, c.authors, c.categories, c.feed_day, organizations.c.name)
        .select_from(papers.outerjoin(organizations, c.organization_id == organizations.c.id))
        .where(sa.tuple_(c.rev, c.id) > sa.tuple_(sa.literal(rev), sa.literal(after_id)))
        .order_by(c.rev, c.id)
        .limit(limit)
    )
    with db.read() as conn:
        return [
            IndexRow(r.rev, r.id, r.title, r.abstract, r.authors, r.categories, _as_date(r.feed_day), r.name)
            for r in conn.execute(query)
        ]


def last_id(db: Database, rev: int) -> str:
    """The last paper of change ``rev`` in (rev, id) order: where keyset paging resumes after it."""
    with db.read() as conn:
        return str(conn.execute(sa.select(sa.func.max(papers.c.id)).where(papers.c.rev == rev)).scalar_one())


def last_rev(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(papers.c.rev), 0))).scalar_one())


# What paper_of_row reads of a row, by position: a Row's attribute access by name costs ~2 µs (SQLAlchemy
# 2.1 looks the name up on the Row class first), its index ~20 ns, and a page of 50 papers read 26 names
# each (3 ms). The positions are paper_query()'s; callers may add columns after them, never before.
_READ = (
    "id", "title", "abstract", "authors", "categories", "versions", "version", "published_at", "updated_at",
    "num_authors", "comments", "journal_ref", "doi", "report_no", "license", "submitter", "org_name",
    "org_fullname", "feed_day", "submitted_at", "submitted_by", "upvotes", "num_comments", "keywords",
    "repo_url", "project_page", "repo_stars", "repo_status", "summary_text", "summary_model", "summary_at",
    "thumbnail_at", "thumbnail_caption",
)  # fmt: skip
_POSITION = {key: i for i, key in enumerate(paper_query().selected_columns.keys())}
_VALUES = operator.itemgetter(*(_POSITION[key] for key in _READ))


def paper_of_row(row: Any) -> Paper:
    """The Paper a row of ``paper_query`` describes (extra columns added after its own are ignored)."""
    (
        paper_id, title, abstract, authors, categories, versions, version, published_at, updated_at,
        num_authors, comments, journal_ref, doi, report_no, license_, submitter, org_name, org_fullname,
        feed_day, submitted_at, submitted_by, upvotes, num_comments, keywords, repo_url, project_page,
        repo_stars, repo_status, summary_text, summary_model, summary_at, thumbnail_at, thumbnail_caption,
    ) = _VALUES(row)  # fmt: skip
    return Paper(
        id=paper_id,
        title=title,
        abstract=abstract,
        authors=list(authors),
        categories=list(categories),
        versions=[Version(v["version"], datetime.fromisoformat(v["created"])) for v in versions],
        version=version,
        published_at=published_at,
        updated_at=updated_at,
        num_authors=num_authors,
        comments=comments,
        journal_ref=journal_ref,
        doi=doi,
        report_no=report_no,
        license=license_,
        submitter=submitter,
        organization=Organization(org_name, org_fullname) if org_name else None,
        feed_day=_as_date(feed_day),
        submitted_at=submitted_at,
        submitted_by=submitted_by,
        upvotes=upvotes,
        num_comments=num_comments,
        keywords=list(keywords or ()),
        code=CodeLinks(repo_url, project_page, repo_stars, repo_status or "unchecked")
        if repo_url or project_page
        else None,
        summary=StoredSummary(summary_text, summary_model, summary_at) if summary_text else None,
        thumbnail=StoredThumbnail(thumbnail_at, thumbnail_caption) if thumbnail_at else None,
    )


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def papers_after(db: Database, after_id: str, limit: int) -> list[Paper]:
    """Every paper, in id order, after ``after_id`` ('' for the first): keyset paging through them all
    (``GET /api/papers?cursor=``), as cheap on the millionth page as on the first."""
    query = paper_query().where(papers.c.id > after_id).order_by(papers.c.id).limit(limit)
    with db.read() as conn:
        return [paper_of_row(r) for r in conn.execute(query)]
