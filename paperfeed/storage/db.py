"""Connections: one engine per database URL, SQLite tuned for a web server, writes in their own transactions.

SQLite runs in WAL mode so readers never wait for the writer; every write transaction starts with
``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of failing on lock upgrade
(the same discipline as datasette's single write path).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

_WRITE = "paperfeed_write"


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _engine(url)

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql': for the few statements that differ."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits on success and rolls back on any exception."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()


def upsert(conn: Connection, table: Table) -> Any:
    """An INSERT that can take ON CONFLICT: both dialects spell it the same, through their own insert()."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if parsed.drivername == "postgresql":  # a plain postgresql:// URL means the psycopg 3 driver
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event below issue BEGIN, instead of pysqlite's implicit transactions.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes; fsync at checkpoints
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine
