"""Operator commands: ``paperfeed settings`` (what is configured), ``migrate`` (the schema), ``serve``
(the site and the API), ``migrate-db`` (move an installation between SQLite and PostgreSQL), ``backup``
(an online copy of a SQLite database) and ``worker`` (the scheduled jobs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from paperfeed.commands.context import Context, fail, pass_context
from paperfeed.jobs import JOBS
from paperfeed.storage import migrate, transfer


@click.command()
@pass_context
def settings(obj: Context) -> None:
    """Print every setting, its value (secrets masked) and what it does."""
    for env, value, help_text in obj.settings.describe():
        click.echo(f"{env}={value}\n    {help_text}")


@click.command(name="migrate")
@pass_context
def migrate_command(obj: Context) -> None:
    """Bring the database schema up to date (every command does this on start, too)."""
    db = obj.db
    click.echo(f"database at revision {migrate.current(db)} (newest: {migrate.head()})")


@click.command()
@click.option("--host", help="Defaults to PAPERFEED_HOST.")
@click.option("--port", type=int, help="Defaults to PAPERFEED_PORT.")
@click.option("--workers", type=int, default=1, show_default=True, help="Web worker processes.")
@pass_context
def serve(obj: Context, host: str | None, port: int | None, workers: int) -> None:
    """Serve the site and the API."""
    import uvicorn

    # Migrate and catch the keyword index up once here, rather than racing in every worker.
    indexed = obj.keywords().sync(obj.db)
    if indexed:
        click.echo(f"keyword index: {indexed} papers (re)indexed")
    os.environ["PAPERFEED_DATABASE_URL"] = obj.settings.database_url
    uvicorn.run(
        "paperfeed.web.app:served_app",
        factory=True,
        host=host or obj.settings.host,
        port=port or obj.settings.port,
        workers=workers,
        access_log=obj.settings.access_log,
        # Who the client is behind a proxy is read in one place, web/limits.client, from
        # PAPERFEED_TRUSTED_PROXIES; uvicorn's own reading would apply a second rule to the same headers.
        proxy_headers=False,
    )


@click.command(name="migrate-db")
@click.option("--from", "source_url", required=True, metavar="URL", help="The installation to copy.")
@click.option("--to", "dest_url", required=True, metavar="URL", help="Where to copy it (migrated first).")
@click.option(
    "--resume", is_flag=True, help="Continue an interrupted copy into a destination that already has rows."
)
@click.option("--verify-only", is_flag=True, help="Only compare row counts and checksums; copy nothing.")
@click.option(
    "--batch", type=click.IntRange(min=1), default=1000, show_default=True, help="Rows a transaction."
)
def migrate_db(source_url: str, dest_url: str, resume: bool, verify_only: bool, batch: int) -> None:
    """Copy every table from one database to another (SQLite ⇄ PostgreSQL), then compare per-table row
    counts and checksums. Stop the web nodes and workers first: writes made during the copy are not moved.
    Exit 0 when every table matches, 1 otherwise."""
    if source_url == dest_url:
        fail("--from and --to are the same database")
    try:
        source = transfer.connect(source_url, "--from", must_exist=True)
        dest = transfer.connect(dest_url, "--to", must_exist=False)
        if not verify_only:
            transfer.prepare(source, dest, resume)
            with click.progressbar(length=1, label="copying", file=sys.stderr, show_pos=True) as bar:

                def progress(table: str, done: int) -> None:
                    bar.label = f"copying {table}"
                    bar.length = max(bar.length or 1, done)
                    bar.update(done - bar.pos)

                transfer.copy(source, dest, batch, progress)
        checks = transfer.compare(source, dest)
    except transfer.TransferError as exc:
        fail(str(exc))
    click.echo(f"{'table':<20} {'rows (from)':>12} {'rows (to)':>12}  {'checksum (from)':<32}  match")
    for c in checks:
        mark = "yes" if c.ok else f"NO (to: {c.dest_checksum})"
        click.echo(f"{c.table:<20} {c.source_rows:>12,} {c.dest_rows:>12,}  {c.source_checksum}  {mark}")
    bad = [c.table for c in checks if not c.ok]
    if bad:
        fail(f"{len(bad)} table(s) differ: {', '.join(bad)}")
    click.echo(f"{transfer.shown(dest_url)}: all {len(checks)} tables match")


@click.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def backup(obj: Context, target: Path) -> None:
    """Write a consistent copy of the SQLite database to TARGET while the site keeps running
    (SQLite's online backup). For PostgreSQL use pg_dump."""
    from paperfeed.storage.backup import BackupError, backup_sqlite

    try:
        pages = backup_sqlite(obj.settings.database_url, target)
    except BackupError as exc:
        fail(str(exc))
    click.echo(f"backed up {pages:,} pages to {target}")


@click.command()
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit (cron); 1 if one failed.")
@click.option("--job", "names", multiple=True, type=click.Choice([j.name for j in JOBS]), help="Only these.")
@pass_context
def worker(obj: Context, once: bool, names: tuple[str, ...]) -> None:
    """Run the scheduled jobs (paperfeed/jobs.py): harvest arXiv, keep the keyword index current.
    Start one or more per machine; they share the work through leases in the database."""
    import signal

    from paperfeed.worker import Worker

    jobs = [j for j in JOBS if not names or j.name in names]
    runner = Worker(obj.db, obj.settings, jobs, say=click.echo)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt  # unwinds the job: its harvest row says so and its leases are released

    signal.signal(signal.SIGTERM, interrupt)
    try:
        if once:
            runner.run_due()
        else:
            runner.run_forever()
    except KeyboardInterrupt:
        click.echo("worker stopped", err=True)
    if once and runner.failures:
        sys.exit(1)


COMMANDS = [settings, migrate_command, serve, migrate_db, backup, worker]
