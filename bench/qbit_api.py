"""Benchmark: the qBittorrent API with 10,000 torrents in the store.

Fills a store with 10,000 completed torrents (1,000 of them in one category), starts
`python app.py serve` on it, and measures over loopback, one client at a time and four at
a time: torrents/info (whole list, one category of 1,000), sync/maindata (rid=0, and an
unchanged delta). Reference in the same run: app/version, the cheapest authenticated call,
so the ratios show what the torrent work costs on top of HTTP, auth and routing. Prints
requests/s, p50/p99 latency, and the worker's peak RSS.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.add_to_complete import peak_rss
from core.models import NewTorrent, TorrentFile, TorrentState
from store.sqlite import open_store
from tests.helpers import PASSWORD, free_port, start_debridge, write_config

TORRENTS = int(os.environ.get("BENCH_TORRENTS", "10000"))
IN_CATEGORY = TORRENTS // 10
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))


def fill(data_dir: Path, downloads: Path) -> None:
    store = open_store(data_dir)
    store.create_category("tv-sonarr", "")
    now = time.time()
    for i in range(TORRENTS):
        info_hash = f"{i:040x}"
        category = "tv-sonarr" if i < IN_CATEGORY else ""
        name = f"Bench.Show.S{i // 100:02d}E{i % 100:02d}.1080p.WEB"
        torrent = store.add_torrent(NewTorrent(
            hash=info_hash, name=name, magnet=f"magnet:?xt=urn:btih:{info_hash}",
            torrent_file=None, trackers=("http://tracker.example/announce",),
            files=(TorrentFile(0, f"{name}.mkv", 1_500_000_000 + i, selected=True,
                               provider_file_id="1", done=True, placed=f"{name}.mkv"),),
            total_size=1_500_000_000 + i, category=category, tags=("bench",),
            save_path=str(downloads / category), paused=False, ratio_limit=-2,
            seeding_time_limit=-2, provider="sandbox"), now)
        store.update_torrent(torrent.id, folder=name, size=1_500_000_000 + i)
        store.transition(torrent.id, [TorrentState.QUEUED], TorrentState.COMPLETED, now,
                         progress=1.0, completion_on=int(now))
    store.close()


def login(api: str) -> requests.Session:
    session = requests.Session()
    assert session.post(f"{api}/auth/login", data={"username": "admin", "password": PASSWORD},
                        timeout=10).text == "Ok."
    return session


def measure(api: str, path: str, clients: int) -> dict[str, float]:
    """Each client its own session (as real clients); maindata deltas start from a full one."""
    latencies: list[float] = []

    def worker() -> None:
        own = login(api)
        url = f"{api}/{path}"
        if "rid=" in path and not path.endswith("rid=0"):
            rid = own.get(f"{api}/sync/maindata?rid=0", timeout=60).json()["rid"]
            url = f"{api}/sync/maindata?rid={rid}"
        deadline = time.perf_counter() + SECONDS
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = own.get(url, timeout=60)
            response.raise_for_status()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(worker)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"req_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
            "requests": len(latencies)}


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        port = free_port()
        config = write_config(tmp, port=port, downloads={"folder": str(tmp / "downloads")})
        fill(tmp / "data", tmp / "downloads")
        server = start_debridge(config, tmp / "debridge.log", port)
        try:
            api = f"http://127.0.0.1:{port}/api/v2"
            assert len(login(api).get(f"{api}/torrents/info", timeout=60).json()) == TORRENTS
            cases = {
                "app/version (reference)": "app/version",
                f"torrents/info ({TORRENTS})": "torrents/info",
                f"torrents/info?category ({IN_CATEGORY})": "torrents/info?category=tv-sonarr",
                "sync/maindata?rid=0": "sync/maindata?rid=0",
                "sync/maindata unchanged delta": "sync/maindata?rid=last",
            }
            results: dict[str, dict[str, dict[str, float]]] = {}
            for name, path in cases.items():
                results[name] = {f"{n} client(s)": measure(api, path, n) for n in (1, 4)}
            reference = results["app/version (reference)"]["1 client(s)"]["p50_ms"]
            for entry in results.values():
                entry["p50_vs_reference"] = {"x": round(
                    entry["1 client(s)"]["p50_ms"] / reference, 1)}
            print(json.dumps({"torrents": TORRENTS, "results": results,
                              "worker_peak_rss_mb": round(peak_rss(server.proc.pid) / 1e6, 1)},
                             indent=2))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
