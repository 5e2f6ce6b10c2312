"""Webhook events: the types a member may ask for, the rules for an endpoint's URL, and the worker's look
for new events, which turns what happened since its last look into rows of the delivery ledger.

Events, each for the endpoints that asked for its type:
- ``paper.curated``: a paper joined the curated list (a member submitted it, or a curator picked it);
- ``paper.new``: a new paper in one of the endpoint's categories (harvested or submitted);
- ``paper.followed``: a new paper matching one of the owner's follows (an author, an organization, a
  category or a saved search: ``follows.matches``), once per paper whatever number of follows it matches;
- ``comment.created``: a new comment on a paper the endpoint's owner commented on or claimed;
- ``submission.created``: any member's submission waiting to be fetched from arXiv (admins only).

Only what happens after an endpoint was registered reaches it. The JSON event is what is stored and
signed; Slack and Discord endpoints get the same event reshaped as their incoming webhooks expect.
"""

from __future__ import annotations

import ipaddress
import secrets
import uuid
from base64 import b64encode
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from paperfeed import follows
from paperfeed.feed import BadPeriod, parse_categories
from paperfeed.models import Followed, Paper, Webhook
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import follows as follow_store
from paperfeed.storage import webhooks as store
from paperfeed.storage.webhooks import NewDelivery

EVENTS: dict[str, str] = {
    "paper.curated": "a paper joined the curated list",
    "paper.new": "a new paper in one of your categories",
    "paper.followed": "a new paper by an author, from an organization, in a category or matching a search you follow",
    "comment.created": "a new comment on a paper you commented on or claimed",
    "submission.created": "any member's submission (admins only)",
}
ADMIN_EVENTS = {"submission.created"}
FORMATS = ("json", "slack", "discord")
BATCH = 500
MAX_PER_MEMBER = 10
MAX_CATEGORIES = 20


class BadWebhook(ValueError):
    """An endpoint paperfeed will not register; the message names the field and why."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + b64encode(secrets.token_bytes(32)).decode()


def private_address(address: str) -> bool:
    """Loopback, private, link-local, shared, reserved or multicast: nowhere a webhook may go by default."""
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    return not ip.is_global or ip.is_multicast


def check_url(url: str, allow_private: bool) -> str:
    """An endpoint URL as registered: http(s), a host, no credentials, and (unless private targets are
    allowed) not a literal private address or a local name. Names are resolved, and checked again, at
    each delivery (send.py): a name may point anywhere later."""
    url = url.strip()
    if len(url) > 2000:
        raise BadWebhook("url: at most 2000 characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadWebhook("url: give an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise BadWebhook("url: no user name or password in the URL")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise BadWebhook("url: the port is not a number from 1 to 65535") from None
    host = parts.hostname.lower().rstrip(".")
    if not allow_private:
        try:
            literal = private_address(host)
        except ValueError:
            literal = host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
        if literal:
            raise BadWebhook("url: loopback and private-network targets are not allowed on this site")
    return url


def check_events(
    events: Iterable[Any], categories: Iterable[Any], fmt: Any, is_admin: bool
) -> tuple[list[str], list[str], str]:
    chosen = list(dict.fromkeys(events))
    if not chosen or not all(isinstance(e, str) and e in EVENTS for e in chosen):
        raise BadWebhook(f"events: give one or more of {', '.join(EVENTS)}")
    if not is_admin and ADMIN_EVENTS & set(chosen):
        raise BadWebhook(f"events: {', '.join(sorted(ADMIN_EVENTS))} is for admins")
    wanted = list(dict.fromkeys(categories))
    if len(wanted) > MAX_CATEGORIES:
        raise BadWebhook(f"categories: at most {MAX_CATEGORIES} arXiv categories, e.g. cs.CL")
    for category in wanted:  # the feed's rule for a category, so a typo is refused, not silent forever
        if not _category(category):
            shown = repr(category)[:40]
            raise BadWebhook(f"categories: {shown} is not an arXiv category (expected e.g. cs.CL or hep-th)")
    if "paper.new" in chosen and not wanted:
        raise BadWebhook("categories: paper.new needs at least one category")
    if fmt not in FORMATS:
        raise BadWebhook(f"format: one of {', '.join(FORMATS)}")
    return chosen, wanted, str(fmt)


def _category(value: Any) -> bool:
    if not isinstance(value, str) or "," in value:
        return False
    try:
        return parse_categories(value) == (value,)
    except BadPeriod:
        return False


# -- the events ---------------------------------------------------------------------------------------------


def paper_data(paper: Paper, base_url: str) -> dict[str, Any]:
    return {
        "id": paper.id,
        "title": " ".join(paper.title.split()),
        "authors": paper.authors,
        "abstract": paper.abstract,
        "categories": paper.categories,
        "feedDay": paper.feed_day.isoformat() if paper.feed_day else None,
        "upvotes": paper.upvotes,
        "submittedBy": paper.submitted_by,
        "url": f"{base_url.rstrip('/')}/papers/{paper.id}",
    }


def _event(kind: str, data: dict[str, Any], at: datetime) -> str:
    return orjson.dumps({"type": kind, "timestamp": at.astimezone(UTC).isoformat(), "data": data}).decode()


def _delivery(hook: Webhook, kind: str, subject: str, data: dict[str, Any], at: datetime) -> NewDelivery:
    return NewDelivery(
        "msg_" + uuid.uuid4().hex, hook.id, f"{kind}:{subject}"[:160], kind, _event(kind, data, at)
    )


@dataclass(frozen=True, slots=True)
class Found:
    source: str
    events: int  # deliveries added to the ledger


def collect(db: Database, settings: Settings, now: datetime | None = None) -> list[Found]:
    """Look for new events in every source, up to ``BATCH`` of each per call, and add their deliveries.
    A source's first look only notes where it stands."""
    now = now or datetime.now(UTC)
    hooks = store.active(db)
    start = store.last_positions(db)
    found = []
    for source in ("papers", "comments", "submissions"):
        position = store.cursor(db, source)
        if position is None:
            store.record(db, source, start[source], [], now)
            continue
        found.append(Found(source, _COLLECTORS[source](db, settings, hooks, position, now)))
    return found


