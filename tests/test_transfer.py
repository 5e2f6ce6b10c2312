"""Moving an installation between SQLite and PostgreSQL (``paperfeed migrate-db``), on real databases.

Whatever backend the suite runs on, these tests use both: a real SQLite file and the embedded PostgreSQL.
"""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.storage import Database, harvests, open_database, schema, transfer
from paperfeed.storage.embeddings import vector_key
from tests import postgres
from tests.conftest import BACKEND, ROOT, load_bundled, make_settings

PAPERFEED = ROOT / ".venv" / "bin" / "paperfeed"
T0 = datetime(2026, 8, 3, 12, 0, 0, 123456, tzinfo=UTC)


def other_backend(folder: Path) -> str:
    """A fresh database on the backend the suite is not running on."""
    return postgres.new_database() if BACKEND == "sqlite" else f"sqlite:///{folder / 'other.db'}"


def richer_installation(folder: Path) -> Database:
    """The bundled data plus rows in the tables it leaves empty: a harvest (serial id, timestamps),
    an embedding (bytes), keywords (JSON with keys out of order) and a job position."""
    folder.mkdir()
    db = load_bundled(make_settings(folder))
    harvests.start_harvest(db, "http://oai", "arXivRaw", "", "2026-08-01", "", now=T0)
    with db.write() as conn:
        # The bundled load embedded every paper; keep one known vector and keywords on one paper only.
        conn.execute(schema.paper_embeddings.delete())
        conn.execute(schema.papers.update().values(keywords=None))
        paper_id = conn.execute(sa.select(schema.papers.c.id).limit(1)).scalar_one()
        conn.execute(
            schema.papers.update()
            .where(schema.papers.c.id == paper_id)
            .values(keywords={"zeta": [1.5, 2], "alpha": "ünïcode $x^2$"})
        )
        conn.execute(
            schema.paper_embeddings.insert().values(
                paper_id=paper_id,
                key=vector_key(paper_id),  # a 63-bit integer: BIGINT on both sides
                model="m",
                text_hash="h",
                vector=bytes(range(256)),
                rev=1,
            )
        )
        conn.execute(schema.job_positions.insert().values(name="j", rev=3, last_id=paper_id, updated_at=T0))
    return db


def sums(db: Database) -> dict[str, tuple[int, str]]:
    return {t.name: transfer.table_checksum(db, t) for t in schema.metadata.sorted_tables}


def migrate_db(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["migrate-db", *args])
    return result.exit_code, result.output


def test_round_trip_to_the_other_backend_and_back_loses_nothing(tmp_path: Path) -> None:
    source = richer_installation(tmp_path / "source")
    there = other_backend(tmp_path)
    back = postgres.new_database() if BACKEND == "postgresql" else f"sqlite:///{tmp_path / 'back.db'}"

    code, out = migrate_db("--from", source.url, "--to", there)
    assert code == 0, out
    code, out = migrate_db("--from", there, "--to", back)
    assert code == 0, out
    assert f"all {len(schema.metadata.sorted_tables)} tables match" in out

    original = sums(source)
    assert all(rows for rows, _ in (original["papers"], original["harvests"], original["paper_embeddings"]))
    assert sums(open_database(there, migrate=False)) == original == sums(open_database(back, migrate=False))
    for url in (there, back):
        copied = open_database(url, migrate=False)
        with copied.read() as conn:
            # SQL NULL stays NULL (not the JSON text 'null'), and JSON keys survive JSONB's reordering.
            nulls = conn.execute(
                sa.select(sa.func.count()).where(schema.papers.c.keywords.is_(None))
            ).scalar_one()
            keywords = conn.execute(
                sa.select(schema.papers.c.keywords).where(schema.papers.c.keywords.is_not(None))
            ).scalar_one()
            vector = conn.execute(sa.select(schema.paper_embeddings.c.vector)).scalar_one()
        assert nulls == original["papers"][0] - 1
        assert keywords == {"alpha": "ünïcode $x^2$", "zeta": [1.5, 2]}
        assert bytes(vector) == bytes(range(256))
        # Sequences were moved past the copied ids: a new harvest gets the next id, not a duplicate.
        started = harvests.start_harvest(copied, "http://oai", "arXivRaw", "", "2026-08-02", "", now=T0)
        assert started.id == 2


