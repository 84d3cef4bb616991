"""The content formula: deterministic file bytes from (infohash, file id), read by byte range."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from functools import lru_cache

BLOCK_SIZE = 1 << 20  # every file is a run of 1 MiB blocks, cut at the file's size
_COUNTER_SIZE = 8  # each block opens with its 8-byte big-endian block number


@lru_cache(maxsize=16)
def block_body(infohash: str, file_id: int) -> bytes:
    """The 1 MiB block template B for one file; cached because it costs ~20 ms to build."""
    seed = hashlib.sha256(f"{infohash}:{file_id}".encode()).digest()
    return b"".join(
        hashlib.sha256(seed + k.to_bytes(4, "big")).digest() for k in range(BLOCK_SIZE // 32)
    )


def read_range(
    infohash: str,
    file_id: int,
    size: int,
    start: int,
    end_inclusive: int,
    chunk_size: int = BLOCK_SIZE,
) -> Iterator[bytes]:
    """Yield bytes [start, end_inclusive] of the file, in chunks of at most `chunk_size`."""
    if not 0 <= start <= end_inclusive < size:
        raise ValueError(f"range {start}-{end_inclusive} is outside a file of {size} bytes")
    body = block_body(infohash, file_id)
    position, stop = start, end_inclusive + 1
    while position < stop:
        block, offset = divmod(position, BLOCK_SIZE)
        length = min(stop - position, BLOCK_SIZE - offset, chunk_size)
        if offset < _COUNTER_SIZE:
            counter = block.to_bytes(_COUNTER_SIZE, "big")
            chunk = counter[offset : offset + length] + body[_COUNTER_SIZE : offset + length]
        else:
            chunk = body[offset : offset + length]
        yield chunk
        position += length


def read_segments(
    infohash: str,
    segments: Sequence[tuple[int, int]],
    start: int,
    end_inclusive: int,
    chunk_size: int = BLOCK_SIZE,
) -> Iterator[bytes]:
    """Yield a byte range of files laid end to end; `segments` is [(file_id, size), ...].

    This is how the sandbox serves a Real-Debrid archive link: the selected files back to back.
    """
    total = sum(size for _, size in segments)
    if not 0 <= start <= end_inclusive < total:
        raise ValueError(f"range {start}-{end_inclusive} is outside {total} bytes")
    base = 0
    for file_id, size in segments:
        first, last = max(start, base), min(end_inclusive, base + size - 1)
        if first <= last:
            yield from read_range(infohash, file_id, size, first - base, last - base, chunk_size)
        base += size
        if base > end_inclusive:
            break
