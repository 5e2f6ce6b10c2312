"""Helpers for the community tests: an in-process client over HTTPS (the session and CSRF cookies are
Secure, so a client on plain http would rightly never send them back), members, a few papers, and one run
of a worker job (what the web queued is done by the worker)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from paperfeed import accounts
from paperfeed.jobs import JOBS, JobContext
from paperfeed.models import Paper, User, Version
from paperfeed.settings import Settings
from paperfeed.storage import Database, leases
from paperfeed.storage.papers import upsert_papers
from paperfeed.web.app import create_app

PASSWORD = "correct horse battery staple"
NOW = datetime.now(UTC).replace(microsecond=0)


@contextmanager
def https_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        yield client


def csrf_of(client: TestClient) -> str:
    """The token this client's forms carry (the CSRF cookie is set by the first response)."""
    if "__Host-csrf" not in client.cookies:
        client.get("/login")
    return str(client.cookies["__Host-csrf"])


def form_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF field"
    return found[1]


def sign_up(client: TestClient, name: str, password: str = PASSWORD) -> None:
    """A new member ``name``, signed in on this client. Web sign-up goes through an emailed link
    (test_accounts covers it); this makes the account directly and logs in through the form."""
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    accounts.sign_up(db, name, f"{name}@example.org", password)
    response = client.post(
        "/login",
        data={"csrf": csrf_of(client), "name": name, "password": password},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> None:
    response = client.post("/login", data={"csrf": csrf_of(client), "name": name, "password": password})
    assert response.status_code == 200, response.text


def member(db: Database, name: str, admin: bool = False) -> User:
    return accounts.sign_up(db, name, f"{name}@example.org", PASSWORD, is_admin=admin)


def token_for(db: Database, user: User, scope: str = "write") -> dict[str, str]:
    return {"Authorization": f"Bearer {accounts.create_token(db, user, scope=scope)}"}


def run_job(db: Database, settings: Settings, name: str) -> str:
    """One run of the worker job ``name`` of ``paperfeed/jobs.py``, now, whenever it last ran (the
    worker's schedule would wait its interval): its summary, or the exception a failed run raises."""
    (job,) = [j for j in JOBS if j.name == name]
    holder = leases.holder_name("test")
    with leases.hold(db, f"job:{name}", holder, settings.lease_seconds) as held:
        return job.run(JobContext(db, settings, holder, held))


BATCH_HOURS = 3  # the most papers a test adds at once (add_papers' default), an hour apart


def _newest_published() -> datetime:
    """When paper 0 of every add_papers batch is published: an hour before now, unless a batch of
    BATCH_HOURS papers would then straddle midnight UTC (feed days are UTC dates: its papers would be on two
    daily lists), in which case the day before's last hour. The same for every call, whatever its count, so
    that batches added one after the other agree on each paper's time."""
    newest = NOW - timedelta(hours=1)
    midnight = newest.replace(hour=0, minute=0, second=0)
    if newest - timedelta(hours=BATCH_HOURS - 1) < midnight:
        newest = midnight - timedelta(hours=1)
    return newest


NEWEST = _newest_published()


def add_papers(db: Database, count: int = 3, **fields: object) -> list[Paper]:
    papers = []
    for i in range(count):
        published = NEWEST - timedelta(hours=i)
        values: dict[str, object] = {
            "id": f"2611.{i:05d}",
            "title": f"Paper number {i}",
            "abstract": f"Abstract of paper {i}.",
            "authors": ["Ada Lovelace", "Alan Turing"],
            "categories": ["cs.LG"],
            "versions": [Version(1, published)],
            "published_at": published,
        }
        values.update(fields)
        papers.append(Paper(**values))  # type: ignore[arg-type]
    upsert_papers(db, papers)
    return papers


class _Scan(HTMLParser):
    """Collects what a browser could execute: script elements, event handlers, javascript:/data: URLs."""

    URL_ATTRS = frozenset({"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcdoc"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "svg", "math", "base"):
            srcs = dict(attrs).get("src") or ""
            # Our own vendored scripts are the only ones allowed, and only from /static/.
            if not (tag == "script" and srcs.startswith("/static/") and len(attrs) <= 2):
                self.found.append(f"<{tag} {attrs}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in self.URL_ATTRS and value:
                scheme = "".join(value.split()).lower()
                if scheme.startswith(("javascript:", "vbscript:", "data:")):
                    self.found.append(f"<{tag} {name}={value!r}>")


def executable(html: str) -> list[str]:
    """Everything in ``html`` that would run script in a browser (empty for a safe page)."""
    scan = _Scan()
    scan.feed(html)
    scan.close()
    return scan.found