def _papers(
    db: Database, settings: Settings, hooks: list[tuple[Webhook, bool]], after: int, now: datetime
) -> int:
    rows = store.papers_after(db, after, BATCH)
    if not rows:
        return 0
    out = []
    owners = {hook.user_id for hook, _ in hooks if "paper.followed" in hook.events}
    followed = follow_store.follows_of_members(db, sorted(owners))
    for _, paper, first_stored in rows:
        data = paper_data(paper, settings.base_url)
        for hook, _admin in hooks:
            if "paper.followed" in hook.events and first_stored >= hook.created_at:
                matched = _matched(followed[hook.user_id], paper)
                if matched:
                    out.append(
                        _delivery(
                            hook, "paper.followed", paper.id, {**data, "matched": matched}, first_stored
                        )
                    )
            if (
                "paper.curated" in hook.events
                and paper.submitted_at
                and paper.submitted_at >= hook.created_at
            ):
                out.append(_delivery(hook, "paper.curated", paper.id, data, paper.submitted_at))
            if (
                "paper.new" in hook.events
                and first_stored >= hook.created_at
                and set(hook.categories) & set(paper.categories)
            ):
                out.append(_delivery(hook, "paper.new", paper.id, data, first_stored))
    return store.record(db, "papers", rows[-1][0], out, now)


def _matched(mine: list[Followed], paper: Paper) -> list[dict[str, str]]:
    """The follows this paper answers, as the event names them."""
    return [
        {"kind": f.kind, "value": f.value} for f in mine if follows.matches(f.kind, f.value, f.key, paper)
    ]


def _comments(
    db: Database, settings: Settings, hooks: list[tuple[Webhook, bool]], after: int, now: datetime
) -> int:
    rows = store.comments_after(db, after, BATCH)
    if not rows:
        return 0
    out = []
    for c in rows:
        data = {
            "id": c.id,
            "paperId": c.paper_id,
            "author": c.author,
            "body": c.body,
            "url": f"{settings.base_url.rstrip('/')}/papers/{c.paper_id}#comment-{c.id}",
        }
        for hook, _admin in hooks:
            if (
                "comment.created" in hook.events
                and hook.user_id in c.interested
                and hook.user_id != c.user_id
                and c.created_at >= hook.created_at
            ):
                out.append(_delivery(hook, "comment.created", str(c.id), data, c.created_at))
    return store.record(db, "comments", rows[-1].id, out, now)


def _submissions(
    db: Database, settings: Settings, hooks: list[tuple[Webhook, bool]], after: int, now: datetime
) -> int:
    rows = store.submissions_after(db, after, BATCH)
    if not rows:
        return 0
    out = []
    for sid, paper_id, by, at in rows:
        data = {
            "id": sid,
            "paperId": paper_id,
            "submittedBy": by,
            "arxiv": f"https://arxiv.org/abs/{paper_id}",
        }
        for hook, admin in hooks:
            if admin and "submission.created" in hook.events and at >= hook.created_at:
                out.append(_delivery(hook, "submission.created", str(sid), data, at))
    return store.record(db, "submissions", rows[-1][0], out, now)


_COLLECTORS = {"papers": _papers, "comments": _comments, "submissions": _submissions}


# -- chat formats ------------------------------------------------------------------------------------------


def _summary(event: dict[str, Any]) -> tuple[str, str, str]:
    """(title, link, details) of an event, for people."""
    data = event["data"]
    kind = event["type"]
    if kind.startswith("paper."):
        authors = ", ".join(data["authors"][:3]) + (" et al." if len(data["authors"]) > 3 else "")
        label = {"paper.curated": "Curated", "paper.followed": "Followed"}.get(kind, "New paper")
        why = [f"{m['kind']} {m['value']}" for m in data.get("matched", [])][:3]
        details = " · ".join([authors, ", ".join(data["categories"][:3]), *why])
        return f"{label}: {data['title']}", data["url"], details
    if kind == "comment.created":
        return f"{data['author']} commented on {data['paperId']}", data["url"], data["body"][:500]
    return f"{data['submittedBy']} submitted {data['paperId']}", data["arxiv"], "waiting to be fetched"


def body_for(fmt: str, payload: str) -> bytes:
    """The body an endpoint gets: the JSON event, or Slack blocks, or Discord embeds."""
    if fmt == "json":
        return payload.encode()
    event = orjson.loads(payload)
    title, link, details = _summary(event)
    if fmt == "slack":
        safe = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        message = {
            "text": title,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*<{link}|{safe}>*"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": details or " "}]},
            ],
        }
    else:
        message = {
            "embeds": [
                {
                    "title": title[:256],
                    "url": link,
                    "description": details[:4096],
                    "timestamp": event["timestamp"],
                }
            ]
        }
    return orjson.dumps(message)
