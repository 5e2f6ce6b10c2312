"""Open-loop HTTP load for the benches that serve: requests issued at a fixed total rate over a few keep-alive
connections, each request's latency counted from the moment it was due, not from when it went out.

Why (issue 18's "300 searches/s with p99 < 50 ms"): a closed-loop driver such as wrk sends a connection's
next request as soon as the last is answered, so it measures the server at saturation, where p99 is mostly
the queue it builds itself; and when the server stalls, the requests it would have sent meanwhile are
never sent, so the stall shows once instead of in every request it delayed ("coordinated omission"). Here
request ``i`` is due at ``due[i]`` (constant spacing or Poisson arrivals) whatever happens: the first free
connection takes the next due request, waits for its time if it is early, and sends it; when all
connections are busy, the request waits for one and that wait is part of its latency. The driver is
one asyncio loop on raw streams (HTTP/1.1, keep-alive, no gzip asked, as wrk), cheap enough to share the
server's cores; its own CPU share is measured and printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from report import cpu_of, family

TIMEOUT = 30.0  # seconds for one answer before it counts as an error


@dataclass
class Paced:
    latency_ms: np.ndarray  # of the measured requests, from due to answered, in due order
    late_ms: np.ndarray  # from due to sent: waiting for a free connection (or the driver itself running late)
    lag_ms: np.ndarray  # from due to sent of those a connection was free for: the driver's own lateness
    errors: int  # answers other than 200, failed connections, timeouts, and requests never sent
    achieved: float  # measured requests answered a second, from the first one due to the last answer
    client_cpu: float  # the driver's (this process's) CPU, as a share of one core, over that span
    server_cpu_ms: float  # the server's CPU time (its processes') per request answered while measuring
    split: list[int]  # the connections each server process held once open (each worker accepts its own)
    split_after: list[int]  # … and at the end (a server may close connections; the driver opens new ones)


def due_times(count: int, rate: float, arrivals: str, rng: np.random.Generator) -> np.ndarray:
    """When each of ``count`` requests is due, in seconds from the start: ``rate`` a second on average,
    evenly spaced ("constant") or as independent arrivals ("poisson": exponential gaps, so bursts happen
    as they do when many readers search independently)."""
    if arrivals == "constant":
        return np.arange(count) / rate
    return np.cumsum(rng.exponential(1 / rate, size=count)) - 1 / rate


def run(url: str, paths: list[str], due: np.ndarray, measured: int, connections: int, pid: int) -> Paced:
    """Send ``paths[i]`` at ``due[i]`` over ``connections`` connections to ``url`` (http://host:port); the
    last ``measured`` requests are measured, those before them warm the server up. ``pid``: the server,
    whose CPU is read around the measured requests."""
    gc.collect()
    gc.freeze()  # the bench's own objects (the query mixes) out of the collector's way while it sends
    try:
        return asyncio.run(_run(url, paths, due, len(due) - measured, connections, family(pid)))
    finally:
        gc.unfreeze()


async def _run(
    url: str, paths: list[str], due: np.ndarray, first: int, connections: int, pids: list[int]
) -> Paced:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    loop = asyncio.get_running_loop()
    count = len(due)
    answered = np.full(count, np.nan)
    sent = np.full(count, np.nan)
    free = np.zeros(count, dtype=bool)
    failed = np.zeros(count, dtype=bool)
    taken = 0
    marks: dict[str, float] = {}
    opened = await asyncio.gather(*(asyncio.open_connection(host, int(port)) for _ in range(connections)))
    deadline = loop.time() + 5
    while sum(split := _holding(pids, int(port))) < connections and loop.time() < deadline:
        await asyncio.sleep(0.01)  # connected is not yet accepted: a busy worker accepts a little later
    start = loop.time() + 0.05
    last_due = start + float(due[-1])

    def mark(name: str) -> None:
        marks[name] = cpu_of(pids)
        marks[name + " client"] = time.process_time()
        marks[name + " at"] = loop.time()

    loop.call_at(start + float(due[first]), mark, "from")

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal taken
        while taken < count:
            i = taken
            taken += 1
            wait = start + float(due[i]) - loop.time()
            if wait > 0:
                free[i] = True
                await asyncio.sleep(wait)
            elif loop.time() > last_due + TIMEOUT:
                failed[i:] = True  # the run is over: what was not sent by now never will be
                taken = count
                break
            sent[i] = loop.time()
            request = f"GET {paths[i % len(paths)]} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
            try:
                writer.write(request)
                ok, close = await asyncio.wait_for(_answer(reader), TIMEOUT)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                ok, close = False, True
            answered[i] = loop.time()
            failed[i] = not ok
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(host, int(port))
        writer.close()

    ended = asyncio.Event()

    async def connection_end(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await connection(reader, writer)
        ended.set()

    async def watch() -> list[int]:
        await ended.wait()  # the first connection done: the others still open, as they were
        return _holding(pids, int(port))

    *_, split_after = await asyncio.gather(*(connection_end(r, w) for r, w in opened), watch())
    mark("to")
    span = max(marks["to at"] - marks["from at"], 1e-9)
    scheduled = start + due[first:]
    done = int(np.count_nonzero(~np.isnan(answered[first:])))
    # The server's CPU between the marks went to the requests answered between them, warm-up ones too
    # when it was behind: per request is per those.
    served = int(np.count_nonzero((answered >= marks["from at"]) & (answered <= marks["to at"])))
    return Paced(
        latency_ms=(answered[first:] - scheduled) * 1000,
        late_ms=(sent[first:] - scheduled) * 1000,
        lag_ms=(sent[first:][free[first:]] - scheduled[free[first:]]) * 1000,
        errors=int(np.count_nonzero(failed[first:])),
        achieved=done / span,
        client_cpu=(marks["to client"] - marks["from client"]) / span,
        server_cpu_ms=1000 * (marks["to"] - marks["from"]) / max(served, 1),
        split=split,
        split_after=split_after,
    )


def _holding(pids: list[int], port: int) -> list[int]:
    """How many established connections to ``port`` each of ``pids`` holds, the busiest first (those
    holding none left out). Which worker accepts a connection is the kernel's choice, made once for a
    keep-alive connection: 8 connections opened at once are often all accepted by one worker."""
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # 01: ESTABLISHED
            established.add(f"socket:[{fields[9]}]")
    counts = []
    for pid in pids:
        held = 0
        with contextlib.suppress(OSError):  # a process or descriptor gone meanwhile
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    held += os.readlink(fd) in established
        counts.append(held)
    return sorted((c for c in counts if c), reverse=True)


async def _answer(reader: asyncio.StreamReader) -> tuple[bool, bool]:
    """Read one response: (status 200?, must the connection close?)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").lower().split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    if headers.get("transfer-encoding", "").strip() == "chunked":
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status == 200, headers.get("connection", "").strip() == "close"
