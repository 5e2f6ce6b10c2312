"""The jobs ``paperfeed worker`` runs, in one list: a name, where it runs, how often, what it calls.

Where a job runs decides its lease (``storage/leases.py``):
- ``global`` jobs change the shared database and must run once for the whole installation, one worker at
  a time across every machine: the OAI-PMH harvest, digests, and the outbound
  work web requests queue (fetching submitted papers, sending confirmation emails), GitHub's stars,
  arXiv's full texts and notifying followers of new papers. Lease
  ``job:<name>``; the harvest also holds a lease per window, so ``paperfeed ingest oai`` run by hand
  cannot harvest the same window alongside a worker.
- ``node`` jobs keep something on one machine current: each web node reads its own search index folder
  (keyword and vector indexes), derived from the database (``papers.rev``, ``paper_embeddings.rev``). Every node runs its own, one process at a time on that
  node: lease ``job:<name>@<node name>``.
- ``every`` jobs run in every worker process at once and share out the work themselves, so adding workers
  (on this machine or others) speeds them up: embedding new papers, in batches each worker claims
  (``storage/embed_claims.py``). No lease; each worker keeps the job's schedule for itself.

Adding a job is one entry in ``JOBS``: a function taking a ``JobContext`` and returning a one-line summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage.leases import Held

Scope = Literal["global", "node", "every"]


class NotNow(RuntimeError):
    """The job cannot start yet (what it works on is held elsewhere): try again at the next round."""


@dataclass(frozen=True, slots=True)
class JobContext:
    db: Database
    settings: Settings
    holder: str  # node:pid of this worker, for leases the job takes itself
    lease: Held | None  # the job's own lease, renewed by its heartbeat while the job runs (None: 'every')


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    scope: Scope
    every: Callable[[Settings], float]  # seconds from the end of one run to the next
    run: Callable[[JobContext], str]  # returns what it did, in one line


def harvest_latest(ctx: JobContext) -> str:
    """Harvest the next OAI-PMH window (or continue an unfinished one from its resumption token)."""
    from paperfeed.ingest.http import PoliteClient
    from paperfeed.ingest.oai import HarvestBusy, harvest, next_window
    from paperfeed.outbound import shared_turn

    s = ctx.settings
    today = datetime.now(UTC).date()
    window = next_window(ctx.db, s.arxiv_oai_endpoint, "arXivRaw", s.harvest_set, s.harvest_from, today)
    if window is None:
        return "up to date"
    with PoliteClient.from_settings(s, shared_turn(ctx.db, "arxiv", s.arxiv_request_interval)) as client:
        try:
            result = harvest(
                ctx.db, client, s.arxiv_oai_endpoint, window[0], window[1], s.harvest_set,
                holder=ctx.holder, lease_seconds=s.lease_seconds,
            )  # fmt: skip
        except HarvestBusy as exc:  # a dead worker's window lease not yet expired, or 'ingest oai' by hand
            raise NotNow(str(exc)) from None
    report = result.report
    return (
        f"window {window[0]}..{window[1]}: {result.pages} pages, {report.inserted} new, "
        f"{report.updated} updated, {len(report.errors)} rejected"
    )


def embed_papers(ctx: JobContext) -> str:
    """Embed the papers stored since the embedding job's position, with their keyphrases, in batches this
    worker claims: other workers embed other batches at once, and a batch whose worker died is redone by
    whichever worker finds its claim expired (``storage/embed_claims.py``)."""
    from paperfeed.search import embed, indexer
    from paperfeed.search.follower import take_node_lock
    from paperfeed.storage import embed_claims

    s = ctx.settings
    keywords, _ = indexer.open_indexes(s)
    # Keyphrase scoring reads the keyword index's word statistics: bring it up to date first, unless a
    # web worker or another job worker on this node holds the index (tantivy allows one writer).
    if (lock := take_node_lock(s)) is not None:
        with lock:
            keywords.sync(ctx.db)
    model = embed.shared(s.embedding_model, s.embed_threads or None)
    embedded, kept = indexer.embed_new(
        ctx.db, model, keywords, batch_size=s.embed_batch, holder=ctx.holder, lease_seconds=s.lease_seconds
    )
    others = embed_claims.held_elsewhere(ctx.db, indexer.job_name(model.name), ctx.holder)
    elsewhere = f"; {others} batches held by other workers" if others else ""
    return f"{embedded} papers embedded, {kept} unchanged, on {model.device}{elsewhere}"


def digests(frequency: str) -> Callable[[JobContext], str]:
    """The job that sends the latest period's digests: safe to repeat (each period's deliveries are
    claimed under a unique constraint), so the worker can simply run it often."""

    def send(ctx: JobContext) -> str:
        from paperfeed.digest.compose import default_day, parse_frequency
        from paperfeed.digest.send import send_digests

        if not ctx.settings.smtp_url.get_secret_value():
            return "skipped: PAPERFEED_SMTP_URL is not set"
        freq = parse_frequency(frequency)
        report = send_digests(ctx.db, ctx.settings, freq, default_day(ctx.db, freq, datetime.now(UTC).date()))
        return f"{report.period}: {report.sent} sent, {report.skipped} already sent, {report.retry} to retry"

    return send


def sync_search_indexes(ctx: JobContext) -> str:
    """Bring this node's keyword and vector indexes up to date with the database's change logs."""
    from paperfeed.search import indexer
    from paperfeed.search.follower import take_node_lock

    lock = take_node_lock(ctx.settings)
    if lock is None:
        return "skipped: a web worker on this node keeps its indexes current"
    with lock:
        keywords, vectors = indexer.open_indexes(ctx.settings)
        keyword_count, vector_count = keywords.sync(ctx.db), vectors.sync(ctx.db)
    return f"keyword index: {keyword_count} (re)indexed; vector index: {vector_count} added"


# -- accounts and housekeeping ----------------------------------------------------------------------------


def account_mail(ctx: JobContext) -> str:
    """Mail the sign-up activation links, notices and password-reset links the web has queued
    (``paperfeed/account_mail.py``): the web never sends mail itself, so its answers cannot tell which
    addresses have accounts."""
    from paperfeed.account_mail import send_due

    return send_due(ctx.db, ctx.settings)


def forget_rate_limits(ctx: JobContext) -> str:
    """Drop rate-limit windows older than the longest configured window: no limit counts them any more
    (a stale row would only be reset on its key's next hit, and most keys never come back)."""
    from datetime import timedelta

    from paperfeed.storage.ratelimits import forget_before

    fields = [name for name in type(ctx.settings).model_fields if name.startswith("rate_")]
    longest = max(int(str(getattr(ctx.settings, name)).split("/")[1]) for name in fields)
    dropped = forget_before(ctx.db, datetime.now(UTC) - timedelta(seconds=longest))
    return f"{dropped} expired rate-limit windows dropped"


# -- outbound work: what web requests queue for the worker (issue 17: no request waits on a third party) --


def fetch_submissions(ctx: JobContext) -> str:
    """Fetch the papers members submitted from arXiv, all through one client for this run; raises (the run
    counts as failed, with arXiv's answer) when arXiv cannot be reached, after recording it on each."""
    from paperfeed import outbound
    from paperfeed.ingest.arxiv_api import ArxivApi
    from paperfeed.ingest.submit import fetch_queued
    from paperfeed.storage import submissions

    s = ctx.settings
    if not submissions.due(ctx.db, datetime.now(UTC), 1):
        return "nothing waits"
    with outbound.client(s, "arxiv", ctx.db) as client:
        report = fetch_queued(ctx.db, ArxivApi(client, s.arxiv_api_endpoint), s.submission_attempts)
    if report.unreachable:
        raise RuntimeError(f"{report.summary()}: arXiv could not be reached: {report.unreachable}")
    return report.summary()


def send_confirmations(ctx: JobContext) -> str:
    """Send the subscription confirmations /subscribe asked for, over one SMTP connection."""
    from paperfeed.digest.subscriptions import send_confirmations as send

    if not ctx.settings.smtp_url.get_secret_value():
        return "skipped: PAPERFEED_SMTP_URL is not set"
    return send(ctx.db, ctx.settings).summary()


def github_stars(ctx: JobContext) -> str:
    """Read the stars of the linked GitHub repositories that are due (``paperfeed/stars.py``), through one
    client for this run; raises (the run counts as failed) when GitHub cannot be reached."""
    from paperfeed import outbound
    from paperfeed.stars import check_stars

    s = ctx.settings
    with outbound.client(s, "github") as client:
        report = check_stars(
            ctx.db,
            client,
            s.github_api_url,
            s.github_token.get_secret_value(),
            s.github_refresh,
            s.github_batch,
        )
    if report.unreachable:
        raise RuntimeError(f"{report.summary()}: GitHub could not be reached: {report.unreachable}")
    return report.summary()


def full_texts(ctx: JobContext) -> str:
    """arXiv's HTML renderings of the newest papers as Markdown, with their thumbnails
    (``paperfeed/fulltext.py``), through one client whose turns are shared with every other arXiv
    request; raises (the run counts as failed, one line) when arXiv cannot be reached, the papers waiting."""
    from datetime import timedelta

    from paperfeed import outbound
    from paperfeed.fulltext import Schedule, fetch_due

    s = ctx.settings
    since = datetime.now(UTC).date() - timedelta(days=s.fulltext_days) if s.fulltext_days else None
    schedule = Schedule(s.fulltext_refresh, s.fulltext_missing_retry)
    with outbound.client(s, "arxiv", ctx.db) as client:
        report = fetch_due(ctx.db, client, s.arxiv_html_url, schedule, s.fulltext_batch, since)
    if report.unreachable:
        raise RuntimeError(f"{report.summary()}: arXiv could not be reached: {report.unreachable}")
    return report.summary()


def summaries(ctx: JobContext) -> str:
    """Abstractive summaries from the configured OpenAI-compatible endpoint (``paperfeed/abstractive.py``);
    skipped while ``PAPERFEED_SUMMARY_URL`` is empty (summaries are then extractive, made when shown)."""
    from paperfeed import outbound
    from paperfeed.abstractive import summarise_due

    s = ctx.settings
    if not s.summary_url:
        return "skipped: PAPERFEED_SUMMARY_URL is not set (summaries are extractive)"
    with outbound.client(s, "summaries") as client:
        report = summarise_due(
            ctx.db, client, s.summary_url, s.summary_model, s.summary_key.get_secret_value(), s.summary_batch
        )
    if report.unreachable:
        raise RuntimeError(f"{report.summary()}: the summary endpoint failed: {report.unreachable}")
    return report.summary()


def send_webhooks(ctx: JobContext) -> str:
    """Find the events since the last run (paperfeed/webhooks/events.py) and send every delivery that is
    due, signed, to members' endpoints (send.py); raises when some failed, so the run shows it."""
    from paperfeed.webhooks.events import collect
    from paperfeed.webhooks.send import deliver_due

    found = collect(ctx.db, ctx.settings)
    report = deliver_due(ctx.db, ctx.settings)
    new = ", ".join(f"{f.events} from {f.source}" for f in found) or "first look"
    return f"new deliveries: {new}; {report.summary()}"


RATE_LIMIT_SWEEP_SECONDS = 3600.0


def notify_new_papers(ctx: JobContext) -> str:
    """Notify the followers of an author of each new paper of theirs (cursor over papers.rev)."""
    from paperfeed import notifications

    return notifications.notify_new_papers(ctx.db)


JOBS: list[Job] = [
    Job("oai-harvest", "global", lambda s: s.harvest_interval, harvest_latest),
    Job("embed", "every", lambda s: s.index_sync_interval, embed_papers),
    Job("digest-daily", "global", lambda s: s.digest_interval, digests("daily")),
    Job("digest-weekly", "global", lambda s: s.digest_interval, digests("weekly")),
    Job("search-index", "node", lambda s: s.index_sync_interval, sync_search_indexes),
    # What web requests queue for the worker: no request waits on a third party.
    Job(
        "submissions",
        "global",
        lambda s: max(s.submission_interval, s.arxiv_request_interval),
        fetch_submissions,
    ),
    Job("confirmations", "global", lambda s: s.confirmation_interval, send_confirmations),
    Job("github-stars", "global", lambda s: s.github_interval, github_stars),
    Job("summaries", "global", lambda s: s.summary_interval, summaries),
    Job("fulltext", "global", lambda s: s.fulltext_interval, full_texts),
    Job("account-mail", "global", lambda s: s.worker_poll_seconds, account_mail),
    Job("webhooks", "global", lambda s: s.webhook_interval, send_webhooks),
    Job("notifications", "global", lambda s: s.worker_poll_seconds, notify_new_papers),
    Job("rate-limits", "global", lambda s: RATE_LIMIT_SWEEP_SECONDS, forget_rate_limits),
]
