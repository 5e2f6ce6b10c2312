"""The API's shapes as pydantic models, part of the web kit: they document the JSON answers and request
bodies in ``/openapi.json`` only. Answers are built as plain dicts by ``serialize`` (validating every paper
would cost more than building it) and request bodies are read by the kit's ``bodies`` under its cap;
tests check that what is served matches what is documented.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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
