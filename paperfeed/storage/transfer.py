"""Moving a whole installation between databases (SQLite ⇄ PostgreSQL), with proof that nothing was lost.

Generic over ``schema.metadata.sorted_tables`` (parents before children), so a table added later is moved
without changes here. The destination is first migrated to the same Alembic head as the source. Each table
is read in primary-key order with keyset paging, inside one read transaction on the source (a consistent
snapshot: WAL on SQLite, REPEATABLE READ on PostgreSQL), and upserted by primary key in batches, each its
own transaction: a copy killed at any point and run again (``resume``) ends in the same state.

Proof: per table, the row count and an order-independent checksum — the sum, modulo 2^128, of a hash of
each row's normalised values (JSON with sorted keys, timestamps in UTC with microseconds, floats by repr,
bytes as hex) — computed the same way on both sides and compared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from paperfeed.storage import migrate
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import metadata

Progress = Callable[[str, int], None]  # (table, rows copied so far)
_MOD = 2**128


class TransferError(RuntimeError):
    """The copy cannot start or cannot go on; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class TableCheck:
    table: str
    source_rows: int
    dest_rows: int
    source_checksum: str
    dest_checksum: str

    @property
    def ok(self) -> bool:
        return (self.source_rows, self.source_checksum) == (self.dest_rows, self.dest_checksum)


def shown(url: str) -> str:
    """The URL for messages, password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return repr(url)


def connect(url: str, role: str, must_exist: bool) -> Database:
    """Open ``url`` for a transfer, or raise TransferError naming ``role`` (--from/--to) and the problem."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise TransferError(
            f"{role}: {url!r} is not a database URL (use sqlite:///path/to/file.db or postgresql://…)"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise TransferError(
            f"{role}: unsupported database {backend!r} in {shown(url)} (sqlite or postgresql)"
        )
    if backend == "sqlite" and must_exist and not (parsed.database and Path(parsed.database).is_file()):
        raise TransferError(f"{role}: no SQLite database file at {parsed.database or '(empty path)'}")
    try:
        db = Database(url)
        with db.read() as conn:
            conn.exec_driver_sql("SELECT 1")
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise TransferError(f"{role}: cannot connect to {shown(url)}: {first}") from None
    return db


def prepare(source: Database, dest: Database, resume: bool) -> None:
    """Check the source is at this code's head, migrate the destination to it, and refuse a destination
    that already holds rows unless ``resume`` (continuing a copy that was interrupted)."""
    at, head = migrate.current(source), migrate.head()
    if at != head:
        raise TransferError(
            f"--from is at schema revision {at}, this paperfeed's is {head}: "
            "run 'paperfeed --database <source> migrate' first"
        )
    migrate.upgrade(dest)
    if not resume:
        with dest.read() as conn:
            filled = [(t.name, n) for t in metadata.sorted_tables if (n := _count(conn, t))]
        if filled:
            listed = ", ".join(f"{name}: {n} rows" for name, n in filled)
            raise TransferError(
                f"--to already holds data ({listed}); pass --resume to continue an interrupted copy "
                "(rows are upserted by primary key)"
            )


def copy(source: Database, dest: Database, batch: int = 1000, progress: Progress | None = None) -> None:
    """Upsert every row of every table from ``source`` into ``dest``, then reset PostgreSQL sequences."""
    with _snapshot(source) as src:
        for table in metadata.sorted_tables:
            keys = _primary_key(table)
            statement = _upsert_statement(dest, table, keys)
            done = 0
            for rows in _pages(src, table, keys, batch):
                with dest.write() as conn:
                    conn.execute(statement, [_bindable(table, r) for r in rows])
                done += len(rows)
                if progress:
                    progress(table.name, done)
    if dest.dialect == "postgresql":
        _reset_sequences(dest)


