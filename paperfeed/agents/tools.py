"""What the MCP server's tools do: each one reads (or, for a member, changes) paperfeed through the same
storage, feed and search functions as the web pages, and answers with a short text an agent reads plus the
same facts as structured content.

Anonymous tools read what any visitor may see. Personal and write tools act as the member whose API token
came with the call (``Authorization: Bearer`` over HTTP, the ``token`` setting, ``PAPERFEED_TOKEN``, over
stdio), within its scope: a read token may list the member's collections, only a write token may change
anything. Every refusal is a ``ToolError`` whose message says what to do; nothing else escapes a tool
(the SDK turns any other exception into a bare "Error executing tool", and logs its traceback).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from math import ceil
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import Field

from paperfeed import accounts, feed, foryou, markdown
from paperfeed.models import Collection, Paper, User
from paperfeed.search.hybrid import Searcher
from paperfeed.search.keyword import Filters
from paperfeed.settings import Settings
from paperfeed.storage import Database, ratelimits
from paperfeed.storage import collections as collection_store
from paperfeed.storage import comments as comment_store
from paperfeed.storage import fulltext as fulltext_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import votes as vote_store
from paperfeed.web.serialize import paper_markdown, paper_url

Limit = Annotated[int, Field(ge=1, le=50, description="How many papers at most.")]
PaperIdArg = Annotated[str, Field(max_length=64, description="An arXiv id, e.g. 2607.07386 (any version).")]
NEEDS_MEMBER = (
    "this tool acts as a member: connect with a member's API token (HTTP: Authorization: Bearer <token>; "
    "stdio: set PAPERFEED_TOKEN). Create one at /settings/tokens or with 'paperfeed tokens create'."
)


def _day(value: str | None, name: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise ToolError(f"{name}: {value!r} is not a date (expected YYYY-MM-DD)") from None


class Tools:
    """The tools over one database; ``searcher`` opens the search indexes (once) when first needed."""

    def __init__(self, db: Database, settings: Settings, searcher: Callable[[], Searcher]) -> None:
        self.db = db
        self.settings = settings
        self._searcher = searcher

    # -- answers ---------------------------------------------------------------------------------------

    def paper_facts(self, paper: Paper) -> dict[str, Any]:
        return {
            "id": paper.id,
            "title": " ".join(paper.title.split()),
            "authors": paper.authors,
            "published": paper.published_at.date().isoformat() if paper.published_at else None,
            "feedDay": paper.feed_day.isoformat() if paper.feed_day else None,
            "categories": paper.categories,
            "organization": paper.organization.name if paper.organization else None,
            "upvotes": paper.upvotes,
            "comments": paper.num_comments,
            "url": paper_url(self.settings.base_url, paper.id),
        }

    @staticmethod
    def _line(n: int, facts: dict[str, Any], score: float | None = None) -> str:
        authors = facts["authors"]
        who = ", ".join(authors[:3]) + (f" +{len(authors) - 3}" if len(authors) > 3 else "")
        details = [
            x for x in (", ".join(facts["categories"][:2]), facts["feedDay"], f"▲{facts['upvotes']}") if x
        ]
        if score is not None:
            details.append(f"score {score:.3f}")
        return f"{n}. [{facts['id']}] {facts['title']} — {who or 'authors unknown'} ({'; '.join(details)})"

    def _papers(
        self, heading: str, papers: list[Paper], scores: list[float] | None = None, **extra: Any
    ) -> CallToolResult:
        facts = [self.paper_facts(p) for p in papers]
        lines = [heading] + [
            self._line(n, f, scores[n - 1] if scores else None) for n, f in enumerate(facts, 1)
        ]
        if not papers:
            lines.append("No papers.")
        items = [{**f, "score": round(s, 6)} for f, s in zip(facts, scores, strict=True)] if scores else facts
        return _answer("\n".join(lines), {**extra, "papers": items})

    def _paper(self, paper_id: str) -> Paper:
        found = feed.find_paper(self.db, paper_id)
        if found is None:
            raise ToolError(f"paper {paper_id!r} is not on this site (try search_papers)")
        return found

    # -- members ---------------------------------------------------------------------------------------

    def member(self, ctx: Context, write: bool) -> User:
        """The member this call acts for, refused (ToolError) without a token, with an unknown or expired
        one, or, for a change, with a read-only one."""
        headers = ctx.headers
        if headers is not None:  # HTTP: the token of this request
            auth = headers.get("authorization", "")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        else:  # stdio: the process's token
            token = self.settings.token.get_secret_value()
        if not token:
            raise ToolError(NEEDS_MEMBER)
        grant = accounts.token_grant(self.db, token)
        if grant is None:
            raise ToolError("the API token was not accepted (unknown, revoked or expired)")
        user, scope = grant
        if write and scope != "write":
            raise ToolError("this API token may only read (scope read): use a token with scope write")
        return user

    def _limit(self, action: str, user: User) -> None:
        """The web's rate limit for this action, counted in the same place (a member's MCP and web
        actions share one budget)."""
        hits, seconds = (int(x) for x in getattr(self.settings, f"rate_{action}").split("/"))
        now = datetime.now(UTC)
        window = timedelta(seconds=seconds)
        count, started = ratelimits.hit(self.db, f"{action}:{user.id}", window, now)
        if count > hits:
            retry = max(1, ceil((started + window - now).total_seconds()))
            raise ToolError(f"too many {action} requests: at most {hits} per {seconds} s; retry in {retry} s")

    # -- read tools ------------------------------------------------------------------------------------

    def search_papers(
        self,
        query: Annotated[str, Field(min_length=1, max_length=500, description="Words, a title or an id.")],
        limit: Limit = 10,
        since: Annotated[str | None, Field(description="Only papers on the feed from this day.")] = None,
        until: Annotated[str | None, Field(description="Only papers on the feed up to this day.")] = None,
        category: Annotated[str | None, Field(description="An arXiv category, e.g. cs.CL.")] = None,
        organization: Annotated[str | None, Field(description="An organization's short name.")] = None,
    ) -> CallToolResult:
        """Search papers by words and meaning (BM25 fused with embeddings); an exact arXiv id or title
        comes first. Dates are YYYY-MM-DD."""
        filters = Filters(_day(since, "since"), _day(until, "until"), category or None, organization or None)
        results = self._searcher().search(query, limit, filters)
        return self._papers(
            f"Search {query!r}: {len(results)} papers", [r.paper for r in results], [r.score for r in results]
        )

    def list_papers(
        self,
        period: Literal["day", "week", "month"] = "day",
        date: Annotated[
            str | None, Field(description="A day in the period (YYYY-MM-DD); the latest period by default.")
        ] = None,
        sort: Literal["upvotes", "published", "trending"] = "upvotes",
        list: Annotated[
            Literal["curated", "all"] | None,
            Field(
                description="curated (submitted and picked) or all (everything harvested); the site's default."
            ),
        ] = None,
        category: Annotated[str | None, Field(description="arXiv categories, comma-separated.")] = None,
        limit: Limit = 20,
    ) -> CallToolResult:
        """The daily, weekly or monthly list of papers, as on the site's front page."""
        try:
            selection = feed.selection_of(
                feed.parse_list(list, self.settings.default_list), feed.parse_categories(category)
            )
            sort_order = feed.parse_sort(sort)
        except ValueError as exc:
            raise ToolError(str(exc)) from None
        day = _day(date, "date")
        chosen = feed.period_of(period, day) if day else feed.latest_period(self.db, period, selection)
        page = feed.feed_page(self.db, chosen, sort_order, 0, limit, selection)
        return self._papers(
            f"{page.period.label} ({'curated' if selection.curated else 'all'}, by {sort}): "
            f"{page.total} papers, showing {len(page.papers)}",
            page.papers,
            period=page.period.key,
            total=page.total,
        )

    def get_paper(self, paper_id: PaperIdArg) -> CallToolResult:
        """One paper: its metadata and its Markdown (title, authors, links, abstract)."""
        paper = self._paper(paper_id)
        text = paper_markdown(paper, self.settings.base_url, fulltext_store.markdown(self.db, paper.id))
        return _answer(text, {**self.paper_facts(paper), "abstract": paper.abstract, "markdown": text})

    def similar_papers(self, paper_id: PaperIdArg, limit: Limit = 6) -> CallToolResult:
        """Papers nearest in meaning to one paper."""
        paper = self._paper(paper_id)
        results = self._searcher().similar(paper.id, limit)
        return self._papers(
            f"Papers similar to {paper.id}: {len(results)}",
            [r.paper for r in results],
            [r.score for r in results],
        )

    def organization_papers(
        self,
        name: Annotated[str, Field(max_length=96, description="The organization's short name.")],
        limit: Limit = 20,
    ) -> CallToolResult:
        """The papers an organization publishes, newest first."""
        found = org_store.org_by_name(self.db, name)
        if found is None:
            raise ToolError(f"there is no organization {name!r}")
        org_id, org = found
        papers = paper_store.organization_papers(self.db, org_id, limit)
        return self._papers(
            f"Papers of {org.fullname} ({org.name}): {len(papers)}", papers, organization=org.name
        )

    def author_papers(
        self,
        name: Annotated[
            str, Field(min_length=1, max_length=200, description="The author's name as on arXiv.")
        ],
        limit: Limit = 20,
    ) -> CallToolResult:
        """The papers with an author of exactly this name, newest first."""
        papers = paper_store.author_papers(self.db, name.strip(), limit)
        return self._papers(f"Papers by {name.strip()}: {len(papers)}", papers, author=name.strip())

    def get_collection(
        self, ctx: Context, collection_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    ) -> CallToolResult:
        """A public collection (or one of your own, with your token): its papers and notes."""
        found = collection_store.collection(self.db, collection_id)
        if found is not None and not found.is_public:
            owner = self.member(ctx, write=False).name if _has_token(ctx, self.settings) else None
            found = found if owner == found.owner else None
        if found is None:
            raise ToolError(f"there is no public collection {collection_id}")
        items = collection_store.items(self.db, found.id)
        answer = self._papers(
            f"Collection {found.id} {found.name!r} by {found.owner}: {len(items)} papers"
            + (f"\n{found.description}" if found.description else ""),
            [i.paper for i in items],
            **_collection_facts(found),
        )
        assert answer.structured_content is not None
        for facts, item in zip(answer.structured_content["papers"], items, strict=True):
            facts["note"] = item.note
        return answer

    # -- personal and write tools ------------------------------------------------------------------------

    def my_collections(self, ctx: Context) -> CallToolResult:
        """Your collections, private ones included (needs a member's token)."""
        user = self.member(ctx, write=False)
        found = collection_store.user_collections(self.db, user.id, include_private=True)
        lines = [f"Collections of {user.name}: {len(found)}"] + [
            f"- {c.id}: {c.name} ({'public' if c.is_public else 'private'})" for c in found
        ]
        return _answer("\n".join(lines), {"collections": [_collection_facts(c) for c in found]})

    def for_you(
        self,
        ctx: Context,
        limit: Limit = 20,
        since: Annotated[str | None, Field(description="First feed day, YYYY-MM-DD.")] = None,
        until: Annotated[str | None, Field(description="Last feed day, YYYY-MM-DD.")] = None,
        include_seen: bool = False,
    ) -> CallToolResult:
        """Your For-you list (needs a member's token): the period's papers ranked for you from your upvotes,
        collections, "more / less like this", claimed papers and follows, each with its reason. Default
        period: the latest seven feed days with papers; papers you have seen or liked are left out unless
        include_seen=true. The same ranking as /for-you."""
        user = self.member(ctx, write=False)
        try:
            win = foryou.window(self.db, _day(since, "since"), _day(until, "until"))
        except foryou.BadWindow as exc:
            raise ToolError(str(exc)) from None
        if win is None:
            return _answer("No papers on this site yet.", {"papers": []})
        found = foryou.for_you(
            self.db,
            self.settings.embedding_model,
            user.id,
            win,
            limit=limit,
            include_seen=include_seen,
            now=datetime.now(UTC),
        )
        facts = [{**self.paper_facts(p.paper), "reason": p.reason} for p in found.picks]
        lines = [f"For {user.name}, {win.label}: {len(facts)} of {found.total} papers"] + [
            f"{self._line(n, f)}\n   why: {f['reason']}" for n, f in enumerate(facts, 1)
        ]
        if not facts:
            lines.append("Nothing new in this period (include_seen=true shows what you have seen).")
        return _answer(
            "\n".join(lines),
            {
                "since": win.start.isoformat(),
                "until": win.end.isoformat(),
                "total": found.total,
                "papers": facts,
            },
        )

    def add_to_collection(
        self,
        ctx: Context,
        collection_id: Annotated[int, Field(ge=1, le=2**31 - 1)],
        paper_id: PaperIdArg,
        note: Annotated[str, Field(max_length=500)] = "",
    ) -> CallToolResult:
        """Add a paper to one of your collections, with an optional note (needs a write token)."""
        user = self.member(ctx, write=True)
        if collection_store.owner_id(self.db, collection_id) != user.id:
            raise ToolError(f"collection {collection_id} is not one of yours (see my_collections)")
        paper = self._paper(paper_id)
        collection_store.put_item(self.db, collection_id, paper.id, note.strip(), datetime.now(UTC))
        return _answer(
            f"Added {paper.id} to collection {collection_id}.",
            {"collectionId": collection_id, "paperId": paper.id, "note": note.strip()},
        )

    def upvote(self, ctx: Context, paper_id: PaperIdArg, remove: bool = False) -> CallToolResult:
        """Upvote a paper, or take your upvote back with remove=true (needs a write token)."""
        user = self.member(ctx, write=True)
        paper = self._paper(paper_id)
        self._limit("upvote", user)
        if remove:
            _, count = vote_store.remove_upvote(self.db, user.id, paper.id)
        else:
            _, count = vote_store.upvote(self.db, user.id, paper.id, datetime.now(UTC))
        verb = "Removed your upvote from" if remove else "Upvoted"
        return _answer(
            f"{verb} {paper.id}: {count} upvotes.", {"id": paper.id, "upvotes": count, "upvoted": not remove}
        )

    def comment(
        self,
        ctx: Context,
        paper_id: PaperIdArg,
        body: Annotated[str, Field(min_length=1, max_length=10_000, description="Markdown; $…$ for math.")],
        parent_id: Annotated[
            int | None, Field(ge=1, le=2**31 - 1, description="Reply to this comment.")
        ] = None,
    ) -> CallToolResult:
        """Comment on a paper, or reply to a top-level comment (needs a write token)."""
        user = self.member(ctx, write=True)
        paper = self._paper(paper_id)
        try:
            text = markdown.check_body(body)
        except markdown.BadBody as exc:
            raise ToolError(f"body: {exc}") from None
        self._limit("comment", user)
        try:
            made = comment_store.add_comment(
                self.db,
                paper.id,
                user.id,
                text,
                markdown.render(text),
                datetime.now(UTC),
                parent_id,
                markdown.mentions(text),
            )
        except comment_store.CommentError as exc:
            raise ToolError(str(exc)) from None
        url = f"{paper_url(self.settings.base_url, paper.id)}#comment-{made.id}"
        return _answer(
            f"Commented on {paper.id} as {user.name}: {url}",
            {"id": made.id, "paperId": paper.id, "parentId": made.parent_id, "author": user.name, "url": url},
        )

    # -- resources ---------------------------------------------------------------------------------------

    def paper_resource(self, paper_id: str) -> str | None:
        """A paper as Markdown, or None when it is not here."""
        found = feed.find_paper(self.db, paper_id)
        if found is None:
            return None
        return paper_markdown(found, self.settings.base_url, fulltext_store.markdown(self.db, found.id))

    # The tools in the order clients list them: reads, then the member's.
    def all(self) -> list[Callable[..., CallToolResult]]:
        return [
            self.search_papers,
            self.list_papers,
            self.get_paper,
            self.similar_papers,
            self.organization_papers,
            self.author_papers,
            self.get_collection,
            self.my_collections,
            self.for_you,
            self.add_to_collection,
            self.upvote,
            self.comment,
        ]


WRITES = {"add_to_collection", "upvote", "comment"}


def _answer(text: str, structured: dict[str, Any]) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def _collection_facts(c: Collection) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "owner": c.owner, "public": c.is_public, "description": c.description}


def _has_token(ctx: Context, settings: Settings) -> bool:
    headers = ctx.headers
    if headers is not None:
        return headers.get("authorization", "").lower().startswith("bearer ")
    return bool(settings.token.get_secret_value())
