"""All SQL about code links and stars: a paper's repository and project page (``paper_links``), the
repositories the ``github-stars`` job checks (``repos``), their star history (``repo_stars``) and the
pauses a service asked for (``service_pauses``: GitHub's rate limit). The "trending by stars" sort's SQL
lives here too (``star_gain``); docs/trending.md documents it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from paperfeed.links import Found
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import paper_links, papers, repo_stars, repos, service_pauses

MEMBER = "member"  # links a member set: an import never overwrites them
STARS_WINDOW_DAYS = 7  # "trending by stars" counts the stars gained over this many days


@dataclass(frozen=True, slots=True)
class RepoCheck:
    """A repository due for a check, with what a conditional request needs."""

    id: int
    url: str
    etag: str | None
    stars: int | None
    status: str


@dataclass(frozen=True, slots=True)
class StarGain:
    """The numbers behind a paper's place in ``sort=stars``."""

    repo: str
    stars: int | None
    stars_before: int | None  # at the window's start (or the first count inside it)
    since: datetime | None  # when that earlier count was taken
    gain: int
    window_days: int = STARS_WINDOW_DAYS


def _add_repos(conn: sa.Connection, urls: set[str], now: datetime) -> None:
    if urls:
        stmt = upsert(conn, repos).on_conflict_do_nothing(index_elements=["url"])
        conn.execute(stmt, [{"url": u, "status": "unchecked", "next_check_at": now} for u in sorted(urls)])


def store_found(conn: sa.Connection, found: Sequence[tuple[str, Found]], now: datetime) -> None:
    """Record the links an import found (inside its transaction); a member's links are never replaced."""
    if not found:
        return
    rows = [
        {"paper_id": pid, "repo_url": f.repo, "project_page": f.project_page, "source": f.source,
         "set_by": None, "updated_at": now}
        for pid, f in found
    ]  # fmt: skip
    stmt = upsert(conn, paper_links)
    stmt = stmt.on_conflict_do_update(
        index_elements=["paper_id"],
        set_={c: stmt.excluded[c] for c in ("repo_url", "project_page", "source", "updated_at")},
        where=paper_links.c.source != MEMBER,
    )
    conn.execute(stmt, rows)
    _add_repos(conn, {f.repo for _, f in found if f.repo}, now)


def store_if_absent(conn: sa.Connection, paper_id: str, found: Found, now: datetime) -> None:
    """Links found in a paper's full text (inside the transaction storing it): kept only where the paper
    has none yet, so the abstract's and comments' links, and a member's, always stand."""
    row = {"paper_id": paper_id, "repo_url": found.repo, "project_page": found.project_page,
           "source": found.source, "set_by": None, "updated_at": now}  # fmt: skip
    stmt = upsert(conn, paper_links).values(**row).on_conflict_do_nothing(index_elements=["paper_id"])
    if conn.execute(stmt).rowcount:
        _add_repos(conn, {found.repo} if found.repo else set(), now)


def set_links(
    db: Database, paper_id: str, repo: str | None, page: str | None, user_id: int, now: datetime
) -> None:
    """A member's links for a paper (None clears one): from now on imports leave them alone."""
    with db.write() as conn:
        values = {
            "repo_url": repo,
            "project_page": page,
            "source": MEMBER,
            "set_by": user_id,
            "updated_at": now,
        }
        stmt = upsert(conn, paper_links).values(paper_id=paper_id, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["paper_id"], set_=values))
        _add_repos(conn, {repo} if repo else set(), now)


# -- the github-stars job ------------------------------------------------------------------------------


def due_repos(db: Database, now: datetime, limit: int) -> list[RepoCheck]:
    """GitHub repositories linked from some paper whose next check is due, longest waiting first."""
    linked = sa.exists().where(paper_links.c.repo_url == repos.c.url)
    query = (
        sa.select(repos.c.id, repos.c.url, repos.c.etag, repos.c.stars, repos.c.status)
        .where(repos.c.next_check_at <= now, repos.c.url.like("https://github.com/%"), linked)
        .order_by(repos.c.next_check_at, repos.c.id)
        .limit(limit)
    )
    with db.read() as conn:
        return [RepoCheck(r.id, r.url, r.etag, r.stars, r.status) for r in conn.execute(query)]


def record_check(
    db: Database,
    repo_id: int,
    now: datetime,
    next_at: datetime,
    status: str,
    stars: int | None = None,
    etag: str | None = None,
    message: str | None = None,
) -> None:
    """What a check found: ``stars`` None keeps the stored count (a 304 says nothing changed), and a
    count taken goes into the history."""
    values: dict[str, Any] = {
        "status": status,
        "message": message,
        "checked_at": now,
        "next_check_at": next_at,
    }
    if etag is not None:
        values["etag"] = etag
    if stars is not None:
        values["stars"] = stars
    with db.write() as conn:
        conn.execute(repos.update().where(repos.c.id == repo_id).values(**values))
        if stars is not None:
            stmt = upsert(conn, repo_stars).values(repo_id=repo_id, at=now, stars=stars)
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["repo_id", "at"]))


