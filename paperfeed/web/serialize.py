"""Paper → the shapes Hugging Face's papers API returns, shared by the JSON API and the feeds.

Field names and nesting follow ``huggingface.co/api/daily_papers`` and ``/api/papers/{id}`` (camelCase,
``_id`` ObjectId-like strings, ``YYYY-MM-DDTHH:MM:SS.mmmZ`` timestamps) so that ``huggingface_hub``'s
``PaperInfo`` reads them unchanged. Titles, summaries and author names have their LaTeX text-mode macros
turned into Unicode (``\\emph{x}`` → x, ``--`` → –, ``G\\"ahler`` → Gähler; ``paperfeed/tex.py``) while math
stays as written (``$O(n^2)$``), where Hugging Face returns arXiv's text untouched. ``ai_keywords`` are keyphrases extracted offline (no model, see
``search/keyphrases.py``); fields HF has and paperfeed cannot fill honestly (thumbnail, AI summary, GitHub
repository) are left out rather than faked; ``numAuthors`` and ``categories`` are
paperfeed's additions. The pydantic models below document the shapes in ``/openapi.json`` only: responses
are built as plain dicts (much cheaper than validating every paper) and a test checks the two agree.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from paperfeed.models import Organization, Paper
from paperfeed.tex import text_mode


def timestamp(value: datetime) -> str:
    """``2026-08-20T17:59:58.000Z``: JavaScript's toISOString, the one format huggingface_hub parses."""
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def object_id(*parts: str) -> str:
    """A stable 24-hex-digit id, shaped like the MongoDB ObjectIds HF uses for authors and discussions."""
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()


def paper_url(base_url: str, paper_id: str) -> str:
    """The paper's page on this site; old-style ids keep their slash (``/papers/hep-th/9901001``)."""
    return f"{base_url.rstrip('/')}/papers/{quote(paper_id, safe='/')}"


def user_json(username: str) -> dict[str, Any]:
    # huggingface_hub's User reads the handle from "user"; HF's own schema also carries "name".
    return {
        "_id": object_id("user", username),
        "fullname": username,
        "name": username,
        "user": username,
        "type": "user",
        "isPro": False,
    }


def organization_json(org: Organization) -> dict[str, Any]:
    return {"_id": object_id("org", org.name), "name": org.name, "fullname": org.fullname}


def paper_json(paper: Paper) -> dict[str, Any]:
    """The ``paper`` object of a daily item, which is also what ``/api/papers/{id}`` returns."""
    entered = paper.entered_feed_at
    out: dict[str, Any] = {
        "id": paper.id,
        "authors": [
            {"_id": object_id("author", paper.id, str(i)), "name": text_mode(name), "hidden": False}
            for i, name in enumerate(paper.authors)
        ],
        "publishedAt": timestamp(paper.published_at or entered),
        "submittedOnDailyAt": timestamp(entered),
        "title": text_mode(paper.title),
        "summary": text_mode(paper.abstract),
        "upvotes": paper.upvotes,
        "discussionId": object_id("discussion", paper.id),
        "numAuthors": paper.num_authors,  # seed cards know how many authors, not who: authors is then []
        "categories": paper.categories,
    }
    if paper.keywords:
        out["ai_keywords"] = paper.keywords
    if paper.submitted_by:
        out["submittedOnDailyBy"] = user_json(paper.submitted_by)
    if paper.organization:
        out["organization"] = organization_json(paper.organization)
    return out


def paper_detail_json(paper: Paper) -> dict[str, Any]:
    """``/api/papers/{id}``: the paper object, plus the comment count huggingface_hub reads at top level."""
    return {**paper_json(paper), "numComments": paper.num_comments}


