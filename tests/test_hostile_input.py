"""Hostile input, from a review of a running paperfeed: every answer is a clear 4xx, never a 500, and no
body can cost the server more memory or time than the kit's caps allow."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.web import bodies
from tests.community import add_papers, https_client, member, token_for
from tests.conftest import LiveServer, free_port


@pytest.fixture
def site(settings: Settings, db: Database) -> Iterator[TestClient]:
    add_papers(db, 1)
    with https_client(settings) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/papers?date=9999-12-31", 200),  # the last day there is: its week and month end at date.max
        ("/papers?date=0001-01-01", 200),
        ("/api/daily_papers?date=9999-12-31", 200),
        ("/papers/2607.07386v" + "9" * 5000, 404),  # a version of 5,000 digits is no arXiv id
        ("/api/papers/2607.07386v" + "9" * 5000, 404),
        ("/collections/" + "9" * 19, 404),  # past any row id: an unknown URL, not a driver overflow
        ("/collections/2147483648", 404),  # past PostgreSQL's INTEGER: no row, not an overflow
        ("/api/collections/" + "9" * 30, 404),
        ("/api/collections/9223372036854775807", 404),
        ("/api/collections/" + "9" * 5000, 404),
    ],
)
def test_extreme_parameters_are_answered(site: TestClient, path: str, status: int) -> None:
    assert site.get(path).status_code == status


def test_out_of_range_ids_in_bodies_are_400(site: TestClient, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    auth = token_for(db, member(db, "ids"))
    for parent in (2**31, 2**63, "9" * 5000, -1, 0, True, [1], {"a": 1}):
        r = site.post(
            f"/api/papers/{paper.id}/comments", json={"body": "hi", "parentId": parent}, headers=auth
        )
        assert r.status_code == 400 and r.json()["error"].startswith("parentId:"), (parent, r.text)


@pytest.mark.parametrize(
    "name",
    [{}, [], 7, None, "", "x" * 129, "[" * 1000 + "]" * 1000],
)
def test_collection_names_must_be_text(site: TestClient, db: Database, name: object) -> None:
    auth = token_for(db, member(db, "namer"))
    if name == "[" * 1000 + "]" * 1000:  # nested 1,000 deep: a JSON list, not a string
        body = ('{"name": ' + name + "}").encode()  # type: ignore[operator]
        r = site.post("/api/collections", content=body, headers={**auth, "content-type": "application/json"})
    else:
        r = site.post("/api/collections", json={"name": name}, headers=auth)
    assert r.status_code == 400 and r.json()["error"].startswith(("name:", "body is not JSON")), r.text


def test_a_declared_huge_body_is_refused_before_it_is_read(site: TestClient, db: Database) -> None:
    headers = {**token_for(db, member(db, "big")), "content-type": "application/json"}
    r = site.post("/api/collections", content=b"{}" + b" " * (bodies.MAX_BODY + 1), headers=headers)
    assert r.status_code == 413 and "at most 65536 bytes" in r.json()["error"]
    # Signed out it is refused the same way: the cap comes before anything else.
    assert site.post("/api/collections", content=b" " * (bodies.MAX_BODY + 1)).status_code == 413


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_streamed_huge_body_costs_no_memory(settings: Settings, db: Database) -> None:
    """300 MiB sent chunked (no Content-Length), signed out: refused after 64 KiB, and the process's
    peak memory does not grow by the body's size."""
    add_papers(db, 1)
    chunk = b" " * 2**20
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(300):
            sent += len(chunk)
            yield chunk

    with LiveServer(settings) as server:
        peak = _rss_mib()
        try:
            r = httpx.post(f"{server.url}/api/collections", content=body(), timeout=30)
            status = r.status_code
        except httpx.TransportError:  # the server may close the connection once it has answered
            status = 413
        assert status == 413
        assert _rss_mib() - peak < 64, "the body was held in memory"
        assert sent < 300 * 2**20 or status == 413


