"""A paper's code links, set or corrected by a member who may (its claimed authors, its organization's
admins, the site's admins; ``paperfeed/links.py``): ``POST /api/papers/{id}/links`` and the form on the
paper page. Nothing here asks GitHub: a new repository waits for the worker's ``github-stars`` job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from paperfeed.links import project_page, repository
from paperfeed.models import Paper, User
from paperfeed.storage import links as link_store
from paperfeed.web.bodies import (
    api_action,
    form_action,
)
from paperfeed.web.kit import (
    Refused,
    database,
    may_edit_links,
    paper_or_404,
    redirect,
)
from paperfeed.web.params import documented
from paperfeed.web.schemas import (
    LinksBody,
    PaperDetailDoc,
)
from paperfeed.web.serialize import (
    SafeJSONResponse,
    paper_detail_json,
)

MAX_URL = 500


def _url(value: Any, field: str, parse: Any, what: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > MAX_URL:
        raise Refused(400, f"{field}: expected {what} of at most {MAX_URL} characters")
    found = parse(value)
    if found is None:
        raise Refused(400, f"{field}: {value!r} is not {what}")
    return str(found)


def _set(request: Request, user: User, data: dict[str, Any], repo_field: str, page_field: str) -> Paper:
    db = database(request)
    paper = paper_or_404(db, request.path_params["paper_id"])
    if not may_edit_links(db, user, paper):
        raise Refused(
            403, "only the paper's claimed authors, its organization's admins and site admins set its links"
        )
    repo = _url(
        data.get(repo_field), repo_field, repository, "a GitHub, GitLab or Hugging Face repository URL"
    )
    page = _url(data.get(page_field), page_field, project_page, "an http(s) URL")
    link_store.set_links(db, paper.id, repo, page, user.id, datetime.now(UTC))
    return paper_or_404(db, paper.id)


@documented(
    "Set a paper's code repository and project page",
    "papers",
    model=PaperDetailDoc,
    member=True,
    not_found=True,
    body=LinksBody,
)
@api_action
def links_api(request: Request, user: User, body: dict[str, Any]) -> Response:
    """Set or correct a paper's links: {"githubRepo": URL, "projectPage": URL} ('' or null removes one).
    For its claimed authors, its organization's admins and site admins; imports never change them again."""
    return SafeJSONResponse(paper_detail_json(_set(request, user, body, "githubRepo", "projectPage")))


@form_action
def links_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    paper = _set(request, user, form, "repo", "project_page")
    return redirect(f"/papers/{paper.id}#code")
