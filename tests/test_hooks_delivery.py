"""Completion hooks end to end: torrents completed through the real app and its sandbox reach
a loopback stand-in for cross-seed's strict webhook exactly once each, also across a SIGKILL
of `python app.py serve` between completion and delivery; a command hook gets the
placeholders expanded; failing hooks are tried max_attempts times and break nothing."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import qbittorrentapi
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, stop_app
from core.ports import DeliveryState, HookFailed, HttpCall
from hooks import HookRunner
from store.sqlite import SqliteStore
from tests.conftest import make_settings
from tests.helpers import (
    PASSWORD,
    free_port,
    magnet,
    random_hash,
    start_debridge,
    wait_until,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hooks_delivery")]
API = "/api/v2"
PEER_KEY = "cross-seed-key-5f1e0a"
INFO_HASH = re.compile(r"^[0-9a-fA-F]{40}$")
ATTEMPTS = 3


class Peer:
    """cross-seed's daemon as far as its webhook goes: POST /api/webhook takes a JSON or
    urlencoded body of exactly one key, infoHash (40 hex), and the right X-Api-Key or
    ?apikey= (else 401), answering 400 to anything else and 204 at once to a valid call.
    Also /fail (always 500) and /echo (records what it got). `hold` keeps webhook calls
    unanswered, as a peer that has not processed them yet: they are not counted."""

    def __init__(self) -> None:
        self.valid: list[str] = []
        self.refused: list[tuple[int, str]] = []
        self.failed = 0
        self.echoed: list[tuple[dict[str, str], bytes]] = []
        self.held = 0
        self.hold = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def calls_for(self, info_hash: str) -> int:
        with self.lock:
            return self.valid.count(info_hash)

    def webhook(self, query: str, headers: Any, body: bytes) -> tuple[int, str]:
        key = headers.get("X-Api-Key") or urllib.parse.parse_qs(query).get("apikey", [""])[0]
        if key != PEER_KEY:
            return 401, "bad key"
        kind = headers.get("Content-Type", "").split(";")[0].strip()
        fields: dict[str, Any]
        try:
            if kind == "application/json":
                fields = json.loads(body)
            else:
                pairs = urllib.parse.parse_qs(body.decode(), keep_blank_values=True,
                                              strict_parsing=True)
                fields = {k: v[0] if len(v) == 1 else v for k, v in pairs.items()}
        except ValueError:
            return 400, f"unparsable {body!r}"
        if not isinstance(fields, dict) or set(fields) != {"infoHash"} or \
                not isinstance(fields["infoHash"], str) or not INFO_HASH.match(fields["infoHash"]):
            return 400, f"schema: {body!r}"
        with self.lock:
            self.valid.append(fields["infoHash"])
        return 204, ""


def _handler(peer: Peer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path, _, query = self.path.partition("?")
            if path == "/fail":
                with peer.lock:
                    peer.failed += 1
                self._answer(500)
            elif path == "/echo":
                with peer.lock:
                    peer.echoed.append((dict(self.headers.items()), body))
                self._answer(200)
            elif path == "/api/webhook" and peer.hold.is_set():
                with peer.lock:
                    peer.held += 1
                peer.release.wait(120)
                self.close_connection = True      # never answered
            elif path == "/api/webhook":
                status, why = peer.webhook(query, self.headers, body)
                if status != 204:
                    with peer.lock:
                        peer.refused.append((status, why))
                self._answer(status)
            else:
                self._answer(404)

    return Handler


@pytest.fixture(scope="module")
def peer() -> Iterator[Peer]:
    stub = Peer()
    yield stub
    stub.stop()


def _script(tmp: Path) -> Path:
    """A hook program writing its arguments to <tmp>/argv-<first argument>.json."""
    script = tmp / "record-argv.py"
    script.write_text("import json, pathlib, sys\n"
                      f"out = pathlib.Path({str(tmp)!r}) / f'argv-{{sys.argv[1]}}.json'\n"
                      "out.write_text(json.dumps(sys.argv[1:]))\n")
    return script


@dataclass
class Rig:
    app: Flask
    qbit: FlaskClient
    tmp: Path

    @property
    def store(self) -> SqliteStore:
        store: SqliteStore = self.app.extensions["debridge.runtime"].store
        return store

    def complete(self, name: str, size: int = 200_000) -> str:
        info_hash = random_hash()
        assert self.qbit.post(f"{API}/torrents/add", data={
            "urls": magnet(info_hash, name, size), "category": "tv",
            "tags": "cross,seed"}).text == "Ok."
        return info_hash

    def state(self, info_hash: str) -> str:
        found = self.qbit.get(f"{API}/torrents/info?hashes={info_hash}").json
        return str(found[0]["state"]) if found else "gone"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, peer: Peer) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("hooks")
    unreachable = f"http://127.0.0.1:{free_port()}/x"
    hooks = [
        {"type": "cross-seed", "url": peer.url, "api_key": PEER_KEY},
        {"type": "command",
         "command": f"{sys.executable} {_script(tmp)} %I \"%N\" %L %G %F %R %D %C %Z %T %J %K"},
        {"type": "http", "url": f"{peer.url}/echo?apikey=echo-secret-77", "body": "n=%N&h=%I",
         "headers": {"Content-Type": "application/x-www-form-urlencoded",
                     "Authorization": "Bearer echo-bearer-88"}},
        {"type": "http", "url": f"{peer.url}/fail"},
        {"type": "command", "command": f"{sys.executable} -c 'raise SystemExit(1)'"},
        {"type": "http", "url": unreachable},
    ]
    settings = make_settings(tmp, hooks={"on_complete": hooks, "max_attempts": ATTEMPTS,
                                         "retry_seconds": 0.05, "timeout_seconds": 5.0})
    app = create_app(settings)
    client = app.test_client()
    assert client.post(f"{API}/auth/login",
                       data={"username": "admin", "password": PASSWORD}).text == "Ok."
    try:
        yield Rig(app, client, tmp)
    finally:
        stop_app(app)


def _finished(rig: Rig, info_hash: str) -> bool:
    deliveries = rig.store.hook_deliveries(info_hash)
    return len(deliveries) == 6 and all(
        d.state in (DeliveryState.DONE, DeliveryState.FAILED) for d in deliveries)


def test_each_completed_torrent_reaches_every_hook_once(rig: Rig, peer: Peer,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    hashes = [rig.complete("Show.S01E01.1080p.mkv"), rig.complete("Show.S01E02.1080p.mkv")]
    for info_hash in hashes:
        wait_until(lambda h=info_hash: rig.state(h) == "pausedUP", timeout=30, what="pausedUP")
    for info_hash in hashes:
        wait_until(lambda h=info_hash: _finished(rig, h), timeout=30, what="hooks finished")
    time.sleep(0.5)                      # nothing more arrives after the outcomes are written
    assert sorted(peer.valid) == sorted(hashes)
    assert peer.refused == []
    assert peer.failed == ATTEMPTS * len(hashes)
    for info_hash in hashes:
        by_state = {(d.state, d.attempts) for d in rig.store.hook_deliveries(info_hash)}
        assert by_state == {(DeliveryState.DONE, 1), (DeliveryState.FAILED, ATTEMPTS)}
        torrent = rig.qbit.get(f"{API}/torrents/info?hashes={info_hash}").json[0]
        argv = json.loads((rig.tmp / f"argv-{info_hash}.json").read_text())
        assert argv == [info_hash, torrent["name"], "tv", "cross,seed",
                        torrent["content_path"], torrent["content_path"],
                        torrent["save_path"], "1", str(torrent["total_size"]),
                        "http://127.0.0.1:1/announce", "-", info_hash]
    bodies = sorted(body for _, body in peer.echoed)
    assert bodies == sorted(f"n=Show.S01E0{i}.1080p.mkv&h={h}".encode()
                            for i, h in zip((1, 2), hashes, strict=True))
    assert all(headers["Authorization"] == "Bearer echo-bearer-88"
               for headers, _ in peer.echoed)
    logged = caplog.text
    for secret in (PEER_KEY, "echo-secret-77", "echo-bearer-88"):
        assert secret not in logged
    # the engine carries on: another torrent completes and is delivered
    later = rig.complete("Show.S01E03.1080p.mkv")
    wait_until(lambda: peer.calls_for(later) == 1, timeout=30, what="the third call")


def test_the_runner_reports_http_failures_without_the_url(peer: Peer) -> None:
    runner = HookRunner()
    with pytest.raises(HookFailed, match=r"^HTTP 500$"):
        runner.send(HttpCall("POST", f"{peer.url}/fail?apikey=k"), 5)
    with pytest.raises(HookFailed, match=r"^connection refused$"):
        runner.send(HttpCall("POST", f"http://127.0.0.1:{free_port()}/?apikey=k"), 5)
    with pytest.raises(HookFailed, match=r"^HTTP 401$"):
        runner.send(HttpCall("POST", f"{peer.url}/api/webhook", body=b"infoHash=" + b"a" * 40),
                    5)
    peer.hold.set()
    try:
        with pytest.raises(HookFailed, match=r"^no answer within 0\.5s$"):
            runner.send(HttpCall("POST", f"{peer.url}/api/webhook"), 0.5)
    finally:
        peer.hold.clear()


# -- across a SIGKILL -----------------------------------------------------------------------------
def _outbox(data: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(data / "debridge.sqlite3") as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(
            "SELECT hash, state, attempts FROM hook_outbox ORDER BY id")]


def test_a_kill_between_completion_and_delivery_neither_loses_nor_repeats(
        tmp_path: Path) -> None:
    peer = Peer()
    peer.hold.set()                      # cross-seed is slow: calls stay in flight
    port = free_port()
    config = write_config(tmp_path, port=port, sandbox_port=free_port(), hooks={
        "on_complete": [{"type": "cross-seed", "url": peer.url, "api_key": PEER_KEY}],
        "timeout_seconds": 60.0, "max_attempts": 5, "retry_seconds": 0.1},
        downloads={"folder": str(tmp_path / "downloads")})
    server = start_debridge(config, tmp_path / "debridge-1.log", port)
    try:
        client = qbittorrentapi.Client(host=f"http://127.0.0.1:{port}", username="admin",
                                       password=PASSWORD, REQUESTS_ARGS={"timeout": 30})
        client.auth_log_in()
        hashes = [random_hash(), random_hash()]
        for number, info_hash in enumerate(hashes):
            client.torrents_add(urls=magnet(info_hash, f"Movie.{number}.2024.mkv", 100_000))
        wait_until(lambda: len([t for t in client.torrents_info()
                                if t["state"] == "pausedUP"]) == 2, timeout=60,
                   what="both completed")
        wait_until(lambda: peer.held == 2, timeout=30, what="both calls in flight")
        assert [row[1] for row in _outbox(tmp_path / "data")] == ["sending", "sending"]
        server.kill()
        peer.release.set()               # the held connections died with Debridge
        peer.hold.clear()
        assert peer.valid == []
        server = start_debridge(config, tmp_path / "debridge-2.log", port)
        wait_until(lambda: sorted(peer.valid) == sorted(hashes), timeout=30,
                   what="one call per torrent after the restart")
        time.sleep(1.0)
        assert sorted(peer.valid) == sorted(hashes)
        assert peer.refused == []
        assert sorted(_outbox(tmp_path / "data")) == sorted((h, "done", 2) for h in hashes)
        assert "sent again" in server.log()
    finally:
        server.stop()
        peer.stop()
    for log in tmp_path.glob("debridge-*.log"):
        assert PEER_KEY not in log.read_text()
