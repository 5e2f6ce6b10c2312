"""Paper → the shapes Hugging Face's papers API returns, shared by the JSON API and the feeds.

Field names and nesting follow ``huggingface.co/api/daily_papers`` and ``/api/papers/{id}`` (camelCase,
``_id`` ObjectId-like strings, ``YYYY-MM-DDTHH:MM:SS.mmmZ`` timestamps) so that ``huggingface_hub``'s
``PaperInfo`` reads them unchanged. Titles, summaries and author names have their LaTeX text-mode macros
turned into Unicode (``\\emph{x}`` → x, ``--`` → –, ``G\\"ahler`` → Gähler; ``paperfeed/tex.py``) while math
stays as written (``$O(n^2)$``), where Hugging Face returns arXiv's text untouched. ``ai_keywords`` are
keyphrases extracted offline (no model, see ``search/keyphrases.py``), ``ai_summary`` sentences of the
abstract picked offline (``paperfeed/summary.py``, labelled by ``aiSummaryMethod``); ``githubRepo`` (GitHub,
GitLab or Hugging Face), ``projectPage`` and ``githubStars`` come from ``paperfeed/links.py`` and the
worker's ``github-stars`` job, present when known; fields HF has and paperfeed cannot fill honestly yet are
left out rather than faked; ``numAuthors``, ``categories`` and ``githubRepoStatus`` are paperfeed's
additions. The pydantic models below document the shapes in ``/openapi.json`` only: responses
are built as plain dicts (much cheaper than validating every paper) and a test checks the two agree.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from paperfeed import titlecards
from paperfeed.accounts import SYSTEM_SUBMITTER
from paperfeed.models import Organization, Paper
from paperfeed.summary import extractive_summary
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


def thumbnail_url(paper: Paper) -> str | None:
    """The paper's thumbnail, served by this site (``web/media.py``) as avatars are: a relative
    ``/papers/<id>/thumbnail.webp?v=<when made>`` (a new figure, a new address), or None without one."""
    if paper.thumbnail is None:
        return None
    return f"/papers/{quote(paper.id, safe='/')}/thumbnail.webp?v={int(paper.thumbnail.made_at.timestamp())}"


def card_url(paper: Paper) -> str:
    """The paper's generated title card (``paperfeed/titlecards.py``, ``web/media.py``):
    ``/papers/<id>/card.webp?v=<hash of what it draws>``."""
    version = titlecards.version(paper.id, paper.title, paper.primary_category)
    return f"/papers/{quote(paper.id, safe='/')}/card.webp?v={version}"


def api_thumbnail_url(paper: Paper) -> str:
    """The API's ``thumbnail``, never null (Hugging Face always names an image): the figure thumbnail
    where there is one, else the title card. Cards on the pages show the figure only (``thumbnail_url``):
    they show the title already."""
    return thumbnail_url(paper) or card_url(paper)


def avatar_url(kind: str, name: str) -> str:
    """A generated identicon served by this site (``web/avatars.py``), as HF's default avatars are:
    a relative ``/avatars/<hex>.svg``, never a third party's address."""
    return f"/avatars/{object_id(kind, name)}.svg"


def user_json(username: str) -> dict[str, Any]:
    # huggingface_hub's User reads the handle from "user"; HF's own schema also carries "name".
    return {
        "_id": object_id("user", username),
        "avatarUrl": avatar_url("user", username),
        "fullname": username,
        "name": username,
        "user": username,
        "type": "user",
        "isPro": False,
    }


def submitter_json(paper: Paper) -> dict[str, Any]:
    """``submittedBy`` / ``submittedOnDailyBy``: the member who submitted the paper, else arXiv's listing
    (the paper came from an import or a harvest): HF names a submitter for every daily item, so paperfeed
    names this one, in HF's user shape, marked by paperfeed's extra ``isSystem``. Its handle is reserved
    at sign-up (``accounts.RESERVED``), so no member can pass for it."""
    if paper.submitted_by:
        return {**user_json(paper.submitted_by), "isSystem": False}
    return {**user_json(SYSTEM_SUBMITTER), "fullname": "arXiv listing", "isSystem": True}


def organization_json(org: Organization) -> dict[str, Any]:
    return {
        "_id": object_id("org", org.name),
        "name": org.name,
        "fullname": org.fullname,
        "avatarUrl": avatar_url("org", org.name),
    }


@dataclass(frozen=True, slots=True)
class Extras:
    """What a paper's JSON shows beyond the paper itself: its approved authorship claims (paper id →
    author name → the member and when the claim was approved), and which papers the signed-in reader
    upvoted (None for a visitor: the field is then left out)."""

    claimed: dict[str, dict[str, tuple[str, datetime]]] = field(default_factory=dict)
    upvoted: set[str] | None = None


