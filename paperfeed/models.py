"""Plain dataclasses that travel between layers: what ingest produces and what storage returns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

# How arXiv's records say a paper was withdrawn: its comments (or a replaced abstract) read "This paper
# has been withdrawn by the author(s)", "withdrawn due to …", "Paper withdrawn", "This submission has been
# withdrawn by arXiv administrators".
_WITHDRAWN = re.compile(
    r"\b(?:(?:paper|article|submission|manuscript|work|version)\s+(?:has\s+been\s+|is\s+|was\s+)?withdrawn"
    r"|withdrawn\s+by\s+(?:the\s+)?(?:authors?|arxiv)|^\s*withdrawn\b)",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Version:
    version: int  # 1 for "v1"
    created: datetime


@dataclass(frozen=True, slots=True)
class Organization:
    name: str  # short handle, unique ("AlibabaTongyiLab")
    fullname: str  # display name ("TongyiLab")


@dataclass(frozen=True, slots=True)
class CodeLinks:
    """A paper's code repository and project page (``paperfeed/links.py``), with what the ``github-stars``
    job last found of the repository."""

    repo: str | None  # https://github.com/owner/name, https://gitlab.com/…, https://huggingface.co/…
    project_page: str | None
    stars: int | None = None  # GitHub's count at the last check; None before it, or off GitHub
    status: str = "unchecked"  # unchecked | ok | empty | missing (flagged on cards and pages)

    @property
    def flagged(self) -> bool:
        return self.status in ("empty", "missing")


@dataclass(frozen=True, slots=True)
class StoredSummary:
    """An abstractive summary the ``summaries`` job got, with its provenance."""

    text: str
    model: str
    made_at: datetime


@dataclass(frozen=True, slots=True)
class StoredThumbnail:
    """That a paper has a thumbnail (its first figure, made small by the ``fulltext`` job), when it was
    made (the image's URL changes with it) and the figure's caption (its alt text)."""

    made_at: datetime
    caption: str


@dataclass(slots=True)
class Paper:
    """One paper, keyed by its version-less arXiv id (or a stable ``card-…`` id for seed cards)."""

    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str] = field(default_factory=list)
    versions: list[Version] = field(default_factory=list)
    version: int = 1  # the latest version we know of; a newer one replaces the record
    published_at: datetime | None = None  # first version on arXiv
    updated_at: datetime | None = None  # latest version (or metadata update) on arXiv
    num_authors: int | None = None  # cards carry a count without names, sometimes not even that
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    report_no: str | None = None
    license: str | None = None
    submitter: str | None = None  # who uploaded it to arXiv
    organization: Organization | None = None
    # Feed state, owned by paperfeed rather than by the source:
    feed_day: date | None = None  # the daily list the paper belongs to
    submitted_at: datetime | None = None  # when a member submitted it to the feed
    submitted_by: str | None = None
    upvotes: int = 0
    num_comments: int = 0
    keywords: list[str] = field(default_factory=list)  # extracted by 'paperfeed index' (ai_keywords)
    code: CodeLinks | None = None  # stored apart (storage/links.py); an import reads it from the text
    summary: StoredSummary | None = None  # abstractive, when an endpoint is configured (storage/summaries.py)
    thumbnail: StoredThumbnail | None = None  # the first figure's, from the full text (storage/fulltext.py)

    def __post_init__(self) -> None:
        if self.num_authors is None and self.authors:
            self.num_authors = len(self.authors)

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None

    @property
    def withdrawn_at(self) -> datetime | None:
        """When the paper was withdrawn, if arXiv's comments or abstract say it was: the date of its latest
        version (the withdrawal notice is a new version), else of its last update or publication."""
        if not any(_WITHDRAWN.search(text or "") for text in (self.comments, self.abstract)):
            return None
        latest = max(self.versions, key=lambda v: v.version).created if self.versions else None
        return latest or self.updated_at or self.published_at

    @property
    def is_arxiv(self) -> bool:
        return not self.id.startswith("card-")

    @property
    def abs_url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.id}" if self.is_arxiv else None

    @property
    def pdf_url(self) -> str | None:
        return f"https://arxiv.org/pdf/{self.id}" if self.is_arxiv else None

    @property
    def entered_feed_at(self) -> datetime:
        """When the paper joined its daily list: its submission, else its arXiv publication when that falls
        on its feed day, else the start of the feed day (a paper imported late belongs to the import day)."""
        if self.submitted_at is not None:
            return self.submitted_at
        published = self.published_at
        if self.feed_day is None:
            return published or datetime.now(UTC)
        if published is not None and published.astimezone(UTC).date() == self.feed_day:
            return published
        return datetime.combine(self.feed_day, time(), UTC)


def feed_day_of(published_at: datetime | None, submitted_at: datetime | None, now: datetime) -> date:
    """The daily list a paper belongs to: the day it was first published on arXiv, or the day a member
    submitted it if later (``now`` when neither is known)."""
    if submitted_at is None and published_at is not None:  # every paper of an import
        return published_at.astimezone(UTC).date()
    days = [t.astimezone(UTC).date() for t in (published_at, submitted_at) if t is not None]
    return max(days) if days else now.astimezone(UTC).date()


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one ingest run did, for the CLI summary and for cron-friendly exit codes."""

    read: int = 0  # records seen in the source
    inserted: int = 0
    updated: int = 0  # a newer version replaced the stored one
    unchanged: int = 0  # same or older version: nothing to do
    errors: list[str] = field(default_factory=list)  # "line 12: missing field 'title'"

    def __add__(self, other: ImportReport) -> ImportReport:
        return ImportReport(
            self.read + other.read,
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.errors + other.errors,
        )


@dataclass(frozen=True, slots=True)
class Harvest:
    """One OAI-PMH harvest of a date window: how far it got, so a rerun continues from there."""

    id: int
    endpoint: str
    metadata_prefix: str
    set_spec: str  # "" for every set
    from_date: str  # YYYY-MM-DD
    until_date: str  # "" for open-ended
    resumption_token: str | None  # the next page to ask for; None before the first page and when done
    pages: int
    records: int
    status: str  # running | done | failed
    error: str | None
    started_at: datetime
    updated_at: datetime


# -- community ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str  # handle, unique; what papers.submitted_by holds
    email: str
    fullname: str
    is_admin: bool
    is_moderator: bool
    created_at: datetime
    is_curator: bool = False  # picks papers for the curated list (admins may too)

    @property
    def may_curate(self) -> bool:
        return self.is_curator or self.is_admin


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token as its owner sees it in a list: never the secret (only its digest is stored)."""

    id: int
    label: str
    scope: str  # read (GET only) | write (also changes things)
    created_at: datetime
    expires_at: datetime | None  # None: never

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class AccountRequest:
    """A sign-up waiting for its activation link, or a password reset waiting for its link: stored by the
    web, mailed by the worker (``paperfeed.account_mail``)."""

    id: int
    kind: str  # signup | reset
    email: str
    name: str | None  # signup: the handle asked for
    password_hash: str | None  # signup: argon2id of the chosen password
    next_path: str | None
    status: str  # requested | sent
    requested_at: datetime
    sent_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    paper_id: str
    author: str  # the user's handle
    parent_id: int | None
    body: str  # Markdown as written
    html: str  # body rendered and sanitised by paperfeed.markdown when it was written
    created_at: datetime
    edited_at: datetime | None
    hidden: bool  # hidden by a moderator: shown as a placeholder
    deleted: bool  # deleted by its author: shown as a placeholder


@dataclass(frozen=True, slots=True)
class Notification:
    """Something a member should know about (paperfeed/notifications.py): a reply to their comment, an
    @mention, a comment on a paper they claimed, a new paper by an author they follow."""

    id: int
    kind: str  # reply | mention | claimed | author (notifications.KINDS)
    paper_id: str | None
    paper_title: str | None
    comment_id: int | None
    actor: str | None  # the handle of the member who caused it (None for a new paper)
    text: str  # a short excerpt of the comment, or the followed author's name as on the paper
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    paper_id: str
    user: str
    author: str
    status: str  # pending | approved | rejected
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Collection:
    id: int
    owner: str
    name: str
    description: str
    is_public: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CollectionItem:
    paper: Paper
    note: str
    added_at: datetime


# -- digests -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Follow:
    """Something a digest subscriber follows: a topic (search terms), an author or an organization."""

    kind: str  # topic | author | organization
    value: str


@dataclass(frozen=True, slots=True)
class Followed:
    """Something a member follows: an author, an organization, a category or a saved search. ``value`` is
    what they gave (shown back), ``key`` its normal form (an author's name without case or accents, a saved
    search as a canonical query string), which makes following the same thing twice a no-op."""

    id: int
    user_id: int
    kind: str  # author | organization | category | search
    value: str
    key: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A digest subscription: an email address, double opt-in, with what it follows."""

    id: int
    email: str
    frequency: str  # daily | weekly
    status: str  # pending | active | suppressed
    paused: bool
    created_at: datetime
    confirmed_at: datetime | None = None
    suppressed_reason: str | None = None  # unsubscribed | bounced
    user_id: int | None = None
    follows: tuple[Follow, ...] = ()


# -- outbound work ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueuedSubmission:
    """A member's submission of a paper that was not stored yet: the worker fetches it from arXiv."""

    id: int
    paper_id: str  # version-less arXiv id
    user_id: int
    submitted_by: str  # the member's handle
    status: str  # pending | done | failed
    attempts: int  # tries that could not reach arXiv
    message: str | None  # why it failed, or why it still waits
    created_at: datetime  # when the member submitted it: the time the feed shows
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Webhook:
    """A member's endpoint for events (paperfeed/webhooks/): where, which events, in which format."""

    id: int
    user_id: int
    url: str
    events: tuple[str, ...]  # event types, webhooks.events.EVENTS
    categories: tuple[str, ...]  # for paper.new: any of these arXiv categories
    format: str  # json | slack | discord
    created_at: datetime
    failures: int  # failed deliveries in a row
    disabled_at: datetime | None  # disabled after too many failures in a row
    last_status: str | None  # the last delivery's outcome
    last_at: datetime | None
