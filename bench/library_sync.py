"""Benchmark: library sync of a big provider account (50,000 torrents by default).

Reference, in this run: the Real-Debrid client alone walks the same account (every page of
/torrents) and fetches the same number of file lists, with no store and no request budget.
Debridge: `python app.py serve` with a realdebrid provider pointed at the sandbox, whose first
library sync pass imports the whole account. Prints both times, their ratio, the provider calls
each made (from the sandbox's request log), the time the request budget alone imposes on that
many calls, and the server's peak resident memory.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import calls_since, peak_rss
from debrid.realdebrid import RealDebrid
from debrid.sandbox import SandboxOptions, SandboxServer
from tests.helpers import free_port, start_debridge, write_config

ACCOUNT = int(os.environ.get("BENCH_ACCOUNT", "50000"))
DETAILS = int(os.environ.get("BENCH_DETAILS", "100"))       # library.details_per_sync
RATE = int(os.environ.get("BENCH_RATE", "250"))              # Real-Debrid's published limit
DONE_LINE = "library sync of rd:"


def reference(sandbox: SandboxServer) -> tuple[float, int]:
    client = RealDebrid(name="ref", api_key="bench", base_url=sandbox.api_url)
    started = time.perf_counter()
    finished_ids = []
    listed = 0
    for remote in client.list_torrents():
        listed += 1
        if len(finished_ids) < DETAILS:
            finished_ids.append(remote.id)
    for remote_id in finished_ids:
        client.get_torrent(remote_id)
    return time.perf_counter() - started, listed


def through_debridge(sandbox: SandboxServer, tmp: Path) -> tuple[float, str, int]:
    port = free_port()
    config = write_config(tmp, port=port, providers=[{
        "name": "rd", "type": "realdebrid", "api_key": "bench", "base_url": sandbox.api_url,
        "rate_limit_per_minute": RATE}],
        library={"sync_interval_seconds": 3600, "details_per_sync": DETAILS})
    log_path = tmp / "debridge.log"
    started = time.perf_counter()
    server = start_debridge(config, log_path, port)
    try:
        while DONE_LINE not in log_path.read_text(errors="replace"):
            if time.perf_counter() - started > 1800:
                raise SystemExit(f"no library sync after 30 minutes:\n{server.log()}")
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        line = next(text for text in log_path.read_text(errors="replace").splitlines()
                    if DONE_LINE in text)
        assert server.proc is not None
        return elapsed, line.split(DONE_LINE, 1)[1].strip(), peak_rss(server.proc.pid)
    finally:
        server.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch, SandboxServer(
            options=SandboxOptions(conversion_seconds=0.0)) as sandbox:
        created = requests.post(f"{sandbox.url}/__admin/torrents",
                                json={"count": ACCOUNT, "name": "Account"}, timeout=600)
        created.raise_for_status()
        _, mark = calls_since(sandbox, 0)
        ref_seconds, listed = reference(sandbox)
        ref_calls, mark = calls_since(sandbox, mark)
        seconds, summary, rss = through_debridge(sandbox, Path(scratch))
        calls, _ = calls_since(sandbox, mark)
    capacity = RATE // 10
    budget_floor = max(0.0, (sum(calls.values()) - capacity) / ((RATE - capacity) / 60))
    result = {
        "account_torrents": ACCOUNT, "listed_by_reference": listed,
        "file_lists_per_sync": DETAILS, "rate_limit_per_minute": RATE,
        "reference_s": round(ref_seconds, 2), "reference_calls": dict(ref_calls),
        "debridge_s_from_start": round(seconds, 2), "debridge_calls": dict(calls),
        "debridge_report": summary,
        "budget_floor_s": round(budget_floor, 2),
        "ratio_debridge_over_reference": round(seconds / ref_seconds, 2),
        "ratio_debridge_over_budget_floor": round(seconds / budget_floor, 2)
        if budget_floor else None,
        "debridge_server_peak_rss_mb": round(rss / 1e6, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
