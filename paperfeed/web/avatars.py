"""Avatars: every member and organization has one, a symmetric 5×5 identicon generated from the 24-hex-digit
id in its URL (``serialize.avatar_url``), served from here as SVG so that no page or API answer points at a
third party (Gravatar would learn who reads which page). The same id always draws the same picture, so the
answer is cached for a year."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

from paperfeed.web.kit import Refused

SIZE = 5
CELL = 10


def identicon(seed: str) -> str:
    """An SVG identicon: a colour and a left-right symmetric pattern of cells, both from the seed's hash."""
    digest = hashlib.blake2b(seed.encode(), digest_size=16).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    bits = int.from_bytes(digest[2:], "big")
    cells = []
    half = (SIZE + 1) // 2
    for row in range(SIZE):
        for col in range(half):
            if bits >> (row * half + col) & 1:
                for x in {col, SIZE - 1 - col}:
                    cells.append(
                        f'<rect x="{x * CELL + 5}" y="{row * CELL + 5}" width="{CELL}" height="{CELL}"/>'
                    )
    side = SIZE * CELL + 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" width="{side}" height="{side}">'
        f'<rect width="{side}" height="{side}" fill="hsl({hue},25%,94%)"/>'
        f'<g fill="hsl({hue},55%,45%)">{"".join(cells)}</g></svg>'
    )


def avatar(request: Request) -> Response:
    """``/avatars/<24 hex digits>.svg``: the identicon of that id."""
    seed = str(request.path_params["seed"])
    if len(seed) != 24 or any(c not in "0123456789abcdef" for c in seed):
        raise Refused(404, "no such avatar")
    return Response(
        identicon(seed),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )
