"""Benchmark: streaming a file through /webdav/ against reading it straight from the CDN, and
listing a 50,000-torrent library over WebDAV.

One run, one `python app.py serve` (gunicorn gthread, Basic auth on /webdav/) whose built-in
sandbox listens on a port chosen here:

1. a 1 GiB single-file torrent (magnet with xl=1073741824) is added through /api/v2 and
   waited for until completed; its WebDAV path is found with PROPFIND, its direct CDN URL in
   the store's link cache (the URL the server itself resolved and reads from);
2. curl reads the whole file to /dev/null, directly from the CDN and through /webdav/,
   alternately (one warm-up of each, then BENCH_REPEATS of each; best and median reported,
   with the CPU seconds per GiB the sandbox, the worker and curl each spent);
3. curl times the first byte of 64 KiB range reads at random offsets: through /webdav/ with
   the direct link cached ("warm link") and with it dropped from the store before each read
   ("cold link": the worker asks the provider to unrestrict again), and from the CDN;
   then both again with the sandbox's CDN paced per connection as a real CDN is (whole
   reads at BENCH_CDN_MIBS, first bytes at BENCH_TTFB_CDN_MIBS);
4. the server is stopped, BENCH_LIBRARY imported account torrents (status ready, files
   known) are written into its store with the store API, the server is started again, and
   PROPFIND depth 1 of /webdav/__all__/ is timed cold and warm (members counted), as is a
   PROPFIND depth 1 of one torrent folder, with the worker's memory before and after.

Library sync is off (sync_interval_seconds 0): the written torrents are not in the
sandbox's account, and a sync would start removing them. Unpaced, the CDN is a Python server
on loopback and every byte costs CPU in the sandbox, the worker and curl alike: on a machine
with few cores the whole-read ratio measures CPU, which the summary's CPU line shows.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import process_memory, reset_peak
from core.ports import RemoteFile, RemoteStatus, RemoteTorrent
from store.sqlite import open_store
from tests.helpers import (
    PASSWORD,
    ServerProcess,
    free_port,
    magnet,
    random_hash,
    start_debridge,
    wait_until,
    write_config,
)

MIB = 1 << 20
SIZE = int(os.environ.get("BENCH_SIZE_MB", "1024")) * MIB      # 1 GiB = 1073741824 bytes
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
PROBES = int(os.environ.get("BENCH_PROBES", "10"))
PROBE_BYTES = 64 * 1024
# A second pass with the sandbox's CDN paced per connection, as a real debrid CDN is: whole
# reads at CDN_MIBS, 64 KiB first-byte times at TTFB_CDN_MIBS (0 skips either).
CDN_MIBS = float(os.environ.get("BENCH_CDN_MIBS", "200"))
PACED_REPEATS = int(os.environ.get("BENCH_PACED_REPEATS", "2"))
TTFB_CDN_MIBS = float(os.environ.get("BENCH_TTFB_CDN_MIBS", "20"))
GIB = 1 << 30
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LIBRARY = int(os.environ.get("BENCH_LIBRARY", "50000"))
PACK_EVERY = 50            # every 50th library torrent is a 12-episode season pack
USER = "admin"
DAV = "/webdav"
NS = "{DAV:}"
UP_STATES = {"pausedUP", "stoppedUP", "stalledUP", "uploading", "queuedUP", "forcedUP"}


# -- clients ----------------------------------------------------------------------------------
def curl(url: str, *args: str, output: str = "/dev/null", auth: bool = False) -> dict:
    """One curl process (a fresh connection): its -w '%{json}' timings."""
    command = ["curl", "-sS", "--noproxy", "*", "-o", output, "-w", "%{json}", *args]
    if auth:
        command += ["-u", f"{USER}:{PASSWORD}"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=900,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"curl {url} failed ({done.returncode}): {done.stderr}")
    return json.loads(done.stdout)


def propfind(url: str, output: str, depth: str = "1") -> tuple[dict, ET.Element]:
    timing = curl(url, "-X", "PROPFIND", "-H", f"Depth: {depth}", output=output, auth=True)
    if timing["http_code"] != 207:
        raise SystemExit(f"PROPFIND {url} answered {timing['http_code']}: "
                         f"{Path(output).read_text(errors='replace')[:500]}")
    return timing, ET.parse(output).getroot()  # noqa: S314 - our own server's answer


def members(root: ET.Element) -> list[tuple[str, int | None]]:
    """(decoded href, content length or None for a collection) of each multistatus entry."""
    out = []
    for response in root.iter(f"{NS}response"):
        href = unquote(response.findtext(f"{NS}href") or "")
        length = response.findtext(f".//{NS}getcontentlength")
        out.append((href, int(length) if length is not None else None))
    return out


def check(condition: object, what: object) -> None:
    """A failed expectation stops the bench (asserts would vanish under -O)."""
    if not condition:
        raise SystemExit(f"bench check failed: {what}")


def mib_per_s(timing: dict) -> float:
    return timing["size_download"] / timing["time_total"] / MIB


def server_pids(server: ServerProcess) -> tuple[int, list[int]]:
    assert server.proc is not None
    master = server.proc.pid
    workers = wait_until(lambda: [p for p in process_memory(master) if p != master],
                         timeout=30, what="a gunicorn worker")
    return master, workers


# -- phase 1: one big file --------------------------------------------------------------------
def add_big_file(base: str) -> tuple[str, str]:
    """Add the 1 GiB magnet through /api/v2 and wait until it is completed."""
    session = requests.Session()
    session.trust_env = False
    login = session.post(f"{base}/api/v2/auth/login",
                         data={"username": USER, "password": PASSWORD}, timeout=30)
    check(login.text == "Ok.", login.text)
    info_hash = random_hash()
    name = "Bench.Stream.2160p.mkv"
    added = session.post(f"{base}/api/v2/torrents/add",
                         data={"urls": magnet(info_hash, name, SIZE)}, timeout=60)
    check(added.text == "Ok.", added.text)

    def completed() -> dict | None:
        found = session.get(f"{base}/api/v2/torrents/info", params={"hashes": info_hash},
                            timeout=30).json()
        if found and found[0]["progress"] >= 1 and found[0]["state"] in UP_STATES:
            return found[0]
        if found and found[0]["state"] == "error":
            raise SystemExit(f"the torrent failed: {found[0]}")
        return None

    started = time.perf_counter()
    torrent = wait_until(completed, timeout=600, interval=0.2, what="the 1 GiB torrent")
    print(f"added and completed (download action copied it) in "
          f"{time.perf_counter() - started:.1f}s: {torrent['content_path']}", flush=True)
    return info_hash, name


def webdav_file(base: str, scratch: Path) -> str:
    """The URL of the single file that PROPFIND finds under __all__."""
    _, root = propfind(f"{base}{DAV}/__all__/", str(scratch / "all.xml"))
    folders = [href for href, length in members(root)[1:] if length is None]
    check(len(folders) == 1, folders)
    _, root = propfind(f"{base}{quote(folders[0])}", str(scratch / "folder.xml"))
    files = [(href, length) for href, length in members(root)[1:] if length is not None]
    check(len(files) == 1 and files[0][1] == SIZE, files)
    return f"{base}{quote(files[0][0])}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def whole_reads(cdn_url: str, dav_url: str, repeats: int, warmup: bool,
                pids: tuple[int, list[int]], label: str) -> dict:
    """Read the whole file with curl, direct and through /webdav/ in turn; MiB/s of each run
    and the CPU seconds per GiB each process spent (the master hosts the sandbox's CDN)."""
    master, workers = pids
    runs: dict[str, list[float]] = {"direct": [], "webdav": []}
    cpu: dict[str, dict[str, list[float]]] = {
        kind: {"sandbox_master": [], "worker": [], "curl": []} for kind in runs}
    for attempt in range(repeats + 1 if warmup else repeats):
        counted = attempt or not warmup
        for kind, url in (("direct", cdn_url), ("webdav", dav_url)):
            before = (cpu_seconds(master), sum(cpu_seconds(w) for w in workers), children_cpu())
            timing = curl(url, auth=kind == "webdav")
            after = (cpu_seconds(master), sum(cpu_seconds(w) for w in workers), children_cpu())
            check(timing["http_code"] == 200 and timing["size_download"] == SIZE, timing)
            speed = mib_per_s(timing)
            if counted:
                runs[kind].append(speed)
                for name, b, a in zip(cpu[kind], before, after, strict=True):
                    cpu[kind][name].append((a - b) / (SIZE / GIB))
            print(f"  {label} {'warm-up' if not counted else 'run'} {kind:6s} {speed:8.1f} MiB/s"
                  f"  cpu s/GiB master {after[0] - before[0]:.2f} worker "
                  f"{after[1] - before[1]:.2f} curl {after[2] - before[2]:.2f}", flush=True)
    direct, dav = runs["direct"], runs["webdav"]
    return {
        "direct_mib_s_runs": [round(v, 1) for v in direct],
        "webdav_mib_s_runs": [round(v, 1) for v in dav],
        "direct_mib_s_best": round(max(direct), 1),
        "webdav_mib_s_best": round(max(dav), 1),
        "direct_mib_s_median": round(statistics.median(direct), 1),
        "webdav_mib_s_median": round(statistics.median(dav), 1),
        "ratio_best": round(max(dav) / max(direct), 3),
        "ratio_median": round(statistics.median(dav) / statistics.median(direct), 3),
        "cpu_s_per_gib_median": {kind: {name: round(statistics.median(v), 2)
                                        for name, v in per.items()}
                                 for kind, per in cpu.items()},
    }


def probe(url: str, offset: int, auth: bool) -> float:
    """Seconds to the first byte of a 64 KiB range read (a fresh curl, a fresh connection)."""
    timing = curl(url, "-r", f"{offset}-{offset + PROBE_BYTES - 1}", auth=auth)
    check(timing["http_code"] == 206 and timing["size_download"] == PROBE_BYTES, timing)
    return float(timing["time_starttransfer"])


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 2)


