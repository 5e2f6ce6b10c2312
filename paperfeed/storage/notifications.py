"""All SQL about notifications: making them (with a comment, in its transaction; for new papers by
followed authors, from the worker's job with its cursor), reading a member's list and unread count,
marking read, the kinds a member switched off, and taking the unread ones into a digest.

One notification per (member, kind, cause): the unique (user, kind, source) constraint makes every insert
idempotent, so a retried comment edit or a job rerun after kill -9 adds nothing twice. Sources:
``comment:<id>``, ``paper:<id>``.

What a member sees is filtered when read, not only when made: a kind switched off, or a comment since
hidden by a moderator or deleted by its author, is neither listed, counted nor emailed (switching a kind
back on shows again what was made before it was switched off; nothing is made while it is off).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paperfeed.models import Notification
from paperfeed.storage.checkpoints import reach_line
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.papers import whole_revs
from paperfeed.storage.schema import (
    claims,
    comments,
    follows,
    ingest_checkpoints,
    notification_mutes,
    notifications,
    papers,
    users,
)

# The kinds, as stored. A comment that is several things to one member notifies them once, as the first
# of these that applies: a reply that also mentions its parent's author is a reply.
REPLY, MENTION, CLAIMED, AUTHOR = "reply", "mention", "claimed", "author"
KINDS = (REPLY, MENTION, CLAIMED, AUTHOR)
EXCERPT = 200  # characters of a comment kept with its notification
PAPERS_CURSOR = "notifications:papers"  # ingest_checkpoints row: the papers.rev the job has looked at

n = notifications.c


def _excerpt(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…"


def _muted(conn: sa.Connection, user_ids: Iterable[int], kind: str) -> set[int]:
    ids = list(user_ids)
    if not ids:
        return set()
    m = notification_mutes.c
    rows = conn.execute(sa.select(m.user_id).where(m.kind == kind, m.user_id.in_(ids)))
    return {int(u) for u in rows.scalars()}


def _insert(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    added = 0
    for row in rows:  # one statement each: RETURNING on a many-row ON CONFLICT differs between drivers
        stmt = upsert(conn, notifications).values(**row).on_conflict_do_nothing()
        added += conn.execute(stmt.returning(n.id)).first() is not None
    return added


# -- made with a comment -----------------------------------------------------------------------------------


def for_comment(conn: sa.Connection, comment_id: int, handles: Sequence[str], now: datetime) -> int:
    """Inside the transaction that wrote (or edited) the comment: notify the parent's author (reply), the
    members it @mentions (``handles``, from ``markdown.mentions``) and the paper's approved claimants,
    never its own author, each member once. An edit notifies only who was not notified of it before."""
    c = conn.execute(
        sa.select(comments.c.paper_id, comments.c.user_id, comments.c.parent_id, comments.c.body).where(
            comments.c.id == comment_id
        )
    ).one()
    who: dict[int, str] = {}
    if c.parent_id is not None:
        parent_author = conn.execute(
            sa.select(comments.c.user_id).where(comments.c.id == c.parent_id)
        ).scalar_one()
        who[int(parent_author)] = REPLY
    for user_id in _members_named(conn, handles):
        who.setdefault(user_id, MENTION)
    claimants = sa.select(claims.c.user_id).where(
        claims.c.paper_id == c.paper_id, claims.c.status == "approved"
    )
    for user_id in conn.execute(claimants).scalars():
        who.setdefault(int(user_id), CLAIMED)
    who.pop(int(c.user_id), None)
    if not who:
        return 0
    source = f"comment:{comment_id}"
    told = sa.select(n.user_id).where(n.source == source, n.user_id.in_(list(who)))
    for user_id in conn.execute(told).scalars():
        who.pop(int(user_id), None)
    for kind in set(who.values()):
        for user_id in _muted(conn, [u for u, k in who.items() if k == kind], kind):
            who.pop(user_id)
    rows = [
        {
            "user_id": user_id,
            "kind": kind,
            "paper_id": c.paper_id,
            "comment_id": comment_id,
            "actor_id": c.user_id,
            "text": _excerpt(c.body),
            "source": source,
            "created_at": now,
        }
        for user_id, kind in sorted(who.items())
    ]
    return _insert(conn, rows)


def _members_named(conn: sa.Connection, handles: Sequence[str]) -> list[int]:
    """The members these @handles name, case aside; a handle that names nobody is tried again without a
    trailing '.', '-' or '_' (the end of a sentence)."""
    wanted = {h.lower() for h in handles} | {h.rstrip("._-").lower() for h in handles}
    wanted.discard("")
    if not wanted:
        return []
    rows = conn.execute(sa.select(users.c.id, users.c.name).where(sa.func.lower(users.c.name).in_(wanted)))
    found = {name.lower(): int(user_id) for user_id, name in rows}
    out: list[int] = []
    for h in handles:
        user_id = found.get(h.lower()) or found.get(h.rstrip("._-").lower())
        if user_id is not None and user_id not in out:
            out.append(user_id)
    return out


# -- made by the worker: new papers by followed authors ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewPaper:
    id: str
    first_stored: datetime  # papers.ingested_at: a new version of an old paper is not a new paper
    authors: dict[str, str]  # author key → the name as on the paper


def papers_cursor(db: Database) -> int | None:
    """The papers.rev the job has looked at; None before its first look."""
    t = ingest_checkpoints.c
    with db.read() as conn:
        found = conn.execute(sa.select(t.line).where(t.source == PAPERS_CURSOR)).scalar_one_or_none()
    return None if found is None else int(found)


def papers_after(db: Database, rev: int, limit: int) -> tuple[list[tuple[str, datetime, list[str]]], int]:
    """Papers stored or changed after ``rev``, about ``limit`` of them, as (id, first stored, authors),
    and the rev they reach; a page ends at a whole rev (``papers.whole_revs``)."""
    p = papers.c
    query = sa.select(p.rev, p.id, p.authors, p.ingested_at).where(p.rev > rev).order_by(p.rev, p.id)
    with db.read() as conn:
        rows = whole_revs(conn, query, limit)
    return [(r.id, r.ingested_at, list(r.authors or ())) for r in rows], int(rows[-1].rev) if rows else rev


def latest_rev(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(papers.c.rev), 0))).scalar_one())


def record_new_papers(db: Database, found: Sequence[NewPaper], position: int, now: datetime) -> int:
    """One notification per (follower, paper) for papers first stored after the follow began, and the
    cursor moved to ``position``, in one transaction: a kill before the commit leaves both undone, and the
    unique constraint keeps a rerun from adding anything twice. Returns how many were new."""
    with db.write() as conn:
        keys = sorted({k for p in found for k in p.authors})
        following: dict[str, list[tuple[int, datetime]]] = {}
        if keys:
            f = follows.c
            rows = conn.execute(
                sa.select(f.key, f.user_id, f.created_at).where(f.kind == "author", f.key.in_(keys))
            )
            for key, user_id, since in rows:
                following.setdefault(key, []).append((int(user_id), since))
        muted = _muted(conn, {u for people in following.values() for u, _ in people}, AUTHOR)
        out: dict[tuple[int, str], dict[str, Any]] = {}
        for p in found:
            for key, name in p.authors.items():
                for user_id, since in following.get(key, ()):
                    if since <= p.first_stored and user_id not in muted and (user_id, p.id) not in out:
                        out[(user_id, p.id)] = {
                            "user_id": user_id,
                            "kind": AUTHOR,
                            "paper_id": p.id,
                            "text": name,
                            "source": f"paper:{p.id}",
                            "created_at": now,
                        }
        added = _insert(conn, list(out.values()))
        reach_line(conn, PAPERS_CURSOR, position)
        return added


# -- reading ---------------------------------------------------------------------------------------------


def _shown(user_id: Any) -> Any:
    """What the member may see: kinds they did not switch off, comments still visible (``user_id``: an id
    or a bind parameter)."""
    m = notification_mutes.c
    return sa.and_(
        n.user_id == user_id,
        n.kind.not_in(sa.select(m.kind).where(m.user_id == user_id)),
        sa.or_(
            n.comment_id.is_(None),
            sa.and_(comments.c.hidden == sa.false(), comments.c.deleted == sa.false()),
        ),
    )


_FROM = notifications.outerjoin(comments, comments.c.id == n.comment_id)
_SELECT = sa.select(
    n.id,
    n.kind,
    n.paper_id,
    papers.c.title,
    n.comment_id,
    users.c.name.label("actor"),
    n.text,
    n.created_at,
    n.read_at,
).select_from(_FROM.outerjoin(papers, papers.c.id == n.paper_id).outerjoin(users, users.c.id == n.actor_id))


def _notification(r: Any) -> Notification:
    return Notification(
        int(r.id), r.kind, r.paper_id, r.title, r.comment_id, r.actor, r.text, r.created_at, r.read_at
    )


def notifications_of(
    db: Database, user_id: int, limit: int, unread: bool = False, before: int | None = None
) -> list[Notification]:
    """A member's notifications, newest first; ``before`` an id pages on."""
    query = _SELECT.where(_shown(user_id))
    if unread:
        query = query.where(n.read_at.is_(None))
    if before is not None:
        query = query.where(n.id < before)
    with db.read() as conn:
        return [_notification(r) for r in conn.execute(query.order_by(n.id.desc()).limit(limit))]


