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

import dataclasses
import functools
import html
import re
import secrets
import threading
import time
from collections.abc import Callable, Container, Hashable, Iterable
from datetime import date, datetime
from operator import attrgetter
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from paperfeed.models import Paper
from paperfeed.search.keyphrases import reads_as_phrase
from paperfeed.tex import text_mode
from paperfeed.web.serialize import thumbnail_url

SHOWN_AUTHORS = 3  # names on a card before "+N"
MAX_KEYPHRASES = 3
MAX_CARD_BODIES = 4096  # papers whose rendered cards a web worker keeps (~3 kB each, with their values)


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


@functools.lru_cache(maxsize=64)
def without_vote(back: str) -> str:
    """A page's address without the ``vote=`` a log-in round trip added (see ``vote_login``). Remembered:
    every ▲ button of a page asks it of the same address (50 URL parses a feed page)."""
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


# -- rendered cards ---------------------------------------------------------------------------------------

_FIELDS = attrgetter(*(f.name for f in dataclasses.fields(Paper)))
# The fields declared as lists, by position (copied into tuples, so that a kept value never changes).
_LISTS = [i for i, f in enumerate(dataclasses.fields(Paper)) if str(f.type).startswith("list[")]

MAX_VISITOR_PAGES = 4  # a paper's visitor cards kept per page address (the login link names the page)


def paper_value(paper: Paper) -> tuple[Any, ...]:
    """Every field of the paper, as one value: two papers with equal values render the same card body.
    (Lists become tuples; the nested records are frozen dataclasses.)"""
    values = list(_FIELDS(paper))
    for i in _LISTS:
        values[i] = tuple(values[i])
    return tuple(values)


