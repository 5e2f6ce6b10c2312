"""Shared normalisation: every source hands us a dict shaped like a line of arXiv's metadata snapshot
(the format OAI-PMH ``arXivRaw`` also carries), and this module turns it into a ``Paper`` or says,
precisely, what is wrong with it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

from paperfeed.arxiv_ids import BadArxivId, parse_arxiv_id
from paperfeed.models import Paper, Version

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_PRINTABLE = bytes(range(0x20)) + b"\x7f"  # the ASCII characters str.isprintable() refuses
_ASCII_WHITESPACE = "\n\t\r\x0b\x0c\x1c\x1d\x1e\x1f"  # what str.split() splits on in ASCII, but " "
# Spelled out rather than calendar.month_abbr, which follows the process locale.
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}
_MONTHS_2D = {m: f"{i:02d}" for m, i in _MONTHS.items()}


_VERSION_NUMBER = attrgetter("version")


class BadRecord(ValueError):
    """A record that cannot become a paper; the message names the field and the id when known."""


def record_id(raw: str) -> tuple[str, int | None]:
    """The arXiv id (and version, when given) of a record: a malformed one rejects the record."""
    try:
        return parse_arxiv_id(raw)
    except BadArxivId as exc:
        raise BadRecord(str(exc)) from exc


def clean_text(value: str) -> str:
    """Collapse the hard line breaks and indentation arXiv keeps in titles and abstracts; drop control
    characters (invalid in XML feeds). LaTeX stays as written: the browser renders it."""
    # This runs on every field of every paper a bulk import reads (2.7M for the whole arXiv). ASCII text
    # (most of arXiv, and already NFC) whose line breaks are not indented, as in abstracts, needs no
    # splitting into words: replacing the few whitespace characters present gives the same as
    # " ".join(value.split()), three times faster on a 200-word abstract.
    if value.isascii():
        if len(value) < 64:
            printable = value.isprintable()
        else:  # an abstract: deleting the unprintable bytes is several times faster than isprintable()
            raw = value.encode("ascii")
            printable = len(raw.translate(None, _NOT_PRINTABLE)) == len(raw)
        if printable:  # no control character, no whitespace but " ": the common case
            text = value.strip(" ")
            return " ".join(text.split()) if "  " in text else text
        text = value
        for space in _ASCII_WHITESPACE:
            if space in text:
                text = text.replace(space, " ")
        text = text.strip(" ")
        if "  " in text:
            text = " ".join(text.split())
    else:
        text = " ".join(unicodedata.normalize("NFC", value).split())
    return text if text.isprintable() else _CONTROL.sub("", text)


def parse_arxiv_date(value: str) -> datetime:
    """arXiv's version dates ('Mon, 2 Apr 2007 19:18:42 GMT') and ISO dates, as aware UTC datetimes."""
    fast = _rfc2822_gmt(value)
    if fast is not None:
        return fast
    try:
        if value[:1].isdigit():
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise BadRecord(f"unreadable date '{value}'") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _rfc2822_gmt(value: str) -> datetime | None:
    """The snapshot's own spelling, 'Mon, 2 Apr 2007 19:18:42 GMT', without email.utils' generality
    (this runs once per version of every paper in a bulk import)."""
    parts = value.split()
    if len(parts) != 6 or parts[5] != "GMT" or parts[2] not in _MONTHS:
        return None
    clock = parts[4]
    if len(clock) == 8 and clock[2] == ":" and clock[5] == ":":
        # Rearranged as ISO 8601 for the C parser, which checks every digit; anything else it refuses
        # goes the slower way below.
        iso = f"{parts[3]}-{_MONTHS_2D[parts[2]]}-{parts[1].zfill(2)}T{clock}+00:00"
        try:
            return datetime.fromisoformat(iso)
        except ValueError:
            pass
    try:
        hour, minute, second = clock.split(":")
        return datetime(
            int(parts[3]), _MONTHS[parts[2]], int(parts[1]), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except ValueError:
        return None


def split_authors(authors: str) -> list[str]:
    """'A. One, B. Two and C. Three' → three names. Used only when ``authors_parsed`` is absent."""
    text = clean_text(authors)
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", text)
    return [p.strip() for p in parts if p.strip()]


def _names(parsed: list[Any]) -> list[str]:
    """authors_parsed entries are [last, first, suffix]; display as "first last suffix". clean_text drops
    the spaces that empty parts leave. One loop rather than a call per author: a bulk import runs this
    for every author of every paper."""
    names = []
    for entry in parsed:
        if type(entry) is list and len(entry) == 3:
            last, first, suffix = entry
            if type(last) is str and type(first) is str and type(suffix) is str:
                name = f"{first} {last} {suffix}" if suffix else f"{first} {last}"
                # clean_text's answer for most names, a printable ASCII text with single spaces inside
                # and none at either end, without calling it.
                if not (
                    name.isascii()
                    and name.isprintable()
                    and "  " not in name
                    and name[0] != " "
                    and name[-1] != " "
                ):
                    name = clean_text(name)
            else:
                name = _name(entry)
        else:
            name = _name(entry)
        if name:
            names.append(name)
    return names


def _name(parsed: Any) -> str:
    if not isinstance(parsed, list) or not parsed or not all(isinstance(p, str) for p in parsed):
        return ""
    last, first, suffix = (*parsed, "", "")[:3]
    return clean_text(f"{first} {last} {suffix}")


def _optional(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    return None if value is None else _text(value, key)


def _text(value: Any, key: str) -> str | None:
    if not isinstance(value, str):
        raise BadRecord(f"field '{key}' must be a string, got {type(value).__name__}")
    return clean_text(value) or None


def _required(record: Mapping[str, Any], key: str, paper_id: str) -> str:
    value = _optional(record, key)
    if not value:
        raise BadRecord(f"{paper_id}: missing field '{key}'")
    return value


def _categories(value: Any) -> list[str]:
    if value is None:
        return []
    if type(value) is str and value.isascii() and value.isprintable():
        return value.split()  # what clean_text(value).split() gives for such a text
    return (_text(value, "categories") or "").split()


@lru_cache(maxsize=8192)
def _day(value: str) -> datetime | None:
    """update_date, a day: a snapshot has a few thousand distinct ones, so each is read once."""
    text = clean_text(value)
    return parse_arxiv_date(text) if text else None


def paper_from_snapshot(record: Mapping[str, Any]) -> Paper:
    """One line of ``arxiv-metadata-oai-snapshot.json`` (already json-decoded) → Paper."""
    if not isinstance(record, Mapping):
        raise BadRecord(f"expected a JSON object, got {type(record).__name__}")
    get = record.get
    raw_id = get("id")
    if not isinstance(raw_id, str) or not raw_id:
        raise BadRecord("missing field 'id'")
    paper_id, id_version = record_id(raw_id)
    title = _required(record, "title", paper_id)
    abstract = _required(record, "abstract", paper_id)
    versions = _versions(get("versions"), paper_id)
    parsed = get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        authors = _names(parsed)
    else:
        authors = split_authors(_required(record, "authors", paper_id))
    if not authors:
        raise BadRecord(f"{paper_id}: missing field 'authors'")
    categories = _categories(get("categories"))
    # The fields most records leave null are checked for it before any call (a bulk import reads 2.7M).
    update_date = get("update_date")
    updated_at = versions[-1].created if versions else None  # the later of this and update_date
    if update_date is not None:
        if not isinstance(update_date, str):
            _text(update_date, "update_date")  # refused, as any other field that is not a string
        updated = _day(update_date)
        if updated is not None and (updated_at is None or updated > updated_at):
            updated_at = updated
    comments, journal_ref, doi = get("comments"), get("journal-ref"), get("doi")
    report_no, license_, submitter = get("report-no"), get("license"), get("submitter")
    return Paper(
        id=paper_id,
        title=title,
        abstract=abstract,
        authors=authors,
        categories=categories,
        versions=versions,
        version=versions[-1].version if versions else (id_version or 1),
        published_at=versions[0].created if versions else None,
        updated_at=updated_at,
        comments=None if comments is None else _text(comments, "comments"),
        journal_ref=None if journal_ref is None else _text(journal_ref, "journal-ref"),
        doi=None if doi is None else _text(doi, "doi"),
        report_no=None if report_no is None else _text(report_no, "report-no"),
        license=None if license_ is None else _text(license_, "license"),
        submitter=None if submitter is None else _text(submitter, "submitter"),
    )


def _versions(raw: Any, paper_id: str) -> list[Version]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BadRecord(f"{paper_id}: field 'versions' must be a list")
    versions = []
    for entry in raw:
        try:
            label, created = entry["version"], entry["created"]
            number = int(str(label).lstrip("v"))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadRecord(f"{paper_id}: bad entry in 'versions': {entry!r}") from exc
        try:
            versions.append(Version(number, parse_arxiv_date(created)))
        except BadRecord as exc:
            raise BadRecord(f"{paper_id}: field 'versions': {exc}") from exc
    return sorted(versions, key=_VERSION_NUMBER)