def daily_item_json(paper: Paper) -> dict[str, Any]:
    """One element of ``/api/daily_papers`` (and of ``/api/papers/search``): the paper nested, and the
    feed entry's own date, title, summary and counters beside it, in HF's key order."""
    item: dict[str, Any] = {
        "paper": paper_json(paper),
        "publishedAt": timestamp(paper.entered_feed_at),
        "title": text_mode(paper.title),
        "summary": text_mode(paper.abstract),
        "numComments": paper.num_comments,
    }
    if paper.submitted_by:
        item["submittedBy"] = user_json(paper.submitted_by)
    if paper.organization:
        item["organization"] = organization_json(paper.organization)
    item["isAuthorParticipating"] = False
    return item


# -- Markdown -------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _md_text(text: str) -> str:
    # Markdown passes raw HTML through, so '<' and '&' become entities: a '<script>' in a title reaches a
    # renderer as text. Markdown syntax itself is left alone: escaping '_' or '*' would mangle LaTeX.
    return _CONTROL.sub("", text).replace("&", "&amp;").replace("<", "&lt;")


def paper_markdown(paper: Paper, base_url: str) -> str:
    """The paper as Markdown, as ``huggingface_hub``'s ``read_paper`` returns it: title, authors, links,
    abstract (math left as written, text-mode macros as Unicode)."""
    if paper.authors:
        authors = ", ".join(_md_text(text_mode(a)) for a in paper.authors)
    elif paper.num_authors:
        authors = f"{paper.num_authors} authors (names unknown)"
    else:
        authors = "unknown"
    lines = [f"# {_md_text(' '.join(text_mode(paper.title).split()))}", "", f"**Authors:** {authors}", ""]
    facts = []
    if paper.published_at:
        facts.append(f"**Published:** {paper.published_at.astimezone(UTC):%Y-%m-%d}")
    if paper.categories:
        facts.append(f"**Categories:** {', '.join(_md_text(c) for c in paper.categories)}")
    if paper.organization:
        facts.append(f"**Organization:** {_md_text(paper.organization.fullname)}")
    facts.append(f"**Upvotes:** {paper.upvotes}")
    lines += [" · ".join(facts), ""]
    links = [f"[paperfeed]({paper_url(base_url, paper.id)})"]
    if paper.abs_url and paper.pdf_url:
        links += [f"[arXiv]({paper.abs_url})", f"[PDF]({paper.pdf_url})"]
    if paper.doi:
        links.append(f"[DOI](https://doi.org/{quote(paper.doi, safe='/')})")
    lines += [
        f"**Links:** {' · '.join(links)}",
        "",
        "## Abstract",
        "",
        _md_text(text_mode(paper.abstract)),
        "",
    ]
    return "\n".join(lines)


# -- JSON response ----------------------------------------------------------------------------------------


