"""Crash and fault drills (issue 17), shared by ``tests/test_drills.py`` (sizes that fit the suite) and
``bench/drills.py`` (the full sizes, whose figures go into docs/benchmarks.md).

1. ``import_killed``: ``paperfeed ingest snapshot`` killed with SIGKILL at several points, then run to the
   end: every paper stored once, the rows those of an uninterrupted import, the node's indexes those a
   rebuild gives.
2. ``damage_indexes``: a running server's index files deleted or cut short: every search still answered
   meanwhile, and the answers the same as before once the node has rebuilt them.
3. ``restart_database``: PostgreSQL stopped and started under load: 503s with ``Retry-After`` while it is
   down, none slow and no 500, and the service answering again without a restart.
4. ``fill_disk``: an import on a small filesystem that fills: exit 1 naming the problem, the database whole,
   and a rerun after space is freed storing every paper.

Each returns its figures as a dataclass; ``lines()`` says them as the bench prints them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa
import tantivy

from paperfeed.ingest.snapshot import ingest_snapshot
from paperfeed.search import indexer
from paperfeed.search.keyword import KeywordIndex
from paperfeed.search.vector import VectorIndex
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from paperfeed.storage import papers as store
from paperfeed.storage.schema import papers as papers_table

ROOT = Path(__file__).resolve().parent.parent
RECENT = ROOT / "data" / "arxiv-recent.jsonl"
SNAPSHOT = ROOT / "data" / "arxiv-snapshot-sample.jsonl"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


# -- real-text records -------------------------------------------------------------------------------------


def real_text_records(n: int, seed: int = 17) -> Iterator[dict[str, Any]]:
    """``n`` lines of arXiv's snapshot format made from the bundled real papers (304 recent, 200 from the
    snapshot): each a real paper under a new id (2501.00000 on), its abstract's sentences shuffled, so
    the text, its lengths and its words are real and no two papers read alike."""
    rng = random.Random(seed)
    base = [json.loads(line) for path in (RECENT, SNAPSHOT) for line in path.read_text().splitlines()]
    for i in range(n):
        record = dict(base[i % len(base)])
        sentences = _SENTENCE_END.split(" ".join(record["abstract"].split()))
        rng.shuffle(sentences)
        record["abstract"] = " ".join(sentences)
        record["id"] = f"{25 + i // 1_200_000:02d}{1 + (i // 100_000) % 12:02d}.{i % 100_000:05d}"
        yield record


def write_records(path: Path, n: int, seed: int = 17) -> list[str]:
    """The records written as JSON lines; returns their ids in file order."""
    ids = []
    with path.open("w") as out:
        for record in real_text_records(n, seed):
            out.write(json.dumps(record) + "\n")
            ids.append(record["id"])
    return ids


# -- what the database and a node's index folder hold --------------------------------------------------------


def paper_ids(db: Database) -> list[str]:
    with db.read() as conn:
        return list(conn.execute(sa.select(papers_table.c.id)).scalars())


def rows_digest(db: Database) -> str:
    """One digest of every paper's stored content (what an import writes; not its change number)."""
    c = papers_table.c
    columns = [c.id, c.title, c.abstract, c.authors, c.categories, c.versions, c.version, c.feed_day]
    digest = hashlib.sha256()
    with db.read() as conn:
        for row in conn.execution_options(yield_per=5000).execute(sa.select(*columns).order_by(c.id)):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def keyword_documents(folder: Path) -> list[str]:
    """The paper id of every document of a keyword index folder, duplicates kept (read only)."""
    searcher = tantivy.Index.open(str(folder)).searcher()
    every = searcher.search(tantivy.Query.all_query(), limit=max(searcher.num_docs, 1))
    return [searcher.doc(address)["id"][0] for _, address in every.hits]


def vector_keys(db: Database, settings: Settings, folder: Path | None = None) -> list[int]:
    """The keys a reader of a node's vector index sees (its saved base and the delta), duplicates kept."""
    spec = indexer.MODELS[settings.embedding_model]
    index = VectorIndex(folder or Path(settings.resolved_index_dir()) / "vectors", spec.name, spec.dim)
    index.refresh(db)
    base, delta = index._now
    keys = [int(k) for k in np.asarray(base[0].keys)] if base is not None else []
    return keys + [int(k) for k in delta.keys]


