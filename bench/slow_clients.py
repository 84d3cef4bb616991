"""Benchmark: what 1,000 idle and 200 slow-header sockets cost the calls of a normal client."""

from __future__ import annotations

import base64
import http.client
import math
import multiprocessing
import os
import resource
import selectors
import socket
import statistics
import sys
import tempfile
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import process_memory, reset_peak
from tests.helpers import PASSWORD, free_port, start_debridge, wait_until, write_config

IDLE = int(os.environ.get("BENCH_IDLE", "1000"))
SLOW = int(os.environ.get("BENCH_SLOW", "200"))
HOLD = float(os.environ.get("BENCH_HOLD_SECONDS", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "100"))
API_KEY = "bench-api-key-" + "k" * 32
SLOW_HEAD = b"GET /api/v2/app/version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
MIB = 1 << 20
HARD_NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)[1]


class Holder:
    """IDLE connected sockets that send nothing and SLOW ones that send their request head a
    byte a second, each reopened when the server closes it: one selector loop, run in its own
    process (so its work does not hold the measuring client's GIL)."""

    def __init__(self, port: int, stop: Event, ready: Event) -> None:
        self.port, self.stop, self.ready = port, stop, ready
        self.selector = selectors.DefaultSelector()
        self.open: dict[socket.socket, str] = {}
        self.report: dict = {"closed": {"idle": 0, "slow": 0}, "answered_408": 0,
                             "failed_opens": 0, "held": [], "ramp_seconds": 0.0}

    def connect(self, kind: str) -> None:
        sock = socket.socket()
        try:
            sock.settimeout(5)
            sock.connect(("127.0.0.1", self.port))
            if kind == "slow":
                sock.sendall(SLOW_HEAD)
            sock.setblocking(False)
        except OSError:
            sock.close()
            self.report["failed_opens"] += 1
            return
        self.open[sock] = kind
        self.selector.register(sock, selectors.EVENT_READ)

    def reopen(self, sock: socket.socket) -> None:
        """The server closed `sock` (after a 408 or without a word): open another of its kind."""
        kind = self.open.pop(sock)
        self.selector.unregister(sock)
        sock.close()
        self.report["closed"][kind] += 1
        self.connect(kind)

    def run(self) -> dict:
        started = time.perf_counter()
        for index in range(IDLE + SLOW):
            self.connect("slow" if index < SLOW else "idle")
        self.report["ramp_seconds"] = time.perf_counter() - started
        self.ready.set()
        tick = time.monotonic()
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                self.report["answered_408"] += data.startswith(b"HTTP/1.1 408")
                self.reopen(sock)
            if time.monotonic() >= tick:
                tick += 1.0
                self.report["held"].append(len(self.open))
                for sock, kind in list(self.open.items()):
                    if kind == "slow":
                        try:
                            sock.send(b"a")
                        except OSError:
                            self.reopen(sock)
        for sock in self.open:
            sock.close()
        return self.report


def hold(port: int, stop: Event, ready: Event, results: Queue) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (HARD_NOFILE, HARD_NOFILE))
    results.put(Holder(port, stop, ready).run())


def call(conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str],
         expect: int) -> float:
    """Seconds for one whole request and response on `conn` (reopened once if it was closed)."""
    for attempt in (1, 2):
        started = time.perf_counter()
        try:
            conn.request(method, path, headers=headers)
            response = conn.getresponse()
            response.read()
        except (http.client.RemoteDisconnected, ConnectionError):
            conn.close()
            if attempt == 2:
                raise
            continue
        elapsed = time.perf_counter() - started
        if response.status != expect:
            raise SystemExit(f"{method} {path} answered {response.status}, not {expect}")
        return elapsed
    raise AssertionError("unreachable")


def measure(port: int, cases: dict[str, tuple[str, str, dict[str, str], int]], seconds: float,
            worker: int = 0, sample: list[dict[str, int]] | None = None,
            started_at: dict[str, list[float]] | None = None) -> dict[str, list[float]]:
    """ROUNDS rounds spread over `seconds`: every call on a kept-alive connection and on a
    new one (when each started goes into `started_at`). Samples the worker's memory into
    `sample` once a second if given."""
    kept = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=60) for name in cases}
    times: dict[str, list[float]] = {f"{name} [{mode}]": [] for name in cases
                                     for mode in ("kept-alive", "new conn")}
    interval = seconds / ROUNDS
    started = time.monotonic()
    next_sample = started
    for index in range(ROUNDS):
        for name, (method, path, headers, expect) in cases.items():
            for mode in ("kept-alive", "new conn"):
                conn = kept[name] if mode == "kept-alive" else http.client.HTTPConnection(
                    "127.0.0.1", port, timeout=60)
                if started_at is not None:
                    started_at.setdefault(f"{name} [{mode}]", []).append(time.monotonic())
                times[f"{name} [{mode}]"].append(call(conn, method, path, headers, expect))
                if mode == "new conn":
                    conn.close()
        if sample is not None and time.monotonic() >= next_sample:
            next_sample += 1.0
            sample.append(sample_memory(worker))
        time.sleep(max(0.0, started + (index + 1) * interval - time.monotonic()))
    for conn in kept.values():
        conn.close()
    return times


