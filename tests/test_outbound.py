"""Outbound work is the worker's (issue 17 #1): a submission is recorded and answered at once, whatever
arXiv does; the worker's ``submissions`` job fetches every waiting one through one client, fails fast
when arXiv cannot be reached and gives up after ``submission_attempts`` tries, saying why. No module of
``web/`` can reach an HTTP client. Against the local arXiv replay server and a real live server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.ingest.arxiv_api import ArxivApi
from paperfeed.ingest.submit import fetch_queued
from paperfeed.outbound import FIRST_WAIT, backoff, client
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import papers as paper_store
from paperfeed.storage import submissions as queue
from tests.arxiv_replay import ReplayServer, Reply, atom
from tests.community import add_papers, https_client, member, run_job, token_for
from tests.conftest import LiveServer, free_port
from tests.test_layout import import_graph

PAPER = "2607.07386"  # in api/id-2607.07386.xml
HTTP_CLIENTS = {"paperfeed.ingest.http", "paperfeed.ingest.arxiv_api", "paperfeed.outbound"}


def reachable(graph: dict[str, frozenset[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), frozenset()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_web_module_can_reach_an_http_client() -> None:
    """Not even through a lazy import: a web request never waits on a third party."""
    graph = import_graph()
    web = [name for name in graph if name == "paperfeed.web" or name.startswith("paperfeed.web.")]
    assert "paperfeed.web.community" in web
    found = {name: sorted(reachable(graph, name) & HTTP_CLIENTS) for name in web}
    assert {name: mods for name, mods in found.items() if mods} == {}
    assert reachable(graph, "paperfeed.jobs") >= HTTP_CLIENTS  # the worker is where they are used


@pytest.fixture
def held() -> Iterator[tuple[ReplayServer, threading.Event]]:
    """arXiv that never answers until released."""
    release = threading.Event()
    with ReplayServer() as server:
        server.route(Reply(b"", hold=release))
        yield server, release
        release.set()


def test_a_submission_is_answered_at_once_while_arxiv_hangs(
    settings: Settings, db: Database, held: tuple[ReplayServer, threading.Event]
) -> None:
    server, _ = held
    slow = settings.model_copy(
        update={"arxiv_api_endpoint": f"{server.url}/api/query", "outbound_timeout": 0.5}
    )
    ada = token_for(db, member(db, "ada"))
    with https_client(slow) as web:
        started = time.monotonic()
        made = web.post("/api/papers/index", json={"arxivId": f"arXiv:{PAPER}v1"}, headers=ada)
        took = time.monotonic() - started
        assert made.status_code == 202 and took < 1.0
        assert made.json()["arxivId"] == PAPER and made.json()["status"] == "pending"
        assert server.log == []

        # The worker's run gives up on the hanging request after outbound_timeout, and says so.
        started = time.monotonic()
        with pytest.raises(RuntimeError, match=r"arXiv could not be reached: GET .*ReadTimeout"):
            run_job(db, slow, "submissions")
        assert time.monotonic() - started < 5.0 and len(server.log) == 1
        (entry,) = web.get("/api/submissions", headers=ada).json()
        assert entry["status"] == "pending"
        assert entry["message"].startswith("arXiv could not be reached (try 1 of 6); trying again in 1 min")
    # Not tried again before its wait is over: the next run asks arXiv nothing.
    assert run_job(db, slow, "submissions") == "nothing waits" and len(server.log) == 1


def test_the_worker_fetches_every_waiting_submission_with_one_request(
    settings: Settings, db: Database
) -> None:
    with ReplayServer() as server:
        server.route(atom("api/id-pair.xml"), id_list="2607.06452,2607.99999")
        arxiv = settings.model_copy(update={"arxiv_api_endpoint": f"{server.url}/api/query"})
        with https_client(arxiv) as web:
            for name, paper_id in (("ada", "2607.06452"), ("bob", "2607.99999")):
                made = web.post(
                    "/api/papers/index", json={"arxivId": paper_id}, headers=token_for(db, member(db, name))
                )
                assert made.status_code == 202
        assert run_job(db, arxiv, "submissions") == "1 submitted, 1 failed, 0 waiting"
        assert len(server.log) == 1  # one client, one request for the whole batch
    found = paper_store.paper(db, "2607.06452")
    assert found is not None and found.submitted_by == "ada"
    done, failed = queue.submission(db, "2607.06452"), queue.submission(db, "2607.99999")
    assert done is not None and (done.status, done.message) == ("done", None)
    assert failed is not None and failed.status == "failed"
    assert failed.message == "cannot submit 2607.99999: arXiv has no such paper"
    # A submission lands on the feed of the day it was made, not the day the worker fetched it.
    assert found.submitted_at == done.created_at


def test_unreachable_arxiv_fails_fast_then_the_submission_fails_after_its_tries(
    settings: Settings, db: Database
) -> None:
    nowhere = settings.model_copy(
        update={"arxiv_api_endpoint": f"http://127.0.0.1:{free_port()}/api/query", "submission_attempts": 3}
    )
    with https_client(nowhere) as web:
        made = web.post(
            "/api/papers/index", json={"arxivId": PAPER}, headers=token_for(db, member(db, "ada"))
        )
        assert made.status_code == 202

    # Through the command cron runs: exit 1, with the reason, at once (no retries sleeping in between).
    started = time.monotonic()
    result = CliRunner().invoke(main, ["worker", "--once", "--job", "submissions"], env=nowhere.environment())
    assert time.monotonic() - started < 10.0
    assert result.exit_code == 1
    assert (
        "submissions: failed: RuntimeError: 0 submitted, 0 failed, 1 waiting: arXiv could not be reached"
        in (result.output)
    )
    entry = queue.submission(db, PAPER)
    assert entry is not None and (entry.status, entry.attempts) == ("pending", 1)

    # Later runs, each once the wait is over: the third try is the last.
    later = datetime.now(UTC)
    with client(nowhere, "arxiv") as http:
        api = ArxivApi(http, nowhere.arxiv_api_endpoint)
        for tries in (2, 3):
            later += timedelta(seconds=backoff(tries - 1) + 1)
            report = fetch_queued(db, api, nowhere.submission_attempts, now=later)
            assert report.unreachable and "ConnectError" in report.unreachable
    entry = queue.submission(db, PAPER)
    assert entry is not None and entry.status == "failed" and entry.message is not None
    assert entry.message.startswith(
        f"cannot submit {PAPER}: arXiv could not be reached (3 tries): GET http://"
    )
    # A failed submission can be made again, and starts over.
    with https_client(nowhere) as web:
        again = web.post(
            "/api/papers/index", json={"arxivId": PAPER}, headers=token_for(db, member(db, "bob"))
        )
    assert again.status_code == 202
    entry = queue.submission(db, PAPER)
    assert entry is not None and (entry.status, entry.attempts, entry.submitted_by) == ("pending", 0, "bob")


def test_backoff_doubles_and_honours_retry_after() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [FIRST_WAIT, 2 * FIRST_WAIT, 4 * FIRST_WAIT]
    assert backoff(20) == 3600.0
    assert backoff(1, retry_after=300.0) == 300.0


def test_a_stored_paper_needs_no_worker(settings: Settings, db: Database) -> None:
    """No network at all: the endpoint is a closed port, and the paper goes on the feed at once."""
    (paper,) = add_papers(db, 1)
    nowhere = settings.model_copy(update={"arxiv_api_endpoint": f"http://127.0.0.1:{free_port()}/api/query"})
    with https_client(nowhere) as web:
        made = web.post(
            "/api/papers/index", json={"arxivId": paper.id}, headers=token_for(db, member(db, "ada"))
        )
    assert made.status_code == 201 and made.json()["submittedBy"]["name"] == "ada"
    assert queue.submission(db, paper.id) is None
    assert run_job(db, nowhere, "submissions") == "nothing waits"


def test_45_submissions_from_3_members_do_not_slow_the_site(
    settings: Settings, db: Database, held: tuple[ReplayServer, threading.Event]
) -> None:
    """Issue 17 #1: these stalled every page, static files included, for 89 s while arXiv was slow."""
    server, _ = held
    (paper,) = add_papers(db, 1)
    tokens = [token_for(db, member(db, name)) for name in ("ada", "bob", "cy")]
    slow = settings.model_copy(update={"arxiv_api_endpoint": f"{server.url}/api/query"})
    with LiveServer(slow) as site, httpx.Client(base_url=site.url, timeout=30) as http:

        def submit(i: int) -> int:
            body = {"arxivId": f"2607.{10000 + i:05d}"}
            return http.post("/api/papers/index", json=body, headers=tokens[i % 3]).status_code

        def timed(path: str) -> float:
            started = time.monotonic()
            assert http.get(path).status_code == 200
            return time.monotonic() - started

        with ThreadPoolExecutor(max_workers=48) as pool:
            submitted = pool.map(submit, range(45))
            reads = [pool.submit(timed, p) for p in ("/static/css/site.css", f"/papers/{paper.id}") * 3]
            codes = list(submitted)
            slowest = max(r.result() for r in reads)
    assert codes == [202] * 45 and server.log == []
    # The issue asks for 1 s, measured on an idle machine; the margin is for a test machine shared with
    # other work. Before, these reads waited as long as the submissions did: for arXiv, over a minute.
    assert slowest < 2.5
    assert queue.count_pending(db) == 45
