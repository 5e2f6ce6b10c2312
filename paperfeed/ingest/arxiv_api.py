"""``paperfeed ingest arxiv-api``: the arXiv API (Atom): ``search_query`` listings and ``id_list`` lookups.

Entries become papers directly: the id URL carries the version ('…/abs/2607.01234v3'), ``published`` is
v1's date and ``updated`` the latest version's, categories are ``arxiv:primary_category`` first then the
other terms. The API reports bad requests as an entry whose id is '…/api/errors#…' (with HTTP 400); that
becomes an ApiError with arXiv's own words. Listings page with start/max_results until
``opensearch:totalResults``; an empty page before that is an error (the API is known to return them
spuriously), and each stored page is checkpointed, so a rerun of the same query continues after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from paperfeed.arxiv_ids import BadArxivId, parse_arxiv_id
from paperfeed.ingest.http import ArxivHTTPError, PoliteClient
from paperfeed.ingest.normalize import BadRecord, clean_text, parse_arxiv_date, record_id
from paperfeed.models import ImportReport, Paper, Version
from paperfeed.storage import Database, checkpoints
from paperfeed.storage import papers as paper_store

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
_ERROR_ID = re.compile(r"^https?://arxiv\.org/api/errors")
# Only arXiv's own categories: old responses also list MSC/ACM classes ("35", "I.2.7") as category terms.
_CATEGORY = re.compile(r"^[a-z][a-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?$")
ID_BATCH = 100  # ids per id_list request; arXiv answers long lists slowly
MAX_PAGE = 2000  # the API's own ceiling for max_results

Progress = Callable[[int, int | None], None]  # (entries seen, totalResults when known)


class ApiError(RuntimeError):
    """The API refused the request or answered something unusable; the message names the request."""


@dataclass(frozen=True, slots=True)
class ApiPage:
    papers: list[Paper]
    errors: list[str]  # entries that could not become papers, each naming its id
    total: int
    start: int
    missing: int  # entries without an id: what the old API answered for unknown ids


def parse_feed(body: bytes, where: str) -> ApiPage:
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise ApiError(f"{where}: malformed XML ({exc})") from exc
    if root.tag != f"{ATOM}feed":
        raise ApiError(f"{where}: not an Atom feed (root element {root.tag!r})")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        entry_id = _child_text(entry, f"{ATOM}id") or ""
        if _ERROR_ID.match(entry_id):
            summary = clean_text(_child_text(entry, f"{ATOM}summary") or "") or entry_id
            raise ApiError(f"{where}: arXiv API error: {summary} ({entry_id})")
    total = _opensearch_int(root, "totalResults", where)
    start = _opensearch_int(root, "startIndex", where)
    papers: list[Paper] = []
    errors: list[str] = []
    missing = 0
    for entry in entries:
        if not _child_text(entry, f"{ATOM}id"):
            missing += 1
            continue
        try:
            papers.append(paper_from_entry(entry))
        except BadRecord as exc:
            errors.append(f"{where}: {exc}")
    return ApiPage(papers, errors, total, start, missing)


def paper_from_entry(entry: Element) -> Paper:
    raw_id = clean_text(_child_text(entry, f"{ATOM}id") or "")
    paper_id, version = record_id(raw_id)
    if version is None:  # the API always names the version; guessing v1 could hide a newer one
        raise BadRecord(f"{paper_id}: entry id {raw_id!r} has no version")
    title = clean_text(_child_text(entry, f"{ATOM}title") or "")
    abstract = clean_text(_child_text(entry, f"{ATOM}summary") or "")
    if not title:
        raise BadRecord(f"{paper_id}: missing field 'title'")
    if not abstract:
        raise BadRecord(f"{paper_id}: missing field 'summary'")
    names = (clean_text(_child_text(a, f"{ATOM}name") or "") for a in entry.iter(f"{ATOM}author"))
    authors = [n for n in names if n]
    if not authors:
        raise BadRecord(f"{paper_id}: missing field 'author'")
    published = _date(entry, "published", paper_id)
    updated = _date(entry, "updated", paper_id)
    number = version
    # The API gives the dates of v1 and of the latest version only; the ones between stay unknown.
    versions = [Version(1, published)] if published else []
    if number > 1 and updated:
        versions.append(Version(number, updated))
    return Paper(
        id=paper_id,
        title=title,
        abstract=abstract,
        authors=authors,
        categories=_categories(entry),
        versions=versions,
        version=number,
        published_at=published,
        updated_at=updated or published,
        comments=_optional(entry, f"{ARXIV}comment"),
        journal_ref=_optional(entry, f"{ARXIV}journal_ref"),
        doi=_optional(entry, f"{ARXIV}doi"),
    )


def _categories(entry: Element) -> list[str]:
    primary = entry.find(f"{ARXIV}primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [c.get("term", "") for c in entry.findall(f"{ATOM}category")]
    seen: dict[str, None] = {}
    for term in terms:
        term = term.strip()
        if term and _CATEGORY.match(term):
            seen.setdefault(term, None)
    return list(seen)


class ArxivApi:
    """Requests against one API endpoint through a PoliteClient (which spaces them)."""

    def __init__(self, client: PoliteClient, endpoint: str) -> None:
        self.client = client
        self.endpoint = endpoint

    def page(self, params: dict[str, str]) -> ApiPage:
        try:
            # A 400 carries an Atom error entry saying what was wrong: parse it, don't fail on the status.
            response = self.client.get(self.endpoint, params, ok=(200, 400))
        except ArxivHTTPError as exc:
            raise ApiError(str(exc)) from exc
        where = f"GET {response.url}"
        page = parse_feed(response.content, where)
        if response.status_code != 200:
            raise ApiError(f"{where}: HTTP {response.status_code} without an error entry")
        return page

    def search(
        self, query: str, max_results: int | None = None, page_size: int = 100, start: int = 0,
        sort_by: str = "submittedDate", sort_order: str = "descending",
    ) -> Iterator[ApiPage]:  # fmt: skip
        """The pages of a search_query listing, from ``start``, up to ``max_results`` entries in all."""
        if not 0 < page_size <= MAX_PAGE:
            raise ApiError(f"page size must be between 1 and {MAX_PAGE}, got {page_size}")
        position = start
        total: int | None = None
        while (total is None or position < total) and (max_results is None or position - start < max_results):
            size = page_size if max_results is None else min(page_size, max_results - (position - start))
            params = {
                "search_query": query, "start": str(position), "max_results": str(size),
                "sortBy": sort_by, "sortOrder": sort_order,
            }  # fmt: skip
            page = self.page(params)
            total = page.total
            count = len(page.papers) + len(page.errors) + page.missing
            if count == 0:
                if position < total:
                    raise ApiError(
                        f"search_query={query!r} start={position}: an empty page although totalResults is "
                        f"{total}; rerun to continue from here"
                    )
                return
            yield page
            position += count

    def lookup(self, ids: Sequence[str]) -> tuple[list[Paper], list[str]]:
        """Papers for these ids (version-less), and errors (unknown ids, bad entries) naming each id."""
        found: list[Paper] = []
        errors: list[str] = []
        for batch in _chunks(list(dict.fromkeys(ids)), ID_BATCH):
            page = self.page({"id_list": ",".join(batch), "max_results": str(len(batch))})
            found += page.papers
            errors += page.errors
            got = {p.id for p in page.papers}
            errors += [f"{i}: not found on arXiv" for i in batch if i not in got and not _named(i, errors)]
        return found, errors


def ingest_query(
    db: Database,
    api: ArxivApi,
    query: str,
    max_results: int | None = None,
    page_size: int = 100,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Store every page of a listing as it arrives, with the position reached in the same transaction, so a
    rerun of the same query continues after the last stored page; a finished listing starts over."""
    source = f"arxiv-api {api.endpoint} search_query={query} max={max_results} sort=submittedDate-desc"
    start = checkpoints.line_reached(db, source)
    report = ImportReport()
    remaining = None if max_results is None else max(max_results - start, 0)
    position = start
    for page in api.search(query, remaining, page_size, start=start):
        count = len(page.papers) + len(page.errors) + page.missing
        position += count
        mark = partial(checkpoints.reach_line, source=source, line=position)
        counts = paper_store.upsert_papers(db, page.papers, now or datetime.now(UTC), also=mark)
        report += ImportReport(count, counts.inserted, counts.updated, counts.unchanged, page.errors)
        if progress:
            progress(position, page.total if max_results is None else min(page.total, max_results))
    checkpoints.forget(db, source)
    return report


