"""Against a real server: pathological .torrent uploads and a batch of 5,000 magnets are
answered in bounded time, and the gunicorn worker's memory stays bounded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests

from core.torrent_limits import MAX_FILES
from tests.helpers import (
    PASSWORD,
    free_port,
    magnet,
    random_hash,
    start_debridge,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow
PIECE = 1 << 18


def _string(value: bytes) -> bytes:
    return b"%d:%s" % (len(value), value)


def _info(name: bytes, files: list[bytes] | None = None, length: int = PIECE) -> bytes:
    """An info dict (keys in order); `files` are the encoded file entries."""
    total = length if files is None else 1024 * len(files)
    pieces = b"\0" * 20 * max(1, -(-total // PIECE))
    body = (b"5:filesl" + b"".join(files) + b"e" if files is not None
            else b"6:lengthi%de" % length)
    return (b"d" + body + b"4:name" + _string(name) + b"12:piece lengthi%de" % PIECE +
            b"6:pieces" + _string(pieces) + b"e")


def _files(count: int, extension: bytes = b"mkv") -> list[bytes]:
    return [b"d6:lengthi1024e4:pathl" + _string(b"Season %d" % (i // 1000)) +
            _string(b"E%d.%s" % (i, extension)) + b"ee" for i in range(count)]


def _trackers(count: int) -> bytes:
    tiers = b"".join(b"l" + _string(b"http://t%d.example/announce" % i) + b"e"
                     for i in range(count))
    return (b"d8:announce" + _string(b"http://t.example/announce") + b"13:announce-listl" +
            tiers + b"e4:info" + _info(b"Movie.mkv") + b"e")


def _worker_peak_mb(server_pid: int) -> int:
    """VmHWM of the gunicorn worker, the child of `python app.py serve`."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    assert len(children) == 1, children
    status = Path(f"/proc/{children[0]}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) // 1024


def test_pathological_uploads_and_a_5000_magnet_batch_answer_in_bounded_time(
        tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port=port, downloads={"folder": str(tmp_path / "dl")})
    server = start_debridge(config, tmp_path / "debridge.log", port)
    try:
        api = f"http://127.0.0.1:{port}/api/v2"
        session = requests.Session()
        assert session.post(f"{api}/auth/login", data={"username": "admin",
                                                       "password": PASSWORD}).text == "Ok."

        def add(**data: Any) -> tuple[requests.Response, float]:
            started = time.monotonic()
            response = session.post(f"{api}/torrents/add", timeout=60, **data)
            return response, time.monotonic() - started

        uploads = [
            ("trackers.torrent", _trackers(50_000), "more than 1,000 trackers"),
            ("files.torrent", b"d4:info" + _info(b"Pack", _files(100_000)) + b"e",
             f"more than {MAX_FILES:,} files"),
            ("nested.torrent", b"d8:announce" + b"l" * 200_000 + b"e" * 200_000 + b"e",
             "nested more than 64 deep"),
        ]
        for filename, blob, cap in uploads:
            response, took = add(files={"torrents": (filename, blob)})
            assert (response.status_code, response.text) == (
                415, f"Error: '{filename}' is not a valid torrent file."), filename
            assert took < 5, (filename, took)
            assert cap in server.log(), cap                   # the log says which cap
        within = b"d4:info" + _info(b"Big.Pack", _files(MAX_FILES)) + b"e"
        response, took = add(files={"torrents": ("pack.torrent", within)})
        # accepted: the answer waits (qbit.add_wait_seconds, 5 s here) for the provider
        assert (response.text, took < 10) == ("Ok.", True), took
        assert _worker_peak_mb(server.proc.pid) < 250
        [pack] = session.get(f"{api}/torrents/info").json()
        files = session.get(f"{api}/torrents/files?hash={pack['hash']}").json()
        assert (pack["name"], len(files)) == ("Big.Pack", MAX_FILES)

        hashes = [random_hash() for _ in range(5000)]
        urls = "\n".join(magnet(h, f"Batch.S01E{i:04d}.1080p") for i, h in enumerate(hashes))
        response, took = add(data={"urls": urls})
        assert (response.text, took < 10) == ("Ok.", True), took
        listed = {t["hash"] for t in session.get(f"{api}/torrents/info").json()}
        assert listed >= set(hashes)
        # already in the library: Fails. only when nothing at all was added
        response, _ = add(data={"urls": "\n".join(magnet(h, "Again") for h in hashes[:50])})
        assert response.text == "Fails."
        fresh = random_hash()
        response, _ = add(data={"urls": f"{magnet(hashes[0], 'Again')}\n{magnet(fresh, 'New')}"})
        assert response.text == "Ok."
        wait_until(lambda: session.get(f"{api}/torrents/info?hashes={fresh}").json(),
                   what="the new torrent of a mixed batch")
    finally:
        server.stop()
