"""LaTeX in titles and abstracts made readable as plain text, for email (no KaTeX runs in a mailbox).

pylatexenc turns ``$\\mathcal{O}(n^2)$`` into ``𝒪(n^2)`` and ``\\emph{x}`` into ``x``; writing that
converter by hand is what it saves us. Abstracts are not LaTeX documents, though: a bare ``50%`` would
start a comment that swallows the rest of the line, and a lone ``$15`` would open math that never closes,
so both are escaped before parsing. Whatever the parser still cannot read is shown as it was written.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text

from paperfeed.tex import MATH

_CONVERTER = LatexNodes2Text(math_mode="text", strict_latex_spaces=False)
_BARE_PERCENT = re.compile(r"(?<!\\)%")
_DOLLAR = re.compile(r"(?<!\\)\$")


def _escape_stray_dollars(text: str) -> str:
    """Escape every ``$`` that does not open or close a math span."""
    out, at = [], 0
    for match in MATH.finditer(text):
        out.append(_DOLLAR.sub(r"\\$", text[at : match.start()]))
        out.append(match.group())
        at = match.end()
    out.append(_DOLLAR.sub(r"\\$", text[at:]))
    return "".join(out)


@lru_cache(maxsize=65536)
def readable(text: str) -> str:
    """Plain, single-spaced text with math and text commands turned into Unicode where possible."""
    if "\\" not in text and "$" not in text and "{" not in text and "~" not in text and "`" not in text:
        return " ".join(text.split())
    prepared = _escape_stray_dollars(_BARE_PERCENT.sub(r"\\%", text))
    try:
        converted = _CONVERTER.latex_to_text(prepared)
    except Exception:  # pylatexenc raises several types on malformed input; the raw text is still readable
        converted = text
    return " ".join(converted.split())
