"""Reading a bounded range of a direct link gives the connection back for the next read."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug.http import parse_range_header

from debrid.cdn import HttpContentSource

BODY = bytes(range(256)) * 4096          # 1 MiB


class KeepAliveCdn(BaseHTTPRequestHandler):
    """A CDN node as real ones are: HTTP/1.1 keep-alive, Range, Content-Length."""

    protocol_version = "HTTP/1.1"
    connections = 0

    def setup(self) -> None:
        type(self).connections += 1
        super().setup()

    def do_GET(self) -> None:
        ranges = parse_range_header(self.headers.get("Range"))
        bounds = ranges.range_for_length(len(BODY)) if ranges else None
        start, stop = bounds or (0, len(BODY))
        self.send_response(206 if bounds else 200)
        self.send_header("Content-Length", str(stop - start))
        if bounds:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(BODY)}")
        self.end_headers()
        with contextlib.suppress(OSError):      # the reader may leave early
            self.wfile.write(BODY[start:stop])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def cdn() -> Iterator[str]:
    KeepAliveCdn.connections = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveCdn)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/d/file.mkv"
    finally:
        server.shutdown()
        server.server_close()


def _read(source: HttpContentSource, url: str, offset: int, length: int,
          bounded: bool) -> bytes:
    stream = source.open(url, offset, offset + length if bounded else None)
    out = b""
    for chunk in stream.chunks(1 << 20):
        out += chunk
        if len(out) >= length:
            break
    stream.close()
    return out[:length]


def test_bounded_reads_share_one_connection(cdn: str) -> None:
    source = HttpContentSource()
    for i in range(10):
        offset = i * 50_000
        assert _read(source, cdn, offset, 4096, bounded=True) == BODY[offset:offset + 4096]
    assert KeepAliveCdn.connections == 1


def test_a_read_left_half_way_does_not_reuse_its_connection(cdn: str) -> None:
    source = HttpContentSource()
    for i in range(3):
        offset = i * 50_000
        assert _read(source, cdn, offset, 4096, bounded=False) == BODY[offset:offset + 4096]
    # the rest of each body was still coming: those connections cannot be reused
    assert KeepAliveCdn.connections == 3
