"""Notifications: what each kind means to a member, how one reads (the same sentence on the page, in the
API and in the digest), where it links, and the worker's ``notifications`` job, which notifies followers
of an author when a new paper of theirs is stored.

Comment kinds (reply, mention, comment on a claimed paper) are made with the comment itself, in its
transaction (``storage/comments.py`` → ``storage/notifications.py``): nobody else is involved, so there is
nothing to catch up on. New papers arrive from harvests, imports and submissions alike, so the job walks
``papers.rev`` behind a cursor instead of hooking every way in.
"""

from __future__ import annotations

from datetime import UTC, datetime

from paperfeed.models import Notification
from paperfeed.recommend.signals import name_key
from paperfeed.storage import Database
from paperfeed.storage import notifications as store

# The kinds a member can switch off, in the order the preferences list them.
KINDS: dict[str, str] = {
    store.REPLY: "a reply to your comment",
    store.MENTION: "an @mention of you in a comment",
    store.CLAIMED: "a comment on a paper you claimed",
    store.AUTHOR: "a new paper by an author you follow",
}
BATCH = 500  # papers per look; a later run continues
IN_DIGEST = 20  # notifications one digest carries at most; the rest wait for the next one


def sentence(x: Notification) -> str:
    """One line, for people: 'ada replied to your comment on “Title”'."""
    title = f"“{' '.join((x.paper_title or x.paper_id or '').split())}”"
    who = x.actor or "someone"
    if x.kind == store.REPLY:
        return f"{who} replied to your comment on {title}"
    if x.kind == store.MENTION:
        return f"{who} mentioned you on {title}"
    if x.kind == store.CLAIMED:
        return f"{who} commented on {title}, which you claimed"
    return f"New paper by {x.text}: {title}"


def path(x: Notification) -> str:
    """Where it leads on the site: the comment's anchor on its paper's page, or the paper."""
    if x.paper_id is None:
        return "/notifications"
    return f"/papers/{x.paper_id}" + (f"#comment-{x.comment_id}" if x.comment_id else "")


def notify_new_papers(db: Database, now: datetime | None = None) -> str:
    """The job: papers stored or changed since the cursor, about ``BATCH``; each follower of one of their
    authors is notified once per paper (not for a new version of a paper stored before they followed).
    The first look only notes where the papers stand: nobody is told about the back catalogue."""
    now = now or datetime.now(UTC)
    position = store.papers_cursor(db)
    if position is None:
        store.record_new_papers(db, [], store.latest_rev(db), now)
        return "started at the latest paper"
    rows, reached = store.papers_after(db, position, BATCH)
    if not rows:
        return "no new papers"
    found = [
        store.NewPaper(paper_id, first_stored, {name_key(a): a for a in authors if a.strip()})
        for paper_id, first_stored, authors in rows
    ]
    added = store.record_new_papers(db, found, reached, now)
    return f"{len(rows)} papers looked at, {added} notifications"
