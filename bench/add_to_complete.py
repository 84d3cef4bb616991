"""Benchmark: Debridge's add-to-completed time against doing the same provider work directly.

Reference, in this run: the Real-Debrid client alone does, per torrent, addMagnet, info,
selectFiles, info, unrestrict and a GET of the file to disk, four torrents at a time.
Debridge: the same number of torrents through qbittorrent-api against `python app.py serve`
(download action, default settings), from torrents/add until torrents/info says pausedUP.
Both read from one sandbox started here, Debridge with a request budget of BENCH_RATE (default
6000/min). Prints both, their ratio, the provider calls each made, and Debridge's peak RSS.
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

import qbittorrentapi

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import calls_since, peak_rss
from debrid.cdn import HttpContentSource
from debrid.realdebrid import RealDebrid
from debrid.sandbox import SandboxOptions, SandboxServer
from tests.helpers import (
    PASSWORD,
    free_port,
    magnet,
    random_hash,
    start_debridge,
    write_config,
)

TORRENTS = int(os.environ.get("BENCH_TORRENTS", "20"))
SIZE = int(os.environ.get("BENCH_SIZE_MB", "32")) * 1_000_000
# the reference has no request budget; Debridge's default for Real-Debrid (250/min) would
# make this a measure of the budget (BENCH_RATE=250 shows that)
RATE = int(os.environ.get("BENCH_RATE", "6000"))
PARALLEL = 4          # Debridge's default downloads.max_parallel_transfers


def reference(api_url: str, out: Path) -> list[float]:
    client = RealDebrid(name="ref", api_key="bench", base_url=api_url)
    content = HttpContentSource()

    def one(index: int) -> float:
        started = time.perf_counter()
        torrent_id = client.add_magnet(magnet(random_hash(), f"Ref.{index}.mkv", SIZE))
        client.get_torrent(torrent_id)
        client.select_files(torrent_id, ["1"])
        link = client.get_torrent(torrent_id).files[0].link
        stream = content.open(client.resolve_link(link).url, 0)
        with open(out / f"ref-{index}.mkv", "wb") as handle:
            for chunk in stream.chunks(1 << 20):
                handle.write(chunk)
        stream.close()
        return time.perf_counter() - started

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(one, range(TORRENTS)))


def through_debridge(api_url: str, tmp: Path) -> tuple[list[float], float, int]:
    port = free_port()
    config = write_config(tmp, port=port, providers=[{
        "name": "rd", "type": "realdebrid", "api_key": "bench", "base_url": api_url,
        "rate_limit_per_minute": RATE}],
        downloads={"poll_interval_seconds": 5.0},
        # the first library sync would import the reference's torrents: not this bench's work
        library={"sync_interval_seconds": 0})
    server = start_debridge(config, tmp / "debridge.log", port)
    try:
        client = qbittorrentapi.Client(host=f"http://127.0.0.1:{port}", username="admin",
                                       password=PASSWORD)
        client.auth_log_in()
        started = time.perf_counter()
        added: dict[str, float] = {}
        for index in range(TORRENTS):
            info_hash = random_hash()
            client.torrents_add(urls=magnet(info_hash, f"Bench.{index}.mkv", SIZE))
            added[info_hash] = time.perf_counter()
        finished: dict[str, float] = {}
        while len(finished) < TORRENTS:
            for torrent in client.torrents_info():
                if torrent["state"] == "pausedUP" and torrent["hash"] not in finished:
                    finished[torrent["hash"]] = time.perf_counter()
            time.sleep(0.05)
        total = time.perf_counter() - started
        return [finished[h] - added[h] for h in added], total, peak_rss(server.proc.pid)
    finally:
        server.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch, SandboxServer(
            options=SandboxOptions(conversion_seconds=0.0)) as sandbox:
        tmp = Path(scratch)
        started = time.perf_counter()
        ref = reference(sandbox.api_url, tmp)
        ref_total = time.perf_counter() - started
        ref_calls, mark = calls_since(sandbox, 0)
        ours, total, rss = through_debridge(sandbox.api_url, tmp)
        calls, _ = calls_since(sandbox, mark)
    megabytes = TORRENTS * SIZE / 1e6
    result = {
        "torrents": TORRENTS, "size_mb": SIZE / 1e6, "rate_limit_per_minute": RATE,
        "reference_calls": dict(ref_calls), "debridge_calls": dict(calls),
        "reference_total_s": round(ref_total, 2),
        "reference_mb_per_s": round(megabytes / ref_total, 1),
        "reference_latency_p50_s": round(statistics.median(ref), 3),
        "debridge_total_s": round(total, 2),
        "debridge_mb_per_s": round(megabytes / total, 1),
        "debridge_latency_p50_s": round(statistics.median(ours), 3),
        "debridge_latency_max_s": round(max(ours), 3),
        "ratio_total_debridge_over_reference": round(total / ref_total, 2),
        "debridge_worker_peak_rss_mb": round(rss / 1e6, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
