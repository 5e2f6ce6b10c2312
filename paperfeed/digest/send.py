"""Sending one period's digests: every active subscriber gets at most one, whatever crashes.

For each subscriber a sender thread *claims* the (subscriber, period) row of the delivery ledger and
records the papers it chose (one transaction), hands the message to the SMTP server, and marks the row
'sent' once the server accepted it (together with its next claim: one commit per digest). Each thread has
one message in flight at a time, so a kill -9 leaves at most ``send_concurrency`` rows 'claimed'.

A sender registers itself in ``digest_senders`` and keeps a heartbeat. On start, rows claimed by senders
that are gone are marked 'unknown' and never resent: the server may have taken them. Gone means: on this
host, its process (pid and start time) no longer runs, which a restart after a kill sees at once; on
another host, its heartbeat stopped. Two senders of the same period at once split the work through the
claims; a rerun of a finished period claims nothing and sends nothing.

A subscriber linked to a member also gets that member's unread notifications not emailed before (taken
in the same claiming transaction, so never in two digests); a digest with notifications and no new paper
is still sent.
"""

from __future__ import annotations

import contextlib
import os
import queue
import smtplib
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from paperfeed import notifications
from paperfeed.digest import tokens
from paperfeed.digest.compose import (
    Frequency,
    Item,
    PeriodPapers,
    Shortlist,
    TopicSearch,
    choose,
    load_period,
    shortlist,
)
from paperfeed.digest.mail import Mailer, SmtpTarget, deliver
from paperfeed.digest.render import Renderer
from paperfeed.models import Subscriber
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import deliveries as ledger
from paperfeed.storage import subscribers as subscriber_store

_PAGE = 500
_MISSED_BEATS = 6


class SendError(RuntimeError):
    """The run could not send at all (no SMTP server reachable, no secret key …)."""


@dataclass
class SendReport:
    period: str
    papers: int = 0  # papers in the period
    sent: int = 0
    empty: int = 0  # nothing new for the subscriber: recorded, not sent
    skipped: int = 0  # already sent, or claimed by another sender
    retry: int = 0  # transient failures: the next run sends them
    failed: int = 0  # permanent failures: the address is suppressed
    unknown: int = 0  # the connection broke mid-message: maybe delivered, never resent
    recovered: int = 0  # digests left in flight by dead senders, now 'unknown'
    interrupted: int = 0  # sender threads that stopped early (server lost): a rerun sends the rest
    errors: list[str] = field(default_factory=list)

    def add(self, other: dict[str, int]) -> None:
        for key, value in other.items():
            setattr(self, key, getattr(self, key) + value)


def process_start(pid: int) -> str:
    """When the process started (clock ticks since boot, from /proc), to tell it from a later process
    that reuses its pid; '' where /proc is missing, and 'Z' for a zombie (it is dead)."""
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115 - one read
    except OSError:
        return ""
    fields = stat[stat.rindex(")") + 2 :].split()
    return "Z" if fields[0] == "Z" else fields[19]


def _alive(sender: ledger.Sender, host: str, now: datetime, stale: timedelta) -> bool:
    if sender.host == host and sender.process_start:
        return process_start(sender.pid) == sender.process_start
    return now - sender.heartbeat_at < stale


def recover(db: Database, stale: timedelta, now: datetime, me: str | None = None) -> int:
    """Mark what dead senders had in flight 'unknown'; how many."""
    host = socket.gethostname()
    dead = [s.id for s in ledger.running_senders(db) if s.id != me and not _alive(s, host, now, stale)]
    return ledger.mark_dead(db, dead, now)


@dataclass(frozen=True, slots=True)
class _Attempt:
    delivery_id: int
    message_id: str
    data: bytes


