"""A loopback HTTP server standing in for a tracker's .torrent download links: routes set by
the test, every request recorded (path, headers), slow and oversized answers on demand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    """What one path answers: a status, headers, a body (sent in `chunks` pieces, each
    after `delay` seconds), with Content-Length unless `chunked`."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunks: int = 1
    chunked: bool = False


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass      # a client that gave up (a cap, a timeout) resets its connection: expected


class TorrentServer:
    """Serve routes on 127.0.0.1 (a free port) until stopped."""

    def __init__(self) -> None:
        self.routes: dict[str, Route | Callable[[Seen], Route]] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()})
                with server._lock:
                    server.seen.append(seen)
                    found = server.routes.get(self.path.split("?")[0])
                route = found(seen) if callable(found) else found
                server.answer(self, route or Route(status=404, body=b"not found"))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> int:
        """Requests for `path` (with its query when `path` has one, else any query)."""
        with self._lock:
            return sum(1 for s in self.seen
                       if (s.path if "?" in path else s.path.split("?")[0]) == path)

    @staticmethod
    def answer(handler: BaseHTTPRequestHandler, route: Route) -> None:
        try:
            handler.send_response(route.status)
            for name, value in route.headers.items():
                handler.send_header(name, value)
            if route.chunked:
                handler.send_header("Transfer-Encoding", "chunked")
            else:
                handler.send_header("Content-Length", str(len(route.body)))
            handler.end_headers()
            size = max(1, -(-len(route.body) // max(1, route.chunks)))
            for start in range(0, len(route.body), size):
                time.sleep(route.delay)
                piece = route.body[start:start + size]
                if route.chunked:
                    handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                else:
                    handler.wfile.write(piece)
                handler.wfile.flush()
            if route.chunked:
                handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass          # the client gave up (a cap or a timeout): what the test wanted

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
