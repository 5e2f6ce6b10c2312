"""The storage layer on a real SQLite file: migrations, the feed day rule, orders, navigation, submissions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from paperfeed import markdown
from paperfeed.feed import BadPeriod, feed_page, parse_period, period_of
from paperfeed.models import Organization, Paper, feed_day_of
from paperfeed.settings import Settings
from paperfeed.storage import Database, lists, migrate, open_database, schema
from paperfeed.storage import papers as store
from paperfeed.storage.lists import Selection

T0 = datetime(2026, 8, 3, 12, 0, tzinfo=UTC)  # a Monday


def paper(pid: str, published: datetime, upvotes: int = 0, **kw: object) -> Paper:
    return Paper(
        id=pid,
        title=f"Title {pid}",
        abstract="An abstract.",
        authors=["A. Author"],
        published_at=published,
        upvotes=upvotes,
        **kw,
    )  # type: ignore[arg-type]


def test_migrations_are_recorded(db: Database) -> None:
    assert migrate.current(db) == migrate.head() is not None
    migrate.upgrade(db)  # a second run is a no-op
    with db.read() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar() if db.dialect == "sqlite" else "wal"
        # What queries are built from (schema.py) must be what the migrations created, column for column.
        for name, table in schema.metadata.tables.items():
            assert name in tables
            assert {c["name"] for c in sa.inspect(conn).get_columns(name)} == set(table.c.keys()), name
    assert "alembic_version" in tables
    assert journal == "wal"


def test_feed_day_is_publication_or_later_submission() -> None:
    assert feed_day_of(T0, None, T0 + timedelta(days=9)) == date(2026, 8, 3)
    assert feed_day_of(T0, T0 + timedelta(days=2), T0) == date(2026, 8, 5)
    assert feed_day_of(T0 + timedelta(days=2), T0, T0) == date(2026, 8, 5)
    assert feed_day_of(None, None, T0) == date(2026, 8, 3)


def test_sort_orders_and_navigation(db: Database) -> None:
    store.upsert_papers(
        db,
        [
            paper("2608.00001", T0, upvotes=1),
            paper("2608.00002", T0 + timedelta(hours=5), upvotes=9),
            paper("2608.00003", T0 - timedelta(hours=1), upvotes=4),
            paper("2608.00010", T0 + timedelta(days=2), upvotes=2),  # Wednesday
            paper("2608.00020", T0 + timedelta(days=30), upvotes=7),  # September
        ],
    )
    day = date(2026, 8, 3)
    by_votes = [p.id for p in lists.feed_papers(db, day, day, "upvotes")]
    by_time = [p.id for p in lists.feed_papers(db, day, day, "published")]
    assert by_votes == ["2608.00002", "2608.00003", "2608.00001"]
    assert by_time == ["2608.00002", "2608.00001", "2608.00003"]
    # Trending: one day later, 9 votes 5 hours younger beat 4 votes; age matters, not only votes.
    later = T0 + timedelta(days=1)
    trending = [p.id for p in lists.feed_papers(db, day, day, "trending", now=later)]
    assert trending[0] == "2608.00002"
    assert lists.previous_day(db, date(2026, 8, 5)) == day
    assert lists.next_day(db, day) == date(2026, 8, 5)
    assert lists.previous_day(db, day) is None
    week = feed_page(db, period_of("week", day))
    assert [p.id for p in week.papers] == ["2608.00002", "2608.00003", "2608.00010", "2608.00001"]
    assert week.previous is None and week.next == period_of("week", date(2026, 9, 2))
    month = feed_page(db, parse_period(month="2026-08"))
    assert month.total == 4 and month.next is not None and month.next.key == "2026-09"


def test_trending_decays_with_age(db: Database) -> None:
    old, new = T0, T0 + timedelta(hours=10)
    store.upsert_papers(db, [paper("2608.00001", old, upvotes=10), paper("2608.00002", new, upvotes=3)])
    day = date(2026, 8, 3)
    now = new + timedelta(hours=1)
    # (10+1)/(11+2) = 0.85 < (3+1)/(1+2) = 1.33
    assert [p.id for p in lists.feed_papers(db, day, day, "trending", now=now)] == [
        "2608.00002",
        "2608.00001",
    ]


def test_periods() -> None:
    assert parse_period(day="2026-08-20") == period_of("day", date(2026, 8, 20))
    week = parse_period(week="2026-W34")
    assert (week.start, week.end, week.key) == (date(2026, 8, 17), date(2026, 8, 23), "2026-W34")
    month = parse_period(month="2026-02")
    assert (month.start, month.end, month.key) == (date(2026, 2, 1), date(2026, 2, 28), "2026-02")
    for kwargs, message in [
        ({"day": "2026-13-01"}, "date='2026-13-01' is not a valid date"),
        ({"week": "2026-34"}, "week='2026-34' is not a valid week"),
        ({"month": "2026-8"}, "month='2026-8' is not a valid month"),
        ({"day": "2026-08-01", "week": "2026-W30"}, "only one of"),
    ]:
        with pytest.raises(BadPeriod, match=message):
            parse_period(**kwargs)  # type: ignore[arg-type]


def test_submission_moves_a_paper_to_its_submission_day(db: Database) -> None:
    store.upsert_papers(db, [paper("2608.00001", T0)])
    at = T0 + timedelta(days=10)
    assert store.mark_submitted(db, "2608.00001", "ak", at) is True
    stored = store.paper(db, "2608.00001")
    assert stored is not None and stored.feed_day == date(2026, 8, 13) and stored.submitted_by == "ak"
    assert stored.submitted_at == at
    assert store.mark_submitted(db, "2608.00001", "someone", at) is False
    with pytest.raises(KeyError):
        store.mark_submitted(db, "2608.99999", "ak", at)
    assert [
        p.id
        for p in lists.feed_papers(
            db, date(2026, 8, 13), date(2026, 8, 13), selection=Selection(submitter="ak")
        )
    ] == ["2608.00001"]


def test_organizations_are_shared_and_timestamps_stay_utc(db: Database) -> None:
    org = Organization("AlibabaTongyiLab", "TongyiLab")
    store.upsert_papers(
        db, [paper("2608.00001", T0, organization=org), paper("2608.00002", T0, organization=org)]
    )
    a, b = store.papers_by_ids(db, ["2608.00002", "2608.00001"])
    assert a.organization == b.organization == org
    assert a.id == "2608.00002", "order of the ids is kept"
    assert a.published_at == T0 and a.published_at.tzinfo is not None
    with pytest.raises((sa.exc.StatementError, ValueError), match="naive datetime"):
        store.upsert_papers(db, [paper("2608.00003", datetime(2026, 8, 3))])
    assert store.paper(db, "2608.00003") is None, "a failed batch writes nothing"


def test_timestamps_read_from_sqlite_text_are_what_sqlalchemy_reads_in_utc() -> None:
    """UTCDateTime reads SQLAlchemy's own SQLite format in one step; every text must still come back as
    SQLAlchemy's parser reads it, made UTC-aware (the same instant and the same zone object)."""
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    read = schema.papers.c.published_at.type.dialect_impl(dialect).result_processor(dialect, None)
    parse = sqlite.DATETIME().result_processor(dialect, None)
    for text in (
        "2026-11-30 12:34:56.000000",
        "2026-11-30 12:34:56.000250",
        "1999-12-31 23:59:59.999999",
        "2026-11-30 12:34:56",
        "2026-11-30 12:34:56.5",
        "2026-11-30T12:34:56.000000",
        "2026-11-30 12:34:56.000+02:00",
        "2026-11-30 12:34:56.0+0200",  # the fast path's length, with an offset: read as before
    ):
        naive = parse(text)
        expected = naive.replace(tzinfo=UTC) if naive.tzinfo is None else naive.astimezone(UTC)
        got = read(text)
        assert got == expected and got.tzinfo is UTC and str(got) == str(expected), text
    assert read(None) is None