def compare(source: Database, dest: Database, batch: int = 5000) -> list[TableCheck]:
    """Row counts and checksums of every table on both sides."""
    with _snapshot(source) as src, _snapshot(dest) as dst:
        checks = []
        for table in metadata.sorted_tables:
            keys = _primary_key(table)
            n1, sum1 = _checksum(src, table, keys, batch)
            n2, sum2 = _checksum(dst, table, keys, batch)
            checks.append(TableCheck(table.name, n1, n2, sum1, sum2))
    return checks


def table_checksum(db: Database, table: sa.Table) -> tuple[int, str]:
    """(rows, checksum) of one table: what ``compare`` computes on each side."""
    with _snapshot(db) as conn:
        return _checksum(conn, table, _primary_key(table), 5000)


# -- reading --------------------------------------------------------------------------------------------


@contextmanager
def _snapshot(db: Database) -> Iterator[sa.Connection]:
    """One read transaction: every page and checksum sees the same state of the database."""
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _primary_key(table: sa.Table) -> list[sa.Column[Any]]:
    keys = list(table.primary_key.columns)
    if not keys:
        raise TransferError(f"table {table.name} has no primary key: it cannot be paged or upserted")
    return keys


def _pages(
    conn: sa.Connection, table: sa.Table, keys: list[sa.Column[Any]], size: int
) -> Iterator[list[Any]]:
    """Every row in primary-key order, ``size`` at a time, each page starting after the last key seen."""
    query = sa.select(table).order_by(*keys).limit(size)
    last: tuple[Any, ...] | None = None
    while True:
        page = query
        if last is not None:
            page = query.where(
                sa.tuple_(*keys)
                > sa.tuple_(*(sa.literal(v, k.type) for v, k in zip(last, keys, strict=True)))
            )
        rows = list(conn.execute(page).all())
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        last = tuple(getattr(rows[-1], k.name) for k in keys)


def _count(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


# -- writing --------------------------------------------------------------------------------------------


def _upsert_statement(dest: Database, table: sa.Table, keys: list[sa.Column[Any]]) -> Any:
    with dest.read() as conn:
        stmt = upsert(conn, table)
    others = [c.name for c in table.columns if not c.primary_key]
    index = [k.name for k in keys]
    if not others:
        return stmt.on_conflict_do_nothing(index_elements=index)
    return stmt.on_conflict_do_update(index_elements=index, set_={c: stmt.excluded[c] for c in others})


def _bindable(table: sa.Table, row: Any) -> dict[str, Any]:
    values = row._asdict()
    for column in table.columns:
        # A JSON column binds Python None as the JSON text 'null'; the source held SQL NULL.
        if values[column.name] is None and isinstance(column.type, sa.JSON | postgresql.JSONB):
            values[column.name] = sa.null()
    return values


def _reset_sequences(dest: Database) -> None:
    """Rows were inserted with their ids: move each serial/identity sequence past the largest one."""
    with dest.write() as conn:
        for table in metadata.sorted_tables:
            for column in table.primary_key.columns:
                sequence = conn.execute(
                    sa.select(sa.func.pg_get_serial_sequence(table.name, column.name))
                ).scalar_one()
                if sequence is None:
                    continue
                highest = sa.select(sa.func.coalesce(sa.func.max(column), 0)).scalar_subquery()
                conn.execute(sa.select(sa.func.setval(sequence, highest + 1, False)))


# -- checksums ------------------------------------------------------------------------------------------


def _checksum(conn: sa.Connection, table: sa.Table, keys: list[sa.Column[Any]], size: int) -> tuple[int, str]:
    total = count = 0
    for rows in _pages(conn, table, keys, size):
        for row in rows:
            digest = hashlib.blake2b(orjson.dumps([_normal(v) for v in row]), digest_size=16).digest()
            total = (total + int.from_bytes(digest, "big")) % _MOD
        count += len(rows)
    return count, f"{total:032x}"


def _normal(value: Any) -> Any:
    """The same value as either backend returns it, in one spelling."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the offset
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        # JSONB reorders keys; sorted keys make both spellings one.
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return str(value)
