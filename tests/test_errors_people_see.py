"""What people saw go wrong, one test each: JSON errors under /api, the page at /, sandbox
refusals that say so, ranges past the file, real media types, queue positions counted among
queued torrents, file priorities kept, and the command line's own mistakes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, stop_app
from tests.conftest import make_settings
from tests.helpers import (
    PASSWORD,
    ROOT,
    expected_bytes,
    magnet,
    make_torrent,
    random_hash,
    wait_until,
)

API = "/api/v2"
KEY = "errors-people-see-key-7d1e90"
BEARER = {"Authorization": f"Bearer {KEY}"}


class Env:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.http: FlaskClient = app.test_client()
        assert self.http.post(f"{API}/auth/login", data={
            "username": "admin", "password": PASSWORD}).text == "Ok."

    def info(self, **query: str) -> list[dict[str, Any]]:
        return self.http.get(f"{API}/torrents/info", query_string=query).json

    def add(self, name: str, size: int = 2_000_000, **form: Any) -> tuple[str, str]:
        info_hash = random_hash()
        answer = self.http.post(f"{API}/torrents/add",
                                data={"urls": magnet(info_hash, name, size), **form})
        return info_hash, answer.text

    def completed(self, info_hash: str) -> dict[str, Any]:
        return wait_until(lambda: (t := self.info(hashes=info_hash)) and
                          t[0]["state"] == "pausedUP" and t[0], timeout=30, what="completed")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("errors")
    app = create_app(make_settings(tmp, auth={"api_key": KEY}, webdav={"auth": "none"},
                                   sandbox={"download_seconds": 60.0},
                                   downloads={"max_active": 1}))
    try:
        yield Env(app)
    finally:
        stop_app(app)


# -- /api answers JSON, whatever the error -------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", "/api/browse/", 405), ("DELETE", "/api/browse", 405), ("PUT", "/api/nope", 404),
    ("GET", "/api", 404), ("GET", "/api/", 404), ("PATCH", "/api/browse/__all__", 405)])
def test_every_error_under_api_is_json(env: Env, method: str, path: str, status: int) -> None:
    response = env.http.open(path, method=method, headers=BEARER)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.json["code"] == status
    assert response.json["error"]


@pytest.mark.parametrize(("headers", "message"), [
    ({"Authorization": "Bearer not-the-key"}, "invalid API key"),
    ({"X-Api-Key": "not-the-key"}, "invalid API key"),
    ({}, "an API key is required")])
def test_a_wrong_key_is_called_invalid_and_a_missing_one_required(
        env: Env, headers: dict[str, str], message: str) -> None:
    response = env.http.get("/api/browse/", headers=headers,
                            environ_base={"REMOTE_ADDR": f"10.1.{len(headers)}.{len(message)}"})
    assert response.status_code == 401
    assert response.json["error"].startswith(message)


def test_the_root_names_the_surfaces_and_the_sandbox(env: Env) -> None:
    page = env.http.get("/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    for text in ("/api/v2", "/webdav/", "/api/", "README", "sandbox", "qBittorrent"):
        assert text in page.text
    assert env.http.get("/", headers={"Host": "evil.example"}).status_code == 400


# -- the sandbox says it is the sandbox -----------------------------------------------------------
def test_sandbox_refusals_name_the_sandbox(env: Env) -> None:
    info_hash, answer = env.add("Refused.Movie.2021 [infringing]")
    assert answer == "Fails."
    log = env.http.get(f"{API}/log/main").json
    refusal = [e["message"] for e in log if info_hash in e["message"] and "refused" in e["message"]]
    assert refusal, log[-5:]
    assert "the sandbox refused it" in refusal[-1]
    assert "Real-Debrid" not in refusal[-1]


# -- downloads: ranges past the end, and the file's real type -------------------------------------
def test_a_suffix_longer_than_the_file_sends_all_of_it_with_its_type(env: Env) -> None:
    info_hash, answer = env.add("Ranged.Movie.2022.mkv", 300_000)
    assert answer == "Ok."
    env.completed(info_hash)
    name = "Ranged.Movie.2022/Ranged.Movie.2022.mkv"
    whole = expected_bytes(info_hash, 1, 0, 300_000)
    for url, headers in ((f"/api/browse/download/{name}", BEARER),
                         (f"/webdav/__all__/{name}", {})):
        response = env.http.get(url, headers={**headers, "Range": "bytes=-999999"})
        assert response.status_code == 206, (url, response.data[:200])
        assert response.headers["Content-Range"] == "bytes 0-299999/300000"
        assert response.data == whole
        assert response.mimetype == "video/x-matroska", url
        tail = env.http.get(url, headers={**headers, "Range": "bytes=-1000"})
        assert tail.data == whole[-1000:]


# -- qBittorrent's queue numbers only queued torrents ---------------------------------------------
def test_a_queue_of_three_reads_one_two_three(env: Env) -> None:
    for torrent in env.info():
        env.http.post(f"{API}/torrents/delete", data={"hashes": torrent["hash"],
                                                      "deleteFiles": "true"})
    rid = env.http.get(f"{API}/sync/maindata").json["rid"]
    hashes = []
    for i in range(4):
        info_hash, answer = env.add(f"Queued.Show.S01E0{i + 1} [uncached]")
        assert answer == "Ok."
        hashes.append(info_hash)

    def priorities() -> list[int]:
        by_hash = {t["hash"]: t["priority"] for t in env.info()}
        return [by_hash.get(h, -9) for h in hashes]

    wait_until(lambda: priorities() == [1, 2, 3, 4], timeout=20, what="positions 1 to 4")
    state = env.http.get(f"{API}/sync/maindata", query_string={"rid": rid}).json
    rid = state["rid"]
    # the first leaves the queue: the others move up, and sync deltas say so too
    env.http.post(f"{API}/torrents/delete", data={"hashes": hashes[0], "deleteFiles": "true"})
    wait_until(lambda: priorities()[1:] == [1, 2, 3], timeout=20, what="positions 1 to 3")
    delta = env.http.get(f"{API}/sync/maindata", query_string={"rid": rid}).json
    assert {h: delta["torrents"][h]["priority"] for h in hashes[1:]} == {
        hashes[1]: 1, hashes[2]: 2, hashes[3]: 3}
    for info_hash in hashes[1:]:
        env.http.post(f"{API}/torrents/delete", data={"hashes": info_hash,
                                                      "deleteFiles": "true"})


# -- file priorities read back as set -------------------------------------------------------------
def test_file_priorities_6_and_7_read_back_as_set(env: Env, tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Prio.Pack.S01", {
        "Prio.Pack.S01E01.mkv": 20_000, "Prio.Pack.S01E02.mkv": 20_001,
        "Prio.Pack.S01E03.mkv": 20_002})
    assert env.http.post(f"{API}/torrents/add", data={
        "torrents": (io.BytesIO(data), "prio.torrent"), "paused": "true"}).text == "Ok."
    for index, priority in ((0, 7), (1, 6), (2, 0)):
        assert env.http.post(f"{API}/torrents/filePrio", data={
            "hash": info_hash, "id": str(index), "priority": str(priority)}).status_code == 200
    files = env.http.get(f"{API}/torrents/files", query_string={"hash": info_hash}).json
    assert [f["priority"] for f in files] == [7, 6, 0]
    assert env.http.post(f"{API}/torrents/filePrio", data={
        "hash": info_hash, "id": "1", "priority": "1"}).status_code == 200
    files = env.http.get(f"{API}/torrents/files", query_string={"hash": info_hash}).json
    assert [f["priority"] for f in files] == [7, 1, 0]


# -- the command line -----------------------------------------------------------------------------
def _run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, input=stdin, check=False,
                          env={**os.environ, **env})


def test_hash_password_without_a_terminal_reads_stdin_and_refuses_empty() -> None:
    piped = _run("hash-password", stdin="from-a-pipe\n")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith(("scrypt:", "pbkdf2:"))
    from werkzeug.security import check_password_hash
    assert check_password_hash(piped.stdout.strip(), "from-a-pipe")
    for stdin in ("", "\n"):
        empty = _run("hash-password", stdin=stdin)
        assert empty.returncode == 2
        assert "empty" in empty.stderr
        assert "Traceback" not in empty.stderr
        assert empty.stdout == ""


@pytest.mark.parametrize(("variables", "named"), [
    ({"DEBRIDGE__DOWNLOADS__ACTION": "symlink"}, "DEBRIDGE__DOWNLOADS__ACTION"),
    ({"DEBRIDGE__PROVIDERS__0__TYPE": "realdebrid"}, "DEBRIDGE__PROVIDERS__0__TYPE"),
    ({"DEBRIDGE__PROVIDERS__1__NAME": "sandbox", "DEBRIDGE__PROVIDERS__1__TYPE": "sandbox"},
     "DEBRIDGE__PROVIDERS__1__NAME"),
    ({"DEBRIDGE__PROVIDERS__1__API_KEY": "x"}, "DEBRIDGE__PROVIDERS__1__")])
def test_check_config_blames_the_environment_variable_not_the_file(
        variables: dict[str, str], named: str) -> None:
    result = _run("check-config", "--config", "config.json", **variables)
    assert result.returncode == 2
    assert named in result.stderr, result.stderr


def test_the_readme_tells_what_each_sandbox_marker_does() -> None:
    from debrid.sandbox.catalogue import derived_files, marker_entry
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Trying it with the sandbox"):]
    section = section[:section.index("\n## ", 4)]
    name = "Some.Show.S01E01"
    files = derived_files("ab" * 20, name, 1000)
    behaviour = {
        "[uncached]": lambda e: not e.cached, "[infringing]": lambda e: e.infringing,
        "[magnet_error]": lambda e: e.no_metadata, "[dead]": lambda e: e.dead_after is not None}
    for marker, shows in behaviour.items():
        assert f"| `{marker}` |" in section, marker
        assert shows(marker_entry("ab" * 20, f"{name} {marker}", files, 60.0)), marker
        assert not shows(marker_entry("ab" * 20, name, files, 60.0)), marker
    # what a magnet with no marker holds, as the README says
    assert [f.path for f in files] == [f"/{name}.mkv", f"/Sample/{name}.sample.mkv",
                                       f"/{name}.nfo"]
    assert [f.path for f in derived_files("ab" * 20, "Movie.2024.mkv")] == ["/Movie.2024.mkv"]
    for text in ("<name>.mkv", "Sample/<name>.sample.mkv", "<name>.nfo", "`xl=`"):
        assert text in section, text
