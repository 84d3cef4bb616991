"""cross-seed's endpoints: POST /api/announce (200/202/204, one add per release however often
autobrr retries) and POST /api/webhook (look at a torrent again now).

One app (with its embedded sandbox, served on a real loopback port for curl) serves most of
the module; a second one, whose provider downloads no uncached release, serves the policy
tests. A loopback server stands in for the trackers' .torrent links and counts fetches.
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from app import create_app, stop_app
from tests.conftest import make_settings
from tests.helpers import PASSWORD, free_port, make_torrent, random_hash, wait_until
from tests.torrent_server import Route, TorrentServer

KEY = "cs-" + "0123456789abcdef" * 2
HEADERS = {"X-Api-Key": KEY}
DOWNLOAD_SECONDS = 6.0       # an [uncached] sandbox release
ANNOUNCE_WAIT = 2.5          # api.announce_wait_seconds: a cached release completes within it


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class World:
    """An app, its sandbox's admin API, and the .torrent links it fetches from."""

    def __init__(self, app: Flask, tmp: Path, links: TorrentServer) -> None:
        self.app = app
        self.tmp = tmp
        self.links = links
        svc = app.extensions["debridge"]
        self.library = svc.library
        self.store = svc.announcer.store
        self.admin = f"http://127.0.0.1:{svc.settings['sandbox.port']}/__admin"
        self.port = svc.settings["server.port"]
        self.client = app.test_client()
        self.guids = 0

    def release(self, name: str, size: int = 1 << 20) -> tuple[str, str]:
        """A .torrent served at a link of its own: (link, info-hash)."""
        data, info_hash = make_torrent(self.tmp, name, {f"{name}.mkv": size})
        path = f"/dl/{info_hash}.torrent"
        self.links.routes[path] = Route(body=data,
                                        headers={"Content-Type": "application/x-bittorrent"})
        return self.links.url(path) + "?passkey=TRACKERSECRET", info_hash

    def body(self, link: str, **extra: Any) -> dict[str, Any]:
        self.guids += 1
        return {"name": extra.pop("name", "Some.Release.2024.1080p"),
                "guid": extra.pop("guid", f"https://tracker.test/details/{self.guids}"),
                "link": link, "tracker": "TrackerTest", **extra}

    def announce(self, body: dict[str, Any], **headers: str) -> Any:
        return self.client.post("/api/announce", json=body, headers=headers or HEADERS)

    def at_provider(self, info_hash: str) -> list[dict[str, Any]]:
        """Every torrent the sandbox was given with this hash (deleted ones too)."""
        listed = requests.get(f"{self.admin}/torrents", timeout=10).json()
        return [t for t in listed if t["hash"] == info_hash]

    def state(self, info_hash: str) -> str:
        found = self.library.store.get_by_hash(info_hash)
        return found.state.value if found is not None else "absent"

    def link_fetches(self) -> int:
        """Every .torrent link fetch so far (not the completion hook's calls)."""
        return sum(1 for seen in self.links.seen if not seen.path.startswith("/hook"))

    def fetches(self, link: str) -> int:
        return self.links.hits(link.split(str(self.links.port), 1)[1].split("?")[0])


@pytest.fixture(scope="module")
def links() -> Iterator[TorrentServer]:
    server = TorrentServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, links: TorrentServer) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("crossseed")
    settings = make_settings(tmp, auth={"api_key": KEY, "max_failed_logins": 1000},
                             server={"port": free_port()},
                             api={"announce_wait_seconds": ANNOUNCE_WAIT},
                             sandbox={"download_seconds": DOWNLOAD_SECONDS},
                             hooks={"on_complete": [{"type": "http", "method": "GET",
                                                     "url": links.url("/hook?hash=%I")}]})
    links.routes["/hook"] = Route(body=b"ok")
    app = create_app(settings)
    try:
        yield World(app, tmp, links)
    finally:
        stop_app(app)


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory, links: TorrentServer) -> Iterator[World]:
    """A provider that downloads no uncached release (providers[].download_uncached off)."""
    tmp = tmp_path_factory.mktemp("crossseed-strict")
    settings = make_settings(tmp, auth={"api_key": KEY},
                             providers=[{"name": "sandbox", "type": "sandbox",
                                         "download_uncached": False}],
                             api={"announce_wait_seconds": ANNOUNCE_WAIT},
                             sandbox={"download_seconds": DOWNLOAD_SECONDS})
    app = create_app(settings)
    try:
        yield World(app, tmp, links)
    finally:
        stop_app(app)


