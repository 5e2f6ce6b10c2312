"""The sender killed with SIGKILL mid-run and restarted, as a real subprocess against a real SMTP server:
no address gets two digests, at most ``send_concurrency`` per kill end 'unknown', the rest get exactly
one, and a rerun of the finished period sends nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from paperfeed.digest.subscriptions import add_confirmed
from paperfeed.settings import Settings
from paperfeed.storage import deliveries as ledger
from paperfeed.storage import open_database
from tests.digest_helpers import digest_settings, store_papers
from tests.smtp_server import SmtpServer

SUBSCRIBERS = 300
CONCURRENCY = 3


def _sender(settings: Settings) -> subprocess.Popen[str]:
    env = os.environ | settings.environment() | {"PAPERFEED_SEND_CONCURRENCY": str(CONCURRENCY)}
    command = [
        sys.executable,
        "-m",
        "paperfeed.cli",
        "digest",
        "send",
        "--period",
        "daily",
        "--date",
        "2026-08-19",
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_after(process: subprocess.Popen[str], server: SmtpServer, received: int) -> None:
    deadline = time.monotonic() + 60
    while sum(server.handler.per_recipient.values()) < received:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the sender made no progress"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_kill_restart_no_duplicates(tmp_path: Path) -> None:
    with SmtpServer(delay=0.004) as server:
        settings = digest_settings(tmp_path, server.url)
        db = open_database(settings.database_url)
        store_papers(db)
        emails = [f"reader{i:04d}@example.org" for i in range(SUBSCRIBERS)]
        add_confirmed(db, [(e, "daily", []) for e in emails])
        for at in (60, 180):
            _kill_after(_sender(settings), server, at)
            in_flight = ledger.period_counts(db, "daily:2026-08-19").get("claimed", 0)
            assert in_flight <= CONCURRENCY, "at most one message in flight per connection"
        finished = _sender(settings)
        out, err = finished.communicate(timeout=120)
        assert finished.returncode == 0, err
        rerun = _sender(settings)
        again, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, err
    received = server.handler.per_recipient
    statuses = {d["email"]: d["status"] for d in ledger.deliveries(db, "daily:2026-08-19")}
    unknown = [e for e, s in statuses.items() if s == "unknown"]
    assert max(received.values()) == 1, "no duplicate"
    assert len(unknown) <= 2 * CONCURRENCY, unknown
    assert "in flight at a crash, now unknown: " in out
    assert sorted(statuses) == emails and set(statuses.values()) <= {"sent", "unknown"}
    assert all(received.get(e) == 1 for e, s in statuses.items() if s == "sent"), "everyone else exactly one"
    assert {e for e in emails if e not in received} <= set(unknown)
    assert "sent 0," in again and f"already handled {SUBSCRIBERS}" in again, again
    db.close()
