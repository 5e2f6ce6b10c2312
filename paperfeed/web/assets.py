"""The vendored static files (the stylesheet, the scripts, KaTeX and its fonts: well under 1 MB) read into
memory once when the app is built and served from there: no disk and no thread, so nothing that holds
the thread pool (a slow database, a burst of writes) can delay a stylesheet. Each answer carries an ETag
and is revalidated with 304."""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

# Python's table lacks some of these on older systems; the browser needs them right (nosniff is on).
_TYPES = {".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".svg": "image/svg+xml"}
_CACHE = "public, max-age=3600"


class StaticAssets:
    """An ASGI app for ``/static``: every file under ``directory``, GET and HEAD only."""

    def __init__(self, directory: Path) -> None:
        self.files: dict[str, tuple[bytes, list[tuple[bytes, bytes]], str]] = {}
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            body = path.read_bytes()
            kind = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
                kind += "; charset=utf-8"
            etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
            headers = [
                (b"content-type", kind.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"etag", etag.encode()),
                (b"cache-control", _CACHE.encode()),
            ]
            self.files["/" + path.relative_to(directory).as_posix()] = (body, headers, etag)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        found = self.files.get(path)
        if found is None:
            raise HTTPException(404)
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        body, headers, etag = found
        if etag in Headers(scope=scope).get("if-none-match", ""):
            await send({"type": "http.response.start", "status": 304, "headers": headers[2:]})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
