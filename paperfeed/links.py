"""Code links: a paper's code repository (GitHub, GitLab or Hugging Face) and project page, found in the
text arXiv gives us (abstract, then the comments field) or set by a member who may (its claimed authors,
its organization's admins, the site's admins). Pure functions, no I/O: ingest calls ``find_links`` on every
stored paper, the web checks a member's URL with ``repository`` / ``project_page`` and ``may_set_links``.

Repositories are kept in one canonical spelling (``https://github.com/owner/name``: no ``.git``, no
trailing dot from the end of a sentence, no ``/tree/main/…``), so two papers naming the same repository
share its stars.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

# A URL as written in an abstract: up to whitespace or a closing bracket/quote.
_URL = re.compile(r"(?:https?://)?(?:www\.)?[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?:/[^\s<>()\[\]{}\"'`,;]*)?", re.I)
# What every match of _URL contains (a dot, then the top-level domain's first two letters). Most abstracts
# have none, and looking for it costs a hundredth of running _URL over the text, which tries a match at
# every character: that was half the time of importing real text (#18). See _urls.
_MAYBE_URL = re.compile(r"\.[A-Za-z]{2}", re.I)
_SPACE = re.compile(r"\s")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_HF_KINDS = ("datasets", "spaces")
# Paths under github.com / huggingface.co that are not a repository's owner.
_NOT_OWNERS = frozenset(
    {"orgs", "topics", "features", "about", "settings", "marketplace", "sponsors", "papers", "docs", "blog",
     "collections", "models", "login", "join"}
)  # fmt: skip
_PROJECT_CUE = re.compile(r"(project|demo|home)\s*(page|site|website)\b|\bwebsite\b", re.I)

HOSTS = ("github.com", "gitlab.com", "huggingface.co")


@dataclass(frozen=True, slots=True)
class Found:
    repo: str | None
    project_page: str | None
    source: str  # abstract | comments | fulltext


def _trim(segment: str) -> str:
    """A path segment without the sentence's end: 'Repo.' → 'Repo', 'Repo.git.' → 'Repo'."""
    segment = segment.rstrip(".:!?")
    if segment.lower().endswith(".git"):
        segment = segment[:-4].rstrip(".")
    return segment


def repository(url: str) -> str | None:
    """The canonical URL of the code repository ``url`` names, or None when it names none."""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower().removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if host not in HOSTS or not segments:
        return None
    if host == "huggingface.co" and segments[0] in _HF_KINDS:
        kind, segments = segments[0] + "/", segments[1:]
    else:
        kind = ""
    if host == "gitlab.com" and "-" in segments:  # /group/sub/project/-/tree/main
        segments = segments[: segments.index("-")]
    elif host == "gitlab.com":
        segments = segments[:3] if len(segments) > 2 and segments[2] not in ("tree", "blob") else segments[:2]
    else:
        segments = segments[:2]
    segments = [_trim(s) for s in segments]
    if len(segments) < 2 or not all(s and _NAME.fullmatch(s) for s in segments):
        return None
    if segments[0].lower() in _NOT_OWNERS:
        return None
    return f"https://{host}/{kind}{'/'.join(segments)}"


def github_name(repo: str | None) -> str | None:
    """'owner/name' of a GitHub repository URL (the REST API's path), else None."""
    if not repo or not repo.startswith("https://github.com/"):
        return None
    return repo.removeprefix("https://github.com/")


def project_page(url: str) -> str | None:
    """An http(s) URL as given (without the sentence's trailing dot), or None."""
    text = url.strip().rstrip(".:!?")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or "." not in parts.hostname:
        return None
    return text


def _links_in(text: str) -> tuple[str | None, str | None]:
    repos: list[str] = []
    page = None
    for match in _urls(text):
        raw = match.group(0)
        if (repo := repository(raw)) is not None:
            repos.append(repo)
            continue
        host = (urlsplit(raw if "://" in raw else "https://" + raw).hostname or "").lower()
        before = text[max(0, match.start() - 40) : match.start()]
        if page is None and (host.endswith(".github.io") or _PROJECT_CUE.search(before)):
            page = project_page(raw)
    # A GitHub repository first (it has stars), else the first one named.
    github = [r for r in repos if r.startswith("https://github.com/")]
    return next(iter(github or repos), None), page


def _urls(text: str) -> Iterator[re.Match[str]]:
    """The matches of _URL in ``text``, as ``_URL.finditer(text)`` gives them, found by running _URL only
    over the words (runs of non-whitespace) that hold a ``.xx``: a match holds no whitespace and one such
    ``.xx`` at least, and _URL has no anchor or lookbehind that would see past a word's ends."""
    end = 0
    while hint := _MAYBE_URL.search(text, end):
        start = hint.start()
        while start > end and not text[start - 1].isspace():  # back to the word's first character
            start -= 1
        space = _SPACE.search(text, hint.end())
        end = space.start() if space else len(text)
        yield from _URL.finditer(text, start, end)


def find_links(abstract: str, comments: str | None) -> Found | None:
    """The repository and project page the abstract names, else those arXiv's comments field names."""
    repo, page = _links_in(abstract)
    if repo or page:
        more_repo, more_page = _links_in(comments or "")
        return Found(repo or more_repo, page or more_page, "abstract")
    repo, page = _links_in(comments or "")
    return Found(repo, page, "comments") if repo or page else None


# A repository named in the body of a paper is its own code only when the sentence says so ("our code is
# available at …"); papers name many others (baselines, tools), and the references more still.
_CODE_CUE = re.compile(
    r"\b(code|implementation|source|available|released?|open[- ]sourced?|repository)\b", re.I
)


def find_in_full_text(markdown: str) -> Found | None:
    """The repository a paper's full text (paperfeed/latexml.py's Markdown) gives as its code: a URL
    with a cue word ("code", "available", "implementation" …) in the 80 characters before it, outside the
    References; else None."""
    body = markdown.split("\n## References\n", 1)[0]
    for match in _URL.finditer(body):
        repo = repository(match.group(0))
        if repo is not None and _CODE_CUE.search(body[max(0, match.start() - 80) : match.start()]):
            return Found(repo, None, "fulltext")
    return None


def may_set_links(is_admin: bool, claimed: bool, org_admin: bool) -> bool:
    """Who may set or correct a paper's links: a site admin, an author whose claim was approved, an admin
    of the paper's organization."""
    return is_admin or claimed or org_admin