# Built once: every signed-in page asks it (the header's badge), and building the statement and its cache
# key each time cost more than running it.
_UNREAD = (
    sa.select(sa.func.count()).select_from(_FROM).where(_shown(sa.bindparam("user_id")), n.read_at.is_(None))
)


def unread_count(db: Database, user_id: int) -> int:
    """The header's badge: one query on the (user, read_at, id) index."""
    with db.read() as conn:
        return int(conn.execute(_UNREAD, {"user_id": user_id}).scalar_one())


def mark_read(db: Database, user_id: int, ids: Sequence[int] | None, now: datetime) -> int:
    """Mark these (None: all) of the member's unread notifications read; how many were unread."""
    query = notifications.update().where(n.user_id == user_id, n.read_at.is_(None))
    if ids is not None:
        if not ids:
            return 0
        query = query.where(n.id.in_(list(ids)))
    with db.write() as conn:
        return int(conn.execute(query.values(read_at=now)).rowcount or 0)


def muted_kinds(db: Database, user_id: int) -> set[str]:
    m = notification_mutes.c
    with db.read() as conn:
        return set(conn.execute(sa.select(m.kind).where(m.user_id == user_id)).scalars())


def set_muted(db: Database, user_id: int, kinds: Iterable[str]) -> None:
    """The kinds the member switched off, all at once (what is not listed is on)."""
    with db.write() as conn:
        conn.execute(notification_mutes.delete().where(notification_mutes.c.user_id == user_id))
        rows = [{"user_id": user_id, "kind": k} for k in sorted(set(kinds))]
        if rows:
            conn.execute(notification_mutes.insert(), rows)


# -- the digest -------------------------------------------------------------------------------------------


def take_for_digest(conn: sa.Connection, user_id: int, now: datetime, limit: int) -> list[Notification]:
    """Inside a digest's claiming transaction: the member's unread notifications never emailed, oldest
    first, marked emailed at ``now`` (the claim's time, so a digest the server refused can hand them back:
    ``untake``)."""
    query = _SELECT.where(_shown(user_id), n.read_at.is_(None), n.emailed_at.is_(None))
    found = [_notification(r) for r in conn.execute(query.order_by(n.id).limit(limit))]
    if found:
        conn.execute(notifications.update().where(n.id.in_([x.id for x in found])).values(emailed_at=now))
    return found


def untake(conn: sa.Connection, user_id: int, taken_at: datetime) -> None:
    """A digest was not sent after all (retry, failed): its notifications may go in the next one."""
    conn.execute(
        notifications.update().where(n.user_id == user_id, n.emailed_at == taken_at).values(emailed_at=None)
    )
