"""A local stand-in for arXiv: a real HTTP server on 127.0.0.1 that replays scripted responses.

Routes match on the query string (every given parameter must be present with that value) and, when given
``at``, on the path (GitHub's REST API names the repository in it); the most specific route wins. A route holds a script of replies consumed in order, the last one repeating, so
"503 first, then the page" is ``[Reply(503, …), Reply(body=…)]``. A reply can be held until the test
releases it (to kill a harvester mid-request) or can drop the connection without answering. Every
request is logged with its arrival time on the monotonic clock, its parameters, headers and client port.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "arxiv"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/xml; charset=utf-8"
    hold: threading.Event | None = None  # answer only once this is set
    drop: bool = False  # close the connection without answering


def page(name: str, hold: threading.Event | None = None) -> Reply:
    return Reply(body=fixture(name), hold=hold)


def atom(name: str, status: int = 200) -> Reply:
    return Reply(body=fixture(name), status=status, content_type="application/atom+xml; charset=utf-8")


@dataclass(frozen=True)
class Hit:
    at: float  # time.monotonic() when the request line and headers had arrived
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    client_port: int
    body: bytes = b""  # what a POST sent


class ReplayServer:
    def __init__(self) -> None:
        self.log: list[Hit] = []
        self._routes: list[tuple[str | None, dict[str, str], list[Reply]]] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._holds: list[threading.Event] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def route(self, replies: Reply | list[Reply], at: str | None = None, **params: str) -> None:
        """Answer requests whose query string has all these parameters (Python names: ``from_`` → from),
        at the path ``at`` when it is given."""
        script = replies if isinstance(replies, list) else [replies]
        wanted = {k.rstrip("_"): v for k, v in params.items()}
        with self._lock:
            self._routes.append((at, wanted, list(script)))
            self._holds += [r.hold for r in script if r.hold is not None]

    def wait_for(self, match: Callable[[Hit], bool], timeout: float = 20.0) -> Hit:
        """Block until a logged request satisfies ``match``."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for hit in self.log:
                    if match(hit):
                        return hit
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"no such request within {timeout} s; got {[h.params for h in self.log]}"
                    )
                self._arrived.wait(left)

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for hold in self._holds:  # never leave a handler thread parked
            hold.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _reply_for(self, path: str, params: dict[str, str]) -> Reply | None:
        with self._lock:
            matching = [
                (at, w, s)
                for at, w, s in self._routes
                if (at is None or at == path) and all(params.get(k) == v for k, v in w.items())
            ]
            if not matching:
                return None
            _, _, script = max(matching, key=lambda route: (route[0] is not None, len(route[1])))
            return script.pop(0) if len(script) > 1 else script[0]

    def _record(self, hit: Hit) -> None:
        with self._arrived:
            self.log.append(hit)
            self._arrived.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as arXiv: the client should reuse one connection

            def do_POST(self) -> None:  # an OpenAI-compatible endpoint: the body is logged, the path routes
                self.do_GET()

            def do_GET(self) -> None:
                arrived = time.monotonic()
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                hit = Hit(arrived, parts.path, params, dict(self.headers), self.client_address[1], body)
                server._record(hit)
                reply = server._reply_for(parts.path, params)
                if reply is None:
                    reply = Reply(f"no scripted reply for {params}".encode(), 404, content_type="text/plain")
                if reply.hold is not None:
                    reply.hold.wait()
                if reply.drop:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    return
                with contextlib.suppress(OSError):  # the client may be gone (killed while we held)
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:  # quiet: the log list is the record
                pass

        return Handler
