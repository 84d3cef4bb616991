"""Following a torrent at its provider: metadata, file selection, the cache probe, progress
(one call per torrent, or one list call for many), and readiness (links, archives)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from core.errors import DuplicateTorrent
from core.layout import layout_fields
from core.models import FailureReason, Torrent, TorrentFile, TorrentState
from core.naming import clean_relpath, display_name, folder_candidates, sanitize_component
from core.outcomes import Outcomes
from core.ports import DebridProvider, FailureCause, RemoteStatus, RemoteTorrent
from core.selection import Candidate, Selection, select_archives, select_files

log = logging.getLogger(__name__)
S = TorrentState
R = RemoteStatus

C = FailureCause
FAILURE_REASONS = {
    C.MAGNET_ERROR: (FailureReason.MAGNET_ERROR,
                     "the provider could not fetch the magnet's metadata"),
    C.DEAD: (FailureReason.DEAD, "the provider reports the torrent dead (no seeders, or its "
                                 "content was removed)"),
    C.VIRUS: (FailureReason.INVALID, "the provider flagged the content as a virus or invalid"),
    C.INFRINGING: (FailureReason.INFRINGING, "the provider removed it as infringing"),
    C.TOO_LARGE: (FailureReason.INVALID, "the torrent is too large for the provider"),
    C.TIMEOUT: (FailureReason.STALLED, "the provider gave up downloading it (took too long)"),
}
PROBE_SECONDS = 3.0           # a cached torrent is ready this soon after selection
CACHED_METADATA_SECONDS = 10.0   # a cached magnet has its metadata this soon
LINKS_WAIT_SECONDS = 120.0    # a finished torrent may list its links a little later
ARCHIVE_FILE_ID = "archive"
ARCHIVES_NOT_LINKED = ("a symlink to an archive plays nowhere, so the symlink action refuses "
                       "it; the download action places archives for an unpacker")
# A list call refreshes many torrents at once: worth it from this many torrents up.
LIST_POLL_MIN = 3


class Polling(Outcomes):
    """The RESOLVING and DOWNLOADING steps."""

    def _poll(self, torrent: Torrent) -> None:
        provider = self.providers[torrent.provider]
        remote = provider.get_torrent(torrent.provider_torrent_id)
        torrent = self._learn_metadata(torrent, remote)
        self._apply(torrent, remote, provider)

    def _apply(self, torrent: Torrent, remote: RemoteTorrent, provider: DebridProvider) -> None:
        status = remote.status
        if status is R.FAILED:
            reason, text = FAILURE_REASONS.get(
                remote.failure or C.ERROR, (FailureReason.PROVIDER_ERROR,
                                            f"the provider reported status {remote.raw_status!r}"))
            if remote.message:
                text = f"{text}: {remote.message}"
            self.fail(torrent, reason, text)
        elif status is R.METADATA:
            if not self._probe_pending(torrent, CACHED_METADATA_SECONDS):
                self._waiting_metadata(torrent, remote)
        elif status is R.WAITING_SELECTION or (
                torrent.state is S.RESOLVING and not provider.capabilities.file_selection):
            # a provider without a selection step downloads everything: Debridge still picks
            # what it places, once, when the files are first known
            if not torrent.files:
                self._waiting_metadata(torrent, remote)
            elif self._select(torrent, provider) and status is not R.WAITING_SELECTION:
                refreshed = self.store.get_torrent(torrent.id, with_files=True)
                if refreshed is not None and refreshed.state is S.DOWNLOADING:
                    self._apply(refreshed, remote, provider)
        elif status is R.READY:
            self._ready(torrent, remote)
        elif not self._probe_pending(torrent, PROBE_SECONDS):
            self._downloading(torrent, remote)

    def _learn_metadata(self, torrent: Torrent, remote: RemoteTorrent) -> Torrent:
        """The first time the provider lists files: store them and fix the content folder. (A
        .torrent's files are known from the add; they are replaced only if they differ.)"""
        if not remote.files or (torrent.folder and len(torrent.files) >= len(remote.files)):
            return torrent
        known = {f.path: f for f in torrent.files}
        paths = [clean_relpath(rf.path) for rf in remote.files]
        indexes = [known[p].index for p in paths if p in known]
        if len(indexes) != len(paths) or len(set(indexes)) != len(indexes):
            indexes = list(range(len(paths)))      # no clean match: the provider's order
            known = {}
        # A client may have set priorities on a .torrent's files before the provider knew them.
        files = [TorrentFile(index=index, path=path, size=rf.size, selected=rf.selected,
                             provider_file_id=rf.id, link=rf.link, remote_path=path,
                             priority=known[path].priority if path in known else -1)
                 for index, path, rf in zip(indexes, paths, remote.files, strict=True)]
        self.store.set_files(torrent.id, files)
        # A magnet without a name gets the provider's; folders follow the torrent's own name.
        provided = display_name(remote.name)
        unnamed = torrent.origin_name in ("", torrent.hash) and provided
        origin = provided if unnamed else (torrent.origin_name or torrent.name)
        name = provided if unnamed and torrent.name == torrent.hash else torrent.name
        try:
            self.store.claim_folder(torrent.id, folder_candidates(origin, torrent.hash))
        except DuplicateTorrent:
            self.store.claim_folder(torrent.id, [f"{torrent.hash}"])
        # a single file named like the torrent is single-file mode; anything else a folder
        multi_file = not (len(paths) == 1 and paths[0] == clean_relpath(origin))
        layout = {} if torrent.files else layout_fields(torrent.content_layout, paths,
                                                         multi_file)
        self.store.update_torrent(torrent.id, name=name, origin_name=origin,
                                  total_size=sum(f.size for f in files), **layout)
        refreshed = self.store.get_torrent(torrent.id, with_files=True)
        assert refreshed is not None
        return refreshed

    def _select(self, torrent: Torrent, provider: DebridProvider) -> bool:
        """Choose the files (and tell the provider, where it has a selection step); False
        when the torrent failed instead."""
        wanted = [f.provider_file_id for f in torrent.files if f.priority > 0]
        skipped = {f.provider_file_id for f in torrent.files if f.priority == 0}
        candidates = [Candidate(f.provider_file_id, f.path, f.size)
                      for f in torrent.files if f.provider_file_id not in skipped]
        choice = select_files(candidates, self.config.selection)
        if wanted:     # files a client asked for, beside those Debridge's rules pick
            choice = Selection(tuple(dict.fromkeys([*choice.ids, *wanted])))
        packed = select_archives(candidates, self.config.selection) if not choice.ids else None
        if packed is not None and packed.ids:
            if self.config.action != "download":
                self._drop_remote(torrent)
                self.fail(torrent, FailureReason.NOTHING_SELECTABLE, ARCHIVES_NOT_LINKED)
                return False
            choice = packed
            names = [f.path for f in torrent.files if f.provider_file_id in packed.ids]
            self.store.update_torrent(torrent.id, reason=FailureReason.ARCHIVE.value, message=(
                f"its video is inside {len(names)} archive file(s) ({', '.join(names[:3])}"
                f"{', ...' if len(names) > 3 else ''}): they are placed as they are, for an "
                "unpacker (e.g. Unpackerr) to extract"))
        if not choice.ids:
            self._drop_remote(torrent)
            self.fail(torrent, FailureReason.NOTHING_SELECTABLE, choice.reason)
            return False
        chosen = set(choice.ids)
        for f in torrent.files:
            self.store.update_file(torrent.id, f.index, selected=f.provider_file_id in chosen)
        size = sum(f.size for f in torrent.files if f.provider_file_id in chosen)
        self.store.update_torrent(torrent.id, size=size)
        if provider.capabilities.file_selection:
            provider.select_files(torrent.provider_torrent_id, choice.ids)
        log.info("torrent %s: selected %d of %d files", torrent.hash, len(chosen),
                 len(torrent.files))
        self.store.transition(torrent.id, [S.RESOLVING, S.DOWNLOADING], S.DOWNLOADING,
                              self.clock(), next_check_at=self.clock() + 0.2, attempts=0)
        return True

    # -- the cache probe ----------------------------------------------------------------------
    def _probe_pending(self, torrent: Torrent, grace: float) -> bool:
        """For a release that must be cached: True while it may still turn out cached (look
        again soon), or once it failed as not cached. False: go on as usual."""
        if not self.must_be_cached(torrent):
            return False
        if self.clock() - torrent.state_since < grace:
            self._schedule(torrent, fast=True)
            return True
        self._drop_remote(torrent)
        self.fail(torrent, FailureReason.NOT_CACHED,
                  f"not cached at {torrent.provider}, and uncached downloads are off for this "
                  "release (providers[].download_uncached, downloads.cached_only_categories)")
        return True

    def _drop_remote(self, torrent: Torrent) -> None:
        """Delete the provider's torrent of a release Debridge gives up at once, unless
        another entry uses it."""
        remote_id = torrent.provider_torrent_id
        if not remote_id or self.store.provider_id_users(torrent.provider, remote_id) > 1 or \
                self.store.imported_uses(torrent.provider, remote_id):
            return
        self.providers[torrent.provider].delete_torrent(remote_id)
        self.store.update_torrent(torrent.id, provider_torrent_id="")
        log.info("torrent %s: removed provider torrent %s", torrent.hash, remote_id)

    # -- progress -----------------------------------------------------------------------------
    def _adopt_remote_files(self, torrent: Torrent, remote: RemoteTorrent) -> None:
        """Take the provider's selection and links (it is the truth once it has them). A
        provider without a selection step has everything: the selection stays Debridge's."""
        by_id = {rf.id: rf for rf in remote.files}
        own = not self.providers[torrent.provider].capabilities.file_selection
        for f in torrent.files:
            rf = by_id.get(f.provider_file_id)
            selected = f.selected if own or rf is None else rf.selected
            if rf is not None and (selected != f.selected or rf.link != f.link):
                self.store.update_file(torrent.id, f.index, selected=selected, link=rf.link)
        size = sum(f.size for f in torrent.files if f.selected) if own else \
            sum(rf.size for rf in remote.files if rf.selected)
        if size:
            self.store.update_torrent(torrent.id, size=size)

    def _downloading(self, torrent: Torrent, remote: RemoteTorrent) -> None:
        if remote.files:
            self._adopt_remote_files(torrent, remote)
        now = self.clock()
        still_since = max(torrent.last_activity, torrent.state_since)
        if torrent.state is S.RESOLVING:
            self.store.transition(torrent.id, [S.RESOLVING], S.DOWNLOADING, now)
            still_since = now       # the metadata wait does not count as a stalled download
        # the provider's bytes while it downloads (the copy's own bytes come after, from 0)
        progress = max(torrent.progress, min(1.0, remote.progress))
        moved: dict[str, Any] = \
            {"last_activity": int(now)} if progress > torrent.progress + 1e-9 else {}
        # still since it last moved, or since it reached this state (after a queue wait)
        if not moved and self._stalled(still_since):
            self._give_up_stalled(torrent, f"no progress at the provider (stuck at "
                                           f"{remote.progress:.0%}, {remote.raw_status})")
            return
        self._schedule(torrent, progress=progress, speed=remote.speed,
                       seeders=remote.seeders or 0, **moved)

    def _waiting_metadata(self, torrent: Torrent, remote: RemoteTorrent) -> None:
        """The provider is still fetching the magnet's metadata (a dead magnet stays so)."""
        if self._stalled(max(torrent.last_activity, torrent.state_since)):
            self._give_up_stalled(torrent, "no metadata from the provider (no peers have it)")
            return
        self._schedule(torrent, fast=self.young(torrent), seeders=remote.seeders or 0)

    def _stalled(self, still_since: float) -> bool:
        timeout = self.config.stalled_timeout
        return timeout > 0 and self.clock() - still_since >= timeout

    def _give_up_stalled(self, torrent: Torrent, what: str) -> None:
        minutes = self.config.stalled_timeout / 60
        self._drop_remote(torrent)
        self.fail(torrent, FailureReason.STALLED,
                  f"{what} for {minutes:g} minutes (downloads.stalled_timeout_minutes)")

    def list_pollable(self, torrent: Torrent) -> bool:
        """Whether a list call may stand in for this torrent's own poll: the provider is
        downloading it (or fetching its metadata for a while), nothing else to do."""
        waiting = torrent.state is S.DOWNLOADING or (torrent.state is S.RESOLVING
                                                    and not self.young(torrent))
        return (waiting and bool(torrent.provider_torrent_id) and not torrent.paused
                and not torrent.layout_dirty and not self.must_be_cached(torrent))

    def refresh_from_list(self, provider_name: str, torrents: Sequence[Torrent]) -> None:
        """Refresh many torrents of one provider with its list of active torrents (one call
        per 5,000) instead of one call each. A torrent that changed status or left the list
        gets its own poll now."""
        provider = self.providers[provider_name]
        wanted = {t.provider_torrent_id: t for t in torrents}
        changed: list[Torrent] = []
        for remote in provider.list_torrents(active_only=True):
            torrent = wanted.pop(remote.id, None)
            if torrent is None:
                continue
            waiting = remote.status in (R.QUEUED, R.DOWNLOADING, R.PROCESSING)
            if waiting and torrent.state is S.DOWNLOADING:
                self._downloading(torrent, remote)
            elif remote.status is R.METADATA and torrent.state is S.RESOLVING:
                self._waiting_metadata(torrent, remote)
            else:
                changed.append(torrent)
            if not wanted:
                break
        for torrent in [*changed, *wanted.values()]:
            self.advance(torrent.id)

    def advance(self, torrent_id: int) -> None:
        raise NotImplementedError

    # -- ready --------------------------------------------------------------------------------
    def _ready(self, torrent: Torrent, remote: RemoteTorrent) -> None:
        self._adopt_remote_files(torrent, remote)
        if self.providers[torrent.provider].capabilities.file_selection:
            selected = [rf for rf in remote.files if rf.selected]
        else:
            mine = {f.provider_file_id for f in torrent.files if f.selected}
            selected = [rf for rf in remote.files if rf.id in mine]
        if remote.is_archive:
            if not self._take_archive(torrent, remote, len(selected)):
                return
        elif not selected or any(not rf.link for rf in selected):
            if self.clock() - torrent.state_since > LINKS_WAIT_SECONDS:
                self.fail(torrent, FailureReason.LINKS,
                          "the provider finished but gave no link for some selected files")
            else:
                self._schedule(torrent, fast=True)
            return
        self.store.transition(torrent.id, [S.RESOLVING, S.DOWNLOADING], S.FINALIZING,
                              self.clock(), progress=0.0, speed=0, stalled_since=0.0,
                              next_check_at=self.clock(), attempts=0)
        log.info("torrent %s: ready at the provider, placing files (%s)", torrent.hash,
                 self.config.action)

    def _take_archive(self, torrent: Torrent, remote: RemoteTorrent, packed: int) -> bool:
        """Real-Debrid packed the selection into one archive with one link: the torrent's
        content becomes that archive, as it is, and says why (False: it failed instead)."""
        current = self.store.get_torrent(torrent.id, with_files=True) or torrent
        if any(f.provider_file_id == ARCHIVE_FILE_ID for f in current.files):
            return True
        if self.config.action != "download":
            self.fail(torrent, FailureReason.NOTHING_SELECTABLE, "the provider packed the "
                      f"{packed} selected files into one archive; {ARCHIVES_NOT_LINKED}")
            return False
        link = remote.links[0]
        direct = self.finalizer.resolve(torrent.provider, link)
        name = sanitize_component(direct.filename) or f"{torrent.folder or torrent.hash}.rar"
        inner = [f.path for f in current.files if f.selected]
        files = [TorrentFile(index=f.index, path=f.path, size=f.size, selected=False,
                             provider_file_id=f.provider_file_id, remote_path=f.remote_path,
                             priority=f.priority) for f in current.files]
        files.append(TorrentFile(index=max((f.index for f in files), default=-1) + 1,
                                 path=name, size=direct.size, selected=True,
                                 provider_file_id=ARCHIVE_FILE_ID, link=link, remote_path=name))
        self.store.set_files(torrent.id, files)
        message = (f"the provider packed the {packed} selected files into one archive, "
                   f"{name}; it is placed as it is (inside: {', '.join(inner[:3])}"
                   f"{', ...' if len(inner) > 3 else ''})")
        self.store.update_torrent(torrent.id, size=direct.size,
                                  reason=FailureReason.ARCHIVE.value, message=message)
        log.info("torrent %s: %s", torrent.hash, message)
        return True
