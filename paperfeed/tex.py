"""LaTeX as it appears in arXiv titles, abstracts and author names: where the math is, and text-mode macros
turned into the typography they stand for (issue #13 item 6).

arXiv metadata is LaTeX source: ``\\emph{evolved}``, ``structures--constituting``, ``40\\%``, ``G\\"ahler``,
````skills,''``. ``text_mode`` turns those into plain Unicode text (``evolved``, ``structures–constituting``,
``40%``, ``Gähler``, ``“skills,”``) and leaves every math span (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``)
and every escaped dollar exactly as written: the pages typeset math in the browser with KaTeX, and the API
and the feeds keep it as source, as Hugging Face's API does. The result is text, never markup: the templates
escape it like any other value.

Why not pylatexenc (which ``digest/latex.py`` uses for email, where math must become text too): it drops what
it does not know, so ``we propose \\ours{}, a method`` loses the method's name, ``Q&A`` loses its ``&`` and
``\\cite{x}`` becomes ``<cit.>``. Here only the macros listed below change; anything else stays as written.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# A math span, or an escaped dollar (text, but left alone so that KaTeX never pairs it with another '$').
MATH = re.compile(r"(?<!\\)\$\$?(?:[^$\\]|\\.)+?(?<!\\)\$\$?|\\\(.+?\\\)|\\\[.+?\\\]", re.DOTALL)
_KEEP = re.compile(rf"{MATH.pattern}|\\\$", re.DOTALL)

# Accents: \"o, \"{o}, \'{c}, \v{S}, \c{c}, \'\i → the letter with a combining mark, then composed (NFC).
_MARKS = {
    "`": "\u0300", "'": "\u0301", "^": "\u0302", "~": "\u0303", "=": "\u0304", "u": "\u0306",
    ".": "\u0307", '"': "\u0308", "r": "\u030a", "H": "\u030b", "v": "\u030c", "c": "\u0327",
    "k": "\u0328",
}  # fmt: skip
_ACCENT = re.compile(
    r"""\\([`'^~=".])\s*(?:\{\s*(\\[ij]|[A-Za-z])\s*\}|(\\[ij](?![A-Za-z])|[A-Za-z]))"""
    r"""|\\([uvrHck])\s*\{\s*(\\[ij]|[A-Za-z])\s*\}"""
)
_LETTERS = {
    "O": "Ø", "o": "ø", "ss": "ß", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å", "AA": "Å",
    "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ", "dots": "…", "ldots": "…", "textendash": "–",
    "textemdash": "—", "LaTeX": "LaTeX", "TeX": "TeX", "xspace": "", "textquoteright": "’",
    "textquoteleft": "‘",
}  # fmt: skip
_SYMBOL = re.compile(r"\\(" + "|".join(sorted(_LETTERS, key=len, reverse=True)) + r")(?![A-Za-z])(?:\{\})?")
_ESCAPED = re.compile(r"\\([%&#_{}])")
_SPACES = {"\\ ": " ", "\\,": "\u2009", "\\;": " ", "\\:": " ", "\\!": "", "\\@": ""}
# \emph{x}, \textbf{x} … keep their argument; {\em x}, {\bf x} … keep their group's text.
_FONT = re.compile(
    r"\\(?:emph|textit|textbf|textsc|textsf|texttt|textrm|textnormal|textsl|textup|textmd|underline|mbox|text)"
    r"\s*\{([^{}]*)\}"
)
_DECLARATION = re.compile(r"\{\\(?:em|it|bf|sc|sf|tt|rm|sl|bfseries|itshape|scshape|upshape)\s+([^{}]*)\}")
# A group that is only grouping ({Ø}bro, {UGC}); not the argument of a macro this module does not know.
_GROUP = re.compile(r"(?<!\\)\{([^{}\\]*)\}")
_UNKNOWN_ARG = re.compile(r"\\[A-Za-z@]+\*?(?:\{[^{}]*\}|\[[^\]]*\])*$")
# Physics abstracts write arrows with dashes (D0 --> K- e+): an arrow, not an en dash and a '>'.
_QUOTES = [("``", "“"), ("''", "”"), ("<-->", "↔"), ("-->", "→"), ("<--", "←"), ("---", "—"), ("--", "–")]
_SINGLE = re.compile(r"`([^`'\n]{1,80})'")
# A tie between words (Testbed~A, 1)~a) is a no-break space; elsewhere abstracts use '~' for "about"
# (~11 points, z~2.56, 84~87%), and it stays.
_TIE = re.compile(r"(?<=[A-Za-z).,])~(?=[A-Za-z])")


def _accent(match: re.Match[str]) -> str:
    mark = _MARKS[match.group(1) or match.group(4)]
    base = match.group(2) or match.group(3) or match.group(5)
    base = {"\\i": "i", "\\j": "j"}.get(base, base)
    return unicodedata.normalize("NFC", base + mark)


def _ungroup(text: str) -> str:
    def strip(match: re.Match[str]) -> str:
        before = text[: match.start()]
        return match.group() if _UNKNOWN_ARG.search(before) else match.group(1)

    previous = None
    while previous != text:
        previous, text = text, _GROUP.sub(strip, text)
    return text


def _text_part(text: str) -> str:
    if not any(c in text for c in "\\{}-`'~"):
        return text
    text = _ACCENT.sub(_accent, text)
    text = _SYMBOL.sub(lambda m: _LETTERS[m.group(1)], text)
    previous = None
    while previous != text:  # nested: \textbf{\emph{x}}
        previous = text
        text = _DECLARATION.sub(r"\1", _FONT.sub(r"\1", text))
    text = _ungroup(text)
    text = _ESCAPED.sub(r"\1", text)
    for written, shown in _SPACES.items():
        text = text.replace(written, shown)
    for written, shown in _QUOTES:
        text = text.replace(written, shown)
    text = _SINGLE.sub(r"‘\1’", text)
    return _TIE.sub("\u00a0", text)


@lru_cache(maxsize=65536)
def text_mode(text: str) -> str:
    """``text`` with its text-mode macros as Unicode typography; math spans and ``\\$`` as written."""
    if not any(c in text for c in "\\{}-`'~"):
        return text
    out, at = [], 0
    for match in _KEEP.finditer(text):
        out.append(_text_part(text[at : match.start()]))
        out.append(match.group())
        at = match.end()
    out.append(_text_part(text[at:]))
    return "".join(out)
