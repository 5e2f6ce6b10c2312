"""Comment Markdown to safe HTML: CommonMark with raw HTML switched off, then an allowlist sanitiser.

Two locks on one door: markdown-it never passes raw HTML through, and nh3 (ammonia) keeps only the tags,
attributes and URL schemes listed here, so no script, event handler or ``javascript:`` link survives
whatever the parser emits. Links get rel="nofollow noopener noreferrer".

Math (``$…$``, ``$$…$$``, ``\\(…\\)``) is held out of the parser and put back as escaped text afterwards, so
that Markdown never reads ``$a*b$ … $c*d$`` as emphasis or ``\\{`` as an escaped brace; the page typesets
it with KaTeX like titles and abstracts (issue #13 item 6).
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import nh3
from markdown_it import MarkdownIt

from paperfeed.tex import MATH

MAX_BODY = 10_000
MAX_MENTIONS = 10  # @handles a comment may notify: more reads as spam, and costs a lookup each

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")
TAGS = {"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h3", "h4", "hr"}
ATTRIBUTES = {"a": {"href", "title"}}
SCHEMES = {"http", "https", "mailto"}


# An @handle (accounts.NAME) not glued to a word, an address or another handle: "ada@example.org" and
# "@@ada" mention nobody. A trailing '.', '-' or '_' is the sentence's, tried without when the handle with
# it is not a member (storage/notifications.py).
_MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9][A-Za-z0-9_.-]{1,38})")


# Private-use characters stand in for math while Markdown runs; a body's own are dropped first.
_OPEN, _CLOSE = "\ue000", "\ue001"
_HELD = re.compile(f"{_OPEN}([0-9]+){_CLOSE}")
_HELD_IN_URL = re.compile("%EE%80%80([0-9]+)%EE%80%81")  # markdown-it percent-encodes link targets


class BadBody(ValueError):
    """A comment body paperfeed will not store (empty, or too long)."""


def check_body(text: object) -> str:
    """The comment as it will be stored: stripped, not empty, at most ``MAX_BODY`` characters."""
    body = text.strip() if isinstance(text, str) else ""
    if not body:
        raise BadBody("a comment needs some text")
    if len(body) > MAX_BODY:
        raise BadBody(f"at most {MAX_BODY} characters")
    return body


def render(body: str) -> str:
    spans: list[str] = []

    def hold(match: re.Match[str]) -> str:
        spans.append(match.group())
        return f"{_OPEN}{len(spans) - 1}{_CLOSE}"

    held = MATH.sub(hold, body.replace(_OPEN, "").replace(_CLOSE, ""))
    clean = nh3.clean(
        _md.render(held),
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )
    # Escaped with quotes too: a placeholder may have landed in a title attribute.
    clean = _HELD_IN_URL.sub(lambda m: html.escape(quote(spans[int(m.group(1))], safe="$/")), clean)
    return _HELD.sub(lambda m: html.escape(spans[int(m.group(1))]), clean)


def mentions(body: str) -> list[str]:
    """The @handles a comment mentions, in order, each once (case aside), at most ``MAX_MENTIONS``: read
    from Markdown's text, so "@ada" in `code`, a code block, a link's target or math mentions nobody."""
    held = MATH.sub(" ", body)
    found: dict[str, str] = {}
    for token in _md.parse(held):
        for child in token.children or ():
            if child.type == "text":
                for match in _MENTION.finditer(child.content):
                    found.setdefault(match.group(1).lower(), match.group(1))
    return list(found.values())[:MAX_MENTIONS]
