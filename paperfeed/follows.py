"""What a member may follow, and the normal form that makes each thing one follow.

Four kinds: an author (by name, compared without case, accents or extra spaces, as claims and the digest
compare them), an organization (its short name), an arXiv category, and a saved search (a query with the
search page's filters). A saved search is kept as a canonical query string (``q`` with its words
collapsed, then the filters, sorted), so the same search typed twice, or with its filters in another
order, is one follow; ``search_params`` reads it back for the feed and the ranking.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal, get_args
from urllib.parse import parse_qsl, urlencode

from paperfeed.feed import BadPeriod, parse_categories
from paperfeed.models import Paper
from paperfeed.recommend.signals import name_key

FollowKind = Literal["author", "organization", "category", "search"]
FOLLOW_KINDS: tuple[FollowKind, ...] = get_args(FollowKind)
# The search page's filters a saved search may carry, besides ``q``.
SEARCH_FILTERS = ("category", "organization", "since", "until")
MAX_VALUE = 300
MAX_FOLLOWS = 200  # per member, all kinds together


class BadFollow(ValueError):
    """A follow that cannot be kept; the message names the field and the problem."""


def normalise(kind: str, value: str) -> tuple[FollowKind, str, str]:
    """(kind, value as shown, key) for a follow request, or BadFollow naming what is wrong."""
    if kind not in FOLLOW_KINDS:
        raise BadFollow(
            f"kind={kind[:40]!r} is not something to follow (expected one of: {', '.join(FOLLOW_KINDS)})"
        )
    text = " ".join(str(value).split())
    if not text or len(text) > MAX_VALUE:
        raise BadFollow(f"value: 1 to {MAX_VALUE} characters")
    if kind == "author" or kind == "organization":
        return kind, text, name_key(text)
    if kind == "category":
        try:
            (category,) = parse_categories(text) or ("",)
        except (BadPeriod, ValueError) as exc:
            raise BadFollow(
                f"value: {exc}" if isinstance(exc, BadPeriod) else "value: one category only"
            ) from None
        return "category", category, category.casefold()
    params = search_params(text)
    if not params.get("q"):
        raise BadFollow("value: a saved search needs a query, e.g. q=sparse+attention&category=cs.CL")
    key = urlencode([("q", params["q"].casefold())] + [(k, params[k]) for k in SEARCH_FILTERS if k in params])
    return "search", urlencode([(k, v) for k, v in params.items()]), key


def search_params(value: str) -> dict[str, str]:
    """A saved search's query string as {"q": …, filter: …}: ``q`` first, then the filters in a fixed order.
    A bare phrase (no ``=``) is taken as the query itself."""
    pairs = parse_qsl(value, keep_blank_values=False) if "=" in value else [("q", value)]
    given = {k: " ".join(v.split()) for k, v in pairs if k == "q" or k in SEARCH_FILTERS}
    unknown = sorted({k for k, _ in pairs} - {"q", *SEARCH_FILTERS})
    if unknown:
        raise BadFollow(
            f"value: {unknown[0][:40]!r} is not a search filter (expected q, {', '.join(SEARCH_FILTERS)})"
        )
    return {k: given[k] for k in ("q", *SEARCH_FILTERS) if given.get(k)}


_WORD = re.compile(r"\w+")


def matches(kind: str, value: str, key: str, paper: Paper) -> bool:
    """Whether a paper is one this follow asks for, from the paper alone (the webhook job's question, asked
    of each new paper): one of its authors or its organization by name, one of its categories, or, for a
    saved search, its filters and every word of its query in the title, abstract or authors. The search
    page ranks by meaning too; a new paper must contain the words to count as news for a saved search."""
    if kind == "author":
        return any(name_key(a) == key for a in paper.authors)
    if kind == "organization":
        org = paper.organization
        return org is not None and key in (name_key(org.name), name_key(org.fullname))
    if kind == "category":
        return key in {c.casefold() for c in paper.categories}
    if kind != "search":
        return False
    params = search_params(value)
    if "category" in params and params["category"] not in paper.categories:
        return False
    if "organization" in params and (
        paper.organization is None or paper.organization.name != params["organization"]
    ):
        return False
    day = paper.feed_day
    for name, after in (("since", True), ("until", False)):
        if name in params:
            try:
                bound = date.fromisoformat(params[name])
            except ValueError:
                return False
            if day is None or (day < bound if after else day > bound):
                return False
    words = set(_WORD.findall(" ".join([paper.title, paper.abstract, *paper.authors]).casefold()))
    wanted = _WORD.findall(params.get("q", "").casefold())
    return bool(wanted) and all(w in words for w in wanted)