NONE = Extras()


def _author(paper: Paper, i: int, name: str, extras: Extras) -> dict[str, Any]:
    out: dict[str, Any] = {
        "_id": object_id("author", paper.id, str(i)),
        "name": text_mode(name),
        "hidden": False,
    }
    claim = extras.claimed.get(paper.id, {}).get(name)
    if claim is not None:
        member, approved_at = claim
        out["user"] = user_json(member)
        out["status"] = "claimed_verified"  # HF's word for a claim its staff approved
        out["statusLastChangedAt"] = timestamp(approved_at)  # PaperAuthor.status_last_changed_at
    return out


def paper_json(paper: Paper, extras: Extras = NONE) -> dict[str, Any]:
    """The ``paper`` object of a daily item, which is also what ``/api/papers/{id}`` returns."""
    entered = paper.entered_feed_at
    out: dict[str, Any] = {
        "id": paper.id,
        "authors": [_author(paper, i, name, extras) for i, name in enumerate(paper.authors)],
        "publishedAt": timestamp(paper.published_at or entered),
        "submittedOnDailyAt": timestamp(entered),
        "title": text_mode(paper.title),
        "summary": text_mode(paper.abstract),
        "upvotes": paper.upvotes,
        "discussionId": object_id("discussion", paper.id),
        "numAuthors": paper.num_authors,  # seed cards know how many authors, not who: authors is then []
        "categories": paper.categories,
    }
    if (thumbnail := thumbnail_url(paper)) is not None:
        # HF lists a paper's figures here; paperfeed copies only the first (every figure would cost a
        # request to arXiv at its pace), made small: the thumbnail.
        out["mediaUrls"] = [thumbnail]
    if paper.summary is not None:  # abstractive, from the configured endpoint, with its provenance
        out["ai_summary"] = text_mode(paper.summary.text)
        out["aiSummaryMethod"] = "abstractive"
        out["aiSummaryModel"] = paper.summary.model
        out["aiSummaryAt"] = timestamp(paper.summary.made_at)
    elif summary := extractive_summary(paper.title, paper.abstract):
        out["ai_summary"] = text_mode(summary)  # Unicode, as summary is; math stays as written
        out["aiSummaryMethod"] = "extractive"  # sentences of the abstract, picked offline: docs/summaries.md
    if paper.keywords:
        out["ai_keywords"] = paper.keywords
    out["submittedOnDailyBy"] = submitter_json(paper)  # what paper_info() reads as submitted_by
    if paper.organization:
        out["organization"] = organization_json(paper.organization)
    if (withdrawn := paper.withdrawn_at) is not None:
        out["withdrawnAt"] = timestamp(withdrawn)
    if extras.upvoted is not None:
        out["upvoted"] = paper.id in extras.upvoted
    if (code := paper.code) is not None:
        if code.repo:
            out["githubRepo"] = code.repo
            out["githubRepoStatus"] = code.status
        if code.stars is not None:
            out["githubStars"] = code.stars
        if code.project_page:
            out["projectPage"] = code.project_page
    return out


def paper_detail_json(paper: Paper, extras: Extras = NONE) -> dict[str, Any]:
    """``/api/papers/{id}``: the paper object, plus what huggingface_hub's ``PaperInfo`` reads at the top
    level: the comment count and the thumbnail (the title card without a figure), as in a daily item."""
    return {
        **paper_json(paper, extras),
        "numComments": paper.num_comments,
        "thumbnail": api_thumbnail_url(paper),
    }


def daily_item_json(paper: Paper, extras: Extras = NONE) -> dict[str, Any]:
    """One element of ``/api/daily_papers`` (and of ``/api/papers/search``): the paper nested, and the
    feed entry's own date, title, summary, thumbnail, submitter and counters beside it, in HF's key order
    (``thumbnail`` and ``submittedBy`` never null: the title card and arXiv's listing stand in for a
    figure and a member; ``upvotes`` at the top too,
    which ``hf papers ls`` reads)."""
    item: dict[str, Any] = {
        "paper": paper_json(paper, extras),
        "publishedAt": timestamp(paper.entered_feed_at),
        "title": text_mode(paper.title),
        "summary": text_mode(paper.abstract),
        "thumbnail": api_thumbnail_url(paper),
        "numComments": paper.num_comments,
        "upvotes": paper.upvotes,
        "submittedBy": submitter_json(paper),
    }
    if paper.organization:
        item["organization"] = organization_json(paper.organization)
    item["isAuthorParticipating"] = False
    return item


