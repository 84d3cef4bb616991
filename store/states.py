"""Torrent states in SQL, rendered from the model's TorrentState instead of spelled out."""

from __future__ import annotations

from collections.abc import Iterable

from core.models import ACTIVE_STATES, TorrentState

S = TorrentState
_ORDER = list(TorrentState)


def state(member: TorrentState) -> str:
    """One state as an SQL literal: 'deleting'."""
    return f"'{member.value}'"


def states(members: Iterable[TorrentState]) -> str:
    """States as an SQL list, ('queued','submitting',...), always in the model's order: a
    query must state a partial index's condition as the index does for SQLite to use it."""
    return "(" + ",".join(state(m) for m in sorted(set(members), key=_ORDER.index)) + ")"


# The column conditions the live queries share.
LIVE = f"state != {state(S.DELETING)}"   # every state clients see (DELETING is on its way out)
# Torrents the engine still has work to do in: the condition of the torrents_due index.
ENGINE_WORK = states(ACTIVE_STATES)
# qBittorrent's download queue: torrents not yet complete.
DOWNLOAD_QUEUE = states(ACTIVE_STATES - {S.DELETING})
AT_PROVIDER = states((S.SUBMITTING, S.RESOLVING, S.DOWNLOADING))   # holding a provider slot
STARTING = states((S.SUBMITTING, S.RESOLVING))               # sent, not downloading yet
PROVIDER_WORKING = states((S.RESOLVING, S.DOWNLOADING))      # polled at the provider
TRANSFERRING = states((S.DOWNLOADING, S.FINALIZING))         # bytes are moving: a speed
SERVED = states((S.FINALIZING, S.COMPLETED))     # the tree serves them: their links are known