def rebuilt(db: Database, settings: Settings, folder: Path) -> tuple[list[str], list[int]]:
    """What ``paperfeed index --rebuild`` makes of the database in a new folder, without embedding
    anything new (the model would take an hour for 100,000 papers): its keyword documents and vector keys."""
    keywords = KeywordIndex(folder)
    keywords.rebuild(db)
    spec = indexer.MODELS[settings.embedding_model]
    VectorIndex(folder / "vectors", spec.name, spec.dim).rebuild(db)
    return keyword_documents(folder), vector_keys(db, settings, folder / "vectors")


# -- processes ----------------------------------------------------------------------------------------------

# The CLI as it is, except that the keyword index is built alongside an import of any size and committed
# every 1,000 papers, and the file is read by a process of its own (as on a machine with a core to spare
# for it): a small test file then goes down the path a large one takes.
SMALL_AS_LARGE = (
    "import sys; from paperfeed.commands import ingest; from paperfeed.search import keyword; "
    "from paperfeed.ingest import reader; reader.PIPELINE_BYTES = -1; reader._cpus = lambda: 8; "
    "ingest.BULK_IMPORT_BYTES = 0; keyword._ALONGSIDE_COMMIT_EVERY = 1000; "
    "from paperfeed.cli import main; main()"
)