def set_cdn_rate(sandbox: str, mib_per_second: float) -> None:
    answer = requests.post(f"{sandbox}/__admin/config", timeout=30,
                           json={"cdn_bytes_per_second": int(mib_per_second * MIB)},
                           proxies={"http": "", "https": ""})
    check(answer.ok, answer.text)


def stream_phase(base: str, sandbox: str, data_dir: Path, scratch: Path,
                 pids: tuple[int, list[int]]) -> dict:
    info_hash, _ = add_big_file(base)
    dav_url = webdav_file(base, scratch)
    store = open_store(data_dir)
    try:
        torrent = store.get_by_hash(info_hash, with_files=True)
        check(torrent is not None, "the torrent is not in the store")
        assert torrent is not None
        (file,) = [f for f in torrent.files if f.selected and f.link]
        provider, source = torrent.provider, file.link
        cached = store.get_link(provider, source, time.time())
        check(cached is not None, "the download action left no cached direct link")
        assert cached is not None
        cdn_url = cached.url
        check(cdn_url.startswith(sandbox + "/"), cdn_url)
        print(f"webdav: {urlsplit(dav_url).path}\ncdn:    {urlsplit(cdn_url).path}", flush=True)

        # The same bytes both ways (a few ranges), before anything is timed.
        session = requests.Session()
        session.trust_env = False
        for offset in (0, SIZE // 2 + 12345, SIZE - PROBE_BYTES):
            ranged = {"Range": f"bytes={offset}-{offset + PROBE_BYTES - 1}"}
            direct = session.get(cdn_url, headers=ranged, timeout=60)
            dav = session.get(dav_url, headers=ranged, auth=(USER, PASSWORD), timeout=60)
            check(direct.status_code == dav.status_code == 206, (direct, dav))
            check(dav.content == direct.content and len(dav.content) == PROBE_BYTES,
                  f"webdav bytes differ from the CDN's at {offset}")

        # Whole-file reads, the CDN unthrottled (loopback: the CPU is the limit).
        load = os.getloadavg()[0]
        local = whole_reads(cdn_url, dav_url, REPEATS, True, pids, "loopback")

        # Time to first byte of 64 KiB ranges at random offsets; "cold" drops the cached
        # direct link first, so the worker asks the provider to unrestrict it again.
        rng = random.Random(1)
        offsets = [rng.randrange(0, SIZE - PROBE_BYTES) for _ in range(PROBES)]
        ttfb: dict[str, list[float]] = {"direct": [], "webdav_warm_link": [],
                                        "webdav_cold_link": []}
        for offset in offsets:
            ttfb["direct"].append(probe(cdn_url, offset, auth=False))
            ttfb["webdav_warm_link"].append(probe(dav_url, offset, auth=True))
            store.drop_link(provider, source)
            ttfb["webdav_cold_link"].append(probe(dav_url, offset, auth=True))
        check(store.get_link(provider, source, time.time()) is not None,
              "the cold reads cached no link")
        cached = store.get_link(provider, source, time.time())
        assert cached is not None
        cdn_url = cached.url                     # the link the cold reads resolved last

        # The same with the CDN paced as a real one is (per connection).
        paced: dict = {}
        if CDN_MIBS > 0:
            set_cdn_rate(sandbox, CDN_MIBS)
            paced = whole_reads(cdn_url, dav_url, PACED_REPEATS, False, pids,
                                f"cdn {CDN_MIBS:g} MiB/s")
        if TTFB_CDN_MIBS > 0:
            set_cdn_rate(sandbox, TTFB_CDN_MIBS)
            paced_ttfb: dict[str, list[float]] = {"direct": [], "webdav_warm_link": []}
            for offset in offsets:
                paced_ttfb["direct"].append(probe(cdn_url, offset, auth=False))
                paced_ttfb["webdav_warm_link"].append(probe(dav_url, offset, auth=True))
            paced["ttfb_64k_median_ms"] = {k: median_ms(v) for k, v in paced_ttfb.items()}
        set_cdn_rate(sandbox, 0)
    finally:
        store.close()
    return {
        "file_bytes": SIZE, "client": "curl -o /dev/null (one process per read)",
        "repeats": REPEATS, "load_average_before": round(load, 2),
        "loopback": local,
        "ttfb_64k_median_ms": {kind: median_ms(v) for kind, v in ttfb.items()},
        "ttfb_64k_max_ms": {kind: round(max(v) * 1000, 2) for kind, v in ttfb.items()},
        "ttfb_probes": PROBES,
        "paced_cdn_mib_s": CDN_MIBS, "paced_ttfb_cdn_mib_s": TTFB_CDN_MIBS,
        "paced": paced,
    }


# -- phase 2: a big library -------------------------------------------------------------------
def fill_library(data_dir: Path, provider: str) -> float:
    """Write LIBRARY ready account torrents with their files, as a library sync leaves them."""
    started = time.perf_counter()
    store = open_store(data_dir)
    try:
        now = time.time()
        remotes, files = [], {}
        for index in range(LIBRARY):
            remote_id = f"BENCH{index:08d}"
            show, season = f"Show.{index // 500:03d}", f"S{index % 100:02d}"
            if index % PACK_EVERY == 0:          # a season pack: 12 episodes in its folder
                name = f"{show}.{season}.{index}.1080p.WEB-DL.x264-GRP"
                listed = [RemoteFile(str(k), f"/{show}.{season}E{k:02d}.1080p.mkv",
                                     900 * MIB + k, True, f"https://sandbox.invalid/d/P{index}X{k}")
                          for k in range(1, 13)]
            else:                                # one episode, one file
                name = f"{show}.{season}E{index % 97:02d}.{index}.1080p.WEB-DL-GRP.mkv"
                listed = [RemoteFile("1", f"/{name}", 1200 * MIB + index, True,
                                     f"https://sandbox.invalid/d/F{index}")]
            size = sum(f.size for f in listed)
            remotes.append(RemoteTorrent(
                id=remote_id, hash=f"{index:040x}", name=name, status=RemoteStatus.READY,
                raw_status="downloaded", progress=1.0, size=size,
                links=tuple(f.link for f in listed), added=now - LIBRARY + index,
                ended=now - LIBRARY + index + 60))
            files[remote_id] = listed
        new, known = store.upsert_imported(provider, remotes, generation=1, now=now)
        check((new, known) == (LIBRARY, 0), (new, known))
        for remote_id, listed in files.items():
            store.set_imported_files(provider, remote_id, listed)
        check(store.count_imported(provider) == LIBRARY, store.count_imported(provider))
    finally:
        store.close()
    return time.perf_counter() - started


def library_phase(base: str, server: ServerProcess, scratch: Path) -> dict:
    master, workers = server_pids(server)
    before = process_memory(master)
    # A forked worker starts with its master's peak; count from its own RSS instead.
    peak_reset = all([reset_peak(pid) for pid in workers])
    all_url = f"{base}{DAV}/__all__/"

    def worker_cpu() -> float:
        return sum(cpu_seconds(pid) for pid in workers)

    started = worker_cpu()
    cold, root = propfind(all_url, str(scratch / "library.xml"))
    cold_cpu = worker_cpu() - started
    listed = members(root)[1:]
    after_cold = process_memory(master)
    started = worker_cpu()
    warm, root = propfind(all_url, str(scratch / "library.xml"))
    warm_cpu = worker_cpu() - started
    listed_warm = members(root)[1:]
    after_warm = process_memory(master)
    expected = LIBRARY + 1                     # the library plus the 1 GiB torrent
    check(len(listed) == len(listed_warm) == expected, (len(listed), len(listed_warm)))
    pack = next(href for href, _ in listed if ".WEB-DL.x264-GRP/" in href)
    folder, root = propfind(f"{base}{quote(pack)}", str(scratch / "pack.xml"))
    episodes = members(root)[1:]
    check(len(episodes) == 12 and all(n for _, n in episodes), episodes)
    single = next(href for href, _ in listed if "-GRP/" in href and "x264" not in href)
    single_timing, root = propfind(f"{base}{quote(single)}", str(scratch / "single.xml"))
    check(len(members(root)) == 2, members(root))

    def worker(snapshot: dict, key: str) -> float:
        return round(sum(snapshot[p][key] for p in workers if p in snapshot) / MIB, 1)

    return {
        "library_torrents": LIBRARY,
        "propfind_all_members": len(listed),
        "propfind_all_cold_s": round(cold["time_total"], 3),
        "propfind_all_cold_ttfb_s": round(cold["time_starttransfer"], 3),
        "propfind_all_warm_s": round(warm["time_total"], 3),
        "propfind_all_worker_cpu_s": {"cold": round(cold_cpu, 2), "warm": round(warm_cpu, 2)},
        "propfind_all_bytes": cold["size_download"],
        "propfind_pack_folder_12_files_ms": round(folder["time_total"] * 1000, 1),
        "propfind_single_file_torrent_ms": round(single_timing["time_total"] * 1000, 1),
        "worker_pids": workers,
        "worker_peak_reset_before_propfind": peak_reset,
        "worker_mib": {
            "rss_before": worker(before, "rss"), "peak_before": worker(before, "hwm"),
            "rss_after_cold": worker(after_cold, "rss"),
            "peak_after_cold": worker(after_cold, "hwm"),
            "rss_after_warm": worker(after_warm, "rss"),
            "peak_after_warm": worker(after_warm, "hwm")},
        "master_with_sandbox_peak_mib": round(after_warm[master]["hwm"] / MIB, 1),
    }


# -- the run ----------------------------------------------------------------------------------
def summary(stream: dict, library: dict) -> None:
    local, paced = stream["loopback"], stream["paced"]
    cpu = local["cpu_s_per_gib_median"]
    print(f"\n== summary (webdav_stream; {os.cpu_count()} CPUs, load average "
          f"{stream['load_average_before']} before the reads) ==")
    print(f"1 GiB file, whole reads with curl -o /dev/null, best / median of {REPEATS} "
          f"(after one warm-up of each), direct and /webdav/ alternately:")
    print(f"  loopback CDN    direct {local['direct_mib_s_best']:7.1f} / "
          f"{local['direct_mib_s_median']:7.1f} MiB/s   webdav {local['webdav_mib_s_best']:7.1f}"
          f" / {local['webdav_mib_s_median']:7.1f} MiB/s   ratio {local['ratio_best']:.2f} / "
          f"{local['ratio_median']:.2f}   (target >= 0.9)")
    totals = {kind: round(sum(per.values()), 2) for kind, per in cpu.items()}
    print(f"    CPU s per GiB (median), direct: sandbox {cpu['direct']['sandbox_master']} + curl "
          f"{cpu['direct']['curl']} = {totals['direct']}; webdav: sandbox "
          f"{cpu['webdav']['sandbox_master']} + worker {cpu['webdav']['worker']} + curl "
          f"{cpu['webdav']['curl']} = {totals['webdav']}")
    if "ratio_best" in paced:
        print(f"  CDN paced at {stream['paced_cdn_mib_s']:g} MiB/s: direct "
              f"{paced['direct_mib_s_best']:7.1f} / {paced['direct_mib_s_median']:7.1f} MiB/s"
              f"   webdav {paced['webdav_mib_s_best']:7.1f} / "
              f"{paced['webdav_mib_s_median']:7.1f} MiB/s   ratio {paced['ratio_best']:.2f} / "
              f"{paced['ratio_median']:.2f}   (best / median of {PACED_REPEATS})")
    ttfb = stream["ttfb_64k_median_ms"]
    print(f"64 KiB range, time to first byte, median of {PROBES} random offsets: direct "
          f"{ttfb['direct']} ms; webdav warm link {ttfb['webdav_warm_link']} ms, cold link "
          f"{ttfb['webdav_cold_link']} ms")
    if "ttfb_64k_median_ms" in paced:
        pt = paced["ttfb_64k_median_ms"]
        print(f"  CDN paced at {stream['paced_ttfb_cdn_mib_s']:g} MiB/s: direct "
              f"{pt['direct']} ms; webdav warm link {pt['webdav_warm_link']} ms")
    mem = library["worker_mib"]
    print(f"library of {LIBRARY} torrents (written in {library['library_write_s']} s), "
          f"PROPFIND depth 1 /webdav/__all__/: {library['propfind_all_members']} members, "
          f"{library['propfind_all_bytes'] / MIB:.1f} MiB; cold {library['propfind_all_cold_s']}"
          f" s, warm {library['propfind_all_warm_s']} s (worker CPU "
          f"{library['propfind_all_worker_cpu_s']['cold']} s, "
          f"{library['propfind_all_worker_cpu_s']['warm']} s)")
    print(f"  PROPFIND depth 1 of one torrent folder: season pack (12 files) "
          f"{library['propfind_pack_folder_12_files_ms']} ms, single-file torrent "
          f"{library['propfind_single_file_torrent_ms']} ms")
    reset = "peak reset to RSS before the PROPFINDs" if library[
        "worker_peak_reset_before_propfind"] else f"peak so far {mem['peak_before']} MiB"
    print(f"  worker memory: RSS {mem['rss_before']} MiB before ({reset}); peak (VmHWM) "
          f"{mem['peak_after_cold']} MiB after the cold PROPFIND, {mem['peak_after_warm']} MiB "
          f"after the warm one (RSS then {mem['rss_after_warm']} MiB)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-webdav-") as scratch_name:
        scratch = Path(scratch_name)
        port, sandbox_port = free_port(), free_port()
        config = write_config(scratch, port=port, sandbox_port=sandbox_port,
                              library={"sync_interval_seconds": 0},
                              webdav={"auth": "basic"})
        data_dir = scratch / "data"
        base, sandbox = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}"
        log_path = scratch / "debridge.log"
        server = start_debridge(config, log_path, port)
        try:
            stream = stream_phase(base, sandbox, data_dir, scratch, server_pids(server))
        finally:
            server.stop()
        provider = json.loads(config.read_text())["providers"][0]["name"]
        fill_seconds = fill_library(data_dir, provider)
        print(f"wrote {LIBRARY} library torrents into the store in {fill_seconds:.1f}s",
              flush=True)
        server = start_debridge(config, log_path, port)
        try:
            library = library_phase(base, server, scratch)
        finally:
            server.stop()
        library["library_write_s"] = round(fill_seconds, 1)
        for line in log_path.read_text(errors="replace").splitlines():
            if " ERROR " in line or "Traceback" in line:
                print(f"server log: {line}")
    print(json.dumps({**stream, **library}, indent=2))
    summary(stream, library)


if __name__ == "__main__":
    main()