def test_a_changed_row_shows_in_the_checksum(tmp_path: Path) -> None:
    source = load_bundled(make_settings(tmp_path))
    there = other_backend(tmp_path)
    assert migrate_db("--from", source.url, "--to", there)[0] == 0
    with open_database(there, migrate=False).write() as conn:
        conn.execute(schema.papers.update().where(schema.papers.c.upvotes > 0).values(upvotes=0))

    code, out = migrate_db("--from", source.url, "--to", there, "--verify-only")
    assert code == 1
    assert "1 table(s) differ: papers" in out
    assert sums(source)["organizations"] == sums(open_database(there, migrate=False))["organizations"]


def test_a_copy_killed_midway_resumes_to_the_same_end_state(tmp_path: Path) -> None:
    source = richer_installation(tmp_path / "source")
    there = other_backend(tmp_path)
    dest = open_database(there)  # migrated, so its row count can be watched
    copying = subprocess.Popen(
        [PAPERFEED, "migrate-db", "--from", source.url, "--to", there, "--batch", "3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    total = sums(source)["papers"][0]
    copied = 0
    deadline = time.monotonic() + 60
    while copied == 0 and time.monotonic() < deadline:
        with dest.read() as conn:
            copied = conn.execute(sa.select(sa.func.count()).select_from(schema.papers)).scalar_one()
        time.sleep(0.005)
    copying.send_signal(signal.SIGKILL)
    copying.wait()
    with dest.read() as conn:
        copied = conn.execute(sa.select(sa.func.count()).select_from(schema.papers)).scalar_one()
    assert 0 < copied < total  # killed in the middle of the papers

    code, out = migrate_db("--from", source.url, "--to", there)
    assert code == 1 and "--to already holds data" in out and "--resume" in out
    code, out = migrate_db("--from", source.url, "--to", there, "--resume")
    assert code == 0, out
    assert sums(dest) == sums(source)
    code, out = migrate_db("--from", source.url, "--to", there, "--resume")  # once more: nothing changes
    assert code == 0 and sums(dest) == sums(source)


def test_bad_urls_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'new.db'}"
    code, out = migrate_db("--from", "mysql://u@h/db", "--to", target)
    assert code == 1 and "--from: unsupported database 'mysql'" in out
    code, out = migrate_db("--from", "not a url", "--to", target)
    assert code == 1 and "--from: 'not a url' is not a database URL" in out
    code, out = migrate_db("--from", f"sqlite:///{tmp_path / 'missing.db'}", "--to", target)
    assert code == 1 and "--from: no SQLite database file at" in out
    code, out = migrate_db(
        "--from", target.replace("new", "x"), "--to", "postgresql://u:hunter2@127.0.0.1:1/x"
    )
    assert code == 1 and "no SQLite database file" in out
    open_database(target).close()
    code, out = migrate_db("--from", target, "--to", "postgresql://u:hunter2@127.0.0.1:1/x")
    assert code == 1 and "--to: cannot connect to postgresql://u:***@127.0.0.1:1/x" in out
    assert "hunter2" not in out
    assert not (tmp_path / "missing.db").exists()  # nothing was created on the way


def test_backup_writes_a_consistent_copy_of_sqlite(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'live.db'}"
    db = load_bundled(make_settings(tmp_path, database_url=source))
    target = tmp_path / "backup.db"
    result = CliRunner().invoke(main, ["--database", source, "backup", str(target)])
    assert result.exit_code == 0, result.output
    assert sums(open_database(f"sqlite:///{target}", migrate=False)) == sums(db)
    result = CliRunner().invoke(main, ["--database", "postgresql://h/db", "backup", str(target)])
    assert result.exit_code == 1 and "pg_dump" in result.output