class _Run:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        pp: PeriodPapers,
        sender_id: str,
        report: SendReport,
        log: Callable[[str], None],
    ) -> None:
        self.db = db
        self.settings = settings
        self.pp = pp
        self.sender_id = sender_id
        self.report = report
        self.log = log
        self.secret = settings.secret_key.get_secret_value()
        self.mailer = Mailer.from_settings(settings)
        self.target = SmtpTarget.parse(settings.smtp_url.get_secret_value())
        self.renderer = Renderer(settings.site_name, settings.base_url)
        self.list_id = self.mailer.list_id(settings.site_name, pp.frequency)
        self.base_url = settings.base_url.rstrip("/")
        self.queue: queue.Queue[Subscriber | None] = queue.Queue(maxsize=2 * _PAGE)
        self.lock = threading.Lock()

    def count(self, **values: int) -> None:
        with self.lock:
            self.report.add(values)

    def error(self, message: str) -> None:
        with self.lock:
            if len(self.report.errors) < 100:
                self.report.errors.append(message)
        self.log(message)

    def worker(self, smtp: smtplib.SMTP) -> None:
        """Send digests from the queue over one connection until the queue ends or the server is lost."""
        done: tuple[int, str] | None = None  # accepted by the server, not yet marked
        try:
            while (sub := self.queue.get()) is not None:
                attempt = self.one(smtp, sub, done)
                done = None
                if attempt is None:
                    continue
                outcome, reply = deliver(smtp, self.mailer.from_addr, sub.email, attempt.data)
                lost = None
                if outcome == "retry" and reply.startswith("connection lost"):
                    # Nothing was handed over (the server closed an idle connection, say): reconnect
                    # and try this digest once more.
                    try:
                        smtp = self._reconnect(smtp)
                        outcome, reply = deliver(smtp, self.mailer.from_addr, sub.email, attempt.data)
                    except (smtplib.SMTPException, OSError) as exc:
                        lost = exc
                if outcome == "sent":
                    done = (attempt.delivery_id, attempt.message_id)
                    self.count(sent=1)
                    continue
                bounced = "bounced" if outcome == "failed" else None
                ledger.mark_unsent(self.db, attempt.delivery_id, reply, _now(), outcome, bounced)
                self.count(**{outcome: 1})
                self.error(f"{outcome}: {sub.email}: {reply}")
                if lost is not None:
                    raise lost
                if outcome == "unknown":
                    smtp = self._reconnect(smtp)
        except (smtplib.SMTPException, OSError) as exc:
            self.count(interrupted=1)
            self.error(f"a sender connection stopped: {exc}")
        except Exception as exc:
            # A digest that cannot be built must not hang the run; its claimed row ends 'unknown'.
            self.count(interrupted=1)
            self.error(f"a sender thread stopped: {exc!r}")
        finally:
            if done is not None:
                ledger.mark_sent(self.db, done[0], self.sender_id, done[1], _now())
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()

    def one(self, smtp: smtplib.SMTP, sub: Subscriber, done: tuple[int, str] | None) -> _Attempt | None:
        """Claim, compose and build one digest; None when there is nothing to send."""
        settings = self.settings
        short: Shortlist = shortlist(self.pp, sub, settings.digest_top_papers, settings.digest_max_picks)
        chosen: list[Item] = []

        def pick(sent: set[str]) -> list[str]:
            chosen[:] = choose(self.pp, short, sent, settings.digest_top_papers, settings.digest_max_picks)
            return [item.paper.id for item in chosen]

        claim = ledger.claim(
            self.db,
            sub.id,
            self.pp.key,
            self.sender_id,
            _now(),
            short.ids,
            pick,
            done,
            sub.user_id,
            notifications.IN_DIGEST,
        )
        if claim is None:
            self.count(skipped=1)
            return None
        if not claim.paper_ids and not claim.notifications:
            self.count(empty=1)
            return None
        notes = [
            (notifications.sentence(x), self.base_url + notifications.path(x)) for x in claim.notifications
        ]
        unsubscribe = self.link("unsubscribe", "unsubscribe", sub)
        preferences = self.link("subscription", "preferences", sub)
        content = self.renderer.digest(
            chosen, sub.email, self.pp.frequency, self.pp.period.label, unsubscribe, preferences, notes
        )
        message_id = self.mailer.message_id(self.pp.key, sub.id)
        data = self.mailer.build(sub.email, content, message_id, self.list_id, unsubscribe)
        return _Attempt(claim.delivery_id, message_id, data)

    def link(self, path: str, purpose: str, sub: Subscriber) -> str:
        return f"{self.base_url}/{path}/{tokens.sign(self.secret, purpose, sub.id, sub.email)}"

    def _reconnect(self, smtp: smtplib.SMTP) -> smtplib.SMTP:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.close()
        return self.target.connect()


