"""Benchmark: parse_torrent_file on .torrent uploads of growing size, against a small release."""

from __future__ import annotations

import logging
import math
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.errors import InvalidTorrentFile
from core.sources import TorrentSource, parse_torrent_file

MIB = 1 << 20
MIN_RUN_SECONDS = float(os.environ.get("BENCH_MIN_RUN", "0.2"))
DEPTH = 200_000


def bencode(value: Any) -> bytes:
    """The bencoding of ints, str/bytes, lists and dicts (keys sorted, as BEP 3 asks)."""
    out: list[bytes] = []

    def put(item: Any) -> None:
        if isinstance(item, int):
            out.append(b"i%de" % item)
        elif isinstance(item, str | bytes):
            raw = item.encode() if isinstance(item, str) else item
            out.append(b"%d:" % len(raw))
            out.append(raw)
        elif isinstance(item, list | tuple):
            out.append(b"l")
            for element in item:
                put(element)
            out.append(b"e")
        elif isinstance(item, dict):
            out.append(b"d")
            for key in sorted(item, key=lambda k: k.encode() if isinstance(k, str) else k):
                put(key)
                put(item[key])
            out.append(b"e")
        else:
            raise TypeError(f"cannot bencode {type(item).__name__}")

    put(value)
    return b"".join(out)


def pieces(total: int, piece_length: int) -> bytes:
    """20 bytes of (fake) SHA-1 per piece: torf checks the count, not the hashes."""
    count = math.ceil(total / piece_length)
    return b"".join(i.to_bytes(20, "big") for i in range(count))


def torrent(trackers: int = 5, files: int = 1, extra: bytes = b"") -> bytes:
    """A v1 .torrent: one 1.4 GB file, or `files` files of 1 MiB in a folder; `trackers`
    announce URLs (one per tier, the first as `announce` too). `extra` is spliced in as the
    value of a last root key "zz" (raw bencode)."""
    urls = [f"http://tracker{i:05d}.example.org:6969/announce" for i in range(trackers)]
    if files == 1:
        size, piece_length = 1_400_000_000, 4 * MIB
        info: dict[str, Any] = {"name": "Show.Name.S01E01.1080p.WEB-DL.x264-GRP.mkv",
                                "length": size}
    else:
        size, piece_length = files * MIB, 16 * MIB
        info = {"name": "Complete.Series.1080p.WEB-DL-GRP",
                "files": [{"length": MIB, "path": [f"Season {i // 100:03d}",
                                                   f"Episode.{i:06d}.mkv"]}
                          for i in range(files)]}
    info.update({"piece length": piece_length, "pieces": pieces(size, piece_length)})
    root: dict[str, Any] = {"info": info, "created by": "bench", "creation date": 1_700_000_000}
    if urls:
        root.update({"announce": urls[0], "announce-list": [[u] for u in urls]})
    data = bencode(root)
    return data[:-1] + b"2:zz" + extra + b"e" if extra else data


@dataclass
class Case:
    name: str
    data: bytes
    count: int          # the input that grows: trackers, files or depth
    series: str
    refused: bool       # what must happen
    check: Callable[[TorrentSource], bool] = lambda _: True


def run(data: bytes) -> TorrentSource | InvalidTorrentFile:
    try:
        return parse_torrent_file(data, "x.torrent")
    except InvalidTorrentFile as exc:
        return exc


def best_of_3(data: bytes) -> float:
    """Best of 3 runs of the mean time of one parse (each run at least MIN_RUN_SECONDS)."""
    loops, best = 1, math.inf
    while True:                                     # calibrate the loop count, timeit-style
        started = time.perf_counter()
        for _ in range(loops):
            run(data)
        if time.perf_counter() - started >= MIN_RUN_SECONDS:
            break
        loops *= 2
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(loops):
            run(data)
        best = min(best, (time.perf_counter() - started) / loops)
    return best


def cases() -> list[Case]:
    out = [Case("reference: 1 file, 5 trackers", torrent(), 5, "reference", False,
                lambda s: len(s.files) == 1 and len(s.trackers) == 5)]
    for n, refused in ((10, False), (100, False), (1_000, False), (1_001, True),
                       (50_000, True)):
        out.append(Case(f"trackers {n:,}", torrent(trackers=n), n, "trackers", refused,
                        lambda s, n=n: len(s.trackers) == n))
    for n, refused in ((100, False), (1_000, False), (10_000, False), (10_001, True),
                       (100_000, True)):
        out.append(Case(f"files {n:,}", torrent(files=n), n, "files", refused,
                        lambda s, n=n: len(s.files) == n and s.total_size == n * MIB))
    out.append(Case(f"nesting {DEPTH:,} deep", torrent(extra=b"l" * DEPTH + b"e" * DEPTH),
                    DEPTH, "nesting", True))
    return out


def main() -> None:
    logging.disable(logging.INFO)                  # each refusal is logged at INFO
    rows = []
    for case in cases():
        outcome = run(case.data)
        refused = isinstance(outcome, InvalidTorrentFile)
        if refused != case.refused:
            raise SystemExit(f"{case.name}: {'refused' if refused else 'accepted'}, expected "
                             f"otherwise ({outcome})")
        if not refused and not case.check(outcome):   # type: ignore[arg-type]
            raise SystemExit(f"{case.name}: parsed wrong: {outcome}")
        rows.append((case, best_of_3(case.data), str(outcome) if refused else ""))
    reference = rows[0][1]
    print(f"\n== torrent_parse ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"time = best of 3 runs, each the mean of >= {MIN_RUN_SECONDS:g} s of parses) ==")
    print(f"{'case':32} {'.torrent':>10} {'time':>10} {'x ref':>8} {'outcome':>8} "
          f"{'growth/10x':>10}")
    last: dict[str, tuple[int, float, bool]] = {}
    for case, seconds, reason in rows:
        growth = ""
        previous = last.get(case.series)
        if previous is not None and previous[2] == (reason != ""):   # accepted vs accepted
            decades = math.log10(case.count / previous[0])
            growth = f"{(seconds / previous[1]) ** (1 / decades):.1f}x"
        last[case.series] = (case.count, seconds, reason != "")
        print(f"{case.name:32} {len(case.data) / 1024:8.1f}Ki {seconds * 1e3:8.3f}ms "
              f"{seconds / reference:7.1f}x {'refused' if reason else 'ok':>8} {growth:>10}")
    print("\nrefusals:")
    for case, _, reason in rows:
        if reason:
            print(f"  {case.name:30} {reason}")
    accepted = [case for case, _, reason in rows if not reason]
    for case in sorted(accepted, key=lambda c: len(c.data))[-2:]:
        tracemalloc.start()
        run(case.data)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"tracemalloc peak parsing {case.name} ({len(case.data) / MIB:.2f} MiB .torrent):"
              f" {peak / MIB:.2f} MiB ({peak / len(case.data):.1f}x its size)")


if __name__ == "__main__":
    main()
