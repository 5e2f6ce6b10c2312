"""Outgoing webhooks end to end: endpoints registered through the API, events found and delivered by the
worker's 'webhooks' job to a real HTTP receiver on loopback that verifies every signature with the
``standardwebhooks`` library, fails the first tries of each delivery, and sees every event exactly once;
the same across a SIGKILL of ``paperfeed worker``; Slack and Discord shapes; private targets refused at
registration and at delivery; an endpoint that keeps failing disabled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook as Verifier

from paperfeed import accounts, jobs
from paperfeed.ingest.submission import request_submission
from paperfeed.models import User
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from paperfeed.storage import comments as comment_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import webhooks as store
from paperfeed.storage.leases import Held
from paperfeed.web.app import create_app
from paperfeed.webhooks.send import Refused, pinned
from tests.conftest import make_settings
from tests.digest_helpers import paper


class Receiver:
    """A webhook receiver on loopback: verifies each request's signature with its endpoint's secret,
    answers 500 to the first ``fail_first`` tries of each webhook-id, then 200; an id answered 200 is
    processed once (a repeat is acknowledged and dropped, as Standard Webhooks asks of receivers)."""

    def __init__(self, fail_first: int = 2, always_fail: bool = False) -> None:
        self.fail_first = fail_first
        self.always_fail = always_fail
        self.secrets: dict[str, str] = {}  # path → whsec_…
        self.tries: Counter[str] = Counter()
        self.processed: dict[str, tuple[str, dict[str, Any]]] = {}  # webhook-id → (path, body)
        self.after_ack: Counter[str] = Counter()  # tries of an id after it was answered 200
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if len(body) < int(self.headers["content-length"]):
                    return  # the sender was killed mid-request: a cut body, not a bad signature
                receiver.handle(self, body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            data = Verifier(self.secrets[request.path]).verify(body, headers)
        except Exception:
            with self.lock:
                self.bad_signatures += 1
            request.send_response(400)
            request.end_headers()
            return
        msg = headers["webhook-id"]
        with self.lock:
            self.tries[msg] += 1
            ok = not self.always_fail and self.tries[msg] > self.fail_first
            if ok and msg in self.processed:
                self.after_ack[msg] += 1
            elif ok:
                self.processed[msg] = (request.path, data)
        request.send_response(200 if ok else 500)
        request.send_header("content-length", "0")
        request.end_headers()

    def events(self, path: str = "/json") -> list[tuple[str, str]]:
        with self.lock:
            found = [(b["type"], str(b["data"]["id"])) for p, b in self.processed.values() if p == path]
        return sorted(found)

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def hook_settings(folder: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "webhooks_allow_private": True,
        "webhook_retry_seconds": 0.05,
        "webhook_interval": 0.1,
        "worker_poll_seconds": 0.05,
        **overrides,
    }
    return make_settings(folder, **values)


def run_job(db: Database, settings: Settings) -> str:
    context = jobs.JobContext(db, settings, "test", Held(db, "job:webhooks", "test", 30.0))
    job = next(j for j in jobs.JOBS if j.name == "webhooks")
    return job.run(context)


def until(done: Callable[[], bool], step: Callable[[], object], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "not done in time"
        step()
        time.sleep(0.05)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Settings, Database, TestClient]]:
    settings = hook_settings(tmp_path)
    db = open_database(settings.database_url)
    paper_store.upsert_papers(
        db, [paper(f"2608.0000{i}", f"Paper {i}", categories=["cs.LG"]) for i in range(1, 4)]
    )
    with TestClient(create_app(settings)) as client:
        yield settings, db, client
    db.close()


def member(db: Database, name: str, admin: bool = False) -> tuple[User, dict[str, str]]:
    user = accounts.sign_up(db, name, f"{name}@example.org", "correct horse battery", is_admin=admin)
    return user, {"Authorization": f"Bearer {accounts.create_token(db, user, scope='write')}"}


def register(
    client: TestClient, auth: dict[str, str], receiver: Receiver, path: str, **body: Any
) -> dict[str, Any]:
    answer = client.post("/api/webhooks", headers=auth, json={"url": receiver.url + path, **body})
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["secret"].startswith("whsec_")
    receiver.secrets[path] = made["secret"]
    return made


def test_events_delivered_once_signed_after_failures(site: tuple[Settings, Database, TestClient]) -> None:
    settings, db, client = site
    ada, ada_auth = member(db, "ada")
    bob, _ = member(db, "bob")
    _root, root_auth = member(db, "root", admin=True)
    with Receiver(fail_first=2) as receiver:
        everything = ["paper.curated", "paper.new", "comment.created"]
        register(client, ada_auth, receiver, "/json", events=everything, categories=["cs.CL"])
        register(client, ada_auth, receiver, "/slack", events=["paper.curated"], format="slack")
        register(client, ada_auth, receiver, "/discord", events=["paper.curated"], format="discord")
        register(client, root_auth, receiver, "/admin", events=["submission.created"])
        assert (
            client.post(
                "/api/webhooks",
                headers=ada_auth,
                json={"url": receiver.url, "events": ["submission.created"]},
            ).status_code
            == 400
        )  # admins only
        comment_store.add_comment(db, "2608.00002", ada.id, "first", "<p>first</p>", datetime.now(UTC))
        run_job(db, settings)  # the first look: what happened before it does not count

        now = datetime.now(UTC)
        paper_store.mark_submitted(db, "2608.00001", "bob", now)  # paper.curated
        paper_store.upsert_papers(db, [paper("2608.00009", "New in NLP", categories=["cs.CL"])])  # paper.new
        paper_store.upsert_papers(db, [paper("2608.00010", "New in vision", categories=["cs.CV"])])  # none
        reply = comment_store.add_comment(db, "2608.00002", bob.id, "a reply", "<p>a reply</p>", now)
        comment_store.add_comment(db, "2608.00003", bob.id, "elsewhere", "<p>elsewhere</p>", now)  # none
        request_submission(db, "2609.00001", bob.id, "bob")  # submission.created, for the admin

        expected = [
            ("comment.created", str(reply.id)),
            ("paper.curated", "2608.00001"),
            ("paper.new", "2608.00009"),
        ]
        until(lambda: len(receiver.processed) >= 6, lambda: run_job(db, settings))
        for _ in range(3):  # later runs change nothing
            run_job(db, settings)
        assert receiver.events("/json") == expected
        assert receiver.events("/admin") == [("submission.created", receiver.events("/admin")[0][1])]
        assert receiver.bad_signatures == 0 and not receiver.after_ack
        assert set(receiver.tries.values()) == {3}  # two failures, then the success, then nothing
        slack = next(b for p, b in receiver.processed.values() if p == "/slack")
        assert slack["blocks"][0]["type"] == "section" and "2608.00001" in orjson.dumps(slack).decode()
        discord = next(b for p, b in receiver.processed.values() if p == "/discord")
        assert discord["embeds"][0]["url"].endswith("/papers/2608.00001")

        listed = client.get("/api/webhooks", headers=ada_auth).json()
        assert {h["lastStatus"] for h in listed} == {"HTTP 200"} and "secret" not in listed[0]
        assert all(h["enabled"] and h["failures"] == 0 for h in listed)
        page = client.get("/settings/webhooks", headers=ada_auth)
        assert page.status_code == 200 and receiver.url in page.text and "HTTP 200" in page.text
        gone = client.delete(f"/api/webhooks/{listed[0]['id']}", headers=ada_auth)
        assert gone.status_code == 200
        assert len(client.get("/api/webhooks", headers=ada_auth).json()) == 2
        _, eve_auth = member(db, "eve")
        assert client.delete(f"/api/webhooks/{listed[1]['id']}", headers=eve_auth).status_code == 404


def test_private_targets_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)  # webhooks_allow_private off
    db = open_database(settings.database_url)
    _, auth = member(db, "ada")
    with TestClient(create_app(settings)) as client:
        for url in ("http://127.0.0.1:9/x", "http://[::1]/x", "http://10.1.2.3/x", "http://localhost:8000/",
                    "http://169.254.169.254/latest", "ftp://example.org/", "http://user:pw@example.org/"):  # fmt: skip
            answer = client.post(
                "/api/webhooks", headers=auth, json={"url": url, "events": ["paper.curated"]}
            )
            assert answer.status_code == 400, url
        assert (
            client.post(
                "/api/webhooks", json={"url": "https://example.org/", "events": ["paper.curated"]}
            ).status_code
            == 401
        )
    # DNS rebinding: a name checked at registration is resolved and checked again at delivery.
    with pytest.raises(Refused, match="private"):
        pinned("http://localhost:9/hook", allow_private=False)
    user = accounts.token_grant(db, auth["Authorization"][7:])
    assert user is not None
    hook = store.create(
        db,
        user[0].id,
        "http://localhost:9/hook",
        "whsec_" + "A" * 44,
        ["paper.curated"],
        [],
        "json",
        datetime.now(UTC),
    )
    run_job(db, settings)
    paper_store.upsert_papers(db, [paper("2608.00001", "P")])
    paper_store.mark_submitted(db, "2608.00001", "ada", datetime.now(UTC))
    run_job(db, settings)
    found = store.webhook(db, hook.id)
    assert found is not None and found.last_status and "private" in found.last_status
    db.close()


def test_failing_endpoint_disabled(tmp_path: Path) -> None:
    settings = hook_settings(tmp_path, webhook_disable_after=3, webhook_attempts=2)
    db = open_database(settings.database_url)
    user, _ = member(db, "ada")
    with Receiver(always_fail=True) as receiver:
        secret = "whsec_" + "B" * 44
        receiver.secrets["/x"] = secret
        hook = store.create(
            db, user.id, receiver.url + "/x", secret, ["paper.curated"], [], "json", datetime.now(UTC)
        )
        run_job(db, settings)
        now = datetime.now(UTC)
        papers = [paper(f"2608.0000{i}", f"P{i}") for i in range(1, 5)]
        paper_store.upsert_papers(db, papers)
        for p in papers:
            paper_store.mark_submitted(db, p.id, "ada", now)
        until(
            lambda: (store.webhook(db, hook.id) or hook).disabled_at is not None,
            lambda: run_job(db, settings),
        )
        statuses = {status for _, _, status, _, _ in store.deliveries(db, hook.id)}
        assert "sent" not in statuses
        tries = sum(receiver.tries.values())
        for _ in range(3):
            run_job(db, settings)
        assert sum(receiver.tries.values()) == tries  # nothing goes to a disabled endpoint
        assert store.enable(db, hook.id, user.id)
    db.close()


def _worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = os.environ | settings.environment()
    command = [sys.executable, "-m", "paperfeed.cli", "worker", "--job", "webhooks"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_worker_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    settings = hook_settings(tmp_path, lease_seconds=2.0)
    db = open_database(settings.database_url)
    user, _ = member(db, "ada")
    count = 12
    with Receiver(fail_first=1) as receiver:
        secret = "whsec_" + "C" * 44
        receiver.secrets["/k"] = secret
        store.create(
            db, user.id, receiver.url + "/k", secret, ["paper.curated"], [], "json", datetime.now(UTC)
        )
        run_job(db, settings)
        papers = [paper(f"2608.{i:05d}", f"Paper {i}") for i in range(1, count + 1)]
        paper_store.upsert_papers(db, papers)
        now = datetime.now(UTC)
        for p in papers:
            paper_store.mark_submitted(db, p.id, "ada", now)
        for seen in (3, 7):
            process = _worker(settings)
            deadline = time.monotonic() + 120
            while len(receiver.processed) < seen:
                assert process.poll() is None, process.communicate()
                if time.monotonic() > deadline:
                    process.kill()
                    raise AssertionError(
                        f"no progress: {len(receiver.processed)}, {receiver.tries}, {process.communicate()[1][-2000:]!r}"
                    )
                time.sleep(0.005)
            process.send_signal(signal.SIGKILL)
            process.wait()
        process = _worker(settings)
        try:
            deadline = time.monotonic() + 120
            while len(receiver.processed) < count:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, f"{len(receiver.processed)} of {count} arrived"
                time.sleep(0.05)
            time.sleep(0.5)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    assert receiver.events("/k") == sorted(("paper.curated", p.id) for p in papers)
    assert sum(receiver.after_ack.values()) <= 2  # at most the one in flight at each kill, same webhook-id
    assert receiver.bad_signatures == 0
    db.close()


def test_a_page_of_new_papers_ends_at_a_whole_revision(tmp_path: Path) -> None:
    """Papers stored together share one rev and the worker's cursor moves to the last rev it read: a page
    cut inside a rev would skip the rest of it, and a rev larger than the page would never be finished."""
    db = open_database(hook_settings(tmp_path).database_url)
    try:
        paper_store.upsert_papers(db, [paper(f"2608.1000{i}", f"First {i}") for i in range(3)])
        paper_store.upsert_papers(db, [paper(f"2608.2000{i}", f"Second {i}") for i in range(3)])
        (first_rev,) = {rev for rev, _, _ in store.papers_after(db, 0, 100)[:3]}
        # The limit splits the second rev: the page stops before it, and the next page holds it whole.
        page = store.papers_after(db, 0, 4)
        assert [p.id for _, p, _ in page] == [f"2608.1000{i}" for i in range(3)]
        rest = store.papers_after(db, page[-1][0], 4)
        assert [p.id for _, p, _ in rest] == [f"2608.2000{i}" for i in range(3)]
        # One rev fills the page: all of its papers come, not the first two.
        whole = store.papers_after(db, 0, 2)
        assert {rev for rev, _, _ in whole} == {first_rev} and len(whole) == 3
        assert store.papers_after(db, rest[-1][0], 4) == []
    finally:
        db.close()
