"""Place a finished torrent's files under content_path: download them, or symlink the mount."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.errors import LinkExpired, ProviderError, ProviderErrorKind
from core.layout import PART_SUFFIX, content_dir, target_of
from core.links import LinkResolver
from core.models import FailureReason, Torrent, TorrentFile, TorrentState
from core.ports import ContentSource, ContentStream, DirectLink, TorrentStore

log = logging.getLogger(__name__)
CHUNK_BYTES = 1 << 20
RECONNECTS = 3                   # CDN tries in a row without a byte, before the step gives up


@dataclass(frozen=True)
class Wait:
    """Not done yet: look again after `seconds`."""

    seconds: float


@dataclass(frozen=True)
class Fail:
    """Give up on this torrent."""

    reason: FailureReason
    message: str


class Cancelled(Exception):
    """The torrent was deleted or paused, or Debridge is stopping, during a transfer."""


Outcome = Wait | Fail | None   # None: completed


class Completions(Protocol):
    """Completes a torrent and queues what its completion sets off (core.outbox.HookOutbox:
    the completion hooks), in one transaction."""

    def complete(self, torrent: Torrent, files: Sequence[TorrentFile], now: float,
                 **fields: Any) -> bool: ...


class _Broken(Exception):
    """The CDN gave no (more) bytes at `url`: its host refused, timed out or failed."""

    def __init__(self, error: ProviderError, url: str) -> None:
        super().__init__(error.message)
        self.error, self.url = error, url


class _Meter:
    """Tracks the bytes on disk, writes progress (those bytes / the wanted bytes) about once a
    second, and checks for cancellation."""

    def __init__(self, store: TorrentStore, torrent: Torrent, total: int, done: int,
                 clock: Callable[[], float], stopping: threading.Event) -> None:
        self.store, self.torrent, self.total, self.done = store, torrent, max(total, 1), done
        self.clock, self.stopping = clock, stopping
        self.last = clock()
        self.window = 0
        self.unwritten = False      # bytes arrived since progress was last written

    def add(self, count: int) -> None:
        self.done += count
        self.window += count
        self.unwritten = True
        now = self.clock()
        if now - self.last < 1.0:
            return
        speed = int(self.window / (now - self.last))
        self.last, self.window, self.unwritten = now, 0, False
        self.store.update_torrent(self.torrent.id, speed=speed, last_activity=int(now),
                                  stalled_since=0.0, progress=min(1.0, self.done / self.total))
        current = self.store.get_torrent(self.torrent.id)
        if (self.stopping.is_set() or current is None or current.paused
                or current.layout_dirty or current.state is not TorrentState.FINALIZING):
            raise Cancelled(self.torrent.hash)

    def settle(self) -> None:
        """The step ends unfinished: what is on disk is the progress, and nothing moves."""
        moved = {"last_activity": int(self.clock()), "stalled_since": 0.0} \
            if self.unwritten else {}
        self.store.update_torrent(self.torrent.id, speed=0,
                                  progress=min(1.0, self.done / self.total), **moved)


class Finalizer:
    """The completion actions of design.md: `download` and `symlink`."""

    def __init__(self, store: TorrentStore, links: LinkResolver, content: ContentSource,
                 action: str, mount_path: Path | None, symlink_timeout: float,
                 clock: Callable[[], float] = time.time,
                 completions: Completions | None = None) -> None:
        self.store = store
        self.completions = completions
        self.links = links
        self.content = content
        self.action = action
        self.mount_path = mount_path
        self.symlink_timeout = symlink_timeout
        self.clock = clock
        self.stopping = threading.Event()

    def stop(self) -> None:
        """Interrupt the transfers in progress (they resume from their part files later)."""
        self.stopping.set()

    def resolve(self, provider: str, link: str) -> DirectLink:
        """The direct link of a provider link (the shared link cache)."""
        return self.links.resolve(provider, link)

    def run(self, torrent: Torrent) -> Outcome:
        root = content_dir(torrent)
        if torrent.placed_root != str(root):
            # New placements go under the current folder (sync_layout moved older ones).
            self.store.update_torrent(torrent.id, placed_root=str(root))
        if self.action == "symlink":
            return self._symlink(torrent, root)
        return self._download(torrent, root)

    # -- download -----------------------------------------------------------------------------
    def _download(self, torrent: Torrent, content_dir: Path) -> Outcome:
        selected = [f for f in torrent.files if f.selected]
        meter = _Meter(self.store, torrent, sum(f.size for f in selected),
                       sum(f.size for f in selected if f.done), self.clock, self.stopping)
        try:
            for f in selected:
                if f.done:
                    continue
                target = target_of(torrent, f)
                target.parent.mkdir(parents=True, exist_ok=True)
                part = target.with_name(target.name + PART_SUFFIX)
                if f.placed != f.path:
                    self.store.update_file(torrent.id, f.index, placed=f.path)
                self._fetch(torrent, f, part, meter)
                os.replace(part, target)
                self.store.update_file(torrent.id, f.index, done=True)
        except Exception:
            meter.settle()
            raise
        return self._complete(torrent, content_dir)

    def _fetch(self, torrent: Torrent, f: TorrentFile, part: Path, meter: _Meter) -> None:
        """Append the rest of the file to `part`. A connection that breaks is opened again
        where it stopped; one that gives no byte (the CDN host refuses, times out or answers
        5xx) is opened with a freshly resolved link, since the provider may serve the file
        from another host now. After a few tries without a byte the step gives up and the
        engine tries again later."""
        offset = part.stat().st_size if part.exists() else 0
        if offset > f.size:
            part.unlink()
            offset = 0
        meter.done += offset
        fruitless, stale = 0, ""
        while offset < f.size:
            before = offset
            try:
                offset = self._append(torrent, f, part, offset, meter, stale)
            except _Broken as broken:
                offset = part.stat().st_size if part.exists() else 0
                fruitless = 0 if offset > before else fruitless + 1
                if fruitless >= RECONNECTS:
                    raise broken.error from None
                stale = broken.url if fruitless == 1 else ""
                log.info("torrent %s: %s at byte %d of %s; %s", torrent.hash,
                         broken.error.message, offset, f.path,
                         "resolving the link again" if stale else "trying again")
                continue
            stale = ""
            if offset < f.size:
                raise ProviderError(f"the CDN stopped at byte {offset} of {f.size} of {f.path}",
                                    provider=torrent.provider)

    def _append(self, torrent: Torrent, f: TorrentFile, part: Path, offset: int,
                meter: _Meter, stale_url: str) -> int:
        stream, url = self._open(torrent, f, offset, stale_url)
        try:
            # unbuffered: what the meter counts is on disk when progress says so
            with open(part, "ab", buffering=0) as out:
                for chunk in stream.chunks(CHUNK_BYTES):
                    if offset + len(chunk) > f.size:
                        raise ProviderError(f"the CDN sent more than {f.size} bytes",
                                            provider=torrent.provider)
                    out.write(chunk)
                    offset += len(chunk)
                    meter.add(len(chunk))
        except ProviderError as exc:
            if exc.kind is ProviderErrorKind.UNAVAILABLE:
                raise _Broken(exc, url) from None
            raise
        finally:
            stream.close()
        return offset

    def _open(self, torrent: Torrent, f: TorrentFile, offset: int,
              stale_url: str) -> tuple[ContentStream, str]:
        link = self.links.resolve(torrent.provider, f.link, stale_url=stale_url)
        try:
            return self._connect(link.url, offset), link.url
        except LinkExpired:
            log.info("torrent %s: direct link expired, resolving it again", torrent.hash)
            link = self.links.resolve(torrent.provider, f.link, stale_url=link.url)
        try:
            return self._connect(link.url, offset), link.url
        except LinkExpired as exc:
            error = ProviderError(f"a fresh direct link also failed ({exc})",
                                  provider=torrent.provider)
            error.kind = ProviderErrorKind.LINK_UNAVAILABLE
            raise error from exc

    def _connect(self, url: str, offset: int) -> ContentStream:
        try:
            return self.content.open(url, offset)
        except ProviderError as exc:
            if exc.kind is ProviderErrorKind.UNAVAILABLE:
                raise _Broken(exc, url) from None
            raise

    # -- symlink ------------------------------------------------------------------------------
    def _symlink(self, torrent: Torrent, content_dir: Path) -> Outcome:
        assert self.mount_path is not None
        selected = [f for f in torrent.files if f.selected]
        waiting, waiting_bytes = [], 0
        for f in selected:
            if f.done:
                continue
            # The mount shows the provider's layout: the stable folder and provider paths.
            source = self.mount_path / "__all__" / torrent.folder / f.source_path
            if not _readable(source, f.size):
                waiting.append(str(source))
                waiting_bytes += f.size
                continue
            link = target_of(torrent, f)
            link.parent.mkdir(parents=True, exist_ok=True)
            temporary = link.with_name(link.name + PART_SUFFIX)
            if temporary.is_symlink() or temporary.exists():
                temporary.unlink()
            os.symlink(source, temporary)
            os.replace(temporary, link)
            self.store.update_file(torrent.id, f.index, done=True, placed=f.path)
        if not waiting:
            return self._complete(torrent, content_dir)
        wanted = sum(f.size for f in selected)
        self.store.update_torrent(torrent.id, progress=(wanted - waiting_bytes) / max(1, wanted))
        if self.clock() - torrent.state_since > self.symlink_timeout:
            return Fail(FailureReason.MOUNT_TIMEOUT,
                        f"{len(waiting)} file(s) never appeared in the mount, e.g. {waiting[0]}")
        return Wait(min(5.0, 0.25 * 2 ** min(torrent.attempts, 5)))

    # -- completion ---------------------------------------------------------------------------
    def _complete(self, torrent: Torrent, content_dir: Path) -> Outcome:
        """Completed only when every selected file is really there and opens."""
        files = self.store.files_of(torrent.id)
        for f in files:
            if f.selected and not _readable(target_of(torrent, f), f.size):
                self.store.update_file(torrent.id, f.index, done=False)
                return Wait(0.5)
        now = self.clock()
        # an archive keeps its note; any other message was about a past retry
        note = torrent.message if torrent.reason == FailureReason.ARCHIVE.value else ""
        # a check after completion (recheck, cross-seed's webhook) keeps the first completion
        # time, as qBittorrent's recheck does (and so queues no hook again)
        fields: dict[str, Any] = {"progress": 1.0, "speed": 0,
                                  "completion_on": torrent.completion_on or int(now),
                                  "last_activity": int(now), "message": note, "attempts": 0}
        # whatever downloads.action is, the completion is where hooks are queued
        completed = self.completions.complete(torrent, files, now, **fields) \
            if self.completions is not None else \
            self.store.transition(torrent.id, [TorrentState.FINALIZING],
                                  TorrentState.COMPLETED, now, **fields)
        if completed:
            log.info("torrent %s (%s) completed at %s", torrent.hash, torrent.name, content_dir)
        return None


def _readable(path: Path, size: int) -> bool:
    """The file exists (through symlinks), has the expected size and its first byte reads."""
    try:
        if os.stat(path).st_size != size:
            return False
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError:
        return False
    return True
