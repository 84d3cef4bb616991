"""Read a file of the tree from the provider's CDN: lazily, at any offset, refreshing links.

`seek()` only records where to start. The first `read()` resolves the provider link (through
the link cache) and opens the CDN with a Range from that offset; a link that answers
401/403/404/410/503 is resolved again once. A connection that breaks after bytes flowed is
opened again where it stopped (a link that expired meanwhile is refreshed the same way).
Every wait on the provider or the CDN is bounded by `timeout`: past it, UpstreamFailed.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from core.errors import DebridgeError, UpstreamFailed
from core.links import LinkResolver
from core.models import TreeEntry, TreeFile
from core.ports import ContentSource, ContentStream, DirectLink
from core.priority import Priority, work_priority

log = logging.getLogger(__name__)
REOPENS = 3          # broken connections in a row without a byte between them
RESOLVER_THREADS = 8
# Read this much and someone is watching (a probe, a mount's readability check or ffprobe
# reads less): repair leaves the torrent alone for a while.
WATCHED_BYTES = 4 << 20


class RemoteReader:
    """A file-like, forward-reading view of one provider file.

    Links are resolved on `resolvers` so that a provider that stops answering costs the
    reader no more than its timeout; the call finishes in the background and its link is
    cached for the next reader.
    """

    def __init__(self, links: LinkResolver, content: ContentSource, resolvers: Executor,
                 provider: str, file: TreeFile, *, timeout: float,
                 chunk_size: int = 1 << 20, priority: Priority = Priority.INTERACTIVE) -> None:
        self.links, self.content, self.provider, self.file = links, content, provider, file
        self.priority = priority     # of its link resolutions (a player waits: interactive)
        self.on_watch: Callable[[], None] | None = None   # called once WATCHED_BYTES are read
        self._served = 0
        self.resolvers = resolvers
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.position = 0
        self.stop_hint = 0      # the caller reads no further than this (0: to the end)
        self._bounded = False   # the open upstream ends at stop_hint
        self._stream: ContentStream | None = None
        self._chunks: Iterator[bytes] | None = None
        self._buffer = b""
        self._url = ""

    # -- file-like ----------------------------------------------------------------------------
    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        target = {0: offset, 1: self.position + offset, 2: self.file.size + offset}[whence]
        if target != self.position or self._stream is None:
            self._drop()
            self.position = max(0, min(target, self.file.size))
        return self.position

    def tell(self) -> int:
        return self.position

    def expect(self, stop: int) -> None:
        """The caller means to read only up to `stop` (exclusive): the CDN is asked for just
        that, so it can finish the response and keep the connection for the next request.
        Reading further still works (the rest is opened when needed)."""
        self.stop_hint = min(max(stop, 0), self.file.size)

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = self.file.size - self.position
        if size == 0 or self.position >= self.file.size:
            return b""
        if self._stream is None:
            self.open()
        reopens = 0
        while not self._buffer:
            try:
                self._buffer = next(self._chunks, b"") if self._chunks is not None else b""
            except DebridgeError as exc:
                # The connection broke: open again where it stopped.
                reopens += 1
                if reopens > REOPENS:
                    raise UpstreamFailed(f"the CDN connection kept breaking ({exc})") from None
                log.info("%s: the CDN connection broke at byte %d (%s); reopening",
                         self.file.path, self.position, exc)
                self._drop()
                self.open()
                continue
            if not self._buffer and self._bounded and self.position >= self.stop_hint:
                self._drop()            # read past what the caller expected: open the rest
                self.stop_hint = 0
                self.open()
                continue
            if not self._buffer:
                raise UpstreamFailed(f"the CDN ended {self.file.path} at byte {self.position} "
                                     f"of {self.file.size}")
        piece, self._buffer = self._buffer[:size], self._buffer[size:]
        self.position += len(piece)
        self._served += len(piece)
        if self.on_watch is not None and self._served >= WATCHED_BYTES:
            watched, self.on_watch = self.on_watch, None
            watched()
        return piece

    def close(self) -> None:
        self._drop()

    # -- upstream -----------------------------------------------------------------------------
    def open(self) -> None:
        """Open the CDN at the current position (done by the first read; call it to learn of
        a failure before promising a response)."""
        if self._stream is not None:
            return
        deadline = time.monotonic() + self.timeout
        url = self._resolve(deadline, stale_url="")
        end = self.stop_hint if self.stop_hint > self.position else None
        try:
            stream = self.content.open(url, self.position, end)
        except DebridgeError as exc:
            # Expired (401/403/404/410/503), or its host refuses, times out or fails: the
            # provider may serve the file from elsewhere now, so ask it once more, in time.
            if time.monotonic() >= deadline:
                raise UpstreamFailed(str(exc)) from None
            log.info("%s: its direct link failed (%s); resolving it again", self.file.path,
                     exc)
            url = self._resolve(deadline, stale_url=url)
            try:
                stream = self.content.open(url, self.position, end)
            except DebridgeError as again:
                raise UpstreamFailed(f"a fresh direct link also failed ({again})") from None
        self._stream, self._url, self._bounded = stream, url, end is not None
        self._chunks = iter(stream.chunks(self.chunk_size))

    def _resolve(self, deadline: float, stale_url: str) -> str:
        future = self.resolvers.submit(self._resolve_now, stale_url)
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic())).url
        except FutureTimeout:
            raise UpstreamFailed("the provider did not give a download link in time") from None
        except DebridgeError as exc:
            raise UpstreamFailed(f"the provider gave no download link ({exc})") from None

    def _resolve_now(self, stale_url: str) -> DirectLink:
        # Someone is waiting to read: this provider call goes before background work.
        with work_priority(self.priority):
            return self.links.resolve(self.provider, self.file.link, stale_url=stale_url)

    def _drop(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._stream, self._chunks, self._buffer = None, None, b""


class Streams:
    """Opens readers of the tree's files, all sharing one link cache, CDN client and pool of
    link-resolving threads (the app's: close() stops it)."""

    def __init__(self, links: LinkResolver, content: ContentSource, timeout: float,
                 on_open: Callable[[TreeEntry], None] | None = None) -> None:
        self.links, self.content, self.timeout = links, content, timeout
        self.on_open = on_open       # notes that a torrent is watched (repair waits)
        self.resolvers = ThreadPoolExecutor(max_workers=RESOLVER_THREADS,
                                            thread_name_prefix="link-resolve")

    def open(self, entry: TreeEntry, file: TreeFile) -> RemoteReader:
        """A reader for a client (WebDAV, a browser)."""
        reader = self.reader(entry, file)
        if self.on_open is not None:
            reader.on_watch = functools.partial(self.on_open, entry)
        return reader

    def reader(self, entry: TreeEntry, file: TreeFile,
               priority: Priority = Priority.INTERACTIVE) -> RemoteReader:
        """A reader that is not a client's stream (repair's probe reads at background
        priority and does not count as watching)."""
        return RemoteReader(self.links, self.content, self.resolvers, entry.provider, file,
                            timeout=self.timeout, priority=priority)

    def close(self) -> None:
        """Stop the resolver threads; a provider call still running is not waited for (its
        reader has timed out), it ends by the provider's own timeout."""
        self.resolvers.shutdown(wait=False, cancel_futures=True)
