"""A paper's thumbnail, ``/papers/{id}/thumbnail.webp``: its first figure as the ``fulltext`` job made it
small (``paperfeed/thumbnails.py``), stored in the database so that every web node serves it without a
shared disk. Cards show it, and the API names it (``thumbnail``, ``mediaUrls``); its URL carries the time
it was made (``serialize.thumbnail_url``), so an answer may be cached for long."""

from __future__ import annotations

from starlette.responses import Response

from paperfeed.storage import fulltext as fulltext_store
from paperfeed.web.kit import DB, Refused


def thumbnail(db: DB, paper_id: str) -> Response:
    found = fulltext_store.thumbnail(db, paper_id)
    if found is None:
        raise Refused(404, f"There is no thumbnail of a paper with id {paper_id!r}.")
    return Response(
        found.image,
        media_type=found.media_type,
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
