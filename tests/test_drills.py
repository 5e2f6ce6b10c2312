"""Crash and fault drills (issue 17) at sizes that fit the suite; ``bench/drills.py`` runs them at full size
and records the figures in docs/benchmarks.md. The drills themselves are in ``tests/drills.py``."""

from __future__ import annotations

import errno
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperfeed import accounts
from paperfeed.commands.context import refused
from paperfeed.ingest.snapshot import ingest_snapshot
from paperfeed.search import indexer
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from paperfeed.storage.db import unavailable
from tests import drills, postgres
from tests.conftest import RECENT, cached_embedder, fresh_database_url, load_bundled, make_settings

SDM = "2607.07386"  # Sparse Delta Memory, one of the bundled papers


def test_an_import_killed_at_three_points_then_rerun_loses_and_doubles_nothing(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    # Papers embedded and indexed already, so the node's vector index has keys a kill could damage.
    ingest_snapshot(db, RECENT)
    indexer.bring_up_to_date(db, settings, embedder=cached_embedder(settings))
    source = tmp_path / "real-text.jsonl"
    ids = drills.write_records(source, 5000)
    (tmp_path / "reference").mkdir()
    report = drills.import_killed(
        settings,
        source,
        [json.loads(line)["id"] for line in RECENT.read_text().splitlines()] + ids,
        kills=3,
        reference_url=fresh_database_url(tmp_path / "reference"),
        work=tmp_path,
        before=(RECENT,),
        small_as_large=True,
    )
    print("\n".join(report.lines()))
    assert len(report.kills) + report.finished_early == 3 and report.kills
    assert (report.stored, report.missing, report.extra) == (5304, 0, 0)
    assert report.same_rows
    assert report.keyword == (5304, 5304, 5304) and report.keyword_same
    assert report.vectors == (304, 304) and report.vectors_same


def test_index_files_deleted_or_cut_short_under_a_running_server(settings: Settings, tmp_path: Path) -> None:
    """Every search answered meanwhile (from what remains: the other side, or the last good state), and the
    same answers as before once the node has rebuilt its folder, without a restart. Two web workers: one
    writes the node's folder, the other only reads it."""
    load_bundled(settings).close()
    # faulthandler says so in the log if a worker dies of SIGBUS (uvicorn would restart it unnoticed).
    env = {"PAPERFEED_INDEX_REFRESH_SECONDS": "0.3", "PYTHONFAULTHANDLER": "1"}
    with drills.Served(settings, tmp_path / "server.log", workers=2, env=env) as server:
        outages = drills.damage_indexes(server, 554, 554, SDM, list(drills.DAMAGES))
        log = server.log()
    print("\n".join(o.line() for o in outages))
    assert [o.damage for o in outages] == list(drills.DAMAGES)
    for outage in outages:
        assert outage.server_alive and outage.failed == 0 and outage.rebuilt is not None, outage
    assert "Internal Server Error" not in log and "Traceback" not in log, log[-3000:]
    assert "Fatal Python error" not in log, "no web worker was killed (SIGBUS) and restarted by uvicorn"


def test_postgresql_restarted_under_load_gives_fast_503s_and_recovers_without_a_restart(
    tmp_path: Path,
) -> None:
    """On a PostgreSQL server of its own (whatever the backend under test), stopped for 4 s under load."""
    pg = postgres.own_server()
    name = "drill"
    pg.psql(f"CREATE DATABASE {name};")
    settings = make_settings(tmp_path, database_url=pg.get_uri(name))
    db = load_bundled(settings)
    voter = accounts.sign_up(db, "voter", "voter@example.org", "a long passphrase")
    token = accounts.create_token(db, voter, scope="write")
    db.close()
    env = {
        "PAPERFEED_RATE_UPVOTE": "100000/60",
        "PAPERFEED_INDEX_REFRESH_SECONDS": "0.5",
        "PAPERFEED_WORKER_POLL_SECONDS": "0.5",
        "PAPERFEED_INDEX_SYNC_INTERVAL": "1",
    }
    try:
        with drills.Served(settings, tmp_path / "server.log", env=env) as server:
            worker = drills.paperfeed(
                settings, "worker", "--job", "search-index", env=env,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )  # fmt: skip
            report = drills.restart_database(server, pg, worker, SDM, token, down=4.0)
            log = server.log()
    finally:
        pg.cleanup()
    print("\n".join(report.lines()))
    during = report.during()
    assert during and {a.status for a in during} <= {200, 503}, report.statuses(during)
    assert all(a.well_formed for a in during)
    assert max(a.took for a in during) < 2.0, "no request waits for the database to come back"
    assert {a.status for a in during if a.kind == "feed page (cached)"} == {200}, "the last copy is served"
    assert report.last_error_after_up() < 3.0
    assert [a.status for a in report.answers if a.started > report.up_at + 3.0].count(200) > 20
    assert set(a.status for a in report.answers if a.started > report.up_at + 3.0) == {200}
    assert report.server_alive and any("the database is back" in line for line in report.worker_lines), (
        "\n".join(report.worker_lines)
    )
    assert "Traceback" not in log, log[-3000:]


def test_the_disk_filling_during_an_import(settings: Settings, tmp_path: Path) -> None:
    """On SQLite the database and the index folder lie on a 24 MB filesystem with 9 MB free; on PostgreSQL
    only the index folder does (the database is elsewhere), with less free."""
    source = tmp_path / "real-text.jsonl"
    ids = drills.write_records(source, 5000)
    try:
        with drills.small_disk(tmp_path / "disk", 24) as disk:
            sqlite = settings.database_url.startswith("sqlite")
            on_disk = settings.model_copy(
                update={"index_dir": str(disk / "index")}
                | ({"database_url": f"sqlite:///{disk / 'paperfeed.db'}"} if sqlite else {})
            )
            report = drills.fill_disk(on_disk, disk, source, ids, free=9 if sqlite else 1)
    except drills.CannotMount as exc:
        pytest.skip(f"this machine does not let the test mount a small filesystem: {exc}")
    print("\n".join(report.lines()))
    assert report.exit_code == 1 and report.message.startswith("error: the disk is full")
    assert "free some space and run the same command again" in report.message
    assert 0 < report.stored < 5000 and report.in_order
    assert report.integrity in ("ok", "PostgreSQL unaffected")
    assert (report.rerun_exit, report.rerun_stored, report.rerun_documents) == (0, 5000, 5000)


def test_only_a_database_out_of_reach_counts_as_unavailable(tmp_path: Path) -> None:
    """503 (web) and one line (commands) for a database that cannot answer; a faulty statement stays a bug,
    even on SQLite, which reports both as OperationalError."""
    db = open_database(f"sqlite:///{tmp_path / 'paperfeed.db'}")
    with pytest.raises(sa.exc.OperationalError) as faulty, db.read() as conn:
        conn.execute(sa.text("SELECT * FROM no_such_table"))
    assert not unavailable(faulty.value) and refused(faulty.value) is None
    blocker = sqlite3.connect(tmp_path / "paperfeed.db")
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(sa.exc.OperationalError) as locked, db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA busy_timeout=0")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    blocker.rollback()
    assert unavailable(locked.value)
    assert (refused(locked.value) or "").startswith("the database is unavailable (database is locked)")
    full = OSError(errno.ENOSPC, "No space left on device")
    assert (refused(full) or "").startswith("the disk is full ([Errno 28] No space left on device)")
    db.close()
