"""Crash and fault drills (issue 17) at full size, with their figures; tests/test_drills.py runs the same drills
(tests/drills.py) at sizes that fit the suite.

1. kill -9 at 20 points of a 100,000-paper import (real text: the bundled papers under new ids, their
   sentences shuffled; `paperfeed ingest snapshot` as it is, the keyword index built alongside), then one run
   to the end: papers lost or doubled, rows against an uninterrupted import, the node's keyword and vector
   indexes against a rebuild of them from the database (what `paperfeed index --rebuild` does, without
   embedding the new papers: the model would take an hour);
2. the index files of a running `paperfeed serve --workers 2` over that database deleted or cut short, one
   damage after another: requests meanwhile, failures, the slowest, and when the node had rebuilt its folder
   and answered as before;
3. PostgreSQL (a server of its own) stopped and started again under load, once as an operator's restart
   (`pg_ctl -m fast`) and once as a crash (`-m immediate`): the answers while it was down, the slowest, and
   how soon after it was back every request succeeded;
4. the same import on a small tmpfs that fills (needs root to mount it): the error, what stayed stored, the
   database's integrity check, and a rerun once the space is freed.

    .venv/bin/python bench/drills.py [--papers 100000] [--kills 20] [--dir .bench/drills]
                                     [--only kill,index,database,disk] [--down 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.drills

from paperfeed import accounts
from paperfeed.ingest.snapshot import ingest_snapshot
from paperfeed.search import indexer
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from tests import drills, postgres
from tests.embed_cache import CachedEmbedder

SDM = "2607.07386"  # Sparse Delta Memory, one of the bundled papers (embedded)
DRILLS = ("kill", "index", "database", "disk")


def settings_for(folder: Path, database_url: str | None = None) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    return Settings(
        database_url=database_url or f"sqlite:///{folder / 'paperfeed.db'}",
        index_dir=str(folder / "index"),
    )


def seeded(settings: Settings) -> Database:
    """The bundled recent papers, embedded (vectors from the tests' cache) and indexed."""
    db = open_database(settings.database_url)
    ingest_snapshot(db, drills.RECENT)
    indexer.bring_up_to_date(db, settings, embedder=CachedEmbedder(settings.embedding_model))
    return db


def kill_drill(args: argparse.Namespace, source: Path, ids: list[str]) -> Settings:
    print(f"## 1. kill -9 during an import of {len(ids):,} real-text papers\n")
    folder = args.dir / "kill"
    shutil.rmtree(folder, ignore_errors=True)
    settings = settings_for(folder)
    seeded(settings).close()
    recent = [json.loads(line)["id"] for line in drills.RECENT.read_text().splitlines()]
    report = drills.import_killed(
        settings,
        source,
        recent + ids,
        kills=args.kills,
        reference_url=f"sqlite:///{folder / 'reference.db'}",
        work=folder,
        before=(drills.RECENT,),
    )
    print("\n".join(report.lines()), "\n")
    return settings


def index_drill(settings: Settings, documents: int, vectors: int) -> None:
    print(
        f"## 2. index files deleted or cut short under `paperfeed serve --workers 2` ({documents:,} papers)\n"
    )
    log = Path(settings.resolved_index_dir()).parent / "server.log"
    env = {
        "PAPERFEED_INDEX_REFRESH_SECONDS": "1",
        # The 100,000 new papers wait to be embedded (an hour of model time): left to a job worker, as a
        # node of that size would be set up, or the follower would embed before it rebuilt anything.
        "PAPERFEED_EMBED_IN_WEB": "0",
        "PYTHONFAULTHANDLER": "1",  # a worker killed by SIGBUS says so in the log
    }
    with drills.Served(settings, log, workers=2, env=env) as server:
        outages = drills.damage_indexes(server, documents, vectors, SDM, list(drills.DAMAGES), timeout=300)
        text = server.log()
    print("\n".join(o.line() for o in outages))
    print(
        f"server log: {text.count('Traceback')} tracebacks, {text.count('Fatal Python error')} workers killed "
        f"by a signal, {text.count('died')} restarted by uvicorn (killed, or too busy to answer its health check)\n"
    )


def database_drill(args: argparse.Namespace) -> None:
    print(f"## 3. PostgreSQL stopped for {args.down:g} s under load (8 clients), then started again\n")
    pg = postgres.own_server()
    try:
        for mode in ("fast", "immediate"):
            name = f"drill_{mode}"
            pg.psql(f"CREATE DATABASE {name};")
            folder = Path(tempfile.mkdtemp(prefix="drill-pg-", dir=args.dir))
            settings = settings_for(folder, pg.get_uri(name))
            db = seeded(settings)
            token = accounts.create_token(
                db, accounts.sign_up(db, "voter", "voter@example.org", "a passphrase!"), scope="write"
            )
            db.close()
            env = {
                "PAPERFEED_RATE_UPVOTE": "1000000/60",
                "PAPERFEED_WORKER_POLL_SECONDS": "0.5",
                "PAPERFEED_INDEX_SYNC_INTERVAL": "1",
            }
            with drills.Served(settings, folder / "server.log", env=env) as server:
                worker = drills.paperfeed(
                    settings, "worker", "--job", "search-index", env=env,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                )  # fmt: skip
                report = drills.restart_database(server, pg, worker, SDM, token, args.down, mode, clients=8)
                text = server.log()
            print("\n".join(report.lines()))
            print(f"server log: {text.count('Traceback')} tracebacks\n")
    finally:
        pg.cleanup()


def disk_drill(args: argparse.Namespace, source: Path, ids: list[str]) -> None:
    size, free = args.disk_mb, args.disk_mb // 3
    print(f"## 4. the disk filling during an import of {len(ids):,} papers\n")
    folder = args.dir / "disk"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        with drills.small_disk(folder / "mount", size) as disk:
            settings = settings_for(disk)
            report = drills.fill_disk(settings, disk, source, ids, free)
    except drills.CannotMount as exc:
        print(f"skipped: {exc}\n")
        return
    print("\n".join(report.lines()), "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--down", type=float, default=10.0, help="seconds PostgreSQL stays stopped")
    parser.add_argument("--disk-mb", type=int, default=600, help="size of the tmpfs the disk drill fills")
    parser.add_argument("--dir", type=Path, default=Path(".bench/drills"))
    parser.add_argument("--only", default=",".join(DRILLS), help="comma-separated: " + ", ".join(DRILLS))
    args = parser.parse_args()
    only = set(args.only.split(","))
    args.dir = args.dir.resolve()
    args.dir.mkdir(parents=True, exist_ok=True)
    source = args.dir / f"real-text-{args.papers}.jsonl"
    ids = drills.write_records(source, args.papers)
    if "kill" in only:
        settings = kill_drill(args, source, ids)
        if "index" in only:
            index_drill(settings, len(ids) + 304, 304)
    if "database" in only:
        database_drill(args)
    if "disk" in only:
        disk_drill(args, source, ids)


if __name__ == "__main__":
    from report import recorded

    with recorded("drills"):
        main()
