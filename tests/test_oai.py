"""OAI-PMH harvesting and the polite HTTP client, against the local arXiv replay server (no mocks).

Covers: a multi-page arXivRaw harvest, Retry-After (0, seconds, HTTP-date), spacing between every pair of
requests and the real 3 s default, retries and dropped connections, empty and malformed pages (error,
earlier pages kept, rerun continues from the stored token), noRecordsMatch, deleted and bad records,
version rules, the arXiv format, and kill -9 of the CLI mid-harvest followed by a rerun.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.ingest.http import ArxivHTTPError, PoliteClient, retry_after_seconds
from paperfeed.ingest.oai import HarvestError, HarvestResult, harvest
from paperfeed.settings import Settings
from paperfeed.storage import Database, harvests, open_database
from paperfeed.storage import papers as store
from paperfeed.storage.schema import harvests as harvests_table
from paperfeed.storage.schema import papers as papers_table
from tests.arxiv_replay import Hit, ReplayServer, Reply, page
from tests.conftest import ROOT, make_settings

FROM = "2007-05-01"
T1, T2 = "6960524|5", "6960524|9"  # the tokens for pages 2 and 3 in oai/list-p*.xml
# The server stamps arrival, the client spaces starts: a request stamped late by a busy machine makes the
# next gap look short. A client that did not space requests at all would show gaps near 0.
TOL = 0.1
PAPERFEED = ROOT / ".venv" / "bin" / "paperfeed"


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def script_list(
    server: ReplayServer, first: Reply | list[Reply] | None = None, p2: Reply | list[Reply] | None = None,
    p3: Reply | list[Reply] | None = None,
) -> None:  # fmt: skip
    server.route(first or page("oai/list-p1.xml"), verb="ListRecords", metadataPrefix="arXivRaw", from_=FROM)
    server.route(p2 or page("oai/list-p2.xml"), verb="ListRecords", resumptionToken=T1)
    server.route(p3 or page("oai/list-p3.xml"), verb="ListRecords", resumptionToken=T2)


def run(
    db: Database, server: ReplayServer, settings: Settings, from_date: str = FROM, **kwargs: Any
) -> HarvestResult:
    with PoliteClient.from_settings(settings) as client:
        return harvest(db, client, f"{server.url}/oai", from_date, **kwargs)


def gaps(hits: list[Hit]) -> list[float]:
    return [b.at - a.at for a, b in pairwise(hits)]


def stored(db: Database) -> list[tuple[str, int, str]]:
    with db.read() as conn:
        rows = conn.execute(sa.select(papers_table.c.id, papers_table.c.version, papers_table.c.title))
        return sorted((r.id, r.version, r.title) for r in rows)


def the_harvest(db: Database) -> sa.Row:
    with db.read() as conn:
        return conn.execute(sa.select(harvests_table).order_by(harvests_table.c.id.desc()).limit(1)).one()


# -- harvesting -------------------------------------------------------------------------------------------


def test_multi_page_harvest_stores_every_paper_with_its_versions(
    db: Database, server: ReplayServer, settings: Settings
) -> None:
    script_list(server)
    result = run(db, server, settings)

    assert (result.report.read, result.report.inserted, result.pages, result.deleted) == (10, 10, 3, 0)
    assert result.report.errors == []
    assert [h.params for h in server.log] == [
        {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "from": FROM},
        {"verb": "ListRecords", "resumptionToken": T1},
        {"verb": "ListRecords", "resumptionToken": T2},
    ]
    assert len(stored(db)) == 10
    paper = store.paper(db, "0704.0001")
    assert paper is not None
    # Hard line breaks of arXivRaw are gone; LaTeX stays as written.
    assert (
        paper.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert paper.authors == ["C. Bal\\'azs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert paper.abstract.startswith("A fully differential calculation") and "\n" not in paper.abstract
    assert paper.version == 2
    assert [(v.version, v.created) for v in paper.versions] == [
        (1, datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
        (2, datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)),
    ]
    assert paper.published_at == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert paper.submitter == "Pavel Nadolsky"
    assert (paper.journal_ref, paper.doi, paper.report_no) == (
        "Phys.Rev.D76:013009,2007", "10.1103/PhysRevD.76.013009", "ANL-HEP-PR-07-12",
    )  # fmt: skip
    assert paper.feed_day is not None and paper.feed_day.isoformat() == "2007-04-02"
    three = store.paper(db, "0704.0008")
    assert three is not None and three.version == 3 and len(three.versions) == 3
    row = the_harvest(db)
    assert (row.status, row.resumption_token, row.pages, row.records) == ("done", None, 3, 10)


def test_harvest_again_changes_nothing(db: Database, server: ReplayServer, settings: Settings) -> None:
    script_list(server)
    run(db, server, settings)
    before = store.last_rev(db)
    again = run(db, server, settings)  # a finished window starts over, and finds everything unchanged
    report = again.report
    assert (report.read, report.unchanged, report.inserted, report.updated) == (10, 10, 0, 0)
    assert again.resumed_from is None
    assert store.last_rev(db) == before


def test_no_records_match_is_an_empty_complete_list(
    db: Database, server: ReplayServer, settings: Settings
) -> None:
    server.route(page("oai/no-records-match.xml"), verb="ListRecords", from_="2031-01-01")
    result = run(db, server, settings, from_date="2031-01-01")
    assert (result.report.read, result.pages) == (0, 1)
    assert store.count_papers(db) == 0
    assert the_harvest(db).status == "done"


def test_deleted_records_are_skipped_and_counted(
    db: Database, server: ReplayServer, settings: Settings
) -> None:
    server.route(page("oai/deleted.xml"), verb="ListRecords", from_="2008-06-01")
    result = run(db, server, settings, from_date="2008-06-01")
    assert result.deleted == 2
    assert (result.report.read, result.report.inserted) == (2, 2)
    assert [p[0] for p in stored(db)] == ["0704.0011", "0704.0013"]  # 0704.0012 and 0704.0014 were deleted


def test_a_bad_record_is_rejected_by_page_and_id_and_the_rest_stored(
    db: Database, server: ReplayServer, settings: Settings
) -> None:
    server.route(page("oai/bad-record.xml"), verb="ListRecords", from_="2009-01-01")
    result = run(db, server, settings, from_date="2009-01-01")
    assert result.report.errors == ["page 1: 0704.0015: missing field 'title'"]
    assert [p[0] for p in stored(db)] == ["0704.0016"]


def test_an_older_or_equal_version_changes_nothing_a_newer_one_updates(
    db: Database, server: ReplayServer, settings: Settings
) -> None:
    for name in ("v1", "v2", "v3"):
        server.route(page(f"oai/versions-{name}.xml"), verb="ListRecords", from_=f"2008-0{name[1]}-01")
    assert run(db, server, settings, from_date="2008-02-01").report.inserted == 1
    rev = store.last_rev(db)
    assert run(db, server, settings, from_date="2008-01-01").report.unchanged == 1  # v1: older
    assert run(db, server, settings, from_date="2008-02-01").report.unchanged == 1  # v2: the same
    assert store.last_rev(db) == rev
    newer = run(db, server, settings, from_date="2008-03-01")
    assert newer.report.updated == 1
    paper = store.paper(db, "0704.0001")
    assert paper is not None and paper.version == 3 and len(paper.versions) == 3
    assert paper.comments == "37 pages, 15 figures; published version; v3: erratum"
    assert paper.feed_day is not None and paper.feed_day.isoformat() == "2007-04-02"  # the feed day stays


def test_the_arxiv_metadata_format(db: Database, server: ReplayServer, settings: Settings) -> None:
    server.route(page("oai/arxiv-format.xml"), verb="ListRecords", metadataPrefix="arXiv")
    result = run(db, server, settings, metadata_prefix="arXiv")
    assert result.report.inserted == 2 and result.report.errors == []
    paper = store.paper(db, "0704.0001")
    assert paper is not None
    assert paper.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert paper.published_at == datetime(2007, 4, 2, tzinfo=UTC)
    assert paper.version == 1  # the arXiv format has no version numbers


# -- errors mid-list and resuming -----------------------------------------------------------------------


def test_an_empty_page_with_a_token_is_an_error_and_a_rerun_continues(
    db: Database, server: ReplayServer, settings: Settings
) -> None:
    script_list(server, p2=[page("oai/list-p2-empty.xml"), page("oai/list-p2.xml")])
    with pytest.raises(HarvestError) as failure:
        run(db, server, settings)
    message = str(failure.value)
    assert message.startswith("page 2 (") and "resumptionToken=6960524%7C5" in message
    assert "without records but a resumption token" in message
    assert store.count_papers(db) == 4  # page 1 stays
    row = the_harvest(db)
    assert (row.status, row.resumption_token, row.pages) == ("failed", T1, 1)
    assert "page 2" in row.error

    first_of_rerun = len(server.log)
    result = run(db, server, settings)
    assert server.log[first_of_rerun].params == {"verb": "ListRecords", "resumptionToken": T1}
    assert result.resumed_from == T1 and result.pages == 2
    assert store.count_papers(db) == 10
    assert the_harvest(db).status == "done"


def test_an_empty_page_in_the_middle_is_not_the_end(
    db: Database, server: ReplayServer, settings: Settings
) -> None:
    script_list(server, p2=page("oai/list-p2-empty-end.xml"))
    with pytest.raises(
        HarvestError, match=r"^page 2 \(.*\): a page without records in the middle of the list"
    ):
        run(db, server, settings)
    assert the_harvest(db).status == "failed"


def test_malformed_xml_names_the_page_and_keeps_what_was_stored(
    db: Database, server: ReplayServer, settings: Settings
) -> None:
    script_list(server, p2=[page("oai/list-p2-malformed.xml"), page("oai/list-p2.xml")])
    with pytest.raises(HarvestError, match=r"^page 2 \(http://127\.0\.0\.1:\d+/oai\?verb=ListRecords&resumptionToken="
                       r"6960524%7C5\): malformed XML"):  # fmt: skip
        run(db, server, settings)
    assert store.count_papers(db) == 4
    assert the_harvest(db).resumption_token == T1
    run(db, server, settings)
    assert store.count_papers(db) == 10


def test_restart_starts_the_window_over(db: Database, server: ReplayServer, settings: Settings) -> None:
    script_list(server, p2=[page("oai/list-p2-malformed.xml"), page("oai/list-p2.xml")])
    with pytest.raises(HarvestError):
        run(db, server, settings)
    first_of_rerun = len(server.log)
    result = run(db, server, settings, restart=True)
    assert server.log[first_of_rerun].params.get("metadataPrefix") == "arXivRaw"
    assert result.resumed_from is None and result.pages == 3
    assert harvests.unfinished_harvest(db, f"{server.url}/oai", "arXivRaw", "", FROM, "") is None


def test_cli_failure_is_one_clear_line_and_exit_1(tmp_path: Path, server: ReplayServer) -> None:
    settings = make_settings(tmp_path)
    script_list(server, p2=page("oai/list-p2-malformed.xml"))
    result = CliRunner().invoke(
        main, ["ingest", "oai", "--from", FROM, "--endpoint", f"{server.url}/oai"], env=settings.environment()
    )
    assert result.exit_code == 1
    assert result.stderr.count("error: page 2 (") == 1 and "malformed XML" in result.stderr
    assert "Traceback" not in result.stderr
    assert "rerun the same command" in result.stderr


def test_cli_rejects_a_bad_date(tmp_path: Path, server: ReplayServer) -> None:
    result = CliRunner().invoke(
        main, ["ingest", "oai", "--from", "2007-13-01", "--endpoint", f"{server.url}/oai"],
        env=make_settings(tmp_path).environment(),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "--from must be a date as YYYY-MM-DD, got '2007-13-01'" in result.stderr
    assert server.log == []


# -- the polite client ------------------------------------------------------------------------------------


def test_503_with_retry_after_0_waits_the_interval(
    db: Database, server: ReplayServer, settings: Settings
) -> None:
    slow = settings.model_copy(update={"arxiv_request_interval": 0.3})
    script_list(server, first=[Reply(b"busy", 503, {"Retry-After": "0"}), page("oai/list-p1.xml")])
    run(db, server, slow)
    assert [h.params.get("metadataPrefix") for h in server.log[:2]] == ["arXivRaw", "arXivRaw"]
    assert gaps(server.log)[0] >= 0.3 - TOL
    assert store.count_papers(db) == 10


def test_503_with_retry_after_seconds_waits_that_long(
    db: Database, server: ReplayServer, settings: Settings
) -> None:
    script_list(server, p2=[Reply(b"busy", 503, {"Retry-After": "1"}), page("oai/list-p2.xml")])
    run(db, server, settings)
    retried = [h for h in server.log if h.params.get("resumptionToken") == T1]
    assert len(retried) == 2
    assert retried[1].at - retried[0].at >= 1.0 - TOL
    assert store.count_papers(db) == 10


def test_429_with_an_http_date_retry_after(db: Database, server: ReplayServer, settings: Settings) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)  # whole seconds: 1–2 s away
    script_list(server, first=[Reply(b"slow down", 429, {"Retry-After": when}), page("oai/list-p1.xml")])
    run(db, server, settings)
    gap = gaps(server.log)[0]
    assert 1.0 - TOL <= gap < 3.0 + TOL


def test_every_pair_of_requests_is_spaced_by_the_interval(
    db: Database, server: ReplayServer, settings: Settings
) -> None:
    spaced = settings.model_copy(update={"arxiv_request_interval": 0.25})
    script_list(server, p2=[Reply(b"busy", 503, {"Retry-After": "0"}), page("oai/list-p2.xml")])
    run(db, server, spaced)
    assert len(server.log) == 4
    assert min(gaps(server.log)) >= 0.25 - TOL
    # One connection, reused (the client's port never changes), and a User-Agent naming paperfeed.
    assert len({h.client_port for h in server.log}) == 1
    assert all(h.headers["User-Agent"].startswith("paperfeed/") for h in server.log)


def test_the_default_interval_is_three_seconds(server: ReplayServer) -> None:
    assert Settings.model_fields["arxiv_request_interval"].default == 3.0
    server.route(Reply(b"ok"), verb="Identify")
    with PoliteClient() as client:  # the defaults, as against arxiv.org
        client.get(f"{server.url}/oai", {"verb": "Identify"})
        client.get(f"{server.url}/oai", {"verb": "Identify"})
    assert gaps(server.log)[0] >= 3.0 - TOL


def test_gives_up_after_the_retries(db: Database, server: ReplayServer, settings: Settings) -> None:
    two = settings.model_copy(update={"http_retries": 2})
    script_list(server, first=Reply(b"down", 503))
    with pytest.raises(HarvestError, match=r"^page 1: GET http://.*: still HTTP 503 after 2 retries$"):
        run(db, server, two)
    assert len(server.log) == 3
    row = the_harvest(db)
    assert row.status == "failed" and "still HTTP 503" in row.error


def test_a_dropped_connection_is_retried(db: Database, server: ReplayServer, settings: Settings) -> None:
    script_list(server, p3=[Reply(drop=True), page("oai/list-p3.xml")])
    result = run(db, server, settings)
    assert result.report.read == 10
    assert [h.params.get("resumptionToken") for h in server.log].count(T2) == 2


def test_other_statuses_fail_at_once_naming_the_url(server: ReplayServer) -> None:
    server.route(Reply(b"<html>gone</html>", 404), verb="Identify")
    with (
        PoliteClient(interval=0.01) as client,
        pytest.raises(ArxivHTTPError, match=r"verb=Identify: HTTP 404 \("),
    ):
        client.get(f"{server.url}/oai", {"verb": "Identify"})
    assert len(server.log) == 1


def test_retry_after_values() -> None:
    now = datetime(2026, 7, 10, 8, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("0", now) == 0
    assert retry_after_seconds(None, now) is None
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("Fri, 10 Jul 2026 08:00:30 GMT", now) == 30
    assert retry_after_seconds("Fri, 10 Jul 2026 07:00:00 GMT", now) == 0  # already past


# -- kill -9 ----------------------------------------------------------------------------------------------


def test_kill_9_mid_harvest_then_a_rerun_continues_from_the_last_committed_token(
    tmp_path: Path, server: ReplayServer
) -> None:
    settings = make_settings(tmp_path / "killed")
    (tmp_path / "killed").mkdir()
    release = threading.Event()
    # Page 3 is held until the harvester is dead; afterwards it is served normally.
    script_list(server, p3=[page("oai/list-p3.xml", hold=release), page("oai/list-p3.xml")])
    env = os.environ | settings.environment()
    command = [str(PAPERFEED), "ingest", "oai", "--from", FROM, "--endpoint", f"{server.url}/oai"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        server.wait_for(lambda hit: hit.params.get("resumptionToken") == T2, timeout=60)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    db = open_database(settings.database_url)
    killed = harvests.unfinished_harvest(db, f"{server.url}/oai", "arXivRaw", "", FROM, "")
    assert killed is not None
    assert (killed.status, killed.resumption_token, killed.pages, killed.records) == ("running", T2, 2, 8)
    assert store.count_papers(db) == 8

    first_of_rerun = len(server.log)
    started = time.monotonic()
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert server.log[first_of_rerun].params == {"verb": "ListRecords", "resumptionToken": T2}
    assert server.log[first_of_rerun].at >= started
    assert len(server.log) == first_of_rerun + 1
    assert "continued from resumption token 6960524|9" in rerun.stdout
    assert "read 2, new 2, updated 0, unchanged 0, rejected 0" in rerun.stdout

    clean_settings = make_settings(tmp_path / "clean")
    (tmp_path / "clean").mkdir()
    clean = open_database(clean_settings.database_url)
    run(clean, server, clean_settings)
    assert stored(db) == stored(clean)
    assert len(stored(db)) == 10
    db.close()
    clean.close()
