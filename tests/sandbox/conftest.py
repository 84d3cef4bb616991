"""Fixtures for the sandbox tests: live SandboxServers and a bare Real-Debrid HTTP client."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

from debrid.sandbox import SandboxOptions, SandboxServer
from tests.helpers import expected_bytes

MIB = 1 << 20
# Short timings keep the suite fast; tests that need time to pass mostly advance the clock.
TEST_TOKEN = "test-token"
FAST = {"download_seconds": 1.0, "queue_seconds": 0.2, "conversion_seconds": 0.0}


def infohash_of(name: str) -> str:
    return hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()


def magnet(name: str | None = None, infohash: str | None = None, xl: int | None = None) -> str:
    """A magnet URI; the infohash defaults to one derived from the name."""
    infohash = infohash or infohash_of(name or "nameless")
    uri = f"magnet:?xt=urn:btih:{infohash}"
    if name is not None:
        uri += f"&dn={quote(name)}"
    if xl is not None:
        uri += f"&xl={xl}"
    return uri + "&tr=udp%3A%2F%2Ftracker.example%3A1337%2Fannounce"


def expected_content(infohash: str, file_id: int, start: int, end_inclusive: int) -> bytes:
    """The content formula, from the independent copy in tests/helpers.py."""
    return expected_bytes(infohash, file_id, start, end_inclusive - start + 1)


class RD:
    """Raw HTTP against one sandbox: no retries, no parsing beyond what a test asserts."""

    def __init__(self, server: SandboxServer, token: str = TEST_TOKEN) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        return self.session.request(method, self.server.api_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return requests.request(method, f"{self.server.url}/__admin{path}", **kwargs)

    # -- steps most tests share, each asserting the happy-path status --

    def add_magnet(self, uri: str) -> str:
        response = self.post("/torrents/addMagnet", data={"magnet": uri})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def select(self, torrent_id: str, files: str = "all") -> None:
        response = self.post(f"/torrents/selectFiles/{torrent_id}", data={"files": files})
        assert response.status_code == 204, response.text

    def info(self, torrent_id: str) -> dict[str, Any]:
        response = self.get(f"/torrents/info/{torrent_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def downloaded(self, uri: str, files: str = "all") -> dict[str, Any]:
        """Add a cached magnet, select, and return its (downloaded) info."""
        torrent_id = self.add_magnet(uri)
        self.select(torrent_id, files)
        info = self.info(torrent_id)
        assert info["status"] == "downloaded", info
        return info

    def unrestrict(self, link: str) -> dict[str, Any]:
        response = self.post("/unrestrict/link", data={"link": link})
        assert response.status_code == 200, response.text
        return response.json()

    def seed(self, **entry: Any) -> dict[str, Any]:
        response = self.admin("POST", "/seed", json=entry)
        assert response.status_code == 201, response.text
        return response.json()

    def advance(self, seconds: float) -> None:
        response = self.admin("POST", "/clock", json={"advance": seconds})
        assert response.status_code == 200, response.text

    def configure(self, **options: Any) -> None:
        response = self.admin("POST", "/config", json=options)
        assert response.status_code == 200, response.text


def assert_error(response: requests.Response, status: int, error: str, code: int) -> None:
    """Real-Debrid's error envelope, exactly."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"error": error, "error_code": code}


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes with FAST timings plus overrides; all are stopped after the test."""
    started: list[SandboxServer] = []

    def make(state_path: Any = None, **options: Any) -> SandboxServer:
        server = SandboxServer(SandboxOptions(**{**FAST, **options}), state_path=state_path)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def make_rd(make_sandbox: Callable[..., SandboxServer]) -> Iterator[Callable[..., RD]]:
    """A client on a new sandbox started with the given options."""
    clients: list[RD] = []

    def make(**options: Any) -> RD:
        client = RD(make_sandbox(**options))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def rd(make_rd: Callable[..., RD]) -> RD:
    return make_rd()