def _now() -> datetime:
    return datetime.now(UTC)


def send_digests(
    db: Database,
    settings: Settings,
    frequency: Frequency,
    day: date,
    now: datetime | None = None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[int], None] | None = None,
    topic_search: TopicSearch | None = None,
) -> SendReport:
    """Send the digests of the period of ``frequency`` that holds ``day``. Safe to run again (it sends
    only what was never claimed, or freed by a transient error) and from several processes at once."""
    log = log or (lambda _message: None)
    pp = load_period(db, frequency, day, now, topic_search, settings.embedding_model)
    report = SendReport(pp.key, papers=len(pp.papers))
    if not settings.secret_key.get_secret_value():
        raise SendError("set PAPERFEED_SECRET_KEY: unsubscribe links and Message-IDs are signed with it")
    sender = ledger.Sender(
        str(uuid.uuid4()), socket.gethostname(), os.getpid(), process_start(os.getpid()), _now()
    )
    stale = timedelta(seconds=settings.sender_heartbeat_seconds * _MISSED_BEATS)
    report.recovered = recover(db, stale, _now())
    if not pp.papers:
        return report
    run = _Run(db, settings, pp, sender.id, report, log)
    connections = []
    try:
        for _ in range(max(1, settings.send_concurrency)):
            connections.append(run.target.connect())
    except (smtplib.SMTPException, OSError) as exc:
        for smtp in connections:
            smtp.close()
        raise SendError(
            f"cannot send through the SMTP server {run.target.host}:{run.target.port}: {exc}"
        ) from exc
    ledger.register_sender(db, sender, _now())
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(db, sender.id, settings, stop), daemon=True)
    beat.start()
    threads = [threading.Thread(target=run.worker, args=(smtp,), daemon=True) for smtp in connections]
    for t in threads:
        t.start()
    try:
        _feed(db, run, frequency, threads, progress)
    finally:
        for t in threads:  # one end marker per thread still reading
            if t.is_alive():
                with contextlib.suppress(queue.Full):
                    run.queue.put(None, timeout=60)
        for t in threads:
            t.join()
        stop.set()
        beat.join()
        ledger.finish_sender(db, sender.id, _now())
    return report


def _feed(
    db: Database,
    run: _Run,
    frequency: str,
    threads: list[threading.Thread],
    progress: Callable[[int], None] | None,
) -> None:
    """Page through the subscribers into the queue; stop early when every connection is lost."""
    after, fed = 0, 0
    alive = True
    while alive and (page := subscriber_store.sendable(db, frequency, after, _PAGE)):
        for sub in page:
            while alive:
                try:
                    run.queue.put(sub, timeout=1.0)
                    break
                except queue.Full:
                    alive = any(t.is_alive() for t in threads)
            fed += 1
        after = page[-1].id
        if progress:
            progress(fed)


def _heartbeat(db: Database, sender_id: str, settings: Settings, stop: threading.Event) -> None:
    while not stop.wait(settings.sender_heartbeat_seconds):
        with contextlib.suppress(Exception):  # a missed beat is harmless; the next one tries again
            ledger.heartbeat(db, sender_id, _now())