@pytest.fixture(scope="module")
def served(world: World) -> Iterator[str]:
    """The module's app on a real loopback port (its server.port): the base URL for curl."""
    server = make_server("127.0.0.1", world.port, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{world.port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="module")
def complete(world: World) -> str:
    """A release announced until it completed (cached: the first answer is 200)."""
    link, info_hash = world.release("Cached.Movie.2021.1080p")
    response = world.announce(world.body(link))
    assert response.status_code == 200, response.data
    return info_hash


# -- announce: the verdicts ----------------------------------------------------------------------
def test_a_cached_release_completes_within_the_wait_and_answers_200(world: World) -> None:
    link, info_hash = world.release("Cached.Show.S01E01.1080p")
    body = world.body(link, size=1 << 20)        # cross-seed v5's size is accepted
    response = world.announce(body)
    assert response.status_code == 200
    assert response.json["hash"] == info_hash
    assert response.json["state"] == "completed"
    assert response.json["category"] == "cross-seed"
    # asked again: the same answer, nothing fetched or added again
    assert world.announce(body).status_code == 200
    assert world.fetches(link) == 1
    assert len(world.at_provider(info_hash)) == 1


def test_an_uncached_release_answers_202_until_it_completes_then_200_with_one_add(
        world: World) -> None:
    link, info_hash = world.release("Rare.Film.1974.[uncached].1080p")
    body = world.body(link)
    statuses = []
    started = time.monotonic()
    while time.monotonic() - started < DOWNLOAD_SECONDS + 30:
        response = world.announce(body)        # autobrr: retry on 202, expect 200
        statuses.append(response.status_code)
        if response.status_code != 202:
            break
        assert response.json["hash"] == info_hash
        assert response.json["state"] != "completed"
    assert statuses[-1] == 200, statuses
    assert len(statuses) >= 2
    assert set(statuses[:-1]) == {202}
    assert world.announce(body).status_code == 200
    assert len(world.at_provider(info_hash)) == 1     # exactly one add at the provider
    assert world.fetches(link) == 1                   # the guid remembers the hash


def test_with_uncached_downloads_off_an_uncached_release_answers_204(strict: World) -> None:
    link, info_hash = strict.release("Rare.Show.S02.[uncached].720p")
    body = strict.body(link)
    assert strict.announce(body).status_code == 204
    assert strict.state(info_hash) == "absent"
    wait_until(lambda: all(t["deleted"] for t in strict.at_provider(info_hash)), 10,
               what="the provider to hold nothing")
    # a retry is answered from memory: no second add, no second fetch
    assert strict.announce(body).status_code == 204
    assert len(strict.at_provider(info_hash)) <= 1
    assert all(t["deleted"] for t in strict.at_provider(info_hash))
    assert strict.fetches(link) == 1


def test_with_uncached_downloads_off_a_cached_release_still_answers_200(strict: World) -> None:
    link, info_hash = strict.release("Cached.Docu.2019.720p")
    assert strict.announce(strict.body(link)).status_code == 200
    assert strict.state(info_hash) == "completed"


def test_a_flagged_hash_answers_204_and_reaches_no_provider(world: World) -> None:
    link, info_hash = world.release("Flagged.Release.2020.1080p")
    world.library.block(info_hash)
    try:
        given = world.announce(world.body(link, infoHash=info_hash))
        assert given.status_code == 204
        assert world.fetches(link) == 0               # known blocked before any fetch
        fetched = world.announce(world.body(link))
        assert fetched.status_code == 204              # its .torrent names a flagged hash
        assert world.at_provider(info_hash) == []
        assert world.state(info_hash) == "absent"
    finally:
        world.library.unblock(info_hash)


def test_an_unresolvable_link_answers_204_and_changes_nothing(world: World) -> None:
    world.links.routes["/html"] = Route(body=b"<html>log in first</html>")
    world.links.routes["/huge"] = Route(body=b"d" * (11 << 20))
    before = world.library.count()
    for path in ("/missing.torrent", "/html", "/huge"):
        body = world.body(world.links.url(path))
        assert world.announce(body).status_code == 204, path
        assert world.store.announced_hash(body["guid"]) is None
    assert world.library.count() == before


@pytest.mark.parametrize("encode", ["hex", "base32"])
def test_an_announced_info_hash_is_added_from_the_links_torrent(world: World,
                                                                encode: str) -> None:
    link, info_hash = world.release(f"Given.Hash.{encode}.2022.1080p")
    given = info_hash if encode == "hex" else \
        base64.b32encode(bytes.fromhex(info_hash)).decode()
    body = world.body(link, infoHash=given)
    assert world.announce(body).status_code == 200
    assert world.fetches(link) == 1                   # for the add, not for the hash
    assert world.library.torrent_file(info_hash)      # added as the .torrent, not a magnet
    assert world.announce(body).status_code == 200
    assert world.fetches(link) == 1


def test_a_hash_whose_link_gives_nothing_is_added_as_a_magnet(world: World) -> None:
    info_hash = random_hash()
    requests.post(f"{world.admin}/seed", timeout=10, json={
        "hash": info_hash, "name": "Bare.Hash.2023.mkv",
        "files": [{"path": "Bare.Hash.2023.mkv", "bytes": 1 << 20}]}).raise_for_status()
    body = world.body(world.links.url("/gone.torrent"), infoHash=info_hash.upper(),
                      name="Bare.Hash.2023.mkv")
    assert world.announce(body).status_code == 200
    assert world.library.torrent_file(info_hash) is None
    assert len(world.at_provider(info_hash)) == 1


def test_a_link_redirecting_to_a_magnet_adds_the_magnet(world: World) -> None:
    info_hash = random_hash()
    magnet = f"magnet:?xt=urn:btih:{info_hash}&dn=Public.Release.mkv&xl={1 << 20}"
    world.links.routes["/to-magnet"] = Route(status=302, headers={"Location": magnet})
    assert world.announce(world.body(world.links.url("/to-magnet"))).status_code == 200
    assert world.state(info_hash) == "completed"


def test_a_magnet_field_is_used_without_fetching(world: World) -> None:
    info_hash = random_hash()
    magnet = f"magnet:?xt=urn:btih:{info_hash}&dn=Magnet.Field.mkv&xl={1 << 20}"
    link = world.links.url("/never-fetched.torrent")
    world.links.routes["/never-fetched.torrent"] = Route(status=500)
    response = world.announce(world.body(link, magnet=magnet))
    assert response.status_code == 200
    assert world.state(info_hash) == "completed"
    assert world.links.hits("/never-fetched.torrent") == 1     # tried once for a .torrent


def test_a_torrent_removed_after_an_announce_added_it_is_not_added_again(world: World) -> None:
    link, info_hash = world.release("Removed.Later.2018.1080p")
    body = world.body(link)
    assert world.announce(body).status_code == 200
    world.library.delete([info_hash], delete_files=True)
    assert world.announce(body).status_code == 204
    assert len(world.at_provider(info_hash)) == 1


def test_the_form_body_works_as_well(world: World) -> None:
    link, info_hash = world.release("Form.Body.2017.1080p")
    response = world.client.post("/api/announce", data=world.body(link, size="1048576"),
                                 headers=HEADERS)
    assert response.status_code == 200
    assert response.json["hash"] == info_hash


def test_logs_show_neither_the_key_nor_the_links_passkey(world: World,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        link, _ = world.release("Quiet.Logs.2016.1080p")
        world.client.post(f"/api/announce?apikey={KEY}", json=world.body(link))
        world.client.post(f"/api/announce?apikey={KEY}", json=world.body(
            world.links.url("/missing.torrent?passkey=TRACKERSECRET")))
    # (urllib3 logs whole URLs at debug; a served Debridge keeps it at warning)
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("urllib3"))
    assert "Quiet.Logs" in text
    assert KEY not in text
    assert "TRACKERSECRET" not in text
    assert "passkey" not in text


# -- authentication ------------------------------------------------------------------------------
AUTH_FORMS = {
    "x-api-key": ({"X-Api-Key": KEY}, ""), "apikey": ({}, f"?apikey={KEY}"),
    "bearer": ({"Authorization": f"Bearer {KEY}"}, ""),
    "token": ({"Authorization": f"Token {KEY}"}, ""), "token-query": ({}, f"?token={KEY}"),
    "basic-login": (_basic("admin", PASSWORD), ""), "basic-key": (_basic("cross-seed", KEY), ""),
}
WRONG_FORMS = {
    "x-api-key": ({"X-Api-Key": "wrong"}, ""), "apikey": ({}, "?apikey=wrong"),
    "bearer": ({"Authorization": "Bearer wrong"}, ""),
    "token": ({"Authorization": "Token wrong"}, ""), "token-query": ({}, "?token=wrong"),
    "basic": (_basic("admin", "wrong"), ""), "none": ({}, ""),
}


@pytest.mark.parametrize("form", AUTH_FORMS)
def test_every_credential_form_is_taken(world: World, complete: str, form: str) -> None:
    headers, query = AUTH_FORMS[form]
    link, info_hash = world.release(f"Auth.{form}.2015.1080p")
    announced = world.client.post(f"/api/announce{query}", json=world.body(link),
                                  headers=headers)
    assert announced.status_code == 200
    hooked = world.client.post(f"/api/webhook{query}", data={"infoHash": info_hash},
                               headers=headers)
    assert hooked.status_code == 204
    assert hooked.data == b""


@pytest.mark.parametrize("route", ["/api/announce", "/api/webhook"])
@pytest.mark.parametrize("form", WRONG_FORMS)
def test_a_wrong_key_answers_401_in_json_and_does_nothing(world: World, complete: str,
                                                          route: str, form: str) -> None:
    headers, query = WRONG_FORMS[form]
    link = world.links.url(f"/unauth-{form}.torrent")
    body = world.body(link, infoHash=complete) if route.endswith("webhook") \
        else world.body(link)
    response = world.client.post(f"{route}{query}", json=body, headers=headers)
    assert response.status_code == 401
    assert response.is_json
    assert response.json["code"] == 401
    assert world.links.hits(f"/unauth-{form}.torrent") == 0


# -- bad input -----------------------------------------------------------------------------------
class _Missing:
    def __repr__(self) -> str:
        return "MISSING"     # a stable test id (xdist workers must collect the same ids)


MISSING = _Missing()
BAD_FIELDS = [
    {"name": MISSING}, {"guid": MISSING}, {"link": MISSING}, {"tracker": MISSING},
    {"name": 5}, {"name": ""}, {"guid": ["x"]}, {"link": {"a": 1}}, {"tracker": None},
    {"tracker": True}, {"size": "big"}, {"size": True}, {"size": -1}, {"size": 1.5},
    {"infoHash": 123}, {"infoHash": "xyz"}, {"infoHash": "g" * 40}, {"infoHash": "a" * 41},
    {"magnet": "http://not-a-magnet"}, {"magnet": 7}, {"cookie": 5},
    {"cookie": "uid=1\r\nX-Evil: 1"}, {"link": "ftp://tracker.test/a.torrent"},
    {"link": "magnet:?xt=urn:btih:" + "c" * 40}, {"link": "not a url"}, {"link": "http://"},
    {"link": "javascript:alert(1)"}, {"link": "http://tracker.test:99999/a.torrent"},
    {"link": "http://[::1/a.torrent"}, {"link": "http://trackér.test/a.torrent"},
    {"link": "http://tracker.test/a b.torrent"}, {"name": "x" * 1025}, {"guid": "g" * 4097},
    {"name": "lone \ud800 surrogate"}, {"tracker": "t\x00"}, {"size": "\u00b2"},
    {"size": "12 "}, {"infoHash": " " + "a" * 40}, {"cookie": "c" * 4097},
    {"infoHash": "d" * 40, "magnet": "magnet:?xt=urn:btih:" + "e" * 40},
]


def _unchanged(world: World, guid: str, before: tuple[int, int]) -> None:
    assert world.store.announced_hash(guid) is None
    assert (world.library.count(), world.link_fetches()) == before


@pytest.mark.parametrize("change", BAD_FIELDS, ids=[str(c) for c in BAD_FIELDS])
def test_bad_announce_fields_answer_400_in_json_and_change_nothing(
        world: World, change: dict[str, Any]) -> None:
    body = world.body(world.links.url("/never.torrent"))
    for key, value in change.items():
        if value is MISSING:
            body.pop(key)
        else:
            body[key] = value
    before = (world.library.count(), world.link_fetches())
    response = world.announce(body)
    assert response.status_code == 400, response.data
    assert response.is_json
    assert response.json["code"] == 400
    assert response.json["error"]
    _unchanged(world, body.get("guid") if isinstance(body.get("guid"), str) else "", before)


RAW_BODIES = {
    "not-json": ("application/json", b'{"name": "x", '),
    "json-array": ("application/json", b'["name", "guid"]'),
    "json-string": ("application/json", b'"infoHash"'),
    "not-utf8": ("application/json", b'{"name": "\xff"}'),
    "text-plain": ("text/plain", b"name=x&guid=y&link=http://a/b&tracker=t"),
    "oversized": ("application/json", json.dumps({"name": "x" * (300 << 10)}).encode()),
    "oversized-form": ("application/x-www-form-urlencoded", b"name=" + b"x" * (300 << 10)),
    "repeated-form": ("application/x-www-form-urlencoded",
                      b"name=a&name=b&guid=g&link=http%3A%2F%2Fa%2Fb&tracker=t"),
    "empty": ("application/json", b""),
    "empty-form": ("application/x-www-form-urlencoded", b""),
    "no-type-garbage": ("", b"\xff\xfe\x00garbage"),
}


@pytest.mark.parametrize("route", ["/api/announce", "/api/webhook"])
@pytest.mark.parametrize("case", RAW_BODIES)
def test_bodies_that_are_not_json_or_a_form_answer_400_in_json(world: World, route: str,
                                                               case: str) -> None:
    content_type, data = RAW_BODIES[case]
    before = (world.library.count(), world.link_fetches())
    headers = {**HEADERS, **({"Content-Type": content_type} if content_type else {})}
    response = world.client.post(route, data=data, headers=headers)
    assert response.status_code == 400, (case, response.data)
    assert response.is_json
    assert response.json["code"] == 400
    assert (world.library.count(), world.link_fetches()) == before


def test_announce_and_webhook_take_only_post(world: World) -> None:
    for route in ("/api/announce", "/api/webhook"):
        response = world.client.get(route, headers=HEADERS)
        assert response.status_code == 405
        assert response.is_json


# -- webhook -------------------------------------------------------------------------------------
def _placed_files(world: World, info_hash: str) -> list[Path]:
    torrent = world.library.torrent(info_hash)
    root = Path(torrent.content_path)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]


