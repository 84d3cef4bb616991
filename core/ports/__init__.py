"""Ports: what the domain needs from a provider, from content links, from the store and from
the config file."""

from __future__ import annotations

from core.ports.config import ConfigFile
from core.ports.content import ContentSource, ContentStream, FileReader, FileStreams, TreeView
from core.ports.provider import (
    Account,
    BudgetState,
    DebridProvider,
    DirectLink,
    RemoteFile,
    RemoteStatus,
    RemoteTorrent,
)
from core.ports.store import (
    AuthStore,
    Bucket,
    BucketChange,
    BudgetStore,
    CategoryStore,
    EngineStore,
    ImportedStore,
    LibraryStore,
    LinkStore,
    LogStore,
    MetaStore,
    ScheduleStore,
    SessionStore,
    SlotStore,
    Store,
    SyncStore,
    TorrentStore,
    TreeStore,
    Waiter,
)

__all__ = [
    "Account", "AuthStore", "Bucket", "BucketChange", "BudgetState", "BudgetStore",
    "CategoryStore", "ConfigFile", "ContentSource", "ContentStream", "DebridProvider", "DirectLink",
    "EngineStore", "FileReader", "FileStreams", "ImportedStore", "LibraryStore", "LinkStore",
    "LogStore", "MetaStore", "RemoteFile", "RemoteStatus", "RemoteTorrent", "ScheduleStore",
    "SessionStore", "SlotStore", "Store", "SyncStore", "TorrentStore", "TreeStore",
    "TreeView", "Waiter",
]
