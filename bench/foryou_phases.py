"""Where a For-you request's time goes, request by request: the app of `paperfeed serve` run in-process on
bench/foryou.py's database (the same readers, in the same order), each phase timed (wall and thread CPU),
and the cyclic garbage collector's passes recorded; the costliest requests are printed with their phases
(wall/CPU ms each) and the collector's passes in them (generation: CPU ms).

    .venv/bin/python bench/foryou_phases.py [--dir .bench/foryou] [--sample 200] [--worst 8]
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from paperfeed import accounts  # noqa: E402
from paperfeed.settings import Settings  # noqa: E402
from paperfeed.storage import open_database, schema  # noqa: E402
from paperfeed.storage import users as user_store  # noqa: E402

Phase = tuple[str, float, float]  # name, wall s, thread CPU s
_phases: list[Phase] = []
_gcs: list[tuple[int, float]] = []  # generation, CPU time
_gc_start: list[float] = []
_full: list[tuple[float, int]] = []  # each full pass: its CPU time and the objects it freed


def _on_gc(stage: str, info: dict[str, int]) -> None:
    if stage == "start":
        _gc_start.append(time.thread_time())
    elif _gc_start:
        _gcs.append((info["generation"], time.thread_time() - _gc_start.pop()))
        if info["generation"] == 2:
            _full.append((_gcs[-1][1], info["collected"]))


def timed(owner: Any, name: str, label: str) -> None:
    """Replace ``owner.name`` with a wrapper recording each call's wall and thread CPU time."""
    inner = getattr(owner, name)

    @functools.wraps(inner)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        w, c = time.perf_counter(), time.thread_time()
        try:
            return inner(*args, **kwargs)
        finally:
            _phases.append((label, time.perf_counter() - w, time.thread_time() - c))

    setattr(owner, name, wrapper)


def instrument() -> None:
    from paperfeed import foryou
    from paperfeed.recommend import model, rank, terms
    from paperfeed.storage import feedback, lists, users
    from paperfeed.storage import papers as paper_store
    from paperfeed.storage import signals as signal_store
    from paperfeed.web import foryou as web_foryou

    timed(users, "session_user", "session")
    timed(web_foryou.foryou, "window", "window")
    timed(lists, "period_stamp", "period_stamp")
    timed(foryou.CandidateCache, "get", "candidates")
    timed(signal_store, "reader_rows", "reader_rows")
    timed(foryou.KnownCache, "get", "known")
    timed(rank, "fit", "fit")
    timed(model, "_profile", "fit.profile")
    timed(terms.TermIndex, "weigh", "fit.profile.split")
    timed(rank, "parts", "rank.parts")
    timed(rank, "nearest_liked", "rank.nearest")
    timed(rank, "rank", "rank")
    timed(paper_store, "papers_by_ids", "papers_by_ids")
    timed(web_foryou, "extras", "api.extras")
    timed(web_foryou, "voted", "page.voted")
    timed(feedback, "feedback_on", "page.feedback_on")
    timed(web_foryou, "render", "page.render")
    timed(web_foryou, "foryou_page", "page")
    timed(web_foryou, "foryou_api", "api")


