"""What a paper card shows, derived from a ``Paper`` as plain text (issue #13 item 3): the author line
("Ada Lovelace, Alan Turing, Grace Hopper +3"), the keyphrases that read as phrases, the two dates, and
LaTeX text-mode macros as typography. Registered as template filters by ``kit.install``; like every
filter they only format what the handler handed over, and never read storage.

Keyphrases come from ``search/keyphrases.py``, which picks runs of content words without a model and
keeps those that read as phrases (its ``reads_as_phrase``, the one rule, is applied here again to what is
stored, since a database indexed by an older extractor keeps its phrases until the next
``paperfeed index``). Cards show at most ``MAX_KEYPHRASES``; the API up to five (``ai_keywords``).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from paperfeed.models import Paper
from paperfeed.search.keyphrases import reads_as_phrase
from paperfeed.tex import text_mode
from paperfeed.web.serialize import thumbnail_url

SHOWN_AUTHORS = 3  # names on a card before "+N"
MAX_KEYPHRASES = 3


def card_keyphrases(keywords: Iterable[str], limit: int = MAX_KEYPHRASES) -> list[str]:
    """At most ``limit`` keyphrases that read as phrases, in the extractor's order, no repeats."""
    shown: list[str] = []
    seen: set[str] = set()
    for phrase in keywords:
        phrase = " ".join(text_mode(phrase).split())
        if phrase.lower() not in seen and reads_as_phrase(phrase):
            shown.append(phrase)
            seen.add(phrase.lower())
        if len(shown) == limit:
            break
    return shown


def author_line(paper: Paper, shown: int = SHOWN_AUTHORS) -> str:
    """'Ada Lovelace, Alan Turing, Grace Hopper +3'; '6 authors' for cards that give only a count,
    'authors unknown' when they do not say (None is not zero)."""
    if paper.authors:
        names = ", ".join(text_mode(name) for name in paper.authors[:shown])
        more = len(paper.authors) - shown
        return f"{names} +{more}" if more > 0 else names
    return count_authors(paper)


def count_authors(paper: Paper) -> str:
    """'1 author', '7 authors', or 'authors unknown'."""
    n = paper.num_authors
    if n is None:
        return "authors unknown"
    return f"{n} author" if n == 1 else f"{n} authors"


def arxiv_day(paper: Paper) -> date | None:
    """The day the paper first appeared on arXiv (None for cards that are not on arXiv)."""
    return paper.published_at.date() if paper.published_at else None


def shown_day(paper: Paper) -> date | None:
    """The date a paper is known by: first published on arXiv, else the day it entered the feed."""
    return arxiv_day(paper) or paper.feed_day


def day(value: date | datetime | None) -> str:
    """'Aug 20, 2026' (the Daily Papers page's style); '' for None."""
    return value.strftime("%b %-d, %Y") if value else ""


def number(value: int) -> str:
    return f"{value:,}"


def without_vote(back: str) -> str:
    """A page's address without the ``vote=`` a log-in round trip added (see ``vote_login``)."""
    parts = urlsplit(back)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "vote"]
    return parts.path + (f"?{urlencode(query)}" if query else "")


def vote_back(back: str, paper_id: str) -> str:
    """Where the ▲ form returns without JavaScript: the same page, scrolled to the same card."""
    return f"{without_vote(back)}#paper-{paper_id}"


def vote_login(back: str, paper_id: str) -> str:
    """Where a visitor's ▲ leads: the login form, then back to the card with ``vote=<id>``, which shows a
    one-click confirm button there (a GET never casts the vote itself)."""
    page = without_vote(back)
    target = f"{page}{'&' if '?' in page else '?'}{urlencode({'vote': paper_id})}#paper-{paper_id}"
    return "/login?" + urlencode({"next": target})


def figure_alt(caption: str, limit: int = 150) -> str:
    """A thumbnail's alt text: its figure's caption (as the Markdown has it, emphasis marks dropped),
    cut at a word near ``limit``; 'First figure' when it has none."""
    text = " ".join(html.unescape(caption).replace("*", "").replace("`", "").split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "…"
    return text or "First figure"


def repo_name(url: str) -> str:
    """'owner/name' of a repository URL (its host dropped), what a card shows."""
    return url.split("://", 1)[-1].split("/", 1)[-1]


FILTERS: dict[str, Callable[..., Any]] = {
    "repo_name": repo_name,
    "figure_alt": figure_alt,
    "thumbnail_url": thumbnail_url,
    "tex_text": text_mode,
    "keyphrases": card_keyphrases,
    "author_line": author_line,
    "authors": count_authors,
    "arxiv_day": arxiv_day,
    "shown_day": shown_day,
    "day": day,
    "number": number,
    "vote_back": vote_back,
    "vote_login": vote_login,
}