def test_webhook_checks_a_completed_torrent_and_places_a_lost_file_again(world: World) -> None:
    link, info_hash = world.release("Webhook.Check.2014.1080p")
    assert world.announce(world.body(link)).status_code == 200
    first = world.library.torrent(info_hash).completion_on
    lost = _placed_files(world, info_hash)[0]
    size = lost.stat().st_size
    lost.unlink()
    response = world.client.post("/api/webhook", data={"infoHash": info_hash}, headers=HEADERS)
    assert response.status_code == 204
    assert response.data == b""
    wait_until(lambda: lost.exists() and world.state(info_hash) == "completed", 20,
               what="the lost file placed again")
    assert lost.stat().st_size == size
    assert world.library.torrent(info_hash).completion_on == first
    assert len(world.at_provider(info_hash)) == 1
    # the completion hook ran once, at the first completion, not again after the check
    time.sleep(1.0)
    assert world.links.hits(f"/hook?hash={info_hash}") == 1


def test_webhook_finds_a_torrent_by_its_path(world: World, complete: str) -> None:
    torrent = world.library.torrent(complete)
    inside = _placed_files(world, complete)[0]
    for path in (torrent.content_path, torrent.content_path + "/", str(inside)):
        response = world.client.post("/api/webhook", json={"path": path}, headers=HEADERS)
        assert response.status_code == 204, path
        wait_until(lambda: world.state(complete) == "completed", 20, what="the check")


