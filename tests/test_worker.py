"""Workers that cooperate through leases: real worker processes on one database (the backend under test),
harvesting from the local arXiv replay server; one is killed with SIGKILL and the other finishes its work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.ingest.oai import next_window
from paperfeed.jobs import JOBS, Job, JobContext
from paperfeed.search.keyword import KeywordIndex
from paperfeed.settings import Settings
from paperfeed.storage import Database, harvests, leases
from paperfeed.storage import papers as store
from paperfeed.storage.schema import harvests as harvests_table
from paperfeed.worker import Worker
from tests.arxiv_replay import ReplayServer, page
from tests.conftest import ROOT
from tests.test_oai import FROM, T1, T2, script_list

PAPERFEED = ROOT / ".venv" / "bin" / "paperfeed"
LEASE = 3.0  # seconds; the heartbeat renews every second


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def worker_env(settings: Settings, server: ReplayServer, node: str, index: Path) -> dict[str, str]:
    return {
        **os.environ,
        **settings.environment(),
        "PAPERFEED_INDEX_DIR": str(index),
        "PAPERFEED_ARXIV_OAI_ENDPOINT": f"{server.url}/oai",
        "PAPERFEED_NODE_NAME": node,  # two nodes, as if on two machines: no shortcut for dead local pids
        "PAPERFEED_LEASE_SECONDS": str(LEASE),
        "PAPERFEED_WORKER_POLL_SECONDS": "0.1",
        "PAPERFEED_HARVEST_FROM": FROM,
        "PAPERFEED_INDEX_SYNC_INTERVAL": "0.3",
    }


def start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PAPERFEED, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_until(check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def harvest_rows(db: Database) -> list[sa.Row]:
    with db.read() as conn:
        return list(conn.execute(sa.select(harvests_table)).all())


def test_two_workers_harvest_a_window_exactly_once_and_the_survivor_finishes_after_a_kill(
    db: Database, settings: Settings, server: ReplayServer, tmp_path: Path
) -> None:
    held = threading.Event()
    # Worker A's request for page 2 is held until A is dead; the same request later is answered at once.
    script_list(server, p2=[page("oai/list-p2.xml", hold=held), page("oai/list-p2.xml")])
    a = start_worker(worker_env(settings, server, "node-a", tmp_path / "index-a"))
    b: subprocess.Popen[str] | None = None
    try:
        server.wait_for(lambda hit: hit.params.get("resumptionToken") == T1, timeout=60)
        b = start_worker(worker_env(settings, server, "node-b", tmp_path / "index-b"))
        # B runs its own node's jobs but not the harvest: A's heartbeat keeps the lease beyond its lifetime.
        wait_until(lambda: len(KeywordIndex(tmp_path / "index-b")) == 4)  # page 1 is stored
        time.sleep(1.5 * LEASE)
        assert len(server.log) == 2
        killed_at = time.monotonic()
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=20)
        held.set()
        wait_until(lambda: [r.status for r in harvest_rows(db)] == ["done"], timeout=60)
        wait_until(lambda: len(KeywordIndex(tmp_path / "index-b")) == 10)
    finally:
        held.set()
        for process in (a, b):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        a.wait(timeout=20)
        out_b = b.communicate(timeout=20)[0] if b is not None else ""

    assert a.returncode == -signal.SIGKILL
    assert b is not None and b.returncode == 0, out_b
    tokens = [hit.params.get("resumptionToken") for hit in server.log]
    # Page 1 once, page 2 twice (A's in-flight request, then B's from the stored token), page 3 once.
    assert tokens == [None, T1, T1, T2]
    _, inflight, resumed, last = server.log
    assert resumed.client_port == last.client_port != inflight.client_port
    # B took over only once A's lease had expired: at least two thirds of a lease after the kill.
    assert resumed.at - killed_at >= LEASE * 2 / 3 - 0.05
    (row,) = harvest_rows(db)
    assert (row.from_date, row.status, row.pages, row.records, row.resumption_token) == (
        FROM, "done", 3, 10, None,
    )  # fmt: skip
    assert store.count_papers(db) == 10
    assert f"oai-harvest: window {FROM}.." in out_b and "3 pages" not in out_b  # B fetched 2 of the 3
    assert "2 pages, 6 new" in out_b


def test_a_lease_has_one_holder_until_it_expires(db: Database) -> None:
    t = datetime(2026, 8, 3, 12, tzinfo=UTC)
    assert leases.claim(db, "job:x", "n1:1", 10, now=t)
    assert not leases.claim(db, "job:x", "n2:2", 10, now=t + timedelta(seconds=9))
    with pytest.raises(leases.LeaseLost):
        leases.renew(db, "job:x", "n2:2", 10, now=t)
    leases.renew(db, "job:x", "n1:1", 10, now=t + timedelta(seconds=5))  # heartbeat: until t+15
    assert not leases.claim(db, "job:x", "n2:2", 10, now=t + timedelta(seconds=14))
    assert leases.claim(db, "job:x", "n2:2", 10, now=t + timedelta(seconds=15))  # expired: taken over
    with pytest.raises(leases.LeaseLost):
        leases.renew(db, "job:x", "n1:1", 10)
    leases.release(db, "job:x", "n1:1")  # not its lease any more: nothing happens
    current = leases.lease(db, "job:x")
    assert current is not None and current.holder == "n2:2"
    assert leases.claim(db, "job:y", "n2:2", 10)  # from now on
    with (
        pytest.raises(leases.LeaseBusy, match="job:y is held by n2:2 until"),
        leases.hold(db, "job:y", "n1:1", 10),
    ):
        pass


def test_concurrent_claims_have_exactly_one_winner(db: Database) -> None:
    start = threading.Barrier(8)
    won: list[str] = []

    def contend(holder: str) -> None:
        start.wait()
        if leases.claim(db, "job:race", holder, 30):
            won.append(holder)

    threads = [threading.Thread(target=contend, args=(f"n{i}:{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    current = leases.lease(db, "job:race")
    assert len(won) == 1 and current is not None and current.holder == won[0]


def test_ingest_oai_refuses_a_window_another_process_is_harvesting(
    db: Database, settings: Settings, server: ReplayServer
) -> None:
    script_list(server)
    endpoint = f"{server.url}/oai"
    assert leases.claim(db, f"harvest:arXivRaw::{FROM}:@{endpoint}", "other-node:4242", 60)
    env = settings.environment()
    result = CliRunner().invoke(main, ["ingest", "oai", "--from", FROM, "--endpoint", endpoint], env=env)
    assert result.exit_code == 1
    assert "another process is harvesting this window" in result.output and "other-node:4242" in result.output
    assert server.log == [] and harvest_rows(db) == []


def test_a_job_runs_again_only_when_it_is_due(db: Database, settings: Settings) -> None:
    index_job = [j for j in JOBS if j.name == "search-index"]
    lines: list[str] = []
    first = Worker(db, settings, index_job, say=lines.append)
    assert first.run_due() == 1
    other = Worker(db, settings.model_copy(update={"node_name": "elsewhere"}), index_job, say=lines.append)
    assert first.run_due() == 0  # not due for index_sync_interval
    assert other.run_due() == 1  # a node job: each node has its own schedule
    assert first.lease_name(index_job[0]) != other.lease_name(index_job[0])
    assert all("search-index: keyword index: 0 (re)indexed; vector index: 0 added" in line for line in lines)


def test_an_every_job_runs_in_each_worker_at_once_on_its_own_schedule(
    db: Database, settings: Settings
) -> None:
    ran: list[str] = []

    def count(ctx: JobContext) -> str:
        ran.append(ctx.holder)
        return "counted"

    job = Job("count", "every", lambda s: 60.0, count)
    first, second = (Worker(db, settings, [job], say=lambda line: None) for _ in range(2))
    second.holder = "elsewhere:1"  # another process
    assert (first.run_due(), second.run_due()) == (1, 1)  # no lease: both run it
    assert (first.run_due(), second.run_due()) == (0, 0)  # each is due again in 60 s
    assert ran == [first.holder, "elsewhere:1"]
    embed = next(j for j in JOBS if j.name == "embed")
    assert embed.scope == "every"


def test_the_next_window_continues_an_unfinished_harvest_then_moves_on(db: Database) -> None:
    today, endpoint = date(2026, 8, 10), "http://oai"
    assert next_window(db, endpoint, "arXivRaw", "", "", today) == ("2026-08-09", "2026-08-09")
    assert next_window(db, endpoint, "arXivRaw", "", "2026-08-01", today) == ("2026-08-01", "2026-08-09")
    started = harvests.start_harvest(db, endpoint, "arXivRaw", "", "2026-08-01", "2026-08-09")
    assert next_window(db, endpoint, "arXivRaw", "", "", today) == ("2026-08-01", "2026-08-09")
    with db.write() as conn:
        harvests.finish_harvest(conn, started.id, 0, datetime.now(UTC))
    assert next_window(db, endpoint, "arXivRaw", "", "", today) is None  # up to date
    assert next_window(db, endpoint, "arXivRaw", "", "", date(2026, 8, 12)) == ("2026-08-10", "2026-08-11")


def test_digest_jobs_wait_for_an_smtp_server(db: Database, settings: Settings) -> None:
    lines: list[str] = []
    digest_jobs = [j for j in JOBS if j.name.startswith("digest-")]
    assert [j.scope for j in digest_jobs] == ["global", "global"]
    assert Worker(db, settings, digest_jobs, say=lines.append).run_due() == 2
    assert all("skipped: PAPERFEED_SMTP_URL is not set" in line for line in lines)