def test_every_write_takes_a_new_rev(db: Database) -> None:
    store.upsert_papers(db, [paper("2608.00001", T0)])
    first = store.last_rev(db)
    store.upsert_papers(db, [paper("2608.00001", T0)])  # unchanged: no write, no rev
    assert store.last_rev(db) == first
    store.mark_submitted(db, "2608.00001", None, T0)
    assert store.last_rev(db) == first + 1
    assert [r.id for r in store.changed_since(db, first, "2608.00001", 10)] == ["2608.00001"]


def test_bulk_rows_store_what_sqlalchemy_would(db: Database) -> None:
    """upsert_papers builds its rows itself (positional on SQLite, for speed): every column must hold
    what SQLAlchemy's own column types write, for the awkward values too."""
    from zoneinfo import ZoneInfo

    from paperfeed.models import Version

    paris = ZoneInfo("Europe/Paris")
    full = Paper(
        id="2608.00001",
        title="T",
        abstract="A",
        authors=["Ünï Çödé", "B. Two"],
        categories=["cs.LG", "math.AG"],
        versions=[Version(1, T0), Version(2, datetime(2026, 8, 4, 9, 30, 1, 250, tzinfo=paris))],
        version=2,
        published_at=T0,
        updated_at=datetime(2026, 8, 4, 9, 30, 1, 250, tzinfo=paris),
        comments="c",
        journal_ref="j",
        doi="d",
        report_no="r",
        license="l",
        submitter="s",
        organization=Organization("org", "The Org"),
        submitted_at=T0 + timedelta(days=1),
        submitted_by="someone",
        upvotes=3,
        num_comments=1,
    )
    sparse = Paper(id="2608.00002", title="T", abstract="A", authors=["C. Three"])
    now = T0 + timedelta(days=9, microseconds=7)
    store.upsert_papers(db, [full, sparse], now)
    columns = [c for c in schema.papers.c if c.name not in ("id", "keywords")]
    with db.write() as conn:
        stored = {r[0]: tuple(r[1:]) for r in conn.execute(sa.select(schema.papers.c.id, *columns))}
        org_id = conn.execute(sa.select(schema.organizations.c.id)).scalar_one()
        for p in (full, sparse):  # the same papers through SQLAlchemy's Core insert
            conn.execute(
                schema.papers.insert().values(
                    id="copy-" + p.id,
                    title=p.title,
                    abstract=p.abstract,
                    authors=p.authors,
                    num_authors=p.num_authors,
                    categories=p.categories,
                    primary_category=p.primary_category,
                    versions=[{"version": v.version, "created": v.created.isoformat()} for v in p.versions],
                    version=p.version,
                    published_at=p.published_at,
                    updated_at=p.updated_at,
                    comments=p.comments,
                    journal_ref=p.journal_ref,
                    doi=p.doi,
                    report_no=p.report_no,
                    license=p.license,
                    submitter=p.submitter,
                    organization_id=org_id if p.organization else None,
                    feed_day=feed_day_of(p.published_at, p.submitted_at, now),
                    submitted_at=p.submitted_at,
                    submitted_by=p.submitted_by,
                    upvotes=p.upvotes,
                    num_comments=p.num_comments,
                    ingested_at=now,
                    rev=stored[p.id][-1],
                )
            )
        raw = (
            "SELECT * FROM papers WHERE id = ?"
            if db.dialect == "sqlite"
            else "SELECT * FROM papers WHERE id = %s"
        )
        for p in (full, sparse):
            assert stored[p.id] == tuple(
                conn.execute(sa.select(*columns).where(schema.papers.c.id == "copy-" + p.id)).one()
            )
            # and the same text on disk (timestamps are compared as text), not only the same values read back
            ours, theirs = (conn.exec_driver_sql(raw, (i,)).one() for i in (p.id, "copy-" + p.id))
            json_at = [i for i, c in enumerate(schema.papers.c) if isinstance(c.type, sa.JSON)]
            assert [
                json.loads(ours[i]) if i in json_at and isinstance(ours[i], str) else ours[i]
                for i in range(1, len(ours))
            ] == [
                json.loads(theirs[i]) if i in json_at and isinstance(theirs[i], str) else theirs[i]
                for i in range(1, len(theirs))
            ]


def test_the_comment_html_migration_renders_existing_comments(settings: Settings) -> None:
    db = open_database(settings.database_url, migrate=False)
    try:
        migrate.upgrade(db, "0005")
        now = datetime.now(UTC)
        # Plain SQL: the tables as revision 0005 made them, whatever schema.py says today.
        with db.write() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, name, email, password_hash, created_at) "
                    "VALUES (1, 'ada', 'ada@example.org', 'x', :now)"
                ),
                {"now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO papers (id, title, abstract, authors, categories, versions, version, "
                    "feed_day, ingested_at, rev) VALUES ('2608.00001', 't', 'a', '[]', '[]', '[]', 1, "
                    ":day, :now, 1)"
                ),
                {"day": now.date(), "now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO comments (id, paper_id, user_id, body, created_at) "
                    "VALUES (1, '2608.00001', 1, '**bold** [x](javascript:alert(1))', :now)"
                ),
                {"now": now},
            )
        migrate.upgrade(db)
        with db.read() as conn:
            html = conn.execute(sa.text("SELECT html FROM comments WHERE id = 1")).scalar_one()
        assert html == markdown.render("**bold** [x](javascript:alert(1))")
        assert "<strong>bold</strong>" in html and "<a" not in html
    finally:
        db.close()
