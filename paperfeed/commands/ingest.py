"""``paperfeed ingest snapshot|cards|oai|arxiv-api`` and ``paperfeed submit``: load papers from arXiv's
sources, with a progress bar on stderr, then bring the search indexes up to date.

Each run prints what it read and stored; rejected records are named on stderr and give exit code 3
(commands/context.py), so ``paperfeed ingest … && paperfeed index`` chains in cron.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import click

from paperfeed.commands.context import EXIT_REJECTED, Context, fail, pass_context
from paperfeed.commands.search import update_indexes
from paperfeed.models import ImportReport
from paperfeed.storage import leases


@click.group()
def ingest() -> None:
    """Load papers from arXiv sources."""


# Above this size the keyword index is built from each batch as it is stored (it then needs no reading
# back); below it, opening the index writer costs more than it saves, and _finish syncs the index.
BULK_IMPORT_BYTES = 32 * 2**20


def _run_import(obj: Context, label: str, path: Path, run: Callable[..., ImportReport], index: bool) -> None:
    from paperfeed.ingest.reader import ReaderStopped

    size = path.stat().st_size
    alongside = index and size > BULK_IMPORT_BYTES
    try:
        with (
            _bar(label, size) as progress,
            obj.keywords().alongside(obj.db) if alongside else nullcontext() as stored,
        ):
            report = run(obj.db, path, progress, stored)
    except ReaderStopped as exc:
        fail(str(exc))
    _finish(obj, report, index)


def _finish(obj: Context, report: ImportReport, index: bool) -> None:
    for error in report.errors:
        click.echo(f"rejected: {error}", err=True)
    click.echo(
        f"read {report.read}, new {report.inserted}, updated {report.updated}, "
        f"unchanged {report.unchanged}, rejected {len(report.errors)}"
    )
    if index:
        update_indexes(obj)
    if report.errors:
        sys.exit(EXIT_REJECTED)


@contextmanager
def _bar(label: str, length: int) -> Iterator[Callable[[int], None]]:
    with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=False) as bar:
        done = 0

        def progress(position: int) -> None:
            nonlocal done
            bar.update(position - done)
            done = position

        yield progress


_index_option = click.option(
    "--index/--no-index",
    default=True,
    show_default=True,
    help="Bring the keyword index up to date afterwards.",
)


@ingest.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_index_option
@pass_context
def snapshot(obj: Context, path: Path, index: bool) -> None:
    """Import arXiv's metadata snapshot (JSON lines, optionally .gz). Rerunning resumes after a kill."""
    from paperfeed.ingest.snapshot import ingest_snapshot

    _run_import(obj, f"importing {path.name}", path, ingest_snapshot, index)


@ingest.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_index_option
@pass_context
def cards(obj: Context, path: Path, index: bool) -> None:
    """Import Daily Papers cards (title, summary, num_authors, organization, published_at, upvotes)."""
    from paperfeed.ingest.cards import ingest_cards

    _run_import(obj, f"importing {path.name}", path, ingest_cards, index)


