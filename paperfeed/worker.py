"""``paperfeed worker``: runs the jobs of ``paperfeed/jobs.py`` when they are due, cooperating through
leases with every other worker on the same database (on this machine or another).

Each round, for each job: claim its lease (free and due, or held by a dead process on this node); run it
while a heartbeat renews the lease; on finishing, release the lease with the time the job is next due, so
the lease row is the job's schedule for all workers. A worker killed mid-job stops renewing: after
``lease_seconds`` another worker claims the job and continues from what was committed (a harvest, from
its stored resumption token). A job of scope ``every`` (embedding) takes no lease: every worker runs it
when its own schedule says, and the job shares out its work itself.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from paperfeed.jobs import JOBS, Job, JobContext, NotNow
from paperfeed.settings import Settings
from paperfeed.storage import Database, leases
from paperfeed.storage.db import unavailable


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        jobs: list[Job] | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.db, self.settings, self.jobs, self.say = db, settings, JOBS if jobs is None else jobs, say
        self.holder = leases.holder_name(settings.node())
        self.stop = threading.Event()
        self.failures = 0
        self.due: dict[str, float] = {}  # monotonic time each 'every' job is next due in this process

    def lease_name(self, job: Job) -> str:
        return f"job:{job.name}" if job.scope == "global" else f"job:{job.name}@{self.settings.node()}"

    def run_due(self) -> int:
        """Run every job that is due and not held elsewhere; returns how many ran."""
        ran = 0
        for job in self.jobs:
            if self.stop.is_set():
                break
            if job.scope == "every":
                if time.monotonic() >= self.due.get(job.name, 0.0) and self._run(job, None):
                    self.due[job.name] = time.monotonic() + job.every(self.settings)
                    ran += 1
                continue
            try:
                with leases.hold(
                    self.db, self.lease_name(job), self.holder, self.settings.lease_seconds
                ) as held:
                    if self._run(job, held):
                        held.next_due = datetime.now(UTC) + timedelta(seconds=job.every(self.settings))
                        ran += 1
            except leases.LeaseBusy:
                continue  # not due yet, or another worker is on it
        return ran

    def run_forever(self) -> None:
        self.say(f"worker {self.holder}: jobs {', '.join(j.name for j in self.jobs)}")
        down = False
        while not self.stop.is_set():
            try:
                self.run_due()
            except Exception as exc:
                if not unavailable(exc):
                    raise
                if not down:  # a PostgreSQL restart: wait for it rather than exit, one line for the outage
                    self.say(f"the database is unavailable; retrying every poll: {str(exc).splitlines()[0]}")
                down = True
            else:
                if down:
                    self.say("the database is back")
                down = False
            self.stop.wait(self.settings.worker_poll_seconds)

    def _run(self, job: Job, held: leases.Held | None) -> bool:
        """Run the job once; False when it could not start (due again at once)."""
        started = time.monotonic()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            summary = job.run(JobContext(self.db, self.settings, self.holder, held))
        except NotNow:
            return False
        except Exception as exc:  # one job's failure must not stop the others; it runs again when due
            if held is None and unavailable(exc):
                raise  # a job without a lease meets an outage first: one line for it, as for a lease claim
            self.failures += 1
            self.say(f"{stamp} {job.name}: failed: {type(exc).__name__}: {exc}")
            if not isinstance(exc, RuntimeError):
                self.say(traceback.format_exc().rstrip())
            return True
        self.say(f"{stamp} {job.name}: {summary} ({time.monotonic() - started:.1f} s)")
        return True
