"""Ports: what the domain needs from a provider, from content links, from the store and from
the config file."""

from __future__ import annotations

from core.ports.announce import AnnounceMemory, AnnounceStore, FetchedTorrent, TorrentFetcher
from core.ports.config import ConfigFile
from core.ports.content import ContentSource, ContentStream, FileReader, FileStreams, TreeView
from core.ports.hooks import CommandCall, HookCall, HookFailed, HookSender, HttpCall
from core.ports.provider import (
    Account,
    BudgetState,
    CacheCheck,
    Capabilities,
    DebridProvider,
    DirectLink,
    FailureCause,
    RemoteFile,
    RemoteStatus,
    RemoteTorrent,
)
from core.ports.store import (
    AuthStore,
    BlockStore,
    Bucket,
    BucketChange,
    BudgetStore,
    CategoryStore,
    DeliveryState,
    EngineStore,
    HookDelivery,
    HookStore,
    ImportedStore,
    LibraryStore,
    LinkStore,
    LogStore,
    MetaStore,
    OutboxStore,
    RegistryRow,
    RegistryStore,
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
    "Account", "AnnounceMemory", "AnnounceStore", "AuthStore", "BlockStore", "Bucket",
    "BucketChange", "BudgetState", "BudgetStore", "CacheCheck", "Capabilities", "CategoryStore",
    "CommandCall", "ConfigFile", "ContentSource", "ContentStream", "DebridProvider",
    "DeliveryState", "DirectLink", "EngineStore", "FailureCause", "FetchedTorrent",
    "FileReader", "FileStreams", "HookCall", "HookDelivery", "HookFailed", "HookSender",
    "HookStore", "HttpCall", "ImportedStore", "LibraryStore", "LinkStore", "LogStore",
    "MetaStore", "OutboxStore", "RegistryRow", "RegistryStore", "RemoteFile", "RemoteStatus",
    "RemoteTorrent", "ScheduleStore", "SessionStore", "SlotStore", "Store", "SyncStore",
    "TorrentFetcher", "TorrentStore", "TreeStore", "TreeView", "Waiter",
]
