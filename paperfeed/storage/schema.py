"""The tables as SQLAlchemy Core sees them, for building queries; the migrations are what create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData()
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware (SQLite drops the offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: paperfeed stores UTC-aware timestamps only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        """``process_result_value`` after the dialect's own conversion (SQLite's text to datetime), as
        TypeDecorator does, in one function instead of two nested ones: a feed page reads five timestamps
        of each of its papers."""
        parse = self.impl_instance.result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if type(value) is str and len(value) == 26 and value[10] == " ":
                # What SQLAlchemy writes to SQLite ('2026-11-30 12:34:56.000000', naive UTC), read as UTC
                # in one step: attaching the zone afterwards with replace() took five times as long.
                try:
                    return _FROM_ISO(value + "+00:00")
                except ValueError:  # not that format after all: read below, as any other text
                    pass
            if parse is not None:
                value = parse(value)
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

        return process


_FROM_ISO = datetime.fromisoformat


organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(96), nullable=False, unique=True),
    sa.Column("fullname", sa.String(256), nullable=False),
)

papers = sa.Table(
    "papers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False),
    sa.Column("authors", JSON, nullable=False),
    sa.Column("num_authors", sa.Integer),
    sa.Column("categories", JSON, nullable=False),
    sa.Column("primary_category", sa.String(32)),
    sa.Column("versions", JSON, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("published_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime),
    sa.Column("comments", sa.Text),
    sa.Column("journal_ref", sa.Text),
    sa.Column("doi", sa.Text),
    sa.Column("report_no", sa.Text),
    sa.Column("license", sa.Text),
    sa.Column("submitter", sa.Text),
    sa.Column("organization_id", sa.Integer, sa.ForeignKey("organizations.id")),
    sa.Column("feed_day", sa.Date, nullable=False),
    sa.Column("submitted_at", UTCDateTime),
    sa.Column("submitted_by", sa.String(96)),
    sa.Column("upvotes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("num_comments", sa.Integer, nullable=False, server_default="0"),
    sa.Column("ingested_at", UTCDateTime, nullable=False),
    sa.Column("rev", sa.BigInteger, nullable=False),
    sa.Column("keywords", JSON),
)

paper_embeddings = sa.Table(
    "paper_embeddings",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.BigInteger, nullable=False, unique=True),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("text_hash", sa.String(32), nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),
    sa.Column("rev", sa.BigInteger, nullable=False),
)

job_positions = sa.Table(
    "job_positions",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("rev", sa.BigInteger, nullable=False),
    sa.Column("last_id", sa.String(64), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

ingest_checkpoints = sa.Table(
    "ingest_checkpoints",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("line", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

harvests = sa.Table(
    "harvests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("metadata_prefix", sa.String(32), nullable=False),
    sa.Column("set_spec", sa.String(64), nullable=False, server_default=""),
    sa.Column("from_date", sa.String(10), nullable=False),
    sa.Column("until_date", sa.String(10), nullable=False, server_default=""),
    sa.Column("resumption_token", sa.Text),
    sa.Column("pages", sa.Integer, nullable=False, server_default="0"),
    sa.Column("records", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# -- community (migration 0003) -------------------------------------------------------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(96), nullable=False, unique=True),
    sa.Column("email", sa.String(256), nullable=False, unique=True),
    sa.Column("fullname", sa.String(256), nullable=False, server_default=""),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_moderator", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_curator", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("label", sa.String(96), nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("scope", sa.String(8), nullable=False, server_default="write"),  # migration 0006
    sa.Column("expires_at", UTCDateTime),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

comments = sa.Table(
    "comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("comments.id")),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("html", sa.Text),  # body rendered when written (migration 0007)
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("edited_at", UTCDateTime),
    sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
)

organization_members = sa.Table(
    "organization_members",
    metadata,
    sa.Column(
        "organization_id", sa.Integer, sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("added_at", UTCDateTime, nullable=False),
)

claims = sa.Table(
    "claims",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("decided_by", sa.Integer, sa.ForeignKey("users.id")),
    sa.UniqueConstraint("paper_id", "author", "user_id", name="claims_once"),
)

collections = sa.Table(
    "collections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("is_public", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("user_id", "name", name="collections_name_once"),
)

collection_items = sa.Table(
    "collection_items",
    metadata,
    sa.Column(
        "collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("added_at", UTCDateTime, nullable=False),
)

rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(160), primary_key=True),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("hits", sa.Integer, nullable=False),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("holder", sa.String(255), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# -- email digests (migration 0005) ------------------------------------------------------------------

subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer),
    sa.Column("frequency", sa.String(8), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("confirm_token_hash", sa.String(64), unique=True),
    sa.Column("confirm_expires_at", UTCDateTime),
    sa.Column("confirm_sent_at", UTCDateTime),
    sa.Column("confirm_due_at", UTCDateTime),  # migration 0009
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("confirmed_at", UTCDateTime),
    sa.Column("suppressed_at", UTCDateTime),
    sa.Column("suppressed_reason", sa.String(32)),
)

subscriber_follows = sa.Table(
    "subscriber_follows",
    metadata,
    sa.Column(
        "subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("value", sa.String(256), primary_key=True),
)

digest_senders = sa.Table(
    "digest_senders",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("process_start", sa.String(32), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
)

digest_deliveries = sa.Table(
    "digest_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("period", sa.String(24), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("sender_id", sa.String(36)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("message_id", sa.String(255)),
    sa.Column("error", sa.Text),
    sa.UniqueConstraint("subscriber_id", "period", name="digest_deliveries_once"),
)

digest_papers = sa.Table(
    "digest_papers",
    metadata,
    sa.Column(
        "subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("paper_id", sa.String(64), primary_key=True),
    sa.Column("period", sa.String(24), nullable=False),
)

# -- accounts (migration 0006) -----------------------------------------------------------------------

account_requests = sa.Table(
    "account_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.String(96)),
    sa.Column("password_hash", sa.Text),
    sa.Column("next_path", sa.String(512)),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("token_hash", sa.String(64), unique=True),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("expires_at", UTCDateTime),
    sa.UniqueConstraint("kind", "email", name="account_requests_once"),
)

# -- outbound work, done by the worker (migration 0009) ---------------------------------------------------

submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("paper_id", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("message", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("next_try_at", UTCDateTime, nullable=False),
)

# -- code links and stars (migration 0010) -----------------------------------------------------------------

paper_links = sa.Table(
    "paper_links",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("repo_url", sa.Text),
    sa.Column("project_page", sa.Text),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("set_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

repos = sa.Table(
    "repos",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.Text, nullable=False, unique=True),
    sa.Column("stars", sa.Integer),
    sa.Column("status", sa.String(12), nullable=False, server_default="unchecked"),
    sa.Column("etag", sa.Text),
    sa.Column("message", sa.Text),
    sa.Column("checked_at", UTCDateTime),
    sa.Column("next_check_at", UTCDateTime, nullable=False),
)

repo_stars = sa.Table(
    "repo_stars",
    metadata,
    sa.Column("repo_id", sa.Integer, sa.ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("at", UTCDateTime, primary_key=True),
    sa.Column("stars", sa.Integer, nullable=False),
)

service_pauses = sa.Table(
    "service_pauses",
    metadata,
    sa.Column("service", sa.String(32), primary_key=True),
    sa.Column("until", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

# -- abstractive summaries (migration 0011) -----------------------------------------------------------------

paper_summaries = sa.Table(
    "paper_summaries",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("made_at", UTCDateTime, nullable=False),
    sa.Column("source_hash", sa.String(32), nullable=False),
)

# -- webhooks (migration 0012) ----------------------------------------------------------------------------

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("categories", sa.JSON, nullable=False),
    sa.Column("format", sa.String(12), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("disabled_at", UTCDateTime),
    sa.Column("last_status", sa.Text),
    sa.Column("last_at", UTCDateTime),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("webhook_id", sa.Integer, sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_key", sa.String(160), nullable=False),
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("last_status", sa.Text),
    sa.UniqueConstraint("webhook_id", "event_key", name="webhook_deliveries_once"),
)

webhook_cursors = sa.Table(
    "webhook_cursors",
    metadata,
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

# migration 0013: a reader's own paperfeed
follows = sa.Table(
    "follows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("value", sa.String(512), nullable=False),
    sa.Column("key", sa.String(512), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("user_id", "kind", "key", name="follows_once"),
)

paper_feedback = sa.Table(
    "paper_feedback",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("signal", sa.String(8), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

seen_papers = sa.Table(
    "seen_papers",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("via", sa.String(12), nullable=False),
    sa.Column("seen_at", UTCDateTime, nullable=False),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE")),
    sa.Column("comment_id", sa.Integer, sa.ForeignKey("comments.id", ondelete="CASCADE")),
    sa.Column("actor_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("text", sa.Text, nullable=False, server_default=""),
    sa.Column("source", sa.String(160), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("read_at", UTCDateTime),
    sa.Column("emailed_at", UTCDateTime),
    sa.UniqueConstraint("user_id", "kind", "source", name="notifications_once"),
)

notification_mutes = sa.Table(
    "notification_mutes",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
)

feed_tokens = sa.Table(
    "feed_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)

# -- full text, thumbnails and the shared pace of requests to arXiv (migration 0014) --------------------------

paper_fulltext = sa.Table(
    "paper_fulltext",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("markdown", sa.Text),
    sa.Column("figures", sa.JSON, nullable=False),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("fetched_at", UTCDateTime),
    sa.Column("next_fetch_at", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("message", sa.Text),
)

paper_thumbnails = sa.Table(
    "paper_thumbnails",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("image", sa.LargeBinary, nullable=False),
    sa.Column("media_type", sa.String(32), nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("source_url", sa.Text, nullable=False),
    sa.Column("caption", sa.Text, nullable=False),
    sa.Column("made_at", UTCDateTime, nullable=False),
)

service_pace = sa.Table(
    "service_pace",
    metadata,
    sa.Column("service", sa.String(32), primary_key=True),
    sa.Column("next_at", sa.Float, nullable=False),
)

# -- embedding claims (migration 0015) ------------------------------------------------------------------

embed_claims = sa.Table(
    "embed_claims",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("after_rev", sa.BigInteger, nullable=False),
    sa.Column("after_id", sa.String(64), nullable=False),
    sa.Column("upto_rev", sa.BigInteger, nullable=False),
    sa.Column("upto_id", sa.String(64), nullable=False),
    sa.Column("holder", sa.String(255), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("job", "after_rev", "after_id", name="embed_claims_once"),
)

# migration 0016: each paper's authors by normal name (storage/authors.py)
paper_authors = sa.Table(
    "paper_authors",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sqlite_with_rowid=False,
)