def test_webhook_on_a_torrent_in_progress_polls_it_now(world: World) -> None:
    link, info_hash = world.release("Still.Coming.[uncached].2013.1080p")
    assert world.announce(world.body(link)).status_code == 202
    response = world.client.post("/api/webhook", json={"infoHash": info_hash},
                                 headers=HEADERS)
    assert response.status_code == 204
    assert world.state(info_hash) in ("downloading", "finalizing", "completed")


def test_a_field_in_both_the_query_and_the_body_is_refused(world: World, complete: str) -> None:
    response = world.client.post(f"/api/webhook?infoHash={complete}",
                                 data={"infoHash": complete}, headers=HEADERS)
    assert response.status_code == 400
    assert response.is_json


@pytest.mark.parametrize("body", [{"infoHash": "f" * 40}, {"path": "/nowhere/at/all"}])
def test_webhook_for_no_known_torrent_answers_404_in_json(world: World,
                                                          body: dict[str, str]) -> None:
    response = world.client.post("/api/webhook", json=body, headers=HEADERS)
    assert response.status_code == 404
    assert response.is_json
    assert response.json["code"] == 404


@pytest.mark.parametrize("body", [{}, {"infoHash": "a" * 40, "path": "/x"}, {"infoHash": "xyz"},
                                  {"infoHash": 5}, {"path": 5}, {"path": "relative/dir"},
                                  {"path": "/a\u0000b"}, {"infoHash": ""}, {"outputDir": "/x"}])
