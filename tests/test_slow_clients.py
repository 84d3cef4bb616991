"""Slow and idle clients cost a socket, not a thread: every surface keeps answering while a
thousand connections sit idle and hundreds trickle half a request, and requests whose head
comes in pieces, whole or too large, still get the right answer."""

from __future__ import annotations

import contextlib
import os
import random
import resource
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import qbittorrentapi
import requests

from tests.helpers import (
    PASSWORD,
    ServerProcess,
    free_port,
    make_torrent,
    start_debridge,
    wait_until,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slow_clients")]

KEY = "slow-key-" + "3c" * 16
BODY_TIMEOUT = 3.0
IDLE, SLOW = 1000, 200
HOLD_SECONDS = 60.0
ANSWER_WITHIN = 1.0
OPEN_SECONDS = 3.0
# What a slow client trickles: a request line and headers that never end.
SLOW_BYTES = b"GET /api/v2/app/version HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: a\r\n" * 500


@dataclass
class Server:
    url: str
    port: int
    process: ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("slow")
    port = free_port()
    config = write_config(tmp, port=port, sandbox_port=free_port(), auth={"api_key": KEY},
                          downloads={"folder": str(tmp / "downloads")},
                          server={"threads": 16, "body_timeout_seconds": BODY_TIMEOUT})
    process = start_debridge(config, tmp / "debridge.log", port)
    try:
        yield Server(f"http://127.0.0.1:{port}", port, process)
    finally:
        process.stop()


def _qbit(server: Server) -> qbittorrentapi.Client:
    client = qbittorrentapi.Client(host=server.url, username="admin", password=PASSWORD,
                                   REQUESTS_ARGS={"timeout": 10})
    client.auth_log_in()
    return client


def _worker_pid(server: Server) -> int:
    assert server.process.proc is not None
    master = server.process.proc.pid
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                    return int(entry)
    raise AssertionError("no gunicorn worker process")


def _open_sockets(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    return count


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Pressure(threading.Thread):
    """Holds IDLE connections that send nothing and SLOW ones that send a few bytes of a
    request head now and then; a connection the server closes is replaced at once."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.selector = selectors.DefaultSelector()
        self.stopping = threading.Event()
        self.slow: dict[socket.socket, list[float]] = {}    # sock -> [bytes sent, next send]
        self.open = {"idle": 0, "slow": 0}
        self.closed_by_server = {"idle": 0, "slow": 0}
        self.answered_408 = 0
        self.error: BaseException | None = None

    def connect(self, kind: str) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", self.port))
        self.selector.register(sock, selectors.EVENT_READ, kind)
        self.open[kind] += 1
        if kind == "slow":
            self.slow[sock] = [0, time.monotonic() + random.uniform(0.2, 1.5)]

    def replace(self, sock: socket.socket, kind: str) -> None:
        self.selector.unregister(sock)
        self.slow.pop(sock, None)
        sock.close()
        self.open[kind] -= 1
        self.closed_by_server[kind] += 1
        self.connect(kind)

    def run(self) -> None:
        try:
            # Opened over a few seconds, so that the header timeout does not close them all
            # at once (and they are replaced at once) forever after.
            kinds = ["idle"] * IDLE + ["slow"] * SLOW
            random.shuffle(kinds)
            opening = time.monotonic()
            while not self.stopping.is_set():
                opened = int((time.monotonic() - opening) / OPEN_SECONDS * (IDLE + SLOW)) + 1
                while kinds and IDLE + SLOW - len(kinds) < opened:
                    self.connect(kinds.pop())
                for key, _ in self.selector.select(timeout=0.1):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    try:
                        data = sock.recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if data.startswith(b"HTTP/1.1 408"):
                        self.answered_408 += 1
                    if not data:
                        self.replace(sock, key.data)
                now = time.monotonic()
                for sock, state in list(self.slow.items()):
                    sent, next_send = state
                    if next_send > now:
                        continue
                    # A send the server refused shows as the close that replaces it.
                    with contextlib.suppress(OSError):
                        state[0] += sock.send(SLOW_BYTES[int(sent):int(sent) + 4])
                    state[1] = now + random.uniform(0.5, 1.5)
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            for key in list(self.selector.get_map().values()):
                key.fileobj.close()  # type: ignore[union-attr]
            self.selector.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


def test_idle_and_slow_connections_do_not_delay_anyone(server: Server) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    assert hard > IDLE + SLOW + 200, "this test needs more open files than the limit allows"
    qbit = _qbit(server)
    worker = _worker_pid(server)
    rss_before = _rss_mib(worker)

    def torrents_info() -> None:
        assert isinstance(qbit.torrents_info(), qbittorrentapi.TorrentInfoList)

    def propfind() -> None:
        answer = requests.request("PROPFIND", f"{server.url}/webdav/", headers={"Depth": "1"},
                                  auth=("admin", PASSWORD), timeout=10)
        assert answer.status_code == 207
        assert b"__all__" in answer.content

    def browse() -> None:
        answer = requests.get(f"{server.url}/api/browse/", timeout=10,
                              headers={"Authorization": f"Bearer {KEY}"})
        assert answer.status_code == 200
        assert "__all__" in [g["name"] for g in answer.json()["groups"]]

    pressure = Pressure(server.port)
    pressure.start()
    try:
        # The worker itself holds them (not the kernel's accept queue).
        wait_until(lambda: _open_sockets(worker) >= IDLE + SLOW, timeout=30,
                   what=f"the worker to hold {IDLE + SLOW} connections")
        late: list[tuple[str, float, float]] = []
        answered, slowest, fewest_held = 0, 0.0, IDLE + SLOW
        start = time.monotonic()
        while time.monotonic() - start < HOLD_SECONDS:
            assert pressure.is_alive(), pressure.error
            for call in (torrents_info, propfind, browse):
                began = time.monotonic()
                call()
                took = time.monotonic() - began
                answered += 1
                slowest = max(slowest, took)
                if took >= ANSWER_WITHIN:
                    late.append((call.__name__, round(began - start, 1), round(took, 2)))
            fewest_held = min(fewest_held, _open_sockets(worker))
            time.sleep(0.2)
        rss_during = _rss_mib(worker)
    finally:
        pressure.stop()
    print(f"{answered} answers, the slowest in {slowest:.3f}s; worker RSS {rss_before:.0f} MiB "
          f"before, {rss_during:.0f} MiB with at least {fewest_held} sockets; closed by the server "
          f"{pressure.closed_by_server}, {pressure.answered_408} answered 408")
    assert not late, f"answers that took {ANSWER_WITHIN}s or more (call, at s, took s): {late}"
    # Closed connections are replaced at once, so the worker held nearly all of them always.
    assert fewest_held >= 0.9 * (IDLE + SLOW)
    # The pressure was what it says: the header timeout closed idle and slow connections
    # (the latter with 408) and they were replaced.
    assert pressure.closed_by_server["idle"] >= IDLE
    assert pressure.closed_by_server["slow"] >= SLOW
    assert pressure.answered_408 >= SLOW


# -- edges of reading heads in the poller -----------------------------------------------------
def _read_response(sock: socket.socket) -> bytes:
    """One whole response (head and Content-Length body) from a blocking socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return head + b"\r\n\r\n" + body[:length]


def test_a_head_sent_byte_by_byte_then_a_pipelined_pair_on_the_same_connection(
        server: Server) -> None:
    request = b"GET /api/v2/app/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for byte in request:
            sock.send(bytes([byte]))
            time.sleep(0.002)
        assert _read_response(sock).startswith(b"HTTP/1.1 403")
        time.sleep(0.5)     # kept alive in the poller meanwhile
        sock.sendall(request + request.replace(b"version", b"webapiVersion"))
        assert _read_response(sock).startswith(b"HTTP/1.1 403")
        assert _read_response(sock).startswith(b"HTTP/1.1 403")


def test_a_head_larger_than_32_kib_is_refused(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /api/v2/app/version HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     + b"X-Big: " + b"b" * 40_000 + b"\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 431")


@pytest.mark.parametrize("files", [3, 400])
def test_torrent_uploads_below_and_above_the_prefetched_size_are_added(
        server: Server, tmp_path: Path, files: int) -> None:
    # 400 files with long names make a .torrent over 64 KiB: its body is read in the thread.
    name = "Upload" + "x" * 150
    data, info_hash = make_torrent(tmp_path, f"Upload {files}",
                                   {f"{name} {i:03d}.mkv": 1000 + i for i in range(files)})
    assert (len(data) > 64 * 1024) == (files > 3)
    qbit = _qbit(server)
    assert qbit.torrents_add(torrent_files=[data], category="") == "Ok."
    assert [t.hash for t in qbit.torrents_info(torrent_hashes=info_hash)] == [info_hash]


def test_an_upload_that_stalls_is_answered_and_closed(server: Server) -> None:
    login = requests.post(f"{server.url}/api/v2/auth/login", timeout=10,
                          data={"username": "admin", "password": PASSWORD})
    sid = login.cookies["SID"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        # A body over the 64 KiB the poller reads ahead is read in a thread, which gives up
        # after server.body_timeout_seconds without a byte.
        sock.sendall(b"POST /api/v2/torrents/add HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Cookie: SID=" + sid.encode() + b"\r\n"
                     b"Content-Type: multipart/form-data; boundary=xx\r\n"
                     b"Content-Length: 200000\r\n\r\n--xx\r\n"
                     b'Content-Disposition: form-data; name="torrents"; filename="a.torrent"'
                     b"\r\n\r\nd8:announce")
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 400")
        while sock.recv(65536):
            pass            # then the connection closes: where the next request starts is unknown
