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
additions. Responses are built as plain dicts (much cheaper than validating every paper); the pydantic
models of ``web/schemas.py`` document the shapes in ``/openapi.json``, and a test checks the two agree.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
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
