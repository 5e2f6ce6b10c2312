"""A paper's images, stored in the database or drawn here, so that every web node serves them without a
shared disk and no page or API answer points at a third party.

- ``/papers/{id}/thumbnail.webp``: its first figure as the ``fulltext`` job made it small
  (``paperfeed/thumbnails.py``). Cards show it, and the API names it (``thumbnail``, ``mediaUrls``).
- ``/papers/{id}/card.webp``: its title card (``paperfeed/titlecards.py``), the API's ``thumbnail`` until
  there is a figure. Drawing one takes milliseconds (docs/hf-api.md), so the last ones drawn are kept.

Both URLs carry a version (``serialize.thumbnail_url``, ``serialize.card_url``): a new figure or title, a
new address, so an answer may be cached for long; both carry an ETag and answer If-None-Match with 304."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import Response

from paperfeed import titlecards
from paperfeed.storage import fulltext as fulltext_store
from paperfeed.storage import papers as paper_store
from paperfeed.web.kit import DB, Refused

CACHE = "public, max-age=86400"
CARDS_KEPT = 1024  # a card is 2-7 KB: a few MB at most


def _image(body: bytes, media_type: str, request: Request) -> Response:
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {"Cache-Control": CACHE, "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def thumbnail(request: Request, db: DB, paper_id: str) -> Response:
    found = fulltext_store.thumbnail(db, paper_id)
    if found is None:
        raise Refused(404, f"There is no thumbnail of a paper with id {paper_id!r}.")
    return _image(found.image, found.media_type, request)


@lru_cache(maxsize=CARDS_KEPT)
def _card(paper_id: str, title: str, category: str | None) -> bytes:
    return titlecards.draw(paper_id, title, category)


def card(request: Request, db: DB, paper_id: str) -> Response:
    paper = paper_store.paper(db, paper_id)
    if paper is None:
        raise Refused(404, f"There is no paper with id {paper_id!r}.")
    return _image(_card(paper.id, paper.title, paper.primary_category), titlecards.MEDIA_TYPE, request)