class _Member:
    """The member a cached card is rendered for: someone signed in, no one in particular. Truthy, as the
    template asks (``not me``); reading any of its fields raises, so a card that began to show the member
    fails in tests rather than serving one member's details to others from the cache."""

    def __bool__(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        raise TypeError(f"a cached card may not read me.{name} (see web/cards.py CardBodies)")


class _StandIns:
    """Values rendered where a member's card holds what differs between requests (the form's CSRF token, the
    page it returns to), found in the HTML afterwards and replaced by each request's values. Random per
    process, so no paper's text holds them, and holding characters that HTML escaping changes: found only
    where the template inserted them as it inserts those values, escaped (``{{ csrf }}``,
    ``{{ back|vote_back(paper.id) }}``; ``without_vote`` returns this bare path unchanged)."""

    def __init__(self, prefix: str, size: int) -> None:
        self.token = prefix + secrets.token_hex(size)
        self.csrf = f"{self.token}<&>\"'"
        self.back = f"{self.token}/<&>\"'"
        self._kinds = {str(escape(self.csrf)): "csrf", str(escape(self.back)): "back"}
        self._slots = re.compile("(" + "|".join(re.escape(slot) for slot in self._kinds) + ")")

    def split(self, html: str) -> tuple[str, ...] | None:
        """The HTML split around its stand-ins, each named by kind ('csrf', 'back'); None when the token
        shows anywhere else (a template changed a stand-in on its way into the HTML)."""
        pieces = self._slots.split(html)
        if html.count(self.token) != len(pieces) // 2:
            return None
        return tuple(self._kinds[piece] if i % 2 else piece for i, piece in enumerate(pieces))


# Two sets of stand-ins, different from their first character and of different lengths: a card is kept
# only when both render the same HTML around them, so that it depends on the values only where they are
# filled in.
_STAND_INS = (_StandIns("a", 16), _StandIns("bb", 12))
# Where a kept card's slots are: keys no text holds (the first set's escaped stand-ins).
_SLOT_KEYS = {"csrf": str(escape(_STAND_INS[0].csrf)), "back": str(escape(_STAND_INS[0].back))}

# A rendered card split around its body: the text before it, as pieces with the slot keys between them,
# and the text after it.
_Split = tuple[tuple[str, ...], str]


class _Entry:
    """A paper's value, its rendered body, and its whole cards around it, by shape (who reads, pressed …)."""

    __slots__ = ("body", "cards", "value")

    def __init__(self, value: tuple[Any, ...], body: Markup) -> None:
        self.value, self.body = value, body
        self.cards: dict[Hashable, _Split] = {}


class CardBodies:
    """Rendered cards, reused on every page that lists them, for visitors and members alike: the
    ``card_html`` filter (``_card.html``'s ``card_body`` macro: the paper's part of a card) and the ``card``
    filter (the whole ``card`` macro: the reader's ▲ button and the wrapper around that body).

    A card body is a pure function of the paper (the template's contract: ``card_body`` never reads
    ``me``, ``csrf`` or the request, and it is rendered here outside any page, so it could not), so it is
    rendered once per paper *value* and a cached body is never stale: entries are found by paper id and
    used only when the paper's whole value equals the one they were rendered from (compared, not hashed:
    hashing every field of 50 papers, abstracts included, cost more than comparing them), so a paper whose
    votes, comments, code links or anything else changed is rendered afresh and replaces its old entry; at
    most ``MAX_CARD_BODIES`` papers are kept, oldest first.

    A whole card adds what the ``card`` macro and its ▲ button (``_vote.html``) read besides the paper:
    whether the reader is signed in (never who), whether they upvoted it, the confirm button of a vote
    asked for before logging in (``vote_intent``), the page it returns to (``back``) and the form's CSRF
    token. It is rendered once per paper value and shape by the macros themselves, in a context of stand-ins
    (``_Member``, ``_StandIns``), and kept split around the stand-ins, which each request fills with its
    own values, escaped as Jinja2 escapes them: the HTML is the macro's, character for character, with no
    macro call per card. A card is kept only when two sets of stand-ins render the same HTML around them,
    each escaped as Jinja2 escapes a value; a template that changed that (``back|urlencode``) would have its
    cards rendered with each request's values, uncached, rather than wrong. A visitor's ▲ is a login link
    naming the page in its query, so visitors' cards are kept per page address instead (at most
    ``MAX_VISITOR_PAGES`` a paper).

    When Jinja2 reloads ``_card.html`` or ``_vote.html`` (an edited template, ``auto_reload``), the cache
    is emptied; this is checked at most once a second, so the check costs nothing per card.
    """

    def __init__(self, env: Environment, template: str = "_card.html", size: int = MAX_CARD_BODIES) -> None:
        self.env, self.template, self.size = env, template, size
        self._entries: dict[str, _Entry] = {}  # by paper id: the value last rendered for it
        self._lock = threading.Lock()
        self._loaded: tuple[Any, ...] = ()  # the jinja2 Templates the cached cards were rendered from
        self._macro: Callable[[Paper], Markup] | None = None
        self._modules: dict[tuple[bool, int], Any] = {}  # _card.html's module in a context of stand-ins
        self._checked = float("-inf")
        # The last CSRF token and page filled in, and their slots' values (escaped).
        self._last: tuple[Any, str, dict[str, str]] = (None, "", {})

    def __call__(self, paper: Paper) -> Markup:
        """The ``card_html`` filter: the card's body."""
        return self._entry(paper).body

    @pass_context
    def card(self, context: Context, paper: Paper, voted: Container[str] = (), back: str = "/") -> Markup:
        """The ``card`` filter: ``card(paper, voted, back)`` of ``_card.html``, as it renders in ``context``."""
        signed = bool(context.resolve("me"))
        pressed = paper.id in voted
        confirm = signed and not pressed and context.resolve("vote_intent") == paper.id
        shape: Hashable = (pressed, confirm) if signed else (pressed, back)
        entry = self._entry(paper)
        found = entry.cards.get(shape)
        if found is None:
            found = _split(
                [self._render(paper, pressed, back, signed, confirm, i) for i in (0, 1)], entry.body
            )
            if found is None:  # not cacheable: rendered in a context of this request's own values
                module = self._module(signed, context.resolve("vote_intent"), context.resolve("csrf"))
                card: Markup = module.card(paper, (paper.id,) if pressed else (), back)
                return card
            with self._lock:
                if not signed and len(entry.cards) >= 3 + MAX_VISITOR_PAGES:
                    entry.cards.clear()
                entry.cards[shape] = found
        head, tail = found
        # The macro's HTML (autoescaped), its slots filled with escaped values: safe as the macro's own.
        return Markup(f"{self._fill(head, context, back)}{entry.body}{tail}")  # noqa: S704

    def _fill(self, pieces: tuple[str, ...], context: Context, back: str) -> str:
        """The pieces with this request's values in the slots, escaped as the template escapes them."""
        if len(pieces) == 1:
            return pieces[0]
        csrf = context.resolve("csrf")
        last = self._last  # a page's cards share their values: escaped once a page, not once a card
        if last[0] != csrf or last[1] != back:
            values = {
                _SLOT_KEYS["csrf"]: str(escape(csrf)),
                _SLOT_KEYS["back"]: str(escape(without_vote(back))),
            }
            last = self._last = (csrf, back, values)
        values = last[2]
        return "".join([values.get(piece, piece) for piece in pieces])

    def _render(self, paper: Paper, pressed: bool, back: str, signed: bool, confirm: bool, which: int) -> str:
        """The ``card`` macro's HTML, in a context of one set of stand-ins (a member's page, too)."""
        stand_ins = _STAND_INS[which]
        module = self._modules.get((signed, which)) if not confirm else None
        if module is None:
            module = self._module(signed, paper.id if confirm else None, stand_ins.csrf)
            if not confirm:
                self._modules[signed, which] = module
        return str(module.card(paper, (paper.id,) if pressed else (), stand_ins.back if signed else back))

    def _module(self, signed: bool, vote_intent: Any, csrf: Any) -> Any:
        variables = {"me": _Member() if signed else None, "csrf": csrf, "vote_intent": vote_intent}
        return self.env.get_template(self.template).make_module(variables)

    def _entry(self, paper: Paper) -> _Entry:
        """The paper's entry, rendered afresh when the one kept has another value (the paper changed)."""
        now = time.monotonic()
        if now - self._checked > 1.0:
            self._reload(now)
        value = paper_value(paper)
        found = self._entries.get(paper.id)
        if found is not None and found.value == value:
            return found
        macro = self._macro
        assert macro is not None
        entry = _Entry(value, macro(paper))  # Markup: the template escapes what it inserts
        with self._lock:
            self._entries.pop(paper.id, None)  # a changed paper's old entry goes: its value is past
            self._entries[paper.id] = entry
            while len(self._entries) > self.size:
                del self._entries[next(iter(self._entries))]
        return entry

    def _reload(self, now: float) -> None:
        # The same objects unless Jinja2 reloaded a file.
        loaded = (self.env.get_template(self.template), self.env.get_template("_vote.html"))
        with self._lock:
            if any(a is not b for a, b in zip(loaded, self._loaded, strict=False)) or not self._loaded:
                self._entries.clear()
                self._modules = {}
                self._macro = getattr(loaded[0].module, "card_body")  # noqa: B009 - a template's macro
                self._loaded = loaded
            self._checked = now


def _split(renderings: list[str], body: str) -> _Split | None:
    """A card rendered with both sets of stand-ins, as (the pieces before its body, the slot keys between
    them; the text after it), or None unless both hold the body once and the same HTML around their
    stand-ins (the card depends on the values only where they are filled in)."""
    split = []
    for stand_ins, text in zip(_STAND_INS, renderings, strict=True):
        at = text.find(body)
        if at < 0 or text.find(body, at + 1) >= 0:
            return None
        head, tail = text[:at], text[at + len(body) :]
        pieces = stand_ins.split(head)
        if pieces is None or stand_ins.token in tail:
            return None
        split.append((pieces, tail))
    if split[0] != split[1]:
        return None
    pieces, tail = split[0]
    return tuple(_SLOT_KEYS[piece] if i % 2 else piece for i, piece in enumerate(pieces)), tail
