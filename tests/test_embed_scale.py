"""Embedding scales out (issue 18, item 5): workers claim disjoint batches of papers to embed, on the backend
under test (a SQLite file, or PostgreSQL with ``PAPERFEED_TEST_BACKEND=postgresql``).

Two real ``paperfeed worker`` processes embed at once, one is killed with SIGKILL in the middle of its
batches, and the survivor redoes them once they expire. Every write to ``paper_embeddings`` is counted by
a trigger the test adds to the database, so "no paper embedded twice" is checked on what was committed,
not on what the workers say.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from paperfeed.ingest.normalize import paper_from_snapshot
from paperfeed.search import embed, indexer
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import embed_claims as claims
from paperfeed.storage import embeddings as store
from paperfeed.storage import papers as paper_store
from paperfeed.storage.schema import papers
from tests.conftest import RECENT, ROOT

PAPERFEED = ROOT / ".venv" / "bin" / "paperfeed"
JOB = "embed:test"
LEASE = 3.0  # seconds: a killed worker's claims are redone this long after its last heartbeat


def store_recent(db: Database, n: int, skip: int = 0) -> list[str]:
    """Store bundled papers in one batch; their ids in the order the embedding job walks them (one batch
    shares one rev, so by id)."""
    lines = RECENT.read_text().splitlines()[skip : skip + n]
    papers = [paper_from_snapshot(json.loads(line)) for line in lines]
    paper_store.upsert_papers(db, papers)
    return sorted(p.id for p in papers)


def count_writes(db: Database) -> None:
    """Record every row written to paper_embeddings (inserted, or updated by an upsert) in embed_writes, by
    a trigger: rolled-back batches leave nothing there, committed ones a row per vector."""
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE embed_writes (paper_id VARCHAR(64) NOT NULL)")
        if db.dialect == "sqlite":
            for event in ("INSERT", "UPDATE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER count_{event.lower()} AFTER {event} ON paper_embeddings "  # noqa: S608
                    "BEGIN INSERT INTO embed_writes VALUES (NEW.paper_id); END"
                )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION count_write() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN INSERT INTO embed_writes VALUES (NEW.paper_id); RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER count_write AFTER INSERT OR UPDATE ON paper_embeddings "
                "FOR EACH ROW EXECUTE FUNCTION count_write()"
            )


def key_of(db: Database, paper_id: str) -> tuple[int, str]:
    """Where a paper stands in the embedding job's walk: (rev, id)."""
    with db.read() as conn:
        rev = conn.execute(sa.select(papers.c.rev).where(papers.c.id == paper_id)).scalar_one()
    return int(rev), paper_id


def writes(db: Database) -> Counter[str]:
    with db.read() as conn:
        return Counter(conn.exec_driver_sql("SELECT paper_id FROM embed_writes").scalars())


def stretch(db: Database, claim: claims.Claim) -> list[str]:
    return [p.id for p in store.papers_to_embed(db, "m", claim.after, claim.upto)]


def finish(db: Database, claim: claims.Claim, holder: str) -> None:
    with db.write() as conn:
        claims.finish(conn, claim, holder)


# -- the claims themselves, without a model ------------------------------------------------------------


def test_claims_are_disjoint_and_a_dead_workers_claim_is_taken_over(db: Database) -> None:
    ids = store_recent(db, 10)
    first = claims.claim(db, JOB, "n:1", 4, 30)
    second = claims.claim(db, JOB, "n:2", 4, 30)
    third = claims.claim(db, JOB, "n:1", 4, 30)
    assert first and second and third
    assert [stretch(db, c) for c in (first, second, third)] == [ids[:4], ids[4:8], ids[8:]]
    assert claims.claim(db, JOB, "n:3", 4, 30) is None  # nothing left, and every claim is live
    finish(db, second, "n:2")
    assert store.position(db, JOB) == (0, "")  # the first claim is not done: the position waits for it
    # n:1 dies: its claims are taken over once expired (here: at once, for a process known to be dead).
    taken = claims.claim(db, JOB, "n:3", 4, 30, dead=lambda holder: holder == "n:1")
    assert taken is not None and (taken.id, taken.taken_over) == (first.id, "n:1")
    with pytest.raises(claims.ClaimLost):
        finish(db, first, "n:1")  # the dead worker's late commit is refused
    finish(db, taken, "n:3")
    assert store.position(db, JOB) == key_of(db, ids[7])
    # A claim let go by a stopping worker goes to the next claimant at once.
    assert claims.release(db, JOB, "n:1") == 1
    again = claims.claim(db, JOB, "n:2", 4, 30)
    assert again is not None and again.id == third.id
    finish(db, again, "n:2")
    assert claims.claims(db, JOB) == [] and store.position(db, JOB) == max(key_of(db, i) for i in ids)
    # New papers are carved after the position.
    more = store_recent(db, 3, skip=10)
    newest = claims.claim(db, JOB, "n:2", 4, 30)
    assert newest is not None and stretch(db, newest) == more


