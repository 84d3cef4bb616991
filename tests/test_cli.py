"""The command line: check-config, serve refusing bad configs, hash-password, and `make run`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.helpers import ROOT, ServerProcess, free_port, wait_until


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def test_check_config_accepts_the_shipped_config() -> None:
    result = _run("check-config", "--config", "config.json")
    assert result.returncode == 0, result.stderr
    assert "config OK" in result.stdout


@pytest.mark.parametrize("command", ["check-config", "serve"])
def test_unknown_key_stops_start_up_naming_key_and_file(tmp_path: Path, command: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"server": {"port": free_port(), "colour": "blue"}}))
    result = _run(command, "--config", str(path))
    assert result.returncode == 2
    assert "'server.colour'" in result.stderr
    assert str(path) in result.stderr


def test_config_file_named_by_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.json"
    path.write_text(json.dumps({"downloads": {"action": "nope"}}))
    result = _run("check-config", env={"DEBRIDGE_CONFIG": str(path)})
    assert result.returncode == 2
    assert "'downloads.action'" in result.stderr
    assert str(path) in result.stderr


def test_hash_password_output_is_accepted_as_auth_password(tmp_path: Path) -> None:
    result = _run("hash-password", "s3cret")
    assert result.returncode == 0
    hashed = result.stdout.strip()
    assert hashed.startswith(("scrypt:", "pbkdf2:"))
    assert "s3cret" not in hashed
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auth": {"password": hashed}}))
    assert _run("check-config", "--config", str(path)).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_serves_with_the_shipped_config_and_says_sandbox(tmp_path: Path) -> None:
    """`make run` as a user types it; env overrides keep it off the real port and data dir."""
    port = free_port()
    env = {"DEBRIDGE__SERVER__PORT": str(port),
           "DEBRIDGE__SERVER__DATA_DIR": str(tmp_path / "data")}
    server = ServerProcess(["make", "--no-print-directory", "run"], tmp_path / "run.log",
                           env).start()
    try:
        wait_until(lambda: "Listening at" in server.log(), timeout=60, what="make run")
        log = server.log()
        assert "config.json" in log
        assert "built-in SANDBOX" in log
        match = [line for line in log.splitlines() if "generated a password" in line]
        assert len(match) == 1
        password = match[0].split("password ")[2].split(" ")[0]
        base = f"http://127.0.0.1:{port}/api/v2"
        response = requests.post(f"{base}/auth/login",
                                 data={"username": "admin", "password": password}, timeout=10)
        assert response.text == "Ok."
        assert "SID" in response.cookies
        stored = (tmp_path / "data" / "debridge.sqlite3").read_bytes()
        assert password.encode() not in stored       # only the hash is kept
    finally:
        server.stop()
    # a second start does not print a new password
    server = ServerProcess(["make", "--no-print-directory", "run"], tmp_path / "run2.log",
                           env).start()
    try:
        wait_until(lambda: "Listening at" in server.log(), timeout=60, what="make run again")
        assert "generated a password" not in server.log()
    finally:
        server.stop()
