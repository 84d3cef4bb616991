"""Read a provider's direct (CDN) link from an offset, with HTTP Range."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import requests
import urllib3

from core.errors import LinkExpired
from debrid.base import ProtocolError, ServiceUnavailable

# Answers that mean "this URL is no good any more": resolve the provider link again.
EXPIRED_STATUSES = frozenset({401, 403, 404, 410, 503})


class HttpStream:
    """An open GET of a direct link; `skip` drops leading bytes when Range was ignored."""

    def __init__(self, response: requests.Response, skip: int) -> None:
        self._response = response
        self._skip = skip

    def chunks(self, size: int) -> Iterator[bytes]:
        try:
            # The first piece is whatever has arrived (at most `size`), so a reader's first
            # byte waits for the CDN's first bytes, not for `size` of them; then whole chunks.
            # (Not for chunked bodies: urllib3 parses those itself.)
            raw = self._response.raw
            first = b"" if raw.chunked else raw.read1(size, decode_content=True)
            for chunk in itertools.chain((first,), self._response.iter_content(size)):
                if self._skip:
                    dropped = min(self._skip, len(chunk))
                    chunk = chunk[dropped:]
                    self._skip -= dropped
                if chunk:
                    yield chunk
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise ServiceUnavailable(f"the CDN connection broke: {type(exc).__name__}") \
                from None

    def close(self) -> None:
        self._response.close()


class HttpContentSource:
    """Opens direct links with one pooled requests.Session."""

    def __init__(self, *, connect_timeout: float = 10.0, read_timeout: float = 60.0) -> None:
        self.timeout = (connect_timeout, read_timeout)
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        """One pooled session per thread: each transfer thread keeps its connections."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["User-Agent"] = "Debridge"
        return session

    def open(self, url: str, offset: int, end: int | None = None) -> HttpStream:
        if end is not None and end > offset:
            headers = {"Range": f"bytes={offset}-{end - 1}"}
        else:
            headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            response = self.session.get(url, headers=headers, stream=True, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ServiceUnavailable(f"cannot reach the CDN: {type(exc).__name__}") from None
        status = response.status_code
        if status in EXPIRED_STATUSES:
            response.close()
            raise LinkExpired(status)
        if status == 206 or (status == 200 and offset == 0):
            return HttpStream(response, 0)
        if status == 200:
            return HttpStream(response, offset)     # the CDN ignored Range: skip ahead
        response.close()
        if status >= 500:
            raise ServiceUnavailable(f"the CDN answered HTTP {status}", http_status=status)
        raise ProtocolError(f"the CDN answered HTTP {status}", http_status=status)
