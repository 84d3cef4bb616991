"""What the benchmarks share: a server's peak memory and the provider calls it made."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import requests

from debrid.sandbox import SandboxServer


def peak_rss(master_pid: int) -> int:
    """Peak resident memory (VmHWM, bytes) of the gunicorn worker(s) under `master_pid`."""
    return max((m["hwm"] for m in process_memory(master_pid).values()), default=0)


def process_memory(master_pid: int) -> dict[int, dict[str, int]]:
    """Resident memory now ("rss", VmRSS) and at its peak ("hwm", VmHWM), in bytes, of
    `master_pid` and of each of its children (the gunicorn workers), by pid."""
    found: dict[int, dict[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(master_pid) or entry.name == str(master_pid):
            found[int(entry.name)] = {
                key: int(fields.get(name, "0 kB").split()[0]) * 1024
                for key, name in (("rss", "VmRSS"), ("hwm", "VmHWM"))}
    return found


def reset_peak(pid: int) -> bool:
    """Start VmHWM of `pid` again from its current RSS (a forked worker inherits its master's
    peak). False if the kernel does not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def calls_since(sandbox: SandboxServer, since: int) -> tuple[Counter[str], int]:
    """Provider API calls the sandbox served after sequence number `since`, by kind."""
    answer = requests.get(f"{sandbox.url}/__admin/requests", params={"since": since},
                          timeout=60).json()
    kinds: Counter[str] = Counter()
    for entry in answer["requests"]:
        path = entry["path"]
        if path.startswith("/rest/1.0/"):      # "torrents/info/ABC" counts as torrents/info
            kinds["/".join(path.removeprefix("/rest/1.0/").split("/")[:2])] += 1
    return kinds, answer["next"]
