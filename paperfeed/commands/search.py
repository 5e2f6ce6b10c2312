"""``paperfeed index`` and ``paperfeed search``: keep the search indexes current and query them.

``search QUERY`` shows what a person would see (the relevance floor applies: nonsense finds nothing).
``search --queries FILE`` is the batch mode benchmarks use: JSON lines ``{"_id" or "id", "text"}`` in,
one ``{"query_id", "results": [{"id", "score"}]}`` line out per query, with the model loaded once and
the queries embedded in batches; it ranks in full, with no floor, so measures such as nDCG see every
paper.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from paperfeed.commands.context import Context, pass_context
from paperfeed.search.keyword import Filters

if TYPE_CHECKING:  # imported where used: it loads onnxruntime and usearch, which most commands never need
    from paperfeed.search.hybrid import Searcher


def update_indexes(obj: Context, embed: bool | None = None) -> None:
    """After an import: the keyword index always; embeddings when few enough papers wait (a big import
    leaves them to 'paperfeed index' or the worker, since the model does ~30 papers/s per 2 cores)."""
    from paperfeed.search import indexer
    from paperfeed.storage import embeddings

    db, settings = obj.db, obj.settings
    if embed is None:
        after = embeddings.position(db, indexer.job_name(settings.embedding_model))
        waiting = embeddings.count_after(db, after)
        embed = waiting <= settings.embed_on_ingest_max
        if not embed:
            click.echo(
                f"{waiting} papers wait to be embedded: run 'paperfeed index' (or leave it to the worker)"
            )
    if not embed:
        keywords, _ = indexer.open_indexes(settings)
        click.echo(f"keyword index: {keywords.sync(db)} papers (re)indexed")
        return
    report = indexer.bring_up_to_date(db, settings)
    click.echo(f"keyword index: {report.keyword} papers (re)indexed")
    click.echo(f"embedded {report.embedded} papers on {report.device}; vector index: {report.vectors} added")


class _Progress:
    """A progress bar for the embedding step (the slow one: its total is known up front) and running
    counts for the index steps, on stderr."""

    def __init__(self, to_embed: int) -> None:
        self.bar = click.progressbar(
            length=max(to_embed, 1), label="embedding", file=sys.stderr, show_pos=True
        )
        self.embedded = 0

    def __call__(self, step: str, done: int) -> None:
        if step == "embeddings":
            self.bar.update(done - self.embedded)
            self.embedded = done
        elif done % 20_000 < 5_000:
            click.echo(f"{step}: {done}", err=True)

    def close(self) -> None:
        self.bar.render_finish()


@click.command()
@click.option(
    "--rebuild", is_flag=True, help="Rebuild this node's keyword and vector indexes from the database."
)
@pass_context
def index(obj: Context, rebuild: bool) -> None:
    """Embed new and changed papers and bring every search index up to date (only what changed).

    Resumable: after a kill, a rerun continues after the last batch that was stored. Several can run at
    once, here or on other machines, alongside workers: each embeds the batches it claims."""
    from paperfeed.search import indexer
    from paperfeed.search.embed import Embedder

    if rebuild:
        keywords, vectors = indexer.open_indexes(obj.settings)
        keywords.rebuild(obj.db)
        vectors.rebuild(obj.db)
    from paperfeed.storage import embeddings

    waiting = embeddings.count_after(
        obj.db, embeddings.position(obj.db, indexer.job_name(obj.settings.embedding_model))
    )
    model = Embedder(obj.settings.embedding_model, obj.settings.embed_threads or None)
    click.echo(f"embedding with {model.name} on {model.device}")
    progress = _Progress(waiting)
    try:
        report = indexer.bring_up_to_date(obj.db, obj.settings, model, progress=progress)
    finally:
        progress.close()
    click.echo(
        f"embedded {report.embedded} papers ({report.kept} unchanged kept) on {report.device}; keyword "
        f"index: {report.keyword} (re)indexed; vector index: {report.vectors} added"
    )


def open_searcher(obj: Context) -> Searcher:
    from paperfeed.search.hybrid import Searcher

    return Searcher.open(obj.db, obj.settings, refresh_seconds=0.0)


def _date(_ctx: Any, _param: Any, value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@click.command()
@click.argument("query", required=False)
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option(
    "--queries",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='Batch mode: a JSON-lines file of {"_id" or "id", "text"}; prints one JSON line per query.',
)
@click.option(
    "--mode", type=click.Choice(["hybrid", "keyword", "dense"]), default="hybrid", show_default=True
)
@click.option("--since", callback=_date, help="Only papers on the feed from this day (YYYY-MM-DD).")
@click.option("--until", callback=_date, help="Only papers on the feed up to this day.")
@click.option("--category", help="Only papers in this arXiv category, e.g. cs.CL.")
@click.option("--organization", help="Only papers of this organization (its short name).")
@pass_context
def search(
    obj: Context,
    query: str | None,
    limit: int,
    as_json: bool,
    queries: Path | None,
    mode: str,
    since: date | None,
    until: date | None,
    category: str | None,
    organization: str | None,
) -> None:
    """Search papers by words and meaning (hybrid), or by one retriever with --mode.

    Shows the papers over the relevance floor (none when nothing is close; an arXiv id of a stored paper
    alone); --queries ranks every query's papers in full, floor or not, for benchmarks."""
    if bool(query) == bool(queries):
        raise click.UsageError("give a QUERY or --queries FILE (not both)")
    searcher = open_searcher(obj)
    filters = Filters(since, until, category, organization)
    if queries:
        _batch(searcher, queries, limit, mode, filters)
        return
    assert query is not None
    found = searcher.find(query, limit, filters, mode=mode)
    if not found.results and not as_json:
        click.echo("no close matches", err=True)
    for r in found.results:
        if as_json:
            click.echo(orjson.dumps({"id": r.paper.id, "score": round(r.score, 6), "title": r.paper.title}))
        else:
            click.echo(f"{r.paper.id}\t{r.score:.3f}\t{r.paper.title}")


def _batch(searcher: Searcher, path: Path, limit: int, mode: str, filters: Filters) -> None:
    items = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
                items.append((str(item.get("_id", item.get("id"))), str(item["text"])))
            except (orjson.JSONDecodeError, KeyError, AttributeError) as exc:
                raise click.ClickException(f"{path}:{number}: not a query line ({exc})") from None
    vectors = searcher.embedder.embed_queries([text for _, text in items]) if mode != "keyword" else None
    out = sys.stdout.buffer
    for n, (query_id, text) in enumerate(items):
        vector = vectors[n] if vectors is not None else None
        found = searcher.search(text, limit, filters, vector, mode)
        results = [{"id": r.paper.id, "score": round(r.score, 6)} for r in found]
        out.write(orjson.dumps({"query_id": query_id, "results": results}) + b"\n")
    out.flush()