def paperfeed(
    settings: Settings, *args: str, small_as_large: bool = False, **popen: Any
) -> subprocess.Popen[str]:
    """The ``paperfeed`` command in a child process, on these settings; no embedding after imports."""
    prefix = ["-c", SMALL_AS_LARGE] if small_as_large else ["-m", "paperfeed.cli"]
    env = os.environ | settings.environment() | {"PAPERFEED_EMBED_ON_INGEST_MAX": "0"} | popen.pop("env", {})
    return subprocess.Popen([sys.executable, *prefix, *args], env=env, text=True, **popen)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """``paperfeed serve`` in its own process (a fault that kills a server must not kill the test), with
    its output kept in a file."""

    def __init__(self, settings: Settings, log: Path, workers: int = 1, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings.model_copy(update={"base_url": self.url})
        self.log_path, self.workers, self.env = log, workers, env or {}
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Served:
        with self.log_path.open("w") as log:
            self.process = paperfeed(
                self.settings, "serve", "--port", str(self.port), "--workers", str(self.workers),
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/api/daily_papers?limit=1", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.__exit__()
                raise RuntimeError(f"the server did not start:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value >= 1 else f"{value * 1000:.0f} ms"


# -- 1. kill -9 during an import ---------------------------------------------------------------------------


@dataclass
class KilledImport:
    papers: int
    kills: list[int] = field(default_factory=list)  # papers stored when each kill landed
    finished_early: int = 0  # runs that ended before their kill point came
    final_run: float = 0.0  # seconds of the last, uninterrupted run
    total: float = 0.0
    stored: int = 0
    missing: int = 0
    extra: int = 0
    same_rows: bool = False  # as an uninterrupted import of the same file
    keyword: tuple[int, int, int] = (0, 0, 0)  # documents, distinct ids, documents of a rebuild
    keyword_same: bool = False
    vectors: tuple[int, int] = (0, 0)  # keys of the node's index, of a rebuild
    vectors_same: bool = False

    def lines(self) -> list[str]:
        docs, distinct, rebuilt_docs = self.keyword
        return [
            f"papers to hold at the end: {self.papers:,}; kill -9 at {len(self.kills)} points, papers stored at each: "
            + ", ".join(f"{k:,}" for k in self.kills),
            f"then one run to the end: {seconds(self.final_run)} (whole drill {seconds(self.total)})",
            f"papers stored: {self.stored:,}; lost {self.missing}, doubled or foreign {self.extra}; rows "
            + ("identical to" if self.same_rows else "DIFFERENT from")
            + " an uninterrupted import's",
            f"keyword index: {docs:,} documents, {distinct:,} distinct papers; a rebuild: {rebuilt_docs:,}, "
            + ("the same papers" if self.keyword_same else "DIFFERENT papers"),
            f"vector index: {self.vectors[0]:,} keys; a rebuild: {self.vectors[1]:,}, "
            + ("the same keys" if self.vectors_same else "DIFFERENT keys"),
        ]


def import_killed(
    settings: Settings,
    source: Path,
    ids: list[str],
    kills: int,
    reference_url: str,
    work: Path,
    before: tuple[Path, ...] = (),
    seed: int = 5,
    small_as_large: bool = False,
) -> KilledImport:
    """Kill ``paperfeed ingest snapshot SOURCE`` with SIGKILL ``kills`` times, spread over the import
    (the last one after every paper is stored, while the index is finished), then run it to the end.
    ``ids``: every paper the database must hold then; ``before``: files the database held already, which
    the uninterrupted reference import stores first."""
    rng = random.Random(seed)
    db = open_database(settings.database_url)
    report = KilledImport(len(ids))
    started = time.monotonic()
    targets = [len(ids) * (k + 1) // kills for k in range(kills)]
    for target in targets:
        process = paperfeed(
            settings, "ingest", "snapshot", str(source), small_as_large=small_as_large,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        while process.poll() is None and store.count_papers(db) < target:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.1))  # mid-batch, mid-commit or mid-index, not right after a commit
        if process.poll() is not None:
            report.finished_early += 1
            continue
        process.send_signal(signal.SIGKILL)
        process.wait()
        report.kills.append(store.count_papers(db))
    final = time.monotonic()
    process = paperfeed(
        settings, "ingest", "snapshot", str(source), small_as_large=small_as_large,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, err = process.communicate()
    if process.returncode != 0:
        raise AssertionError(f"the last run failed ({process.returncode}): {err[-2000:]}")
    report.final_run = time.monotonic() - final
    report.total = time.monotonic() - started

    stored = paper_ids(db)
    report.stored = len(stored)
    report.missing = len(set(ids) - set(stored))
    report.extra = len(stored) - len(set(stored)) + len(set(stored) - set(ids))
    reference = open_database(reference_url)
    for path in (*before, source):
        ingest_snapshot(reference, path)
    report.same_rows = rows_digest(db) == rows_digest(reference)
    reference.close()

    documents = keyword_documents(Path(settings.resolved_index_dir()))
    keys = vector_keys(db, settings)
    rebuilt_documents, rebuilt_keys = rebuilt(db, settings, work / "rebuilt")
    report.keyword = (len(documents), len(set(documents)), len(rebuilt_documents))
    report.keyword_same = sorted(documents) == sorted(rebuilt_documents)
    report.vectors = (len(keys), len(rebuilt_keys))
    report.vectors_same = sorted(keys) == sorted(rebuilt_keys)
    db.close()
    return report


# -- 2. index files deleted or cut short under a running server ----------------------------------------------


def _cut(paths: Callable[[Path], list[Path]]) -> Callable[[Path], None]:
    """Truncate files in place to half their size, as a failing disk or a stray ``truncate`` would."""

    def damage(folder: Path) -> None:
        for path in paths(folder):
            with contextlib.suppress(FileNotFoundError):  # merged away since it was listed
                os.truncate(path, path.stat().st_size // 2)

    return damage


def _segment_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and re.fullmatch(r"[0-9a-f]{32}\..*", p.name)]


def _delete(paths: Callable[[Path], list[Path]]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        for path in paths(folder):
            path.unlink(missing_ok=True)

    return damage


def _delete_folder(folder: Path) -> None:
    """``rm -rf`` of the folder, as many times as it takes: the server writes into it at any moment (each
    new search shares its answer in ``.search-answers``), so one pass can find a file made after it began."""
    for _ in range(50):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
    raise AssertionError(f"{folder} could not be deleted")


DAMAGES: dict[str, Callable[[Path], None]] = {
    "the whole index folder deleted": _delete_folder,
    "the keyword index's files deleted": _delete(lambda f: [p for p in f.iterdir() if p.is_file()]),
    "the vector index's files deleted": _delete(lambda f: list((f / "vectors").iterdir())),
    "the keyword segments cut in half in place": _cut(_segment_files),
    "the keyword index's meta.json cut in half": _cut(lambda f: [f / "meta.json"]),
    "the vector graph and records cut in half in place": _cut(
        lambda f: [f / "vectors" / "vectors.usearch", f / "vectors" / "vectors.records"]
    ),
}

QUERIES = [
    "sparse delta memory linear rnn",
    "language model agents that learn skills by reinforcement",
    "cattle growth",
    "quantum field theory",
    "retrieval augmented generation",
]


@dataclass
class Outage:
    damage: str
    requests: int = 0
    failed: int = 0  # not answered 200 (or not at all)
    empty: int = 0  # answered with no results
    differed: int = 0  # answered otherwise than before the damage (from what remained)
    slowest: float = 0.0
    rebuilt: float | None = None  # seconds until the folder was whole and every answer as before
    server_alive: bool = True

    def line(self) -> str:
        back = (
            f"rebuilt and answering as before after {seconds(self.rebuilt)}"
            if self.rebuilt
            else "NOT rebuilt"
        )
        return (
            f"{self.damage}: {self.requests} requests meanwhile, {self.failed} failed, {self.empty} empty, "
            f"{self.differed} other results than before, slowest {seconds(self.slowest)}; {back}"
            + ("" if self.server_alive else "; THE SERVER DIED")
        )


def _answers(url: str, similar_to: str, outage: Outage | None = None) -> list[list[str]]:
    """The titles each query finds, in order, then those of the papers similar to one paper. Titles, not
    ids: the real-text copies of a paper (``real_text_records``) share its words and tie, in an order that
    depends on how the index's segments happen to lie."""
    found = []
    paths = [("/api/papers/search", {"q": q, "limit": 10}) for q in QUERIES]
    for path, params in [*paths, (f"/api/papers/{similar_to}/similar", {})]:
        started = time.monotonic()
        try:
            response = httpx.get(url + path, params=params, timeout=30)
            titles = [i["paper"]["title"] for i in response.json()] if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            titles = None
        if outage is not None:
            outage.requests += 1
            outage.slowest = max(outage.slowest, time.monotonic() - started)
            outage.failed += titles is None
            outage.empty += titles == []
        found.append(titles or [])
    return found


def index_whole(folder: Path, documents: int, vectors: int) -> bool:
    """Whether a new process would find the node's indexes complete: every paper, every vector."""
    try:
        from usearch.index import Index

        found = tantivy.Index.open(str(folder)).searcher().num_docs
        meta = Index.metadata(str(folder / "vectors" / "vectors.usearch"))
        return found == documents and meta is not None and meta["count_present"] == vectors
    except (ValueError, RuntimeError, OSError):
        return False


def damage_indexes(
    server: Served,
    documents: int,
    vectors: int,
    similar_to: str,
    damages: list[str],
    timeout: float = 60.0,
) -> list[Outage]:
    """For each damage in turn: answers before, the damage, then searches until the node has rebuilt its
    folder and answers as before (or ``timeout``)."""
    folder = Path(server.settings.resolved_index_dir())
    before = _answers(server.url, similar_to)
    assert all(before), f"every query finds something before the damage: {before}"
    outages = []
    for name in damages:
        outage = Outage(name)
        DAMAGES[name](folder)
        damaged = time.monotonic()
        while time.monotonic() - damaged < timeout and server.alive():
            answers = _answers(server.url, similar_to, outage)
            if answers == before and index_whole(folder, documents, vectors):
                outage.rebuilt = time.monotonic() - damaged
                break
            outage.differed += sum(a != b for a, b in zip(answers, before, strict=True))
            time.sleep(0.1)
        outage.server_alive = server.alive()
        outages.append(outage)
        if not outage.server_alive or outage.rebuilt is None:
            break
    return outages


# -- 3. PostgreSQL restarted under load -----------------------------------------------------------------------


@dataclass
class Answer:
    kind: str
    started: float
    took: float
    status: int  # 0: no answer within the client's timeout, or the connection failed
    well_formed: bool  # a 503 says why ({"error"} or the error page) and when to retry (Retry-After)


@dataclass
class Restart:
    mode: str
    down_for: float = 0.0  # seconds from the stop to accepting connections again
    answers: list[Answer] = field(default_factory=list)
    stopped_at: float = 0.0
    up_at: float = 0.0
    worker_lines: list[str] = field(default_factory=list)
    server_alive: bool = True

    def during(self) -> list[Answer]:
        return [a for a in self.answers if self.stopped_at <= a.started < self.up_at]

    def statuses(self, answers: list[Answer]) -> str:
        counts = Counter(a.status for a in answers)
        return ", ".join(f"{n} × {status or 'no answer'}" for status, n in sorted(counts.items()))

    def last_error_after_up(self) -> float:
        """Seconds from PostgreSQL accepting connections to the end of the last request not answered 200."""
        late = [
            a.started + a.took - self.up_at
            for a in self.answers
            if a.status != 200 and a.started >= self.up_at
        ]
        return max(late, default=0.0)

    def lines(self) -> list[str]:
        during = self.during()
        by_kind = sorted({a.kind for a in self.answers})
        slowest = max((a.took for a in during), default=0.0)
        return [
            f"PostgreSQL stopped ({self.mode}) under load and started again: {seconds(self.down_for)} without it",
            f"requests while it was down: {len(during)} ({self.statuses(during)}); slowest {seconds(slowest)}; "
            + f"503s well formed (Retry-After, a reason): {all(a.well_formed for a in during if a.status == 503)}",
            *(f"  {kind}: {self.statuses([a for a in during if a.kind == kind])}" for kind in by_kind),
            f"after it was back: the last failed request ended {seconds(self.last_error_after_up())} later; "
            + f"{sum(a.started >= self.up_at for a in self.answers)} requests, "
            + self.statuses([a for a in self.answers if a.started >= self.up_at]),
            "the web server and the worker ran on without a restart"
            if self.server_alive and any("the database is back" in line for line in self.worker_lines)
            else "A RESTART WAS NEEDED",
        ]


def _request(
    client: httpx.Client, kind: str, paper: str, headers: dict[str, str], flip: bool
) -> httpx.Response:
    if kind == "paper JSON":
        return client.get(f"/api/papers/{paper}")
    if kind == "paper page":
        return client.get(f"/papers/{paper}")
    if kind == "search":
        return client.get("/api/papers/search", params={"q": "sparse attention"})
    if kind == "feed page (cached)":
        return client.get("/")
    assert kind == "upvote"
    return client.request("POST" if flip else "DELETE", f"/api/papers/{paper}/upvote", headers=headers)


KINDS = ["paper JSON", "paper page", "search", "feed page (cached)", "upvote"]


def restart_database(
    server: Served,
    pg: Any,
    worker: subprocess.Popen[str],
    paper: str,
    token: str,
    down: float,
    mode: str = "fast",
    clients: int = 4,
) -> Restart:
    """``clients`` threads send every kind of request in turn while PostgreSQL is stopped for ``down``
    seconds and started again, and for as long again after."""
    from tests import postgres

    report = Restart(mode)
    stop = threading.Event()
    lock = threading.Lock()
    origin = time.monotonic()

    def load(number: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, timeout=15) as client:
            turn = number
            while not stop.is_set():
                kind = KINDS[turn % len(KINDS)]
                started = time.monotonic()
                try:
                    response = _request(client, kind, paper, headers, turn % 2 == 0)
                    status = response.status_code
                    well_formed = status != 503 or (
                        response.headers.get("retry-after", "").isdigit()
                        and ("database is unavailable" in response.text)
                    )
                except httpx.HTTPError:
                    status, well_formed = 0, False
                with lock:
                    report.answers.append(
                        Answer(kind, started - origin, time.monotonic() - started, status, well_formed)
                    )
                turn += 1

    def follow_worker() -> None:
        assert worker.stdout is not None
        for line in worker.stdout:
            report.worker_lines.append(line.rstrip())

    reader = threading.Thread(target=follow_worker, daemon=True)
    reader.start()
    threads = [threading.Thread(target=load, args=(n,), daemon=True) for n in range(clients)]
    try:
        deadline = time.monotonic() + 60
        while not any(" s)" in line for line in report.worker_lines):  # it has run its job once
            assert time.monotonic() < deadline and worker.poll() is None, "\n".join(report.worker_lines)
            time.sleep(0.1)
        for thread in threads:
            thread.start()
        time.sleep(2)
        report.stopped_at = time.monotonic() - origin
        postgres.stop(pg, mode)
        time.sleep(down)
        postgres.start(pg)
        report.up_at = time.monotonic() - origin
        report.down_for = report.up_at - report.stopped_at
        time.sleep(max(down, 5.0))
    finally:
        stop.set()
        for thread in threads:
            if thread.is_alive():
                thread.join(timeout=30)
        report.server_alive = server.alive()
        worker.terminate()
        worker.wait(timeout=30)
        reader.join(timeout=10)
    return report


# -- 4. the disk filling during an import ----------------------------------------------------------------------


class CannotMount(Exception):
    """This machine does not let the drill mount a small filesystem (it needs root, CAP_SYS_ADMIN)."""


@contextlib.contextmanager
def small_disk(folder: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of ``megabytes`` mounted on ``folder`` while the block runs."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        raise CannotMount(f"mount -t tmpfs failed: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@dataclass
class DiskFull:
    where: str  # what lies on the small filesystem
    size: int  # MB
    free: int  # MB left when the import started
    papers: int = 0
    exit_code: int = 0
    message: str = ""
    failed_after: float = 0.0
    stored: int = 0  # papers stored when it failed
    in_order: bool = False  # they are the file's first ones: whole batches, nothing half-written
    integrity: str = ""  # SQLite's integrity check after the failure ('ok'), or what PostgreSQL holds
    rerun_exit: int = -1
    rerun_stored: int = 0
    rerun_documents: int = 0

    def lines(self) -> list[str]:
        return [
            f"{self.where} on a {self.size} MB filesystem with {self.free} MB free, importing {self.papers:,} papers",
            f"the import failed after {seconds(self.failed_after)}: exit {self.exit_code}, {self.message!r}",
            f"papers stored then: {self.stored:,} ("
            + ("the file's first ones, whole batches" if self.in_order else "NOT the file's first ones")
            + f"); database check: {self.integrity}",
            f"space freed, the same command again: exit {self.rerun_exit}, {self.rerun_stored:,} papers stored, "
            f"keyword index {self.rerun_documents:,} documents",
        ]


def fill_disk(settings: Settings, disk: Path, source: Path, ids: list[str], free: int) -> DiskFull:
    """Import ``source`` with the database (SQLite) or the index folder (PostgreSQL, whose data is
    elsewhere) on ``disk``, filled but for ``free`` MB; check what stayed; free the space; import again."""
    size = shutil.disk_usage(disk).total // 2**20
    sqlite = settings.database_url.startswith("sqlite")
    report = DiskFull("the database and the index" if sqlite else "the index folder", size, free, len(ids))
    ballast = disk / "ballast"
    with ballast.open("wb") as out:
        for _ in range(size - free):
            out.write(b"\0" * 2**20)
    started = time.monotonic()
    process = paperfeed(
        settings, "ingest", "snapshot", str(source), small_as_large=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, err = process.communicate()
    report.failed_after = time.monotonic() - started
    report.exit_code = process.returncode
    report.message = next((line for line in err.splitlines() if line.startswith("error:")), err[-300:])
    db = open_database(settings.database_url)
    stored = paper_ids(db)
    report.stored = len(stored)
    report.in_order = sorted(stored) == sorted(ids[: len(stored)])
    if sqlite:
        with db.read() as conn:
            report.integrity = conn.exec_driver_sql("PRAGMA integrity_check").scalar_one()
    else:
        report.integrity = "PostgreSQL unaffected" if report.in_order else "PostgreSQL holds other papers"
    db.close()
    ballast.unlink()
    rerun = paperfeed(
        settings, "ingest", "snapshot", str(source), small_as_large=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    rerun.communicate()
    report.rerun_exit = rerun.returncode
    db = open_database(settings.database_url)
    report.rerun_stored = store.count_papers(db)
    db.close()
    report.rerun_documents = len(set(keyword_documents(Path(settings.resolved_index_dir()))))
    return report