def postpone(db: Database, repo_id: int, next_at: datetime, message: str) -> None:
    """A check that could not be made (GitHub unreachable, rate-limited): try again at ``next_at``."""
    with db.write() as conn:
        conn.execute(
            repos.update().where(repos.c.id == repo_id).values(next_check_at=next_at, message=message)
        )


def star_history(db: Database, url: str) -> list[tuple[datetime, int]]:
    query = (
        sa.select(repo_stars.c.at, repo_stars.c.stars)
        .select_from(repo_stars.join(repos, repos.c.id == repo_stars.c.repo_id))
        .where(repos.c.url == url)
        .order_by(repo_stars.c.at)
    )
    with db.read() as conn:
        return [(r.at, r.stars) for r in conn.execute(query)]


def pause(db: Database, service: str, until: datetime, reason: str) -> None:
    with db.write() as conn:
        stmt = upsert(conn, service_pauses).values(service=service, until=until, reason=reason)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["service"], set_={"until": until, "reason": reason})
        )


def paused(db: Database, service: str, now: datetime) -> tuple[datetime, str] | None:
    """Until when, and why, the service asked us to wait; None when it did not (or that time is past)."""
    query = sa.select(service_pauses.c.until, service_pauses.c.reason).where(
        service_pauses.c.service == service, service_pauses.c.until > now
    )
    with db.read() as conn:
        row = conn.execute(query).one_or_none()
    return (row.until, row.reason) if row else None


# -- trending by stars -----------------------------------------------------------------------------------


def _count_before(now: datetime) -> Any:
    """The repository's star count at the window's start: the last one taken before it, else the first
    one taken inside it (a repository checked for the first time this week gains from there)."""
    since = now - timedelta(days=STARS_WINDOW_DAYS)
    last_before = (
        sa.select(repo_stars.c.stars)
        .where(repo_stars.c.repo_id == repos.c.id, repo_stars.c.at <= since)
        .order_by(repo_stars.c.at.desc())
        .limit(1)
        .scalar_subquery()
    )
    first_inside = (
        sa.select(repo_stars.c.stars)
        .where(repo_stars.c.repo_id == repos.c.id, repo_stars.c.at > since)
        .order_by(repo_stars.c.at)
        .limit(1)
        .scalar_subquery()
    )
    return sa.func.coalesce(last_before, first_inside, repos.c.stars)


def star_gain(now: datetime) -> sa.ColumnElement[Any]:
    """Stars gained over the last ``STARS_WINDOW_DAYS`` days by the paper's repository; NULL without one
    (needs ``repos`` joined, as ``papers.paper_query`` does)."""
    return repos.c.stars - _count_before(now)


def gain_of(db: Database, paper_id: str, now: datetime) -> StarGain | None:
    """One paper's numbers behind ``sort=stars``, by the same SQL; None when it links no repository."""
    since = now - timedelta(days=STARS_WINDOW_DAYS)
    when = sa.func.coalesce(
        sa.select(sa.func.max(repo_stars.c.at))
        .where(repo_stars.c.repo_id == repos.c.id, repo_stars.c.at <= since)
        .scalar_subquery(),
        sa.select(sa.func.min(repo_stars.c.at))
        .where(repo_stars.c.repo_id == repos.c.id, repo_stars.c.at > since)
        .scalar_subquery(),
    )
    query = (
        sa.select(repos.c.url, repos.c.stars, _count_before(now), sa.type_coerce(when, repo_stars.c.at.type))
        .select_from(paper_links.join(repos, repos.c.url == paper_links.c.repo_url))
        .where(paper_links.c.paper_id == paper_id)
    )
    with db.read() as conn:
        row = conn.execute(query).one_or_none()
    if row is None:
        return None
    before = row[2]
    gain = (row[1] - before) if row[1] is not None and before is not None else 0
    return StarGain(row[0], row[1], before, row[3], gain)


def repo_join(base: Any) -> Any:
    """``base`` (the papers table or a join on it) with each paper's links and repository joined."""
    return base.outerjoin(paper_links, paper_links.c.paper_id == papers.c.id).outerjoin(
        repos, repos.c.url == paper_links.c.repo_url
    )


LINK_COLUMNS = (
    paper_links.c.repo_url.label("repo_url"),
    paper_links.c.project_page.label("project_page"),
    repos.c.stars.label("repo_stars"),
    repos.c.status.label("repo_status"),
)
