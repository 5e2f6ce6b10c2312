"""The feed: which papers a day, week or month shows, in which order, and where navigation leads.

One function, ``feed_page``, feeds the HTML pages, the JSON API and the RSS/Atom feeds alike. The sort
orders are the table ``storage.papers.SORTS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from paperfeed.arxiv_ids import BadArxivId, parse_arxiv_id
from paperfeed.models import Paper
from paperfeed.storage import Database, lists
from paperfeed.storage import papers as paper_store
from paperfeed.storage.lists import EVERYTHING, SORTS, Selection, Sort

Kind = Literal["day", "week", "month"]
ListName = Literal["curated", "all"]
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_sort(value: str | None) -> Sort:
    """A ``sort=`` value of the pages (the first order of the table when absent); ValueError names a bad one."""
    if not value:
        return next(iter(SORTS))
    for sort in SORTS:
        if value == sort:
            return sort
    raise ValueError(f"sort={value!r} is not a sort order (expected one of: {', '.join(SORTS)})")


class BadPeriod(ValueError):
    """A parameter choosing a list (date, week, month, list, category) that cannot be read; the message
    says which and why."""


@dataclass(frozen=True, slots=True)
class Period:
    kind: Kind
    start: date
    end: date

    @property
    def key(self) -> str:
        """The value of the query parameter naming this period: 2026-08-20, 2026-W34, 2026-08."""
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return self.start.strftime("%Y-%m")

    @property
    def param(self) -> str:
        return {"day": "date", "week": "week", "month": "month"}[self.kind]

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.start.strftime("%A, %B %-d, %Y")
        if self.kind == "week":
            return f"Week {self.start.isocalendar()[1]}, {self.start.isocalendar()[0]} ({self.start:%b %-d} – {self.end:%b %-d})"
        return self.start.strftime("%B %Y")

    def containing(self, day: date) -> Period:
        """The period of the same kind that holds ``day``."""
        return period_of(self.kind, day)


def period_of(kind: Kind, day: date) -> Period:
    """The day, ISO week or month holding ``day`` (the last week and month of year 9999 end at date.max)."""
    if kind == "day":
        return Period("day", day, day)
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period("week", start, _plus_days(start, 6))
    start = day.replace(day=1)
    if start.month == 12:
        return Period("month", start, start.replace(day=31))
    return Period("month", start, start.replace(month=start.month + 1) - timedelta(days=1))


def _plus_days(day: date, days: int) -> date:
    return day + timedelta(days=days) if date.max - day >= timedelta(days=days) else date.max


def parse_period(
    day: str | None = None, week: str | None = None, month: str | None = None, default: date | None = None
) -> Period:
    """Read ``date=YYYY-MM-DD``, ``week=YYYY-Www`` or ``month=YYYY-MM`` (at most one)."""
    given = [(k, v) for k, v in (("date", day), ("week", week), ("month", month)) if v]
    if len(given) > 1:
        raise BadPeriod("give only one of date, week and month")
    if not given:
        return period_of("day", default or datetime.now(UTC).date())
    name, value = given[0]
    try:
        if name == "date":
            return period_of("day", date.fromisoformat(value))
        if name == "week" and (m := _WEEK.match(value)):
            return period_of("week", date.fromisocalendar(int(m[1]), int(m[2]), 1))
        if name == "month" and (m := _MONTH.match(value)):
            return period_of("month", date(int(m[1]), int(m[2]), 1))
    except ValueError:
        pass
    example = {"date": "2026-08-20", "week": "2026-W34", "month": "2026-08"}[name]
    raise BadPeriod(f"{name}={value!r} is not a valid {name} (expected e.g. {example})")


@dataclass(frozen=True, slots=True)
class FeedPage:
    period: Period
    sort: Sort
    papers: list[Paper]
    total: int
    page: int
    page_size: int
    previous: Period | None  # the nearest earlier period that has papers in this selection
    next: Period | None
    selection: Selection = EVERYTHING

    @property
    def has_more(self) -> bool:
        return (self.page + 1) * self.page_size < self.total


def find_paper(db: Database, raw_id: str) -> Paper | None:
    """Look up by id; 'arXiv:2607.01234v2', '2607.01234v2' and other spellings of an arXiv id find the
    stored paper."""
    try:
        paper_id, _ = parse_arxiv_id(raw_id)
    except BadArxivId:
        paper_id = raw_id.strip()
    return paper_store.paper(db, paper_id) if paper_id else None


def latest_period(db: Database, kind: Kind = "day", selection: Selection = EVERYTHING) -> Period:
    """The newest period in which the selection has papers (today when it has none)."""
    return period_of(kind, lists.latest_day(db, selection) or datetime.now(UTC).date())


def feed_page(
    db: Database,
    period: Period,
    sort: Sort = "upvotes",
    page: int = 0,
    page_size: int = 50,
    selection: Selection = EVERYTHING,
) -> FeedPage:
    papers = lists.feed_papers(db, period.start, period.end, sort, page_size, page * page_size, selection)
    before, after, total = lists.around(db, period.start, period.end, selection)
    return FeedPage(
        period=period,
        sort=sort,
        papers=papers,
        total=total,
        page=page,
        page_size=page_size,
        previous=period.containing(before) if before else None,
        next=period.containing(after) if after else None,
        selection=selection,
    )


# -- lists and categories ------------------------------------------------------------------------------

# The two lists: what members submitted and curators picked, and everything harvested. Which one a site
# shows first (and serves as /api/daily_papers) is the setting ``default_list``.
LISTS: dict[ListName, str] = {"curated": "Curated", "all": "All new"}
_CATEGORY = re.compile(r"^[a-z][a-z-]{0,19}(?:\.[A-Za-z][A-Za-z-]{0,19})?$")
MAX_CATEGORIES = 20


def parse_list(value: str | None, default: ListName) -> ListName:
    if not value:
        return default
    for name in LISTS:
        if value == name:
            return name
    raise BadPeriod(f"list={value[:40]!r} is not a list (expected one of: {', '.join(LISTS)})")


def parse_categories(value: str | None) -> tuple[str, ...]:
    """``cs.CL,cs.LG`` → ('cs.CL', 'cs.LG'): the papers of any of them. Raises BadPeriod naming a bad one."""
    if not value:
        return ()
    found = tuple(dict.fromkeys(c.strip() for c in value.split(",") if c.strip()))
    if len(found) > MAX_CATEGORIES:
        raise BadPeriod(f"category: at most {MAX_CATEGORIES} categories")
    for category in found:
        if not _CATEGORY.match(category):
            raise BadPeriod(
                f"category={category[:40]!r} is not an arXiv category (expected e.g. cs.CL or hep-th)"
            )
    return found


def selection_of(list_name: ListName, categories: tuple[str, ...], submitter: str | None = None) -> Selection:
    return Selection(curated=list_name == "curated", categories=categories, submitter=submitter)
