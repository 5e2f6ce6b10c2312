"""A paper's title card: the image the API names as its ``thumbnail`` until the ``fulltext`` job has made
one from its first figure, as Hugging Face always names an image (its generated social card of the paper).

Drawn here with Pillow, never fetched: the title (LaTeX text mode as Unicode, ``paperfeed/tex.py``; math
without its ``$`` delimiters) wrapped on up to four lines, the primary category and arXiv id below, on the
site's palette (``static/css/site.css``: ``--bg``, ``--text``, ``--muted``, ``--accent``). 320x180 WebP,
the size of a figure thumbnail (``thumbnails.BOX``). The font is DejaVu Sans where Debian's
``fonts-dejavu-core`` is installed (it covers Greek, Cyrillic and most symbols), else the font built into
Pillow; nothing is downloaded. The same paper draws the same bytes on one install. Pure: text in, bytes
out; ``web/media.py`` serves and caches it.
"""

from __future__ import annotations

import hashlib
import io
import re
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from paperfeed.tex import text_mode
from paperfeed.thumbnails import BOX, MEDIA_TYPE

__all__ = ["MEDIA_TYPE", "draw", "version"]

STYLE = "1"  # part of every card's URL: change it when the drawing changes, and every client asks again
BACKGROUND = "#f7f8fa"
TEXT = "#111827"
MUTED = "#6b7280"
ACCENT = "#ff9d00"
MARGIN = 18
BAR = 6  # the accent stripe on the left, as the site's focus and vote colour
TITLE_SIZE = 19
LINE = 24
MAX_LINES = 4
FOOT_SIZE = 13
MAX_TITLE = 400  # characters drawn at most: four lines hold far fewer
_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans{}.ttf",  # Debian, Ubuntu
    "/usr/share/fonts/dejavu/DejaVuSans{}.ttf",  # Fedora, Alpine
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]+")


@cache
def _font(size: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONTS:
        try:
            return ImageFont.truetype(path.format("-Bold" if bold else ""), size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _plain(title: str) -> str:
    """The title as it is drawn: text-mode LaTeX as Unicode, math without its delimiters, one line."""
    text = text_mode(title[:MAX_TITLE]).replace("\\$", "\x00").replace("$", "").replace("\x00", "$")
    return " ".join(_CONTROL.sub(" ", text).split()) or "Untitled"


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    """Greedy lines of at most ``width`` pixels; a word wider than a line is cut; the last line kept
    ends with an ellipsis when the title goes on."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        while font.getlength(word) > width:  # a long formula or URL: cut it where the line is full
            cut = max(1, next(i for i in range(len(word), 0, -1) if font.getlength(word[:i]) <= width))
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
        else:
            lines.append(current)
            current = word
        if len(lines) > MAX_LINES:
            break
    if current:
        lines.append(current)
    if len(lines) > MAX_LINES:
        last = lines[MAX_LINES - 1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines = [*lines[: MAX_LINES - 1], last.rstrip() + "…"]
    return lines


def version(paper_id: str, title: str, category: str | None) -> str:
    """What the card's URL carries (``?v=``): a new title or category, a new address."""
    return hashlib.blake2b(
        f"{STYLE}\x1f{paper_id}\x1f{title}\x1f{category}".encode(), digest_size=5
    ).hexdigest()


def draw(paper_id: str, title: str, category: str | None) -> bytes:
    """The WebP title card of a paper: its title, and ``category · arXiv:id`` below."""
    width, height = BOX
    image = Image.new("RGB", BOX, BACKGROUND)
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, 0, BAR - 1, height), fill=ACCENT)
    title_font, foot_font = _font(TITLE_SIZE, True), _font(FOOT_SIZE, False)
    left = BAR + MARGIN - 4
    for i, line in enumerate(_wrap(_plain(title), title_font, width - left - MARGIN)):
        pen.text((left, MARGIN - 2 + i * LINE), line, fill=TEXT, font=title_font)
    source = paper_id if paper_id.startswith("card-") else f"arXiv:{paper_id}"
    foot = " · ".join(part for part in (category, source) if part)
    while foot and foot_font.getlength(foot) > width - left - MARGIN:
        foot = foot[:-1]
    pen.text((left, height - MARGIN - FOOT_SIZE), foot, fill=MUTED, font=foot_font)
    out = io.BytesIO()
    image.save(out, "WEBP", quality=80, method=4)
    return out.getvalue()
