"""The arXiv API (Atom) harvester against the local replay server: paging by totalResults, entry parsing,
error entries, an empty page before the end (error, then a rerun continues), id lookups, spacing, CLI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.ingest.arxiv_api import ApiError, ArxivApi, ingest_ids, ingest_query
from paperfeed.ingest.http import PoliteClient
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import papers as store
from paperfeed.storage.schema import ingest_checkpoints
from tests.arxiv_replay import ReplayServer, Reply, atom
from tests.conftest import make_settings

QUERY = "all:model"
TOL = 0.02


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


@pytest.fixture
def api(server: ReplayServer, settings: Settings) -> Iterator[ArxivApi]:
    with PoliteClient.from_settings(settings) as client:
        yield ArxivApi(client, f"{server.url}/api/query")


def script_listing(server: ReplayServer, p2: Reply | list[Reply] | None = None) -> None:
    server.route(atom("api/query-p1.xml"), search_query=QUERY, start="0")
    server.route(p2 or atom("api/query-p2.xml"), search_query=QUERY, start="2")
    server.route(atom("api/query-p3.xml"), search_query=QUERY, start="4")


def checkpoints_left(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(ingest_checkpoints)).scalar_one())


def test_a_listing_pages_until_total_results(db: Database, server: ReplayServer, api: ArxivApi) -> None:
    script_listing(server)
    report = ingest_query(db, api, QUERY, page_size=2)

    assert (report.read, report.inserted, report.errors) == (5, 5, [])
    assert [(h.params["start"], h.params["max_results"]) for h in server.log] == [
        ("0", "2"),
        ("2", "2"),
        ("4", "2"),
    ]
    assert server.log[0].params == {
        "search_query": QUERY,
        "start": "0",
        "max_results": "2",
        "sortBy": "submittedDate",
        "sortOrder": "descending",
    }
    assert store.count_papers(db) == 5
    assert checkpoints_left(db) == 0  # a finished listing keeps no position

    paper = store.paper(db, "0704.0001")
    assert paper is not None
    assert (
        paper.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert paper.abstract.startswith("A fully differential calculation") and "\n" not in paper.abstract
    assert paper.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert paper.version == 2
    assert paper.published_at == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)  # v1
    assert paper.updated_at == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)  # the latest version
    assert [(v.version, v.created) for v in paper.versions] == [
        (1, datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
        (2, datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)),
    ]
    assert paper.comments == "37 pages, 15 figures; published version"
    assert paper.journal_ref == "Phys.Rev.D76:013009,2007"
    assert paper.doi == "10.1103/PhysRevD.76.013009"
    assert paper.categories == ["hep-ph"]
    recent = store.paper(db, "2607.06452")
    assert recent is not None
    assert recent.categories == ["cs.CL", "cs.AI"]  # primary first
    assert recent.version == 1 and recent.feed_day is not None and recent.feed_day.isoformat() == "2026-07-07"


def test_max_stops_early_and_asks_only_for_what_is_left(
    db: Database, server: ReplayServer, api: ArxivApi
) -> None:
    script_listing(server)
    server.route(atom("api/query-p2-max1.xml"), search_query=QUERY, start="2", max_results="1")
    report = ingest_query(db, api, QUERY, max_results=3, page_size=2)
    assert report.read == 3
    assert [(h.params["start"], h.params["max_results"]) for h in server.log] == [("0", "2"), ("2", "1")]


def test_an_empty_page_before_total_results_is_an_error_and_a_rerun_continues(
    db: Database, server: ReplayServer, api: ArxivApi
) -> None:
    script_listing(server, p2=[atom("api/query-p2-empty.xml"), atom("api/query-p2.xml")])
    with pytest.raises(ApiError, match=r"start=2: an empty page although totalResults is 5"):
        ingest_query(db, api, QUERY, page_size=2)
    assert store.count_papers(db) == 2  # the first page stays
    assert checkpoints_left(db) == 1

    first_of_rerun = len(server.log)
    report = ingest_query(db, api, QUERY, page_size=2)
    assert server.log[first_of_rerun].params["start"] == "2"
    assert report.read == 3
    assert store.count_papers(db) == 5
    assert checkpoints_left(db) == 0


def test_an_error_entry_becomes_a_clear_error(db: Database, server: ReplayServer, api: ArxivApi) -> None:
    server.route(atom("api/error-id-format.xml", status=400), id_list="foo-bar/0701001")
    with pytest.raises(ApiError) as failure:
        ingest_ids(db, api, ["foo-bar/0701001"])
    assert "arXiv API error: incorrect id format for foo-bar/0701001" in str(failure.value)
    assert str(failure.value).startswith("GET http://127.0.0.1:")


def test_an_id_lookup_names_the_ids_arxiv_does_not_know(
    db: Database, server: ReplayServer, api: ArxivApi
) -> None:
    server.route(atom("api/id-pair.xml"), id_list="2607.06452,2607.99999")
    report = ingest_ids(db, api, ["arXiv:2607.06452v1", "2607.99999", "not-an-id"])
    assert server.log[0].params == {"id_list": "2607.06452,2607.99999", "max_results": "2"}
    assert report.inserted == 1
    assert report.errors == [
        "'not-an-id' is not an arXiv id (expected e.g. 2607.01234 or hep-th/9901001)",
        "2607.99999: not found on arXiv",
    ]


def test_malformed_xml_names_the_request(db: Database, server: ReplayServer, api: ArxivApi) -> None:
    server.route(Reply(b"<feed xmlns='http://www.w3.org/2005/Atom'><entry>"), search_query=QUERY)
    with pytest.raises(ApiError, match=r"^GET http://.*search_query=all%3Amodel.*: malformed XML"):
        ingest_query(db, api, QUERY)


def test_requests_are_spaced_by_the_interval(db: Database, server: ReplayServer, settings: Settings) -> None:
    script_listing(server)
    with PoliteClient.from_settings(settings.model_copy(update={"arxiv_request_interval": 0.2})) as client:
        ingest_query(db, ArxivApi(client, f"{server.url}/api/query"), QUERY, page_size=2)
    assert len(server.log) == 3
    assert min(b.at - a.at for a, b in pairwise(server.log)) >= 0.2 - TOL


def test_cli_listing_summary_and_index(tmp_path: Path, server: ReplayServer) -> None:
    script_listing(server)
    endpoint = f"{server.url}/api/query"
    result = CliRunner().invoke(
        main,
        ["ingest", "arxiv-api", "--query", QUERY, "--page-size", "2", "--endpoint", endpoint],
        env=make_settings(tmp_path).environment(),
    )
    assert result.exit_code == 0, result.stderr
    assert "read 5, new 5, updated 0, unchanged 0, rejected 0" in result.stdout
    assert "keyword index: 5 papers (re)indexed" in result.stdout


def test_cli_error_entry_exits_1_with_arxivs_words(tmp_path: Path, server: ReplayServer) -> None:
    server.route(atom("api/error-id-format.xml", status=400), id_list="foo-bar/0701001")
    endpoint = f"{server.url}/api/query"
    result = CliRunner().invoke(
        main,
        ["ingest", "arxiv-api", "--id", "foo-bar/0701001", "--endpoint", endpoint],
        env=make_settings(tmp_path).environment(),
    )
    assert result.exit_code == 1
    assert "incorrect id format for foo-bar/0701001" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_needs_a_query_or_ids(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ingest", "arxiv-api"], env=make_settings(tmp_path).environment())
    assert result.exit_code == 2
    assert "give --query and/or --id" in result.stderr
