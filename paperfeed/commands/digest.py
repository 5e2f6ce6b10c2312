"""``paperfeed subscribers …`` and ``paperfeed digest send``: thin wrappers over ``paperfeed.digest``.

Exit codes as everywhere (commands/context.py): 0 done; 1 failed; 3 done, but some records were rejected or
some digests must wait for a rerun (each is named on stderr).
"""

from __future__ import annotations

import csv
import smtplib
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from paperfeed.commands.context import EXIT_REJECTED, Context, fail, pass_context
from paperfeed.digest.compose import FREQUENCIES, Frequency, default_day, parse_frequency
from paperfeed.digest.mail import MailConfigError
from paperfeed.digest.subscriptions import (
    BadEmail,
    BadFollow,
    add_confirmed,
    make_follow,
    normalize_email,
    request,
    send_confirmations,
)
from paperfeed.models import Follow
from paperfeed.storage import subscribers as subscriber_store

_IMPORT_BATCH = 1000
_frequency_option = click.option(
    "--frequency", type=click.Choice(FREQUENCIES), default="daily", show_default=True
)


@click.group()
def subscribers() -> None:
    """Digest subscribers: add, import, count."""


@subscribers.command()
@click.argument("email")
@click.option(
    "--confirmed", is_flag=True, help="The address already opted in: no confirmation email is sent."
)
@_frequency_option
@click.option("--topic", "topics", multiple=True, help="Follow a topic (search terms); repeatable.")
@click.option("--author", "authors", multiple=True, help="Follow an author; repeatable.")
@click.option("--organization", "organizations", multiple=True, help="Follow an organization; repeatable.")
@pass_context
def add(
    obj: Context,
    email: str,
    confirmed: bool,
    frequency: Frequency,
    topics: tuple[str, ...],
    authors: tuple[str, ...],
    organizations: tuple[str, ...],
) -> None:
    """Subscribe EMAIL. Without --confirmed a confirmation email is sent (double opt-in)."""
    try:
        address = normalize_email(email)
        follows = [
            make_follow(kind, value)
            for kind, values in (("topic", topics), ("author", authors), ("organization", organizations))
            for value in values
        ]
    except (BadEmail, BadFollow) as exc:
        fail(str(exc))
    if not confirmed:
        if follows:
            raise click.UsageError("follows can be given with --confirmed only (or on the preferences page)")
        outcome = request(obj.db, obj.settings, address, frequency)
        if outcome != "queued":
            click.echo(
                {
                    "rate_limited": f"a confirmation went to {address} recently; not sent again yet",
                    "already_active": f"{address} is subscribed already",
                }[outcome]
            )
            return
        # A command may wait on mail, unlike a web request: send it now rather than at the worker's next run.
        try:
            report = send_confirmations(obj.db, obj.settings, only=address)
        except (MailConfigError, smtplib.SMTPException, OSError) as exc:
            fail(f"the confirmation to {address} is due but was not sent ({exc}); the worker sends it later")
        if not report.sent:
            fail(f"the confirmation to {address} was not sent: {report.summary()}")
        click.echo(f"confirmation sent to {address}")
        return
    counts = add_confirmed(obj.db, [(address, frequency, follows)])
    if counts.suppressed:
        click.echo(f"{address} unsubscribed or bounced earlier: left suppressed", err=True)
        sys.exit(EXIT_REJECTED)
    click.echo(f"{address}: {'added' if counts.added else 'confirmed'} ({frequency})")


@subscribers.command(name="import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def import_csv(obj: Context, path: Path) -> None:
    """Import confirmed subscribers from a CSV file with a header row: 'email' (required), 'frequency'
    (daily or weekly; daily when absent) and 'topics', 'authors', 'organizations' (each ';'-separated).

    Moves an existing opted-in list. Addresses that unsubscribed or bounced stay suppressed. A bad line is
    named on stderr and skipped; the others are stored, and a rerun changes nothing."""
    added = confirmed = suppressed = 0
    errors: list[str] = []
    batch: list[tuple[str, Frequency, list[Follow]]] = []

    def flush() -> None:
        nonlocal added, confirmed, suppressed
        if batch:
            counts = add_confirmed(obj.db, batch)
            added, confirmed = added + counts.added, confirmed + counts.confirmed
            suppressed += counts.suppressed
            batch.clear()

    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "email" not in [f.strip().lower() for f in reader.fieldnames]:
            fail(f"{path}: line 1: the header row must name an 'email' column")
        seen: set[str] = set()
        for row in reader:
            line = reader.line_num
            fields = {(k or "").strip().lower(): (v or "") for k, v in row.items() if isinstance(v, str)}
            try:
                email = normalize_email(fields.get("email", ""))
                frequency = parse_frequency(fields.get("frequency", "").strip() or "daily")
                follows = [
                    make_follow(kind, value)
                    for kind in ("topic", "author", "organization")
                    for value in fields.get(kind + "s", "").split(";")
                    if value.strip()
                ]
            except ValueError as exc:
                errors.append(f"line {line}: {exc}")
                continue
            if email in seen:
                errors.append(f"line {line}: {email} appears twice; the first line counts")
                continue
            seen.add(email)
            batch.append((email, frequency, follows))
            if len(batch) >= _IMPORT_BATCH:
                flush()
    flush()
    for error in errors:
        click.echo(f"rejected: {error}", err=True)
    click.echo(f"added {added}, confirmed {confirmed}, left suppressed {suppressed}, rejected {len(errors)}")
    if errors:
        sys.exit(EXIT_REJECTED)


@subscribers.command()
@click.argument("email")
@pass_context
def unsubscribe(obj: Context, email: str) -> None:
    """Suppress EMAIL at once (e.g. for a request that came to the List-Unsubscribe mailto address)."""
    try:
        address = normalize_email(email)
    except BadEmail as exc:
        fail(str(exc))
    found = subscriber_store.subscriber_by_email(obj.db, address)
    if found is None:
        fail(f"{address} is not a subscriber")
    subscriber_store.suppress(obj.db, found.id, "unsubscribed", datetime.now(UTC))
    click.echo(f"{address}: unsubscribed")


@subscribers.command()
@pass_context
def count(obj: Context) -> None:
    """Subscribers per status."""
    for status, n in sorted(subscriber_store.counts(obj.db).items()):
        click.echo(f"{status}\t{n}")


@click.group()
def digest() -> None:
    """Email digests."""


@digest.command()
@click.option("--period", "frequency", type=click.Choice(FREQUENCIES), required=True)
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="A day in the period to send. Default: daily, the latest day with papers; weekly, last week.",
)
@pass_context
def send(obj: Context, frequency: Frequency, day: datetime | None) -> None:
    """Send the period's digests to every active subscriber of that frequency. Safe to rerun (a finished
    period sends nothing) and to run from several processes at once."""
    from paperfeed.digest.mail import MailConfigError
    from paperfeed.digest.send import SendError, send_digests

    db = obj.db
    chosen: date = day.date() if day else default_day(db, frequency, datetime.now(UTC).date())
    try:
        report = send_digests(db, obj.settings, frequency, chosen, log=lambda m: click.echo(m, err=True))
    except (SendError, MailConfigError) as exc:
        fail(str(exc))
    click.echo(
        f"{report.period}: {report.papers} papers; sent {report.sent}, nothing new {report.empty}, "
        f"already handled {report.skipped}, deferred {report.retry}, failed {report.failed}, "
        f"unknown {report.unknown}; in flight at a crash, now unknown: {report.recovered}"
    )
    if report.retry or report.interrupted:
        sys.exit(EXIT_REJECTED)