@contextmanager
def _count_bar(label: str) -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar whose total (completeListSize, totalResults) is only known after the first page."""
    with click.progressbar(length=1, label=label, file=sys.stderr, show_pos=True) as bar:
        done = 0

        def progress(position: int, total: int | None) -> None:
            nonlocal done
            bar.length = max(total or 0, position, 1)
            bar.update(position - done)
            done = position

        yield progress


@ingest.command(name="oai")
@click.option(
    "--from",
    "from_date",
    required=True,
    metavar="YYYY-MM-DD",
    help="First day of the window (records added or changed on or after it).",
)
@click.option("--until", "until_date", default="", metavar="YYYY-MM-DD", help="Last day of the window.")
@click.option("--set", "set_spec", default="", help="OAI-PMH set, e.g. cs or physics:hep-th.")
@click.option("--endpoint", help="Defaults to PAPERFEED_ARXIV_OAI_ENDPOINT.")
@click.option(
    "--metadata-prefix",
    type=click.Choice(["arXivRaw", "arXiv"]),
    default="arXivRaw",
    show_default=True,
    help="arXivRaw carries every version; arXiv only the latest.",
)
@click.option(
    "--restart", is_flag=True, help="Start the window over instead of continuing an unfinished harvest."
)
@_index_option
@pass_context
def oai(
    obj: Context,
    from_date: str,
    until_date: str,
    set_spec: str,
    endpoint: str | None,
    metadata_prefix: str,
    restart: bool,
    index: bool,
) -> None:
    """Harvest arXiv over OAI-PMH. Rerunning the same window after a kill or an error continues from the
    last stored page."""
    from paperfeed.ingest.http import ArxivHTTPError, PoliteClient
    from paperfeed.ingest.oai import BadWindow, HarvestBusy, HarvestError, harvest

    db = obj.db
    try:
        with (
            PoliteClient.from_settings(obj.settings, _arxiv_turn(obj)) as client,
            _count_bar("harvesting") as progress,
        ):
            result = harvest(
                db,
                client,
                endpoint or obj.settings.arxiv_oai_endpoint,
                from_date,
                until_date,
                set_spec,
                metadata_prefix,
                restart=restart,
                progress=progress,
                holder=leases.holder_name(obj.settings.node()),
                lease_seconds=obj.settings.lease_seconds,
            )
    except (BadWindow, HarvestBusy) as exc:
        fail(str(exc))
    except (HarvestError, ArxivHTTPError) as exc:
        if index:  # what the pages before the error stored is searchable already
            obj.keywords().sync(db)
        fail(f"{exc}\n(pages before it are stored; rerun the same command to continue from there)")
    resumed = f", continued from resumption token {result.resumed_from}" if result.resumed_from else ""
    click.echo(f"harvest: {result.pages} pages, {result.deleted} deleted records skipped{resumed}")
    _finish(obj, result.report, index)


@ingest.command(name="arxiv-api")
@click.option("--query", help="An arXiv API search_query, e.g. 'cat:cs.CL AND ti:retrieval'.")
@click.option(
    "--id", "ids", multiple=True, metavar="ID", help="An arXiv id to fetch (repeatable, or comma-separated)."
)
@click.option(
    "--max", "max_results", type=click.IntRange(min=1), help="Stop after this many results of --query."
)
@click.option("--page-size", type=click.IntRange(1, 2000), default=100, show_default=True)
@click.option("--endpoint", help="Defaults to PAPERFEED_ARXIV_API_ENDPOINT.")
@_index_option
@pass_context
def arxiv_api(
    obj: Context,
    query: str | None,
    ids: tuple[str, ...],
    max_results: int | None,
    page_size: int,
    endpoint: str | None,
    index: bool,
) -> None:
    """Fetch papers through the arXiv API: a search listing and/or ids. A rerun continues a listing."""
    from paperfeed.ingest.arxiv_api import ApiError, ArxivApi, ingest_ids, ingest_query
    from paperfeed.ingest.http import PoliteClient

    wanted = [i for value in ids for i in value.replace(",", " ").split()]
    if not query and not wanted:
        raise click.UsageError("give --query and/or --id")
    db = obj.db
    report = ImportReport()
    try:
        with PoliteClient.from_settings(obj.settings, _arxiv_turn(obj)) as client:
            api = ArxivApi(client, endpoint or obj.settings.arxiv_api_endpoint)
            if query:
                with _count_bar("searching") as progress:
                    report += ingest_query(db, api, query, max_results, page_size, progress)
            if wanted:
                with _count_bar("fetching") as progress:
                    report += ingest_ids(db, api, wanted, progress)
    except ApiError as exc:
        if index:
            obj.keywords().sync(db)
        fail(f"{exc}\n(pages before it are stored; rerun the same command to continue from there)")
    _finish(obj, report, index)


@click.command()
@click.argument("arxiv_id")
@click.option("--by", help="Who submits it (shown on the feed).")
@click.option("--refresh", is_flag=True, help="Fetch it from arXiv again even if it is stored.")
@click.option("--endpoint", help="Defaults to PAPERFEED_ARXIV_API_ENDPOINT.")
@_index_option
@pass_context
def submit(
    obj: Context, arxiv_id: str, by: str | None, refresh: bool, endpoint: str | None, index: bool
) -> None:
    """Put an arXiv paper on today's feed (fetching it from arXiv if it is not stored yet)."""
    from paperfeed.ingest.arxiv_api import ArxivApi
    from paperfeed.ingest.http import PoliteClient
    from paperfeed.ingest.submit import SubmitError, submit_paper

    db = obj.db
    try:
        with PoliteClient.from_settings(obj.settings, _arxiv_turn(obj)) as client:
            api = ArxivApi(client, endpoint or obj.settings.arxiv_api_endpoint)
            done = submit_paper(db, api, arxiv_id, by, refresh=refresh)
    except SubmitError as exc:
        fail(str(exc))
    who = f" by {done.paper.submitted_by}" if done.paper.submitted_by else ""
    source = "fetched from arXiv" if done.fetched else "already stored"
    paper = done.paper
    click.echo(f"{paper.id} submitted{who}, {source}: on the feed of {paper.feed_day}: {paper.title}")
    if index:
        update_indexes(obj)


def _arxiv_turn(obj: Context) -> Callable[[], float]:
    """A by-hand import takes its turns to arXiv from the database like the worker's jobs, so the two
    together still keep arXiv's 3 s apart (``outbound.shared_turn``)."""
    from paperfeed.outbound import shared_turn

    return shared_turn(obj.db, "arxiv", obj.settings.arxiv_request_interval)
