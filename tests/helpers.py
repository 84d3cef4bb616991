"""Test helpers: free ports, real server processes, the content formula, .torrent fixtures."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import requests
import torf

from core.schema import default_config

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
PASSWORD = "test-password-123"


@contextlib.contextmanager
def squatter(port: int) -> Iterator[None]:
    """Another program on `port` that resets every connection (a CDN host that is gone)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # a killed server's forked workers may hold the port a moment longer than its master
    wait_until(lambda: _bound(listener, port), timeout=15, what=f"port {port} to be free")
    listener.listen(64)

    def refuse() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

    thread = threading.Thread(target=refuse, daemon=True)
    thread.start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)


def _bound(listener: socket.socket, port: int) -> bool:
    try:
        listener.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], T], timeout: float = 30.0, interval: float = 0.1,
               what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


# -- the content formula of design.md, written independently of the sandbox ------------------
@lru_cache(maxsize=64)
def _block_body(info_hash: str, file_id: int) -> bytes:
    seed = hashlib.sha256(f"{info_hash}:{file_id}".encode()).digest()
    return b"".join(hashlib.sha256(seed + k.to_bytes(4, "big")).digest() for k in range(32768))


def expected_bytes(info_hash: str, file_id: int, offset: int, length: int) -> bytes:
    body = _block_body(info_hash, file_id)
    out = bytearray()
    position = offset
    while len(out) < length:
        block, within = divmod(position, 1 << 20)
        data = block.to_bytes(8, "big") + body[8:]
        piece = data[within:within + (length - len(out))]
        out += piece
        position += len(piece)
    return bytes(out)


def expected_sha256(info_hash: str, file_id: int, size: int) -> str:
    digest = hashlib.sha256()
    for offset in range(0, size, 1 << 20):
        digest.update(expected_bytes(info_hash, file_id, offset, min(1 << 20, size - offset)))
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def magnet(info_hash: str, name: str, size: int | None = None, trackers: bool = True) -> str:
    uri = f"magnet:?xt=urn:btih:{info_hash}&dn={requests.utils.quote(name)}"
    if size is not None:
        uri += f"&xl={size}"
    if trackers:
        uri += "&tr=http%3A%2F%2F127.0.0.1%3A1%2Fannounce"
    return uri


def random_hash() -> str:
    return os.urandom(20).hex()


def make_torrent(tmp: Path, name: str, files: dict[str, int]) -> tuple[bytes, str]:
    """A real multi-file .torrent (sparse files hashed by torf); returns (bytes, infohash)."""
    root = tmp / f"src-{os.urandom(4).hex()}" / name
    for relative, size in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(os.urandom(16))        # distinct content, distinct infohash
            handle.truncate(size)
    torrent = torf.Torrent(path=root, trackers=["http://127.0.0.1:1/announce"],
                           piece_size=1 << 20)
    torrent.generate()
    buffer = io.BytesIO()
    torrent.write_stream(buffer)
    return buffer.getvalue(), str(torrent.infohash)


# -- configuration and processes --------------------------------------------------------------
def write_config(directory: Path, *, port: int, sandbox_port: int = 0,
                 providers: list[dict[str, Any]] | None = None,
                 **sections: dict[str, Any]) -> Path:
    """A full config.json under `directory` with test-friendly timings."""
    config = default_config()
    config["server"].update(port=port, data_dir=str(directory / "data"), threads=16)
    config["auth"]["password"] = PASSWORD
    config["downloads"].update(poll_interval_seconds=0.2)
    config["qbit"]["add_wait_seconds"] = 5.0
    config["sandbox"].update(port=sandbox_port, download_seconds=2.0)
    config["repair"]["interval_minutes"] = 0     # a test starts the scans it wants
    if providers is not None:
        config["providers"] = providers
    for section, values in sections.items():
        if section == "arrs":
            config[section] = values
        else:
            config[section].update(values)
    path = directory / "config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


class ServerProcess:
    """A real child process (its own session, so a kill takes its children too)."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.args = args
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=self._log, stderr=self._log,
                                     env=self.env, start_new_session=True)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, with no chance to clean up."""
        self.signal(signal.SIGKILL)
        self.wait()
        self._log.close()

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        code = self.wait(timeout)
        if not self._log.closed:
            self._log.close()
        return code

    def wait(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.proc.wait(5)


def start_debridge(config: Path, log_path: Path, port: int,
                   env: dict[str, str] | None = None) -> ServerProcess:
    """`python app.py serve --config ...` (gunicorn), once it answers on `port`."""
    server = ServerProcess([sys.executable, "app.py", "serve", "--config", str(config)],
                           log_path, env).start()
    url = f"http://127.0.0.1:{port}/api/v2/app/version"

    def up() -> bool:
        assert server.proc is not None
        if server.proc.poll() is not None:
            raise AssertionError(f"debridge exited early:\n{server.log()}")
        try:
            return requests.get(url, timeout=1).status_code == 403
        except (requests.ConnectionError, requests.Timeout):
            # listening, but the workers are still booting (the socket is the master's)
            return False

    wait_until(up, timeout=30, what="debridge to listen")
    return server


@contextlib.contextmanager
def standalone_sandbox(tmp: Path, *args: str) -> Iterator[str]:
    """`python -m debrid.sandbox ARGS` on a free port, for as long as the block runs: its
    origin (the admin API is under /__admin); it must stop cleanly."""
    port = free_port()
    server = start_sandbox_process(port, tmp / "sandbox.log", *args)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        assert server.stop() == 0


def start_sandbox_process(port: int, log_path: Path, *extra: str) -> ServerProcess:
    """`python -m debrid.sandbox` standalone, once it prints its listening line."""
    server = ServerProcess([sys.executable, "-m", "debrid.sandbox", "--port", str(port),
                            *extra], log_path).start()
    wait_until(lambda: "sandbox listening on" in server.log(), timeout=20,
               what="the sandbox to listen")
    return server