def arxiv_repos_json(paper: Paper) -> dict[str, Any]:
    """``/api/arxiv/{id}/repos``: the paper's Hugging Face repository, filed by kind, and its code link."""
    out: dict[str, Any] = {"models": [], "datasets": [], "spaces": []}
    repo = paper.code.repo if paper.code else None
    if repo and repo.startswith("https://huggingface.co/"):
        path = repo.removeprefix("https://huggingface.co/")
        kind, _, name = path.partition("/")
        if kind in ("datasets", "spaces"):
            out[kind].append({"id": name, "url": repo})
        else:
            out["models"].append({"id": path, "url": repo})
    out["githubRepo"] = repo
    return out


# -- Markdown -------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _md_text(text: str) -> str:
    # Markdown passes raw HTML through, so '<' and '&' become entities: a '<script>' in a title reaches a
    # renderer as text. Markdown syntax itself is left alone: escaping '_' or '*' would mangle LaTeX.
    return _CONTROL.sub("", text).replace("&", "&amp;").replace("<", "&lt;")


def paper_markdown(paper: Paper, base_url: str, full_text: str | None = None) -> str:
    """The paper as Markdown, as ``huggingface_hub``'s ``read_paper`` returns it: title, authors, links,
    abstract (math left as written, text-mode macros as Unicode), then the full text the ``fulltext`` job
    made of arXiv's HTML (sections, LaTeX, captions, references), or a line saying there is none."""
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
    if full_text:
        lines += [full_text.rstrip(), ""]
    else:
        lines += ["*Abstract only: paperfeed has no full text of this paper (yet).*", ""]
    return "\n".join(lines)


# -- JSON response ----------------------------------------------------------------------------------------


_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


class SafeJSONResponse(JSONResponse):
    """JSON with '<', '>', '&' and the JS line separators written as \\u escapes: still the same data to
    any JSON parser, but a '</script>' inside an abstract can never close a tag if the body is ever
    embedded in a page or sniffed as HTML.

    Written by orjson: the bytes ``json.dumps(ensure_ascii=False, separators=(",", ":"))`` writes (but for
    a float's exponent: 1.5e-7, not 1.5e-07), several times faster, as every API answer is written here; by
    json for what orjson refuses (an integer over 64 bits). A float that is not a number is written null
    (json refused it)."""

    def render(self, content: Any) -> bytes:
        try:
            data = orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # orjson.JSONEncodeError: what it cannot write, json may
            data = json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        for char, escape in _ESCAPES:
            if char in data:
                data = data.replace(char, escape)
        return data


# -- documentation models (for /openapi.json) ----------------------------------------------------------