class SafeJSONResponse(JSONResponse):
    """JSON with '<', '>', '&' and the JS line separators written as \\u escapes: still the same data to
    any JSON parser, but a '</script>' inside an abstract can never close a tag if the body is ever
    embedded in a page or sniffed as HTML."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        for char, escape in (
            ("<", "\\u003c"),
            (">", "\\u003e"),
            ("&", "\\u0026"),
            ("\u2028", "\\u2028"),
            ("\u2029", "\\u2029"),
        ):
            text = text.replace(char, escape)
        return text.encode()


# -- documentation models (for /openapi.json) ----------------------------------------------------------


class _Doc(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class AuthorDoc(_Doc):
    id: str = Field(alias="_id", description="Stable id of this author entry.")
    name: str
    hidden: bool = False


class UserDoc(_Doc):
    id: str = Field(alias="_id")
    name: str = Field(description="Handle of the member who submitted the paper.")
    user: str = Field(description="Same as name (huggingface_hub reads this one).")
    fullname: str
    type: str = "user"
    isPro: bool = False


class OrganizationDoc(_Doc):
    id: str = Field(alias="_id")
    name: str = Field(description="Unique handle, e.g. 'AlibabaTongyiLab'.")
    fullname: str = Field(description="Display name.")


class PaperDoc(_Doc):
    id: str = Field(description="Version-less arXiv id (2607.01234, hep-th/9901001) or card-<hex>.")
    authors: list[AuthorDoc]
    publishedAt: str = Field(description="First arXiv version, YYYY-MM-DDTHH:MM:SS.mmmZ.")
    submittedOnDailyAt: str = Field(description="When the paper entered the daily list.")
    title: str
    summary: str = Field(description="The abstract as plain text; LaTeX left as written.")
    upvotes: int
    discussionId: str
    numAuthors: int | None = Field(None, description="paperfeed: author count, also when names are unknown.")
    categories: list[str] = Field(description="paperfeed: arXiv categories, primary first.")
    ai_keywords: list[str] | None = Field(None, description="Keyphrases, extracted offline (no LLM).")
    submittedOnDailyBy: UserDoc | None = None
    organization: OrganizationDoc | None = None


class PaperDetailDoc(PaperDoc):
    numComments: int


class DailyPaperDoc(_Doc):
    paper: PaperDoc
    publishedAt: str = Field(description="When the paper entered the daily list, YYYY-MM-DDTHH:MM:SS.mmmZ.")
    title: str
    summary: str
    numComments: int
    submittedBy: UserDoc | None = None
    organization: OrganizationDoc | None = None
    isAuthorParticipating: bool = False


class ErrorDoc(BaseModel):
    error: str = Field(description="What was wrong, naming the parameter.")


# -- request bodies (documentation only: the kit reads bodies itself, under its cap) ---------------------


class CommentBody(BaseModel):
    body: str = Field(min_length=1, max_length=10_000, description="Markdown (no raw HTML, no images).")
    parentId: int | None = Field(None, ge=1, le=2**31 - 1, description="Reply to this top-level comment.")


class SubmitBody(BaseModel):
    arxivId: str = Field(
        min_length=1, description="An arXiv id in any usual spelling.", examples=["2607.07386"]
    )


class CollectionBody(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field("", max_length=2000)
    public: bool = False


class CollectionItemBody(BaseModel):
    paperId: str = Field(min_length=1, description="The paper to add or remove.")
    note: str = Field("", max_length=2000)
    action: Literal["add", "remove"] = Field("add", description="remove takes the paper out again.")


class CollectionDoc(_Doc):
    id: int
    owner: str
    name: str
    description: str
    public: bool
    createdAt: str
    items: list[dict[str, Any]] = Field(description="Daily items, each with its note and addedAt.")


class CommentDoc(_Doc):
    id: int
    parentId: int | None
    author: UserDoc
    createdAt: str
    editedAt: str | None
    hidden: bool
    deleted: bool
    raw: str = Field(description="The Markdown as written ('' when hidden or deleted).")
    html: str = Field(description="The Markdown rendered and sanitised ('' when hidden or deleted).")


class SubmissionDoc(_Doc):
    arxivId: str
    status: Literal["pending", "done", "failed"]
    message: str | None = Field(None, description="Why it failed, or what the last try met.")
    submittedBy: str
    submittedAt: str
    updatedAt: str


class UpvoteDoc(_Doc):
    id: str
    upvotes: int
    upvoted: bool


class WebhookBody(BaseModel):
    url: str = Field(min_length=1, max_length=2000, description="Where events are POSTed (http or https).")
    events: list[str] = Field(
        min_length=1,
        description="paper.curated, paper.new, comment.created, submission.created (admins).",
        examples=[["paper.curated"]],
    )
    categories: list[str] = Field([], description="For paper.new: arXiv categories, e.g. cs.CL.")
    format: str = Field("json", description="json (the signed event), slack (blocks) or discord (embeds).")


class WebhookDoc(_Doc):
    id: int
    url: str
    events: list[str]
    categories: list[str]
    format: str
    createdAt: str
    enabled: bool
    failures: int = Field(description="Failed deliveries in a row (reset by a success).")
    lastStatus: str | None = Field(description="The last delivery's outcome: 'HTTP 200', 'unreachable: …'.")
    lastAt: str | None
    secret: str | None = Field(None, description="whsec_…: only in the answer that created the endpoint.")
