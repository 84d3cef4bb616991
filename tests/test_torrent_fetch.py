"""debrid/torrent_fetch: the .torrent behind an announce's link, within its size and time
bounds, over http(s) only, with the cookie kept to the link's own host."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from core.errors import FetchFailed
from debrid.torrent_fetch import HttpTorrentFetcher
from tests.torrent_server import Route, Seen, TorrentServer

CAP = 64 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[TorrentServer]:
    found = TorrentServer()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def fetcher() -> HttpTorrentFetcher:
    return HttpTorrentFetcher(max_bytes=CAP, connect_timeout=1, read_timeout=0.5,
                              total_timeout=1.5)


def test_the_body_of_a_200_is_the_torrent(server: TorrentServer,
                                          fetcher: HttpTorrentFetcher) -> None:
    server.routes["/ok.torrent"] = Route(body=b"d4:infod4:name1:xee", chunks=3)
    assert fetcher.fetch(server.url("/ok.torrent?passkey=s3cret")).data == \
        b"d4:infod4:name1:xee"


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_cap_is_refused(server: TorrentServer, fetcher: HttpTorrentFetcher,
                                        chunked: bool) -> None:
    """By its Content-Length at once, or (chunked, no length) as soon as it is past the cap."""
    server.routes["/big"] = Route(body=b"x" * (CAP * 4), chunks=16, chunked=chunked)
    with pytest.raises(FetchFailed, match="larger than"):
        fetcher.fetch(server.url("/big"))


def test_a_body_of_exactly_the_cap_is_taken(server: TorrentServer,
                                            fetcher: HttpTorrentFetcher) -> None:
    server.routes["/edge"] = Route(body=b"y" * CAP, chunks=4, chunked=True)
    assert len(fetcher.fetch(server.url("/edge")).data) == CAP


def test_a_silent_server_times_out(server: TorrentServer, fetcher: HttpTorrentFetcher) -> None:
    server.routes["/silent"] = Route(body=b"late", delay=2.0)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match=r"127\.0\.0\.1"):
        fetcher.fetch(server.url("/silent"))
    assert time.monotonic() - started < 2.0


def test_a_server_dripping_bytes_meets_the_deadline(server: TorrentServer,
                                                    fetcher: HttpTorrentFetcher) -> None:
    """Each piece comes within the read timeout, the whole would take 4 s: 1.5 s is all."""
    server.routes["/drip"] = Route(body=b"z" * 40, chunks=10, delay=0.4, chunked=True)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="longer than"):
        fetcher.fetch(server.url("/drip"))
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("status", [403, 404, 500])
def test_an_error_status_fails_naming_the_host_only(server: TorrentServer,
                                                    fetcher: HttpTorrentFetcher,
                                                    status: int) -> None:
    server.routes["/err"] = Route(status=status, body=b"<html>no</html>")
    with pytest.raises(FetchFailed) as caught:
        fetcher.fetch(server.url("/err?passkey=s3cret"))
    assert str(status) in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert "/err" not in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x.torrent", "file:///etc/passwd",
                                 "magnet:?xt=urn:btih:" + "a" * 40, "http:///nohost"])
def test_only_http_and_https_are_fetched(fetcher: HttpTorrentFetcher, url: str) -> None:
    with pytest.raises(FetchFailed, match="not http"):
        fetcher.fetch(url)


def test_redirects_are_followed_within_http(server: TorrentServer,
                                            fetcher: HttpTorrentFetcher) -> None:
    server.routes["/hop1"] = Route(status=302, headers={"Location": "/hop2"})
    server.routes["/hop2"] = Route(status=301, headers={"Location": server.url("/final")})
    server.routes["/final"] = Route(body=b"torrent")
    assert fetcher.fetch(server.url("/hop1")).data == b"torrent"


def test_a_redirect_to_another_scheme_is_refused(server: TorrentServer,
                                                 fetcher: HttpTorrentFetcher) -> None:
    server.routes["/to-file"] = Route(status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(FetchFailed, match="not http"):
        fetcher.fetch(server.url("/to-file"))


def test_a_redirect_to_a_magnet_link_gives_the_magnet(server: TorrentServer,
                                                      fetcher: HttpTorrentFetcher) -> None:
    magnet = "magnet:?xt=urn:btih:" + "b" * 40 + "&dn=Public"
    server.routes["/to-magnet"] = Route(status=302, headers={"Location": magnet})
    fetched = fetcher.fetch(server.url("/to-magnet"))
    assert fetched.magnet == magnet
    assert fetched.data == b""


def test_endless_redirects_stop(server: TorrentServer, fetcher: HttpTorrentFetcher) -> None:
    server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
    with pytest.raises(FetchFailed, match="redirects"):
        fetcher.fetch(server.url("/loop"))


def test_the_cookie_goes_to_the_links_host_only(server: TorrentServer,
                                                fetcher: HttpTorrentFetcher) -> None:
    """A redirect to another host (here: the same server by another name) gets no cookie."""
    def final(seen: Seen) -> Route:
        return Route(body=seen.headers.get("cookie", "none").encode())

    server.routes["/mine"] = final
    server.routes["/away"] = Route(status=302, headers={
        "Location": f"http://localhost:{server.port}/mine"})
    assert fetcher.fetch(server.url("/mine"), cookie="uid=1; pass=2").data == b"uid=1; pass=2"
    assert fetcher.fetch(server.url("/away"), cookie="uid=1; pass=2").data == b"none"