def test_concurrent_claimants_share_every_paper_exactly_once(db: Database) -> None:
    ids = store_recent(db, 120)
    seen: list[list[str]] = []
    failed: list[BaseException] = []

    def work(holder: str) -> None:
        try:
            while (claim := claims.claim(db, JOB, holder, 7, 30)) is not None:
                seen.append(stretch(db, claim))
                finish(db, claim, holder)
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=work, args=(f"n:{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed, failed
    assert sorted(i for s in seen for i in s) == sorted(ids)  # every paper once, none twice
    assert claims.claims(db, JOB) == []  # all folded into the position
    assert store.position(db, JOB) == max(key_of(db, i) for i in ids)


# -- where the model runs -----------------------------------------------------------------------------------


def test_the_model_says_where_it_runs_and_a_gpu_it_cannot_use_leaves_it_on_the_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = embed.Embedder("all-MiniLM-L6-v2-int8", threads=1)
    assert model.device == "CPU (CPUExecutionProvider, int8 products, one window at a time, 1 thread)"
    # This machine has no GPU: stand in for one where onnxruntime lists CUDA but cannot start it (its
    # libraries missing). The model must not claim the GPU, nor run the packaged float model on the CPU.
    monkeypatch.setattr(embed, "_providers", lambda: (embed.GPU, "CPUExecutionProvider"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # onnxruntime warns that CUDA is not there
        fallback = embed.Embedder("all-MiniLM-L6-v2-int8", threads=1)
    assert fallback.device == model.device and fallback.batch_size == 32
    assert np.allclose(fallback.embed(["a paper"]), model.embed(["a paper"]))


# -- real workers, one killed -----------------------------------------------------------------------------


def worker_env(settings: Settings, node: str, index: Path) -> dict[str, str]:
    return {
        **os.environ,
        **settings.environment(),
        "PAPERFEED_INDEX_DIR": str(index),
        "PAPERFEED_NODE_NAME": node,  # two nodes, as if on two machines: no shortcut for dead local pids
        "PAPERFEED_LEASE_SECONDS": str(LEASE),
        "PAPERFEED_WORKER_POLL_SECONDS": "0.1",
        "PAPERFEED_INDEX_SYNC_INTERVAL": "0.3",
        "PAPERFEED_EMBED_BATCH": "3",
        "PAPERFEED_EMBED_IN_WEB": "false",
    }


def start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PAPERFEED, "worker", "--job", "embed"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until(check: object, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_two_workers_embed_without_overlap_and_the_survivor_redoes_a_killed_ones_batches(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    n = 60
    ids = store_recent(db, n)
    count_writes(db)
    job = indexer.job_name(settings.embedding_model)
    a = start_worker(worker_env(settings, "node-a", tmp_path / "index-a"))
    holder_a = f"node-a:{a.pid}"
    try:  # B starts once A embeds: neither can do it all before the other has loaded its model
        wait_until(lambda: any(h == holder_a for _, h, _ in claims.claims(db, job)))
    except BaseException:
        a.kill()
        a.wait()
        raise
    b = start_worker(worker_env(settings, "node-b", tmp_path / "index-b"))
    holder_b = f"node-b:{b.pid}"
    said: list[str] = []  # B's log, line by line, as it prints it
    listener = threading.Thread(target=lambda: said.extend(b.stdout or ()), daemon=True)
    listener.start()
    both_at_once = False
    try:
        # Kill A while it holds unfinished claims, once both workers have been embedding side by side and
        # A has stored a batch of its own: a claim seen held by A that is done or gone while A lives was
        # stored by A (nobody takes over a live worker's claims).
        seen_a: set[int] = set()
        stored_by_a: set[int] = set()

        def a_is_mid_batch() -> bool:
            nonlocal both_at_once
            rows = claims.claims(db, job)
            live = {i for i, h, done in rows if h == holder_a and not done}
            stored_by_a.update(seen_a - live)
            seen_a.update(live)
            holders = {h for _, h, done in rows if not done}
            both_at_once = both_at_once or {holder_a, holder_b} <= holders
            return both_at_once and bool(live) and bool(stored_by_a)

        wait_until(a_is_mid_batch)
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=20)
        orphans = [i for i, h, done in claims.claims(db, job) if h == holder_a and not done]
        wait_until(lambda: store.count_embedded(db, settings.embedding_model) == n)
        wait_until(lambda: claims.claims(db, job) == [])  # B's last batch folded into the position
        wait_until(lambda: any("embed: 0 papers embedded, 0 unchanged" in line for line in said))  # idle
    finally:
        for process in (a, b):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        a.wait(timeout=20)
        b.wait(timeout=20)
        listener.join(timeout=20)
    out_b = "".join(said)

    assert a.returncode == -signal.SIGKILL
    assert b.returncode == 0, out_b
    assert both_at_once
    assert orphans, "A was killed holding batches it had not stored"
    # Every paper's vector was written exactly once by committed work: A's batches in flight were stored
    # by B alone, after A's claims expired.
    assert writes(db) == Counter(dict.fromkeys(ids, 1))
    assert store.position(db, job) == max(key_of(db, i) for i in ids)
    # B's log says what it embedded and on which device.
    device = "on CPU (CPUExecutionProvider, int8 products, one window at a time"
    done_by_b = sum(int(m) for m in re.findall(r"embed: (\d+) papers embedded", out_b))
    assert device in out_b and 0 < done_by_b < n  # B embedded some of them, A (and only A) the others
    with db.read() as conn:
        walked = conn.execute(sa.select(sa.func.count()).where(papers.c.keywords.is_not(None))).scalar_one()
    assert walked == n  # keyphrases extracted for every paper