def test_webhook_bad_input_answers_400_in_json(world: World, body: dict[str, Any]) -> None:
    response = world.client.post("/api/webhook", json=body, headers=HEADERS)
    assert response.status_code == 400, response.data
    assert response.is_json
    assert response.json["code"] == 400


# -- the documented examples, with the real curl ---------------------------------------------------
def _curl(*args: str) -> tuple[int, bytes]:
    out = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args],
                         capture_output=True, timeout=30, check=True).stdout
    body, _, status = out.rpartition(b"\n")
    return int(status), body


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_cross_seeds_documented_curl_examples_work_verbatim(world: World, served: str,
                                                            complete: str) -> None:
    hooked = [
        # cross-seed's docs: the key as a query parameter, the hash as a form field
        _curl("-XPOST", f"{served}/api/webhook?apikey={KEY}",
              "--data-urlencode", f"infoHash={complete}"),
        # ... and as a header
        _curl("-XPOST", f"{served}/api/webhook", "-H", f"X-Api-Key: {KEY}",
              "--data-urlencode", f"infoHash={complete}"),
        # the JSON form, with the key either way
        _curl("-XPOST", f"{served}/api/webhook", "-H", "Content-Type: application/json",
              "-H", f"X-Api-Key: {KEY}", "--data", json.dumps({"infoHash": complete})),
        _curl("-XPOST", f"{served}/api/webhook?apikey={KEY}", "-H",
              "Content-Type: application/json", "--data", f'{{"infoHash":"{complete}"}}'),
        # cross-seed's "triggering searches" guide: the hash in the query string too
        _curl("-XPOST", f"{served}/api/webhook?apikey={KEY}&infoHash={complete}"),
    ]
    assert hooked == [(204, b"")] * 5
    status, body = _curl("-XPOST", f"{served}/api/webhook", "-H",
                         "Content-Type: application/json", "--data",
                         f'{{"infoHash":"{complete}"}}')
    assert status == 401
    assert json.loads(body)["code"] == 401
    link, info_hash = world.release("Curl.Announce.2012.1080p")
    status, body = _curl("-XPOST", f"{served}/api/announce?apikey={KEY}", "-H",
                         "Content-Type: application/json", "--data",
                         json.dumps(world.body(link, size=1 << 20)))
    assert status == 200
    assert json.loads(body)["hash"] == info_hash


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("route", ["/api/announce", "/api/webhook"])
def test_an_oversized_chunked_body_answers_400_in_json(world: World, served: str,
                                                       route: str, tmp_path: Path) -> None:
    """No Content-Length to refuse it by: the cap holds as the body is read."""
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"name": "x" * (400 << 10)}))
    before = world.library.count()
    status, body = _curl("-XPOST", f"{served}{route}", "-H", f"X-Api-Key: {KEY}", "-H",
                         "Content-Type: application/json", "-H", "Transfer-Encoding: chunked",
                         "--data-binary", f"@{big}")
    assert status == 400
    assert json.loads(body)["code"] == 400
    assert world.library.count() == before


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_with_a_wrong_key_gets_json_not_html(served: str) -> None:
    status, body = _curl("-XPOST", f"{served}/api/announce?apikey=nope", "--data-urlencode",
                         "name=x")
    assert status == 401
    assert json.loads(body)["error"]


def test_the_guid_and_the_outcome_are_remembered(world: World) -> None:
    link, info_hash = world.release("Memory.Row.2011.1080p")
    body = world.body(link)
    world.announce(body)
    assert world.store.announced_hash(body["guid"]) == info_hash
    outcome = world.store.announce_outcome(info_hash)
    assert outcome is not None
    assert outcome.outcome == "added"
