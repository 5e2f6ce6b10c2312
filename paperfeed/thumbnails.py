"""A paper's thumbnail: its first figure, made small here (Pillow) so cards can show it from this site
(the pages' Content-Security-Policy allows images from here only, and readers' browsers never ask arXiv).

At most 320x180 pixels (twice the card's 160x90 box, for high-density screens), the figure's proportions
kept, transparency flattened onto white (figures are drawn for white paper), saved as WebP: a few KB.
Pure: bytes in, bytes out; the ``fulltext`` job fetches the figure and stores the result.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

BOX = (320, 180)
MEDIA_TYPE = "image/webp"
MAX_BYTES = 10_000_000  # a figure larger than this is not worth a thumbnail
# Pillow refuses images over twice this many pixels (a decompression bomb) and warns above it; figures
# are far smaller, so the limit is set low enough that a hostile one costs little memory.
MAX_PIXELS = 40_000_000
FORMATS = ("PNG", "JPEG", "GIF", "WEBP")


class NotAnImage(ValueError):
    """The figure could not be made into a thumbnail (not a raster image, too large, damaged)."""


@dataclass(frozen=True, slots=True)
class Made:
    image: bytes
    size: tuple[int, int]
    media_type: str = MEDIA_TYPE


def make(data: bytes) -> Made:
    """The thumbnail of the image ``data``; raises NotAnImage when there can be none."""
    if len(data) > MAX_BYTES:
        raise NotAnImage(f"the figure is {len(data):,} bytes (more than {MAX_BYTES:,})")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as source:
            source.thumbnail(BOX, Image.Resampling.LANCZOS)  # decodes at a reduced size where it can
            image = source.convert("RGBA")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise NotAnImage(f"the figure is not an image paperfeed can read: {exc}") from exc
    flat = Image.new("RGB", image.size, "white")
    flat.paste(image, mask=image.getchannel("A"))
    out = io.BytesIO()
    flat.save(out, "WEBP", quality=80, method=4)
    return Made(out.getvalue(), flat.size)
