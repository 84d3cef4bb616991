"""Fetch a .torrent from a download link (cross-seed's announce): http(s) only, capped in size
and time, redirects followed by hand so none leaves http(s) or carries the cookie away."""

from __future__ import annotations

import time
import urllib.parse

import requests
import urllib3

from core.errors import FetchFailed
from core.ports import FetchedTorrent
from core.sources import MAX_TORRENT_FILE_BYTES

MAX_REDIRECTS = 5
CHUNK = 64 * 1024
SCHEMES = ("http", "https")


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port); a URL urllib cannot take apart (a redirect to `http://[` or to
    port 99999) is no link to fetch."""
    try:
        parts = urllib.parse.urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        raise FetchFailed(f"the link to {_host(url)} is not a URL") from None


def _host(url: str) -> str:
    """What error messages name: the host only (a link's path and query carry passkeys)."""
    try:
        return urllib.parse.urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


class HttpTorrentFetcher:
    """core.ports.TorrentFetcher over requests: connect and read timeouts per request, and a
    deadline for the whole fetch (a server dripping bytes cannot hold a request thread)."""

    def __init__(self, *, max_bytes: int = MAX_TORRENT_FILE_BYTES,
                 connect_timeout: float = 5.0, read_timeout: float = 10.0,
                 total_timeout: float = 20.0) -> None:
        self.max_bytes = max_bytes
        self.timeout = (connect_timeout, read_timeout)
        self.total_timeout = total_timeout

    def fetch(self, url: str, *, cookie: str = "") -> FetchedTorrent:
        deadline = time.monotonic() + self.total_timeout
        first = _origin(url)
        with requests.Session() as session:
            session.trust_env = False      # no proxy or .netrc credentials from the env
            for _ in range(MAX_REDIRECTS + 1):
                if time.monotonic() > deadline:
                    raise FetchFailed(f"{_host(url)} took longer than "
                                      f"{self.total_timeout:g} s")
                if _origin(url)[0] not in SCHEMES or not _origin(url)[1]:
                    raise FetchFailed(f"the link to {_host(url)} is not http(s)")
                headers = {"User-Agent": "Debridge", "Accept": "application/x-bittorrent, */*"}
                if cookie and _origin(url) == first:
                    headers["Cookie"] = cookie       # the tracker's, for the tracker only
                response = self._get(session, url, headers)
                with response:
                    if response.is_redirect:
                        url = self._next(url, response)
                        if url.lower().startswith("magnet:"):
                            return FetchedTorrent(magnet=url)
                        continue
                    if response.status_code != 200:
                        raise FetchFailed(f"{_host(url)} answered HTTP {response.status_code}")
                    return FetchedTorrent(data=self._body(response, url, deadline))
        raise FetchFailed(f"more than {MAX_REDIRECTS} redirects from {_host(url)}")

    def _get(self, session: requests.Session, url: str,
             headers: dict[str, str]) -> requests.Response:
        try:
            return session.get(url, headers=headers, stream=True, timeout=self.timeout,
                               allow_redirects=False)
        except requests.RequestException as exc:
            raise FetchFailed(f"cannot fetch from {_host(url)}: {type(exc).__name__}") \
                from None

    @staticmethod
    def _next(url: str, response: requests.Response) -> str:
        location = response.headers.get("Location", "")
        if not location:
            raise FetchFailed(f"{_host(url)} redirected nowhere")
        if location.lower().startswith("magnet:"):
            return location                  # an indexer's link to a public release
        try:
            target = urllib.parse.urljoin(url, location)
        except ValueError:
            raise FetchFailed(f"{_host(url)} redirected to a link that is not a URL") from None
        if _origin(target)[0] not in SCHEMES:
            raise FetchFailed(f"{_host(url)} redirected to a link that is not http(s)")
        return target

    def _body(self, response: requests.Response, url: str, deadline: float) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchFailed(f"the file from {_host(url)} is larger than "
                              f"{self.max_bytes} bytes")
        body = bytearray()
        try:
            for chunk in response.iter_content(CHUNK):
                body += chunk
                if len(body) > self.max_bytes:
                    raise FetchFailed(f"the file from {_host(url)} is larger than "
                                      f"{self.max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise FetchFailed(f"{_host(url)} took longer than "
                                      f"{self.total_timeout:g} s to send the file")
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise FetchFailed(f"the download from {_host(url)} broke: "
                              f"{type(exc).__name__}") from None
        return bytes(body)