def ingest_ids(
    db: Database,
    api: ArxivApi,
    ids: Iterable[str],
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Fetch and store papers by id; a malformed or unknown id is a rejected record, named."""
    wanted: list[str] = []
    errors: list[str] = []
    for raw in ids:
        try:
            wanted.append(parse_arxiv_id(raw)[0])
        except BadArxivId as exc:
            errors.append(str(exc))
    report = ImportReport(read=len(wanted), errors=errors)
    done = 0
    for batch in _chunks(wanted, ID_BATCH):
        papers, problems = api.lookup(batch)
        counts = paper_store.upsert_papers(db, papers, now or datetime.now(UTC))
        report += ImportReport(0, counts.inserted, counts.updated, counts.unchanged, problems)
        done += len(batch)
        if progress:
            progress(done, len(wanted))
    return report


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _named(paper_id: str, errors: list[str]) -> bool:
    return any(f"{paper_id}:" in e for e in errors)


def _opensearch_int(root: Element, name: str, where: str) -> int:
    text = (_child_text(root, f"{OPENSEARCH}{name}") or "").strip()
    if not text.isdigit():
        raise ApiError(f"{where}: the feed has no opensearch:{name}")
    return int(text)


def _date(entry: Element, name: str, paper_id: str) -> datetime | None:
    value = (_child_text(entry, f"{ATOM}{name}") or "").strip()
    if not value:
        return None
    try:
        return parse_arxiv_date(value)
    except BadRecord as exc:
        raise BadRecord(f"{paper_id}: field '{name}': {exc}") from exc


def _optional(entry: Element, tag: str) -> str | None:
    return clean_text(_child_text(entry, tag) or "") or None


def _child_text(parent: Element, tag: str) -> str | None:
    child = parent.find(tag)
    return None if child is None else "".join(child.itertext())