def sample_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (bytes) and the number of open descriptors of `pid`."""
    fields = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    memory = {key: int(fields[name].split()[0]) * 1024
              for key, name in (("rss", "VmRSS"), ("hwm", "VmHWM"))}
    memory["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return memory


def stats(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000, ordered[-1] * 1000


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory(prefix="bench-slow-") as scratch:
        tmp = Path(scratch)
        port = free_port()
        config = write_config(tmp, port=port, auth={"api_key": API_KEY})
        server = start_debridge(config, tmp / "debridge.log", port)
        context = multiprocessing.get_context("fork")
        stop, ready, results = context.Event(), context.Event(), context.Queue()
        holder = context.Process(target=hold, args=(port, stop, ready, results), daemon=True)
        try:
            assert server.proc is not None
            master = server.proc.pid          # the worker is its child (PPid in /proc)
            (worker,) = wait_until(lambda: [p for p in process_memory(master) if p != master],
                                   what="the gunicorn worker")
            login = requests.post(f"http://127.0.0.1:{port}/api/v2/auth/login", timeout=10,
                                  data={"username": "admin", "password": PASSWORD})
            assert login.text == "Ok.", login.text
            basic = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
            cases = {
                "qbit GET torrents/info": ("GET", "/api/v2/torrents/info",
                                           {"Cookie": f"SID={login.cookies['SID']}"}, 200),
                "webdav PROPFIND / depth 1": ("PROPFIND", "/webdav/",
                                              {"Depth": "1", "Authorization": f"Basic {basic}"},
                                              207),
                "rest GET /api/browse/": ("GET", "/api/browse/",
                                          {"Authorization": f"Bearer {API_KEY}"}, 200),
            }
            measure(port, cases, 1.0)                                # warm-up
            reference = measure(port, cases, HOLD * 0.9)
            before = sample_memory(worker)
            peak_reset = reset_peak(worker)
            holder.start()
            assert ready.wait(120), "the holder did not open its sockets"
            load_started = time.monotonic()
            during: list[dict[str, int]] = []
            started_at: dict[str, list[float]] = {}
            loaded = measure(port, cases, HOLD * 0.9, worker, during, started_at)
            time.sleep(max(0.0, load_started + HOLD - time.monotonic()))
            during.append(sample_memory(worker))
            held_for = time.monotonic() - load_started
            stop.set()
            load = results.get(timeout=60)
            holder.join(30)
        finally:
            stop.set()
            if holder.is_alive():
                holder.join(30)
            if holder.is_alive():
                holder.kill()
            server.stop()
        log = (tmp / "debridge.log").read_text(errors="replace").splitlines()
        problems = [line for line in log if "built-in SANDBOX" not in line
                    and any(mark in line for mark in (" ERROR ", " WARNING ", "Traceback"))]

    print(f"\n== slow_clients ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
          f"server.threads 16, RLIMIT_NOFILE soft {soft} -> {hard}) ==")
    closed = load["closed"]
    print(f"load: {IDLE} idle + {SLOW} slow-header sockets held {held_for:.1f} s (opened in "
          f"{load['ramp_seconds']:.2f} s); open each second: min {min(load['held'])}, max "
          f"{max(load['held'])}; closed by the server and reopened: idle {closed['idle']}, "
          f"slow {closed['slow']} ({load['answered_408']} answered 408); failed opens "
          f"{load['failed_opens']}")
    print(f"{ROUNDS} requests per call and mode, spread over {HOLD * 0.9:.0f} s; ms\n")
    print(f"{'call':40} {'without p50/p95/max':>22} {'with load p50/p95/max':>24} "
          f"{'p95 ratio':>9}")
    for name in reference:
        ref, hit = stats(reference[name]), stats(loaded[name])
        print(f"{name:40} {ref[0]:6.2f} {ref[1]:6.2f} {ref[2]:7.2f}  "
              f"{hit[0]:7.2f} {hit[1]:7.2f} {hit[2]:8.2f} {hit[1] / ref[1]:8.2f}x")
    slowest = sorted(((v, at) for name in loaded for v, at in zip(loaded[name], started_at[name],
                                                                  strict=True)), reverse=True)
    print("slowest with the load (ms @ s into it): "
          + ", ".join(f"{v * 1000:.0f} @ {at - load_started:.1f}" for v, at in slowest[:8]))
    peak = max(s["hwm"] for s in during)
    print(f"\nworker pid {worker}: before the load RSS {before['rss'] / MIB:.1f} MiB, VmHWM "
          f"{before['hwm'] / MIB:.1f} MiB, {before['fds']} open fds; during it RSS max "
          f"{max(s['rss'] for s in during) / MIB:.1f} MiB, VmHWM {peak / MIB:.1f} MiB"
          f"{' (peak reset at the start of the load)' if peak_reset else ''}, open fds "
          f"{min(s['fds'] for s in during)}..{max(s['fds'] for s in during)}")
    print(f"  RSS growth per held socket: "
          f"{(max(s['rss'] for s in during) - before['rss']) / (IDLE + SLOW):.0f} bytes")
    for line in problems[:10]:
        print(f"server log: {line}")


if __name__ == "__main__":
    main()
