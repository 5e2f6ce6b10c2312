"""``paperfeed ingest oai``: OAI-PMH ``ListRecords`` harvesting of arXiv, page by page, resumable.

``arXivRaw`` (the default) carries every version with its date, the submitter and the authors string:
exactly a line of the metadata snapshot, so each record becomes a snapshot dict and goes through
``normalize.paper_from_snapshot``. ``arXiv`` is accepted too; it has no version numbers, so its papers are
stored as v1 until a richer source brings the real version.

Each page's papers and the resumption token of the next page commit in one transaction (``harvests``),
so a kill at any point followed by a rerun with the same parameters continues after the last stored page
and ends where an uninterrupted run would. Strict about truncation: a page without records is an error
unless it is ``noRecordsMatch`` on the first request, because a list that silently ends early loses papers.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from paperfeed.ingest.http import ArxivHTTPError, PoliteClient
from paperfeed.ingest.normalize import BadRecord, paper_from_snapshot
from paperfeed.models import ImportReport, Paper
from paperfeed.storage import Database, harvests, leases
from paperfeed.storage import papers as paper_store

OAI = "{http://www.openarchives.org/OAI/2.0/}"
RAW = "{http://arxiv.org/OAI/arXivRaw/}"
ARXIV = "{http://arxiv.org/OAI/arXiv/}"
PREFIXES = ("arXivRaw", "arXiv")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Progress = Callable[[int, int | None], None]  # (records seen so far, completeListSize when known)


class HarvestError(RuntimeError):
    """The harvest stopped; the message names the page and its URL. Pages before it stay stored."""


class BadWindow(HarvestError):
    """The parameters are wrong (a date, the format): nothing was requested."""


class HarvestBusy(HarvestError):
    """Another process is harvesting the same window right now: nothing was requested."""


@dataclass(frozen=True, slots=True)
class OaiRecord:
    identifier: str  # oai:arXiv.org:0704.0001
    fields: dict[str, Any] | None  # the snapshot-shaped record; None when the record has no metadata


@dataclass(frozen=True, slots=True)
class OaiPage:
    records: list[OaiRecord] = field(default_factory=list)
    deleted: int = 0
    token: str | None = None  # None or empty: the list is complete
    cursor: int | None = None
    complete_list_size: int | None = None
    error_code: str | None = None  # an OAI-PMH <error code="…">
    error_text: str = ""


@dataclass(frozen=True, slots=True)
class HarvestResult:
    report: ImportReport
    deleted: int  # <header status="deleted"> records skipped
    pages: int  # pages fetched by this run
    resumed_from: str | None  # the stored token this run started from, if it continued an earlier one
    harvest_id: int


def parse_page(body: bytes, metadata_prefix: str, where: str) -> OaiPage:
    """One ListRecords response → records (as snapshot dicts), deleted count, resumption token, error."""
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise HarvestError(f"{where}: malformed XML ({exc})") from exc
    if root.tag != f"{OAI}OAI-PMH":
        raise HarvestError(f"{where}: not an OAI-PMH response (root element {root.tag!r})")
    error = root.find(f"{OAI}error")
    if error is not None:
        return OaiPage(error_code=error.get("code", "unknown"), error_text=_text(error))
    listing = root.find(f"{OAI}ListRecords")
    if listing is None:
        raise HarvestError(f"{where}: OAI-PMH response without ListRecords")
    records: list[OaiRecord] = []
    deleted = 0
    for record in listing.findall(f"{OAI}record"):
        header = record.find(f"{OAI}header")
        if header is None:
            raise HarvestError(f"{where}: a record without a header")
        identifier = _child_text(header, f"{OAI}identifier") or "(no identifier)"
        if header.get("status") == "deleted":
            deleted += 1
            continue
        datestamp = _child_text(header, f"{OAI}datestamp")
        metadata = record.find(f"{OAI}metadata")
        records.append(OaiRecord(identifier, _fields(metadata, metadata_prefix, datestamp)))
    token_el = listing.find(f"{OAI}resumptionToken")
    token = _text(token_el).strip() if token_el is not None else ""
    return OaiPage(
        records=records,
        deleted=deleted,
        token=token or None,
        cursor=_int(token_el, "cursor"),
        complete_list_size=_int(token_el, "completeListSize"),
    )


def _fields(metadata: Element | None, prefix: str, datestamp: str | None) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if prefix == "arXivRaw":
        raw = metadata.find(f"{RAW}arXivRaw")
        return None if raw is None else _from_arxiv_raw(raw, datestamp)
    meta = metadata.find(f"{ARXIV}arXiv")
    return None if meta is None else _from_arxiv(meta, datestamp)


def _from_arxiv_raw(raw: Element, datestamp: str | None) -> dict[str, Any]:
    """arXivRaw → a snapshot line: same field names ('journal-ref', 'report-no' …), versions as
    [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}, …]."""
    record: dict[str, Any] = {
        name: _child_text(raw, f"{RAW}{name}")
        for name in (
            "id", "submitter", "authors", "title", "comments", "journal-ref", "doi", "report-no",
            "categories", "license", "abstract",
        )
    }  # fmt: skip
    record["versions"] = [
        {"version": v.get("version"), "created": _child_text(v, f"{RAW}date")}
        for v in raw.findall(f"{RAW}version")
    ]
    record["update_date"] = datestamp
    return record


def _from_arxiv(meta: Element, datestamp: str | None) -> dict[str, Any]:
    """arXiv (no versions): 'created' stands in for v1; authors come split, as the snapshot's
    authors_parsed ([last, first, suffix])."""
    record: dict[str, Any] = {
        name: _child_text(meta, f"{ARXIV}{name}")
        for name in (
            "id", "title", "comments", "journal-ref", "doi", "report-no", "categories", "license", "abstract",
        )
    }  # fmt: skip
    record["authors_parsed"] = [
        [_child_text(author, f"{ARXIV}{part}") or "" for part in ("keyname", "forenames", "suffix")]
        for author in meta.iterfind(f"{ARXIV}authors/{ARXIV}author")
    ]
    created = _child_text(meta, f"{ARXIV}created")
    record["versions"] = [{"version": "v1", "created": created}] if created else None
    record["update_date"] = _child_text(meta, f"{ARXIV}updated") or datestamp
    return record


def harvest(
    db: Database,
    client: PoliteClient,
    endpoint: str,
    from_date: str,
    until_date: str = "",
    set_spec: str = "",
    metadata_prefix: str = "arXivRaw",
    restart: bool = False,
    progress: Progress | None = None,
    now: Callable[[], datetime] | None = None,
    holder: str | None = None,
    lease_seconds: float = 30.0,
) -> HarvestResult:
    """Harvest ListRecords for the window, continuing an unfinished harvest of the same window unless
    ``restart``. Raises HarvestError (after recording it on the harvest) when a page cannot be used.
    ``now`` is a clock rather than an instant: a harvest runs for hours and stamps each page.

    One process at a time per window, on any machine: the window's lease (``holder`` names this
    process, node:pid) is held for the whole run, renewed by a heartbeat and inside every page's
    transaction; HarvestBusy when another live process holds it. A harvester killed mid-run leaves its
    lease to expire (or, on the same node, to be taken over at once) and its token for the next one."""
    _check_window(from_date, until_date, metadata_prefix)
    window = (endpoint, metadata_prefix, set_spec, from_date, until_date)
    name = f"harvest:{metadata_prefix}:{set_spec}:{from_date}:{until_date}@{endpoint}"
    try:
        with leases.hold(db, name, holder or leases.holder_name(), lease_seconds) as held:
            return _harvest_held(db, client, window, held, restart, progress, now)
    except leases.LeaseBusy as exc:
        raise HarvestBusy(f"another process is harvesting this window: {exc}") from None


def _harvest_held(
    db: Database,
    client: PoliteClient,
    window: tuple[str, str, str, str, str],
    held: leases.Held,
    restart: bool,
    progress: Progress | None,
    now: Callable[[], datetime] | None,
) -> HarvestResult:
    endpoint, metadata_prefix, set_spec, from_date, until_date = window
    clock = now or (lambda: datetime.now(UTC))
    current = None if restart else harvests.unfinished_harvest(db, *window)
    if current is None:
        current = harvests.start_harvest(db, *window, now=clock())
    else:
        harvests.resume_harvest(db, current.id, now=clock())
    token = current.resumption_token
    run = _Run(db, client, current.id, endpoint, metadata_prefix, progress, clock, seen=current.records)
    run.held = held
    try:
        run.pages(current.pages, token, {"from": from_date, "until": until_date, "set": set_spec})
    except leases.LeaseLost:
        raise  # the row is the new holder's now: leave it alone
    except HarvestError as exc:
        harvests.fail_harvest(db, current.id, str(exc), now=clock())
        raise
    except BaseException as exc:  # Ctrl-C, a database error: say so on the row, then let it propagate
        with contextlib.suppress(Exception):  # the original error matters more than this note
            harvests.fail_harvest(db, current.id, f"interrupted: {type(exc).__name__}: {exc}", now=clock())
        raise
    return HarvestResult(run.report, run.deleted, run.fetched, token, current.id)


class _Run:
    """The page loop of one harvest run, with its running totals."""

    def __init__(
        self,
        db: Database,
        client: PoliteClient,
        harvest_id: int,
        endpoint: str,
        prefix: str,
        progress: Progress | None,
        clock: Callable[[], datetime],
        seen: int,
    ) -> None:
        self.db, self.client, self.harvest_id = db, client, harvest_id
        self.endpoint, self.prefix = endpoint, prefix
        self.progress, self.clock, self.seen = progress, clock, seen
        self.report = ImportReport()
        self.deleted = 0
        self.fetched = 0
        self.held: leases.Held | None = None

    def pages(self, stored_pages: int, token: str | None, window: dict[str, str]) -> None:
        number = stored_pages
        while True:
            number += 1
            if self.held is not None and self.held.lost.is_set():
                raise leases.LeaseLost(f"page {number}: {self.held.name} was taken over by another worker")
            if token:
                params = {"verb": "ListRecords", "resumptionToken": token}
            else:
                params = {"verb": "ListRecords", "metadataPrefix": self.prefix}
                params.update({k: v for k, v in window.items() if v})
            try:
                response = self.client.get(self.endpoint, params)
            except ArxivHTTPError as exc:
                raise HarvestError(f"page {number}: {exc}") from exc
            self.fetched += 1
            where = f"page {number} ({response.url})"
            page = parse_page(response.content, self.prefix, where)
            next_token = self._check(page, where, token)
            self._store(page, number, next_token)
            if next_token is None:
                return
            token = next_token

    def _check(self, page: OaiPage, where: str, token: str | None) -> str | None:
        if page.error_code == "noRecordsMatch" and token is None:
            return None  # nothing in the window: a complete, empty list
        if page.error_code == "badResumptionToken":
            raise HarvestError(
                f"{where}: arXiv rejected the resumption token ({page.error_text or 'expired?'}); "
                "start the window over with --restart"
            )
        if page.error_code:
            raise HarvestError(f"{where}: OAI-PMH error {page.error_code}: {page.error_text}")
        if not page.records and not page.deleted:
            detail = "but a resumption token" if page.token else "in the middle of the list"
            if token is None and not page.token:
                detail = "and no noRecordsMatch error"
            raise HarvestError(f"{where}: a page without records {detail}; the list is incomplete")
        if page.token is not None and page.token == token:
            raise HarvestError(f"{where}: the same resumption token came back; stopping to avoid a loop")
        return page.token

    def _store(self, page: OaiPage, number: int, next_token: str | None) -> None:
        papers: list[Paper] = []
        errors: list[str] = []
        for record in page.records:
            try:
                if record.fields is None:
                    raise BadRecord(f"{record.identifier}: no {self.prefix} metadata")
                papers.append(paper_from_snapshot(record.fields))
            except BadRecord as exc:
                errors.append(f"page {number}: {exc}")
        now = self.clock()
        count = len(page.records)

        def progress_marker(conn: Any) -> None:
            if self.held is not None:  # commit this page only while the window is still ours
                self.held.renew_in(conn)
            if next_token is None:
                harvests.finish_harvest(conn, self.harvest_id, count, now)
            else:
                harvests.record_page(conn, self.harvest_id, next_token, count, now)

        counts = paper_store.upsert_papers(self.db, papers, now, also=progress_marker)
        self.report += ImportReport(count, counts.inserted, counts.updated, counts.unchanged, errors)
        self.deleted += page.deleted
        items = count + page.deleted
        self.seen = page.cursor + items if page.cursor is not None else self.seen + items
        if self.progress:
            self.progress(self.seen, page.complete_list_size)


def next_window(
    db: Database, endpoint: str, metadata_prefix: str, set_spec: str, first_day: str, today: date
) -> tuple[str, str] | None:
    """The window a scheduled harvest should work on: the latest one if it did not finish (a dead
    worker's, continued from its token), else from the day after the last finished window (or
    ``first_day``, default yesterday) to yesterday; None when that is empty (up to date)."""
    yesterday = today - timedelta(days=1)
    latest = harvests.latest_harvest(db, endpoint, metadata_prefix, set_spec)
    if latest is not None and latest.status != harvests.DONE:
        return latest.from_date, latest.until_date
    if latest is None:
        start = date.fromisoformat(first_day) if first_day else yesterday
    elif latest.until_date:
        start = date.fromisoformat(latest.until_date) + timedelta(days=1)
    else:  # open-ended ('ingest oai' without --until): it covered up to the day it finished
        start = latest.updated_at.astimezone(UTC).date()
    if start > yesterday:
        return None
    return start.isoformat(), yesterday.isoformat()


def _check_window(from_date: str, until_date: str, prefix: str) -> None:
    for name, value in (("from", from_date), ("until", until_date)):
        if value and not (_DAY.match(value) and _is_date(value)):
            raise BadWindow(f"--{name} must be a date as YYYY-MM-DD, got {value!r}")
    if not from_date:
        raise BadWindow("--from is required")
    if until_date and until_date < from_date:
        raise BadWindow(f"--until {until_date} is before --from {from_date}")
    if prefix not in PREFIXES:
        raise BadWindow(f"metadata prefix {prefix!r} is not supported (use one of {', '.join(PREFIXES)})")


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _text(el: Element | None) -> str:
    return "".join(el.itertext()) if el is not None else ""


def _child_text(parent: Element, tag: str) -> str | None:
    child = parent.find(tag)
    return None if child is None else _text(child)


def _int(el: Element | None, attr: str) -> int | None:
    value = el.get(attr) if el is not None else None
    return int(value) if value is not None and value.strip().isdigit() else None