class _Doc(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class UserDoc(_Doc):
    id: str = Field(alias="_id")
    avatarUrl: str = Field(description="A generated identicon on this site (/avatars/<hex>.svg).")
    name: str = Field(description="Handle of the member who submitted the paper.")
    user: str = Field(description="Same as name (huggingface_hub reads this one).")
    fullname: str
    type: str = "user"
    isPro: bool = False


class SubmitterDoc(UserDoc):
    isSystem: bool = Field(
        description="paperfeed: true for 'arxiv' (fullname 'arXiv listing'), which stands in for a member "
        "when the paper came from arXiv's listing and nobody submitted it."
    )


class OrganizationDoc(_Doc):
    id: str = Field(alias="_id")
    name: str = Field(description="Unique handle, e.g. 'AlibabaTongyiLab'.")
    fullname: str = Field(description="Display name.")
    avatarUrl: str = Field(description="A generated identicon on this site (/avatars/<hex>.svg).")


class AuthorDoc(_Doc):
    id: str = Field(alias="_id", description="Stable id of this author entry.")
    name: str
    hidden: bool = False
    user: UserDoc | None = Field(None, description="The member whose claim to be this author was approved.")
    status: Literal["claimed_verified"] | None = None
    statusLastChangedAt: str | None = Field(None, description="When an admin approved the claim.")


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
    ai_summary: str | None = Field(
        None,
        description="One or two sentences of the abstract, picked offline, or an abstractive summary "
        "from the configured endpoint (aiSummaryMethod says which; docs/summaries.md).",
    )
    aiSummaryMethod: Literal["extractive", "abstractive"] | None = Field(
        None, description="paperfeed: how ai_summary was made (docs/summaries.md)."
    )
    aiSummaryModel: str | None = Field(None, description="paperfeed: the model of an abstractive summary.")
    aiSummaryAt: str | None = Field(None, description="paperfeed: when an abstractive summary was made.")
    ai_keywords: list[str] | None = Field(None, description="Keyphrases, extracted offline (no LLM).")
    submittedOnDailyBy: SubmitterDoc = Field(
        description="The member who submitted the paper, or the system submitter 'arxiv'."
    )
    organization: OrganizationDoc | None = None
    withdrawnAt: str | None = Field(None, description="When arXiv's record says the paper was withdrawn.")
    upvoted: bool | None = Field(
        None, description="Whether the signed-in reader upvoted it (signed in only)."
    )
    githubRepo: str | None = Field(
        None, description="The code repository (GitHub, GitLab or Hugging Face), canonical URL."
    )
    githubRepoStatus: Literal["unchecked", "ok", "empty", "missing"] | None = Field(
        None,
        description="paperfeed: what the last check of the repository found (empty or missing: flagged).",
    )
    githubStars: int | None = Field(None, description="GitHub stars at the last check (GitHub only).")
    projectPage: str | None = Field(None, description="The paper's project page.")
    mediaUrls: list[str] | None = Field(
        None, description="Figures served by this site: the first figure, made small (its thumbnail)."
    )


class PaperDetailDoc(PaperDoc):
    numComments: int
    thumbnail: str = Field(
        description="An image served by this site: the paper's first figure made small "
        "(/papers/{id}/thumbnail.webp?v=…), else a title card drawn here (/papers/{id}/card.webp?v=…)."
    )


class DailyPaperDoc(_Doc):
    paper: PaperDoc
    publishedAt: str = Field(description="When the paper entered the daily list, YYYY-MM-DDTHH:MM:SS.mmmZ.")
    title: str
    summary: str
    thumbnail: str = Field(
        description="An image served by this site: the paper's first figure made small "
        "(/papers/{id}/thumbnail.webp?v=…), else a title card drawn here (/papers/{id}/card.webp?v=…)."
    )
    numComments: int
    upvotes: int = Field(description="Same as paper.upvotes (hf papers ls reads this one).")
    submittedBy: SubmitterDoc = Field(
        description="The member who submitted it, or the system submitter 'arxiv' when none did."
    )
    organization: OrganizationDoc | None = None
    isAuthorParticipating: bool = False


class HubRepoDoc(_Doc):
    id: str = Field(description="owner/name on the Hugging Face Hub.")
    url: str


class ArxivReposDoc(_Doc):
    models: list[HubRepoDoc]
    datasets: list[HubRepoDoc]
    spaces: list[HubRepoDoc]
    githubRepo: str | None = Field(description="paperfeed: the paper's code repository, whatever its host.")


class ClaimBody(BaseModel):
    paperId: str = Field(min_length=1, max_length=64, description="The paper's arXiv id.")
    claimAuthorId: str = Field(
        min_length=1, max_length=64, description="The _id of the author entry (from /api/papers/{id})."
    )


class ClaimDoc(_Doc):
    paperId: str
    author: str
    status: Literal["pending", "approved", "rejected"]


class SearchItemDoc(DailyPaperDoc):
    highlightedTitle: str = Field(
        description="The title as HTML: the text escaped, the query's words in <mark>…</mark>."
    )
    highlightedSummary: str = Field(
        description="The summary as HTML: the text escaped, the query's words in <mark>…</mark>."
    )


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


class LinksBody(BaseModel):
    githubRepo: str | None = Field(
        None,
        max_length=500,
        description="A GitHub, GitLab or Hugging Face repository URL; '' or null removes it.",
        examples=["https://github.com/owner/name"],
    )
    projectPage: str | None = Field(
        None, max_length=500, description="An http(s) URL; '' or null removes it."
    )


class StarsDoc(_Doc):
    repo: str
    stars: int | None = Field(description="At the last check.")
    starsBefore: int | None = Field(description="At the window's start (or the first count inside it).")
    since: str | None = Field(description="When starsBefore was counted.")
    gain: int
    windowDays: int


class TrendingDoc(_Doc):
    id: str
    score: float
    upvotes: int
    recentUpvotes: int
    windowHours: int
    numComments: int
    ageHours: float
    gravityHours: float
    formula: str
    stars: StarsDoc | None = Field(
        None, description="Trending by stars: the repository's gain (docs/trending.md)."
    )


class UpvoteDoc(_Doc):
    id: str
    upvotes: int
    upvoted: bool


class WebhookBody(BaseModel):
    url: str = Field(min_length=1, max_length=2000, description="Where events are POSTed (http or https).")
    events: list[str] = Field(
        min_length=1,
        description="paper.curated, paper.new, paper.followed, comment.created, submission.created (admins).",
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
