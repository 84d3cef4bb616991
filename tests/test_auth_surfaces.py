"""Credentials on a real 2-worker server: bans per surface and address (kept across a restart,
lifted by `unban`), password and key changes refused at once in every worker, host and CSRF
checks before any redirect, and a data dir only Debridge's user can read."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.helpers import ROOT, ServerProcess, free_port, start_debridge, write_config

pytestmark = pytest.mark.slow
TRIES = 4            # requests per check (fewer than the 5 failures that ban)
WARM = 8             # requests that let both workers cache a verified password


def _cli(config: Path, *args: str) -> str:
    result = subprocess.run([sys.executable, "app.py", *args, "--config", str(config)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _printed(log: str, what: str) -> str:
    """The generated password or API key, as the first start prints it (once)."""
    pattern = {"password": r"password (\S+) \(printed only", "key": r"API key for /api and "
               r"WebDAV: (\S+) \(printed only"}[what]
    found = re.findall(pattern, log)
    assert len(found) == 1, log
    return found[0]


class Surfaces:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def qbit_login(self, password: str) -> requests.Response:
        return requests.post(f"{self.base}/api/v2/auth/login",
                             data={"username": "admin", "password": password}, timeout=10)

    def webdav(self, password: str, user: str = "admin") -> requests.Response:
        return requests.request("PROPFIND", f"{self.base}/webdav/", auth=(user, password),
                                headers={"Depth": "0"}, timeout=10)

    def rest(self, key: str) -> requests.Response:
        return requests.get(f"{self.base}/api/browse/",
                            headers={"Authorization": f"Bearer {key}"}, timeout=10)

    def rest_basic(self, password: str) -> requests.Response:
        return requests.get(f"{self.base}/api/browse/", auth=("admin", password), timeout=10)


def _statuses(call: object, *args: str) -> set[int]:
    return {call(*args).status_code for _ in range(TRIES)}  # type: ignore[operator]


def test_bans_credentials_hosts_and_files(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port=port, server={"workers": 2},
                          auth={"password": "", "max_failed_logins": 5, "ban_seconds": 3600})
    server: ServerProcess = start_debridge(config, tmp_path / "debridge-1.log", port)
    try:
        password, key = _printed(server.log(), "password"), _printed(server.log(), "key")
        api = Surfaces(port)

        # -- a stale WebDAV client is banned from WebDAV only -------------------------------
        for _ in range(5):
            assert api.webdav("an-old-password").status_code == 401
        banned = api.webdav(password)
        assert banned.status_code == 403
        assert "banned until" in banned.text
        assert "UTC" in banned.text
        assert api.qbit_login(password).text == "Ok."            # same address, other surface
        assert _statuses(api.rest, key) == {200}
        assert _statuses(api.rest_basic, password) == {200}

        # -- the ban survives a restart; `unban` lifts it -----------------------------------
        server.stop()
        server = start_debridge(config, tmp_path / "debridge-2.log", port)
        assert api.webdav(password).status_code == 403
        assert "lifted the ban of 127.0.0.1 from webdav" in _cli(config, "unban", "127.0.0.1")
        assert _statuses(api.webdav, password) == {207}

        # -- a new password is the only one, at once, in both workers -----------------------
        session = requests.Session()
        assert session.post(f"{api.base}/api/v2/auth/login",
                            data={"username": "admin", "password": password},
                            timeout=10).text == "Ok."
        assert session.get(f"{api.base}/api/v2/app/version", timeout=10).status_code == 200
        for _ in range(WARM):                                    # cached as verified
            assert api.webdav(password).status_code == 207
            assert api.rest_basic(password).status_code == 200
        new_password = _cli(config, "reset-password").strip().rsplit(" ", 1)[-1]
        assert _statuses(api.webdav, password) == {401}
        assert _statuses(api.rest_basic, password) == {401}
        assert api.qbit_login(password).text == "Fails."
        assert {session.get(f"{api.base}/api/v2/app/version", timeout=10).status_code
                for _ in range(TRIES)} == {403}                 # its session ended too
        _cli(config, "unban")                                    # those were our own tries
        assert _statuses(api.webdav, new_password) == {207}
        assert api.qbit_login(new_password).text == "Ok."

        # -- a new key is the only one, at once -----------------------------------------------
        new_key = _cli(config, "api-key").strip().rsplit(" ", 1)[-1]
        assert _statuses(api.rest, key) == {401}
        _cli(config, "unban")
        assert api.rest(key).json()["error"] == "invalid API key"
        assert _statuses(api.webdav, key, "anyone") == {401}
        _cli(config, "unban")
        assert _statuses(api.rest, new_key) == {200}
        assert _statuses(api.webdav, new_key, "anyone") == {207}

        # -- hosts and cross-site requests, before any redirect ------------------------------
        evil = {"Host": "evil.example"}
        for path in ("/api/v2", "/api/v2/", "/api/v2//app/version", "/api/browse",
                     "/api//browse/", "/webdav", "/webdav/__all__", "/"):
            answer = requests.get(f"{api.base}{path}", headers=evil, allow_redirects=False,
                                  timeout=10)
            # refused, or (a path no surface has) not found: never answered, nor redirected
            assert answer.status_code in (400, 401, 404), (path, answer.status_code)
            assert "evil.example" not in answer.headers.get("Location", ""), path
        redirect = requests.get(f"{api.base}/webdav/__all__", auth=("admin", new_password),
                                allow_redirects=False, timeout=10)
        if redirect.status_code in (301, 302, 307, 308):
            assert redirect.headers["Location"] == "/webdav/__all__/"
        forged = requests.post(f"{api.base}/api/v2/auth/login",
                               data={"username": "admin", "password": new_password},
                               headers={"Origin": "null", "Referer": "http://evil.example/"},
                               timeout=10)
        assert (forged.status_code, forged.text) == (401, "Unauthorized")
        forwarded = requests.post(f"{api.base}/api/v2/auth/login",
                                  data={"username": "admin", "password": new_password},
                                  headers={"Origin": "http://evil.example",
                                           "X-Forwarded-Host": "evil.example"}, timeout=10)
        assert (forwarded.status_code, forwarded.text) == (401, "Unauthorized")

        # -- the data dir is Debridge's alone --------------------------------------------------
        data = tmp_path / "data"
        assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
        files = [p for p in data.iterdir() if p.is_file()]
        assert {p.name for p in files} >= {"debridge.sqlite3", "debridge.sqlite3-wal",
                                           "sandbox.sqlite3", "sandbox.port"}
        for path in files:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        for log in tmp_path.glob("debridge-*.log"):
            text = log.read_text()
            assert new_password not in text
            assert new_key not in text
    finally:
        server.stop()


def test_an_old_data_dir_is_tightened_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "debridge.sqlite3").touch(mode=0o644)
    os.chmod(data / "debridge.sqlite3", 0o644)
    os.chmod(data, 0o755)  # noqa: S103
    port = free_port()
    config = write_config(tmp_path, port=port)
    server = start_debridge(config, tmp_path / "debridge.log", port)
    try:
        assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
        for path in data.iterdir():
            if path.is_file():
                assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    finally:
        server.stop()