def test_a_slow_body_times_out(settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bodies, "BODY_SECONDS", 0.5)
    add_papers(db, 1)
    with LiveServer(settings) as server, socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(
            b"POST /api/collections HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        started = time.monotonic()
        conn.settimeout(5)
        answer = conn.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        assert time.monotonic() - started < 3
        assert b"took longer than 0.5 s" in answer


def test_a_client_hanging_up_mid_body_logs_no_traceback(
    settings: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    add_papers(db, 1)
    with LiveServer(settings) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as conn:
            conn.sendall(
                b"POST /api/collections HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
            time.sleep(0.2)
        time.sleep(0.5)  # the server notices the hang-up
        assert httpx.get(f"{server.url}/api/daily_papers").status_code == 200
    assert "Traceback" not in caplog.text and "Exception in ASGI application" not in caplog.text


def test_the_site_answers_within_a_second_under_submissions_and_slow_connections(
    settings: Settings, db: Database
) -> None:
    """Issue 17: with 50 submissions and 500 slow connections in flight, a static file and a paper page
    still answer within 1 s. The server runs in its own process (``paperfeed serve``), as in production,
    so the test's own threads do not share its interpreter."""
    (paper,) = add_papers(db, 1)
    tokens = [token_for(db, member(db, name)) for name in ("ada", "bob", "cy")]
    port = free_port()
    env = {**os.environ, **settings.environment(), "PAPERFEED_ACCESS_LOG": "false"}
    server = subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    slow: list[socket.socket] = []
    try:
        _wait_until_up(url)
        httpx.get(f"{url}/papers/{paper.id}", timeout=30)  # the steady state: templates compiled once
        for i in range(500):  # half hold a body back, half never finish their headers
            conn = socket.create_connection(("127.0.0.1", port))
            if i % 2:
                conn.sendall(b"POST /api/collections HTTP/1.1\r\nHost: x\r\nContent-Length: 999\r\n\r\n{")
            else:
                conn.sendall(b"GET /papers HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(conn)
        with httpx.Client(base_url=url, timeout=30) as http, ThreadPoolExecutor(max_workers=50) as pool:

            def submit(i: int) -> int:
                body = {"arxivId": f"2607.{20000 + i:05d}"}
                return http.post("/api/papers/index", json=body, headers=tokens[i % 3]).status_code

            submitted = [pool.submit(submit, i) for i in range(50)]
            timings = []
            for path in ("/static/css/site.css", f"/papers/{paper.id}") * 5:
                started = time.monotonic()
                assert http.get(path, headers={"Cache-Control": "no-cache"}).status_code == 200
                timings.append(time.monotonic() - started)
            codes = [f.result() for f in submitted]
        assert codes == [202] * 50
        assert max(timings) < 1.0, f"slowest read {max(timings):.2f} s: {[round(t, 2) for t in timings]}"
    finally:
        for conn in slow:
            conn.close()
        server.terminate()
        server.wait(timeout=20)


def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/static/css/site.css", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def test_nul_characters_are_refused_not_a_500(site: TestClient, db: Database) -> None:
    """PostgreSQL refuses NUL in text (schemathesis found it): a 4xx naming no internals, on both backends."""
    auth = token_for(db, member(db, "nul"))
    answers = [
        site.get("/api/papers/a%00b"),
        site.get("/papers/a%00b"),
        site.post(
            "/api/settings/papers/claim", json={"paperId": "\u0000", "claimAuthorId": "x"}, headers=auth
        ),
        site.post("/api/collections", json={"name": "a\u0000b"}, headers=auth),
        site.get("/api/papers/search", params={"q": "a\u0000b"}),
    ]
    for answer in answers:
        assert answer.status_code < 500, (answer.request.url, answer.status_code, answer.text[:200])
    assert answers[3].status_code == 400 and "control characters" in answers[3].json()["error"]
