"""Comment Markdown to safe HTML: CommonMark with raw HTML switched off, then an allowlist sanitiser.

Two locks on one door: markdown-it never passes raw HTML through, and nh3 (ammonia) keeps only the tags,
attributes and URL schemes listed here, so no script, event handler or ``javascript:`` link survives
whatever the parser emits. Links get rel="nofollow noopener noreferrer".
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

MAX_BODY = 10_000

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")
TAGS = {"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h3", "h4", "hr"}
ATTRIBUTES = {"a": {"href", "title"}}
SCHEMES = {"http", "https", "mailto"}


def render(body: str) -> str:
    html = _md.render(body)
    return nh3.clean(
        html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES, link_rel="nofollow noopener noreferrer"
    )
