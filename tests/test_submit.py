"""Submitting one paper to today's feed: fetched through the (replayed) arXiv API when not stored, refused
twice, refused for a non-arXiv id before any request, moved to today's feed when already stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperfeed import accounts
from paperfeed.cli import main
from paperfeed.ingest.arxiv_api import ArxivApi
from paperfeed.ingest.http import PoliteClient
from paperfeed.ingest.snapshot import ingest_snapshot
from paperfeed.ingest.submission import request_submission
from paperfeed.ingest.submit import SubmitError, submit_paper
from paperfeed.models import QueuedSubmission
from paperfeed.settings import Settings
from paperfeed.storage import Database, lists
from paperfeed.storage import papers as store
from tests.arxiv_replay import ReplayServer, atom
from tests.conftest import SNAPSHOT, make_settings

NOW = datetime(2026, 7, 10, 9, 30, tzinfo=UTC)
PAPER = "2607.07386"  # in api/id-2607.07386.xml, first published 2026-07-08


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        replay.route(atom(f"api/id-{PAPER}.xml"), id_list=PAPER)
        replay.route(atom("api/id-2607.99999.xml"), id_list="2607.99999")
        yield replay


@pytest.fixture
def api(server: ReplayServer, settings: Settings) -> Iterator[ArxivApi]:
    with PoliteClient.from_settings(settings) as client:
        yield ArxivApi(client, f"{server.url}/api/query")


def test_a_new_paper_is_fetched_and_enters_todays_feed(
    db: Database, server: ReplayServer, api: ArxivApi
) -> None:
    done = submit_paper(db, api, PAPER, "alice", NOW)

    assert done.fetched
    assert server.log[0].params == {"id_list": PAPER, "max_results": "1"}
    paper = done.paper
    assert (paper.submitted_by, paper.submitted_at, paper.feed_day) == ("alice", NOW, date(2026, 7, 10))
    assert paper.title == "Sparse Delta Memory: Scaling the State of Linear RNNs through Sparsity"
    assert paper.published_at == datetime(2026, 7, 8, 13, 17, 19, tzinfo=UTC)
    assert store.paper(db, PAPER) == paper
    assert [p.id for p in lists.feed_papers(db, date(2026, 7, 10), date(2026, 7, 10))] == [PAPER]


def test_a_paper_is_submitted_once(db: Database, server: ReplayServer, api: ArxivApi) -> None:
    submit_paper(db, api, PAPER, "alice", NOW)
    with pytest.raises(SubmitError) as refused:
        submit_paper(db, api, f"https://arxiv.org/abs/{PAPER}v1", "bob", NOW)
    assert refused.value.reason == "already_submitted"
    assert str(refused.value) == (
        f"{PAPER} was already submitted by alice on 2026-07-10 09:30 UTC; it is on the feed of 2026-07-10"
    )
    assert len(server.log) == 1  # the refusal asked arXiv nothing
    stored = store.paper(db, PAPER)
    assert stored is not None and stored.submitted_by == "alice"


def test_a_non_arxiv_id_is_refused_before_any_request(
    db: Database, server: ReplayServer, api: ArxivApi
) -> None:
    for bad in ("10.1103/PhysRevD.76.013009", "https://example.org/abs/2607.07386", ""):
        with pytest.raises(SubmitError) as refused:
            submit_paper(db, api, bad, "alice", NOW)
        assert refused.value.reason == "bad_id"
        assert str(refused.value) == (
            f"cannot submit: '{bad}' is not an arXiv id (expected e.g. 2607.01234 or hep-th/9901001)"
        )
    assert server.log == []


def test_a_paper_stored_from_the_snapshot_just_moves_to_todays_feed(
    db: Database, server: ReplayServer, api: ArxivApi
) -> None:
    ingest_snapshot(db, SNAPSHOT)
    before = store.paper(db, "0704.0001")
    assert before is not None and before.feed_day == date(2007, 4, 2)

    done = submit_paper(db, api, "0704.0001", "carol", NOW)

    assert not done.fetched and server.log == []
    assert (done.paper.feed_day, done.paper.submitted_by) == (date(2026, 7, 10), "carol")
    assert (done.paper.title, done.paper.version) == (before.title, before.version)


def test_an_id_arxiv_does_not_know(db: Database, server: ReplayServer, api: ArxivApi) -> None:
    with pytest.raises(SubmitError) as refused:
        submit_paper(db, api, "2607.99999", "alice", NOW)
    assert refused.value.reason == "not_found"
    assert str(refused.value) == "cannot submit 2607.99999: arXiv has no such paper"
    assert store.count_papers(db) == 0


def test_the_cli(tmp_path: Path, server: ReplayServer) -> None:
    settings = make_settings(tmp_path)
    env = settings.environment() | {"PAPERFEED_ARXIV_API_ENDPOINT": f"{server.url}/api/query"}
    runner = CliRunner()
    first = runner.invoke(main, ["submit", PAPER, "--by", "alice"], env=env)
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith(f"{PAPER} submitted by alice, fetched from arXiv: on the feed of ")
    assert "keyword index: 1 papers (re)indexed" in first.stdout

    again = runner.invoke(main, ["submit", PAPER, "--by", "bob"], env=env)
    assert again.exit_code == 1
    assert again.stderr.startswith(f"error: {PAPER} was already submitted by alice on ")

    bad = runner.invoke(main, ["submit", "doi:10.1000/xyz"], env=env)
    assert bad.exit_code == 1
    assert "is not an arXiv id" in bad.stderr and "Traceback" not in bad.stderr


def test_a_paper_waiting_for_the_worker_is_refused_here_too(
    db: Database, server: ReplayServer, api: ArxivApi
) -> None:
    """A member's web submission waits in the queue until the worker fetches it: it is submitted already."""
    ada = accounts.sign_up(db, "ada", "ada@example.org", "correct horse battery staple")
    queued = request_submission(db, PAPER, ada.id, ada.name, NOW)
    assert isinstance(queued, QueuedSubmission) and queued.status == "pending"
    assert server.log == []  # the web's way in asks arXiv nothing
    with pytest.raises(SubmitError) as refused:
        submit_paper(db, api, PAPER, "bob", NOW)
    assert refused.value.reason == "already_submitted"
    assert str(refused.value) == (
        f"{PAPER} was already submitted by ada on 2026-07-10 09:30 UTC; it is waiting to be fetched from arXiv"
    )
    assert server.log == [] and store.paper(db, PAPER) is None