def census() -> None:
    """What the cyclic collector's full passes cost and walk: the tracked objects outside the frozen ones."""
    print(
        "full passes during the run (ms of CPU, objects freed): "
        + ", ".join(f"{t * 1000:.1f} {n:,}" for t, n in _full)
    )
    gc.set_debug(gc.DEBUG_SAVEALL)
    t = time.thread_time()
    freed = gc.collect()
    print(f"a full pass now: {(time.thread_time() - t) * 1000:.1f} ms of CPU, {freed:,} freed")
    garbage = Counter(type(o).__name__ for o in gc.garbage)
    print("  what it freed: " + ", ".join(f"{k} {v:,}" for k, v in garbage.most_common(15)))
    gc.set_debug(0)
    gc.garbage.clear()
    old = gc.get_objects(generation=2)
    kinds = Counter(type(o).__name__ for o in old)
    print(
        f"tracked in generation 2: {len(old):,} (frozen: {gc.get_freeze_count():,}); most common: "
        + ", ".join(f"{k} {v:,}" for k, v in kinds.most_common(12))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default=".bench/foryou")
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--worst", type=int, default=8)
    args = parser.parse_args()
    folder = Path(args.dir) / f"{args.papers}-{args.readers}"
    settings = Settings(
        database_url=f"sqlite:///{folder / 'foryou.db'}",
        index_dir=str(folder / "index"),
        base_url="http://testserver",
    )
    os.environ.update(
        {**settings.environment(), "PAPERFEED_ACCESS_LOG": "false", "PAPERFEED_EMBED_IN_WEB": "false"}
    )
    db = open_database(settings.database_url)
    # The readers bench/foryou.py picks, in its order.
    rng = random.Random(3)
    with db.read() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(schema.users)).scalar_one()
    cookies = []
    for r in rng.sample(range(total), min(args.sample + 20, total)):
        with db.read() as conn:
            row = conn.execute(sa.select(schema.users).where(schema.users.c.name == f"reader{r}")).one()
        user = user_store.user_by_id(db, row.id)
        assert user is not None
        cookies.append(accounts.open_session(db, user))
    db.close()

    instrument()
    from starlette.testclient import TestClient

    from paperfeed.web.app import served_app

    gc.callbacks.append(_on_gc)
    rows: list[tuple[str, float, float, list[Phase], list[tuple[int, float]]]] = []
    with TestClient(served_app(), base_url="https://testserver") as client:

        def get(kind: str, path: str, cookie: str) -> None:
            _phases.clear()
            _gcs.clear()
            w, c = time.perf_counter(), time.process_time()
            r = client.get(path, cookies={"__Host-session": cookie})
            assert r.status_code == 200, (path, r.status_code, r.text[:200])
            rows.append((kind, time.perf_counter() - w, time.process_time() - c, list(_phases), list(_gcs)))

        get("build", "/api/for-you?limit=1", cookies[-1])
        rows.clear()
        for cookie in cookies[: args.sample]:
            get("first", "/for-you", cookie)
            get("next", "/for-you", cookie)
            get("api", "/api/for-you", cookie)
        census()

    print(f"load average {os.getloadavg()[0]:.1f}; wall and process CPU per request, ms")
    for kind in ("first", "next", "api"):
        mine = [r for r in rows if r[0] == kind]
        walls = sorted(r[1] * 1000 for r in mine)
        cpus = sorted(r[2] * 1000 for r in mine)
        n = len(walls)
        print(
            f"{kind:5}: wall p50 {walls[n // 2]:.1f} p95 {walls[int(n * 0.95)]:.1f} p99 {walls[int(n * 0.99)]:.1f}"
            f" max {walls[-1]:.1f}; CPU p50 {cpus[n // 2]:.1f} p99 {cpus[int(n * 0.99)]:.1f} mean"
            f" {sum(cpus) / n:.1f}"
        )
        sums: dict[str, list[float]] = defaultdict(list)
        for r in mine:
            per: dict[str, float] = defaultdict(float)
            for name, _, c in r[3]:
                per[name] += c
            for name, c in per.items():
                sums[name].append(c * 1000)
        print("   mean thread CPU by phase: " + ", ".join(f"{k} {sum(v) / n:.2f}" for k, v in sums.items()))
        gcs = [g for r in mine for g in r[4]]
        by_gen: dict[int, list[float]] = defaultdict(list)
        for gen, t in gcs:
            by_gen[gen].append(t * 1000)
        print(
            "   GC passes: "
            + ", ".join(
                f"gen{g} ×{len(v)} max {max(v):.1f} ms sum {sum(v):.1f}" for g, v in sorted(by_gen.items())
            )
        )
        # The costliest in CPU first: on a shared machine a request's wall time is mostly its wait for a core.
        for r in sorted(mine, key=lambda r: -r[2])[: args.worst]:
            per_w: dict[str, float] = defaultdict(float)
            per_c: dict[str, float] = defaultdict(float)
            for name, w, c in r[3]:
                per_w[name] += w
                per_c[name] += c
            phases = " ".join(f"{k} {per_w[k] * 1000:.1f}/{per_c[k] * 1000:.1f}" for k in per_w)
            g = " ".join(f"gen{gen}:{t * 1000:.1f}" for gen, t in r[4])
            print(f"   {r[1] * 1000:6.1f} wall {r[2] * 1000:6.1f} cpu | {phases} | gc {g}")


if __name__ == "__main__":
    from report import recorded

    with recorded("foryou_phases"):
        main()
