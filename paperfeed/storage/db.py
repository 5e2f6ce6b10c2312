"""Connections: one engine per database URL, SQLite tuned for a web server, writes in their own transactions.

SQLite runs in WAL mode so readers never wait for the writer; every write transaction starts with
``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of failing on lock upgrade
(the same discipline as datasette's single write path).

When the database cannot be reached (PostgreSQL restarting, a lost connection) or cannot write (a full
disk), ``unavailable`` says so: the web answers 503 and the commands exit 1 naming it, and the pool's
pre-ping reconnects once it is back, without a restart (issue 17's drills).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, create_engine, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

_WRITE = "paperfeed_write"
# A PostgreSQL that is down refuses a connection at once; one that cannot be reached (a lost host, a
# dropped route) would hold a request for the system's TCP timeout, minutes: give up after this long.
CONNECT_TIMEOUT = 5


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _engine(url)
        self._bulk: tuple[int, Connection] | None = None  # (thread, connection) of a bulk() in progress
        self._snapshots = threading.local()  # .conn: the connection of this thread's snapshot(), if any

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql': for the few statements that differ."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        held: Connection | None = getattr(self._snapshots, "conn", None)
        if held is not None:
            yield held
            return
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every ``read()`` this thread makes inside shares one connection and one read transaction: a
        page's several questions see one state of the database, and cost one pool checkout, one BEGIN and
        one ROLLBACK instead of one each (on a signed-in feed page, seven). Hold it around the reads only,
        not around rendering: the connection is the pool's meanwhile. Writes (``write()``) keep their own
        connection and transaction; a snapshot does not see them. Nested snapshots are the outer one."""
        if getattr(self._snapshots, "conn", None) is not None:
            yield
            return
        with self.engine.connect() as conn:
            self._snapshots.conn = conn
            try:
                yield
            finally:
                self._snapshots.conn = None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits on success and rolls back on any exception."""
        if self._bulk is not None and self._bulk[0] == threading.get_ident():
            with self._bulk[1].begin():
                yield self._bulk[1]
            return
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """A bulk import by this thread. On SQLite its writes share one connection with a larger page
        cache and no automatic checkpoint, while a second thread copies the WAL back into the database
        file: otherwise the writer does that itself at the end of every batch, and waits on the disk
        (measured: a third of the time to store a batch). sqlite3 releases the GIL meanwhile, and a
        PASSIVE checkpoint never blocks the writer. Nothing changes on PostgreSQL.
        """
        if self.dialect != "sqlite" or self._bulk is not None:
            yield
            return
        stop = threading.Event()
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            _pragmas(conn, "cache_size=-65536", "wal_autocheckpoint=0")  # 64 MB
            checkpointer = threading.Thread(target=self._checkpoint, args=(stop,), name="wal-checkpoint")
            checkpointer.start()
            self._bulk = (threading.get_ident(), conn)
            try:
                yield
            finally:
                self._bulk = None
                stop.set()
                checkpointer.join()
                _pragmas(conn, f"cache_size={_CACHE_SIZE}", f"wal_autocheckpoint={_AUTOCHECKPOINT}")
                _pragmas(conn, "wal_checkpoint(PASSIVE)")

    def _checkpoint(self, stop: threading.Event) -> None:
        with self.engine.connect() as conn:
            while not stop.wait(0.02):
                try:
                    _pragmas(conn, "wal_checkpoint(PASSIVE)")
                except sqlite3.OperationalError:  # a full disk: the importer's next write fails and says so
                    continue

    def close(self) -> None:
        self.engine.dispose()


_CACHE_SIZE = -2000  # SQLite's defaults, which a connection gets back after bulk()
_AUTOCHECKPOINT = 1000


def _pragmas(conn: Connection, *pragmas: str) -> None:
    # On the driver's connection: through SQLAlchemy, a statement would begin a transaction.
    driver = conn.connection.driver_connection
    assert driver is not None
    for pragma in pragmas:
        driver.execute(f"PRAGMA {pragma}").fetchall()


def _json_loads(text: str) -> Any:
    """JSON columns as SQLite returns them (text), read by orjson: a feed page reads four JSON columns of
    each of its 50 papers, and the standard library took 3-4 times as long. What orjson refuses and the
    standard library reads (a lone surrogate escape, an integer past 64 bits, NaN) goes to the standard
    library, so every stored value reads as before."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def upsert(conn: Connection, table: Table) -> Any:
    """An INSERT that can take ON CONFLICT: both dialects spell it the same, through their own insert()."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if parsed.drivername == "postgresql":  # a plain postgresql:// URL means the psycopg 3 driver
            parsed = parsed.set(drivername="postgresql+psycopg")
        # Pre-ping: a connection the server dropped (a restart) is replaced when next checked out.
        return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT})
    engine = create_engine(
        parsed, connect_args={"check_same_thread": False, "timeout": 30}, json_deserializer=_json_loads
    )

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


# SQLite reports a bad statement (no such table) as an OperationalError too: only these mean unavailable.
_SQLITE_UNAVAILABLE = ("database is locked", "disk i/o error", "disk is full", "unable to open database")


def unavailable(error: BaseException) -> bool:
    """Whether an error means the database cannot be reached or cannot write right now (restarting, a
    lost connection, no connection free in the pool, a full disk), rather than a faulty statement."""
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        if isinstance(error.orig, sqlite3.Error):
            return isinstance(error, exc.OperationalError) and any(
                words in str(error.orig).lower() for words in _SQLITE_UNAVAILABLE
            )
        return isinstance(error, exc.OperationalError)
    return isinstance(error, exc.TimeoutError)
