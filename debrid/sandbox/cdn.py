"""The CDN: unrestricted download URLs serve deterministic bytes with HTTP Range support."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import time
import unicodedata
from collections.abc import Iterator
from urllib.parse import quote

from flask import Blueprint, Response, g, request
from werkzeug.datastructures import Range
from werkzeug.http import http_date

from .content import BLOCK_SIZE, read_segments
from .records import DownloadRecord
from .runtime import current

blueprint = Blueprint("cdn", __name__)
_THROTTLE_CHUNK = 64 * 1024


def _disposition(filename: str) -> str:
    # Header values must be Latin-1; keep an ASCII fallback and add RFC 5987 for the rest.
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = fallback.replace("\\", "_").replace('"', "_") or "download"
    if fallback == filename:
        return f'attachment; filename="{fallback}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def _etag(record: DownloadRecord) -> str:
    # Strong: the bytes depend only on the infohash and the files, never change.
    digest = hashlib.sha1(f"{record.hash}:{record.segments}".encode(), usedforsecurity=False)
    return digest.hexdigest()[:24]


def _range_applies(etag: str, last_modified: float) -> bool:
    """If-Range: serve the range only when the client's validator still matches."""
    if_range = request.if_range
    if if_range.etag is not None:
        return if_range.etag == etag
    if if_range.date is not None:
        return int(if_range.date.timestamp()) == int(last_modified)
    return True


def _stream(record: DownloadRecord, start: int, stop: int, rate: int) -> Iterator[bytes]:
    """Yield [start, stop) paced to `rate` bytes/s when throttled.

    When the client disconnects the server's write fails and closes this generator, so no
    more bytes are computed for nobody.
    """
    if stop <= start:
        return
    chunk = BLOCK_SIZE if rate <= 0 else max(1, min(_THROTTLE_CHUNK, rate // 10 or 1))
    began, sent = time.monotonic(), 0
    for piece in read_segments(record.hash, record.segments, start, stop - 1, chunk):
        yield piece
        if rate > 0:
            sent += len(piece)
            ahead = sent / rate - (time.monotonic() - began)
            if ahead > 0:
                time.sleep(ahead)


def _cut(body: Iterator[bytes], after: int, sock: socket.socket | None) -> Iterator[bytes]:
    """Send `after` bytes of `body`, then drop the connection as a failing CDN node does."""
    sent = 0
    for piece in body:
        if sent + len(piece) >= after:
            yield piece[: after - sent]
            break
        sent += len(piece)
        yield piece
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _plain(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain", headers=headers)


@blueprint.get("/cdn/<token>/<path:name>")
def serve(token: str, name: str) -> Response:
    sandbox = current()
    record = sandbox.state.download_by_token(token)
    if record is None or record.torrent_deleted:
        return _plain(404, "Not Found")
    if sandbox.state.now() >= record.expires:
        return _plain(sandbox.options.expired_link_status, "Link expired")
    size = record.filesize
    etag = _etag(record)
    last_modified = record.torrent_ended or record.generated
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": _disposition(record.filename),
        "Last-Modified": http_date(last_modified),
        "ETag": f'"{etag}"',
    }
    start, stop, status = 0, size, 200
    requested = request.range  # werkzeug's parser; None when absent or malformed
    if requested is not None and requested.units == "bytes" and _range_applies(etag, last_modified):
        # Several ranges would need multipart/byteranges; like many CDNs, serve only the first.
        first = Range("bytes", requested.ranges[:1])
        bounds = first.range_for_length(size)
        if bounds is None:
            headers["Content-Range"] = f"bytes */{size}"
            return _plain(416, "Requested Range Not Satisfiable", headers)
        (start, stop), status = bounds, 206
        headers["Content-Range"] = first.to_content_range_header(size) or f"bytes */{size}"
    headers["Content-Length"] = str(stop - start)
    body = _stream(record, start, stop, sandbox.options.cdn_bytes_per_second)
    cut_after = g.get("cut_after")
    if cut_after is not None:
        body = _cut(body, cut_after, request.environ.get("werkzeug.socket"))
    return Response(
        body, status=status, headers=headers, mimetype=record.mime, direct_passthrough=True
    )
