"""SandboxServer lifecycle, persistence across restarts, and the command line."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from debrid.sandbox import SandboxOptions, SandboxServer

from .conftest import FAST, RD, expected_content, infohash_of, magnet

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_context_manager_addresses_and_private_state() -> None:
    with SandboxServer(SandboxOptions(**FAST)) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.api_url == f"{server.url}/rest/1.0"
        state_file = server._temp_path
        assert state_file is not None
        assert state_file.exists()
        assert requests.get(server.api_url + "/time", timeout=5).status_code == 200
    assert not state_file.exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/rest/1.0/time", timeout=2)


def test_state_survives_a_restart_on_the_same_port(tmp_path: Path) -> None:
    state_path = tmp_path / "sandbox.sqlite"
    # A long download and a big clock jump: real seconds passing under load move the
    # progress by far less than one percent.
    options = SandboxOptions(**{**FAST, "download_seconds": 6000, "queue_seconds": 0})
    with SandboxServer(options, state_path=state_path) as first:
        rd = RD(first)
        rd.seed(hash="e" * 40, name="Seeded.Before.Restart")
        done = rd.downloaded(magnet("Persisted.Movie.mkv", xl=50_000))
        slow = rd.add_magnet(magnet("Persisted.Slow [uncached]"))
        rd.select(slow)
        link = rd.unrestrict(done["links"][0])
        rd.advance(1000)
        assert rd.info(slow)["progress"] == 16
    assert state_path.exists()  # an explicit state file is kept
    # The session's pooled keep-alive connection was cut by stop(), not left to a dead app.
    with pytest.raises(requests.ConnectionError):
        rd.get("/user", timeout=2)

    with SandboxServer(options, state_path=state_path, port=first.port) as second:
        rd.server = second  # same session, same origin
        again = rd.info(done["id"])
        assert again["status"] == "downloaded"
        assert again["links"] == done["links"]
        assert rd.info(slow)["progress"] == 16  # the clock offset persisted too
        assert rd.admin("GET", "/catalogue").json()[0]["name"] == "Seeded.Before.Restart"
        history = rd.get("/downloads").json()
        assert [d["download"] for d in history] == [link["download"]]
        body = requests.get(link["download"], headers={"Range": "bytes=0-99"}, timeout=5)
        assert body.content == expected_content(done["hash"], 1, 0, 99)
        assert rd.unrestrict(again["links"][0])["filesize"] == 50_000
        rd.advance(6000)
        assert rd.info(slow)["status"] == "downloaded"
        rd.close()


def test_start_twice_is_an_error() -> None:
    server = SandboxServer(SandboxOptions(**FAST))
    server.start()
    try:
        with pytest.raises(RuntimeError):
            server.start()
    finally:
        server.stop()
    server.stop()  # idempotent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_command_line_serves_until_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "debrid.sandbox", "--port", str(port), "--token", "cli"]
    command += ["--state", str(tmp_path / "cli.sqlite"), "--download-seconds", "5"]
    with subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            ready, _, _ = select.select([process.stdout], [], [], 20)
            assert ready, "the sandbox printed nothing"
            line = process.stdout.readline()
            api_url = f"http://127.0.0.1:{port}/rest/1.0"
            assert line == f"sandbox listening on {api_url}\n"

            headers = {"Authorization": "Bearer cli"}
            infohash = infohash_of("CLI.Movie.mkv")
            added = requests.post(
                api_url + "/torrents/addMagnet",
                data={"magnet": magnet("CLI.Movie.mkv", infohash, xl=4096)},
                headers=headers,
                timeout=5,
            )
            assert added.status_code == 201
            torrent_id = added.json()["id"]
            selected = requests.post(
                f"{api_url}/torrents/selectFiles/{torrent_id}",
                data={"files": "all"},
                headers=headers,
                timeout=5,
            )
            assert selected.status_code == 204
            info = requests.get(f"{api_url}/torrents/info/{torrent_id}", headers=headers, timeout=5)
            assert info.json()["status"] == "downloaded"
            link = requests.post(
                api_url + "/unrestrict/link",
                data={"link": info.json()["links"][0]},
                headers=headers,
                timeout=5,
            ).json()
            body = requests.get(link["download"], headers={"Range": "bytes=100-299"}, timeout=5)
            assert body.status_code == 206
            assert body.content == expected_content(infohash, 1, 100, 299)
            wrong = requests.get(
                api_url + "/user", headers={"Authorization": "Bearer x"}, timeout=5
            )
            assert wrong.status_code == 401
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=10)
        assert returncode == 0, process.stderr.read()
        assert process.stdout.read() == ""  # exactly one line on stdout
